"""Several processes: 2 CPU processes under torchrun (gloo) train exactly like one process with the
same global batch, and a stopped two-process run resumes exactly where it stopped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from minigpt_helpers import checkpoint, cli, runs
from minigpt_helpers.runs import read_metrics

from _textgen import write_tiny_data


def _args(run: str, batch_size: int, dropout: float = 0.0) -> list[str]:
    model = f'{{"n_layer": 2, "n_head": 2, "n_embd": 32, "bias": false, "dropout": {dropout}}}'
    return ["--profile", "ci", "--run-name", run, "--max-steps", "6", "--eval-interval", "3", "--eval-batches", "4",
            "--batch-size", str(batch_size), "--context", "16", "--warmup", "2", "--log-interval", "1",
            "--device", "cpu", "--no-progress", "--no-tensorboard", "--set", "tokens_dir=tiny",
            "--set", "tokenizer_dir=tiny/tokenizer", "--set", "sample_interval=0",
            "--set", f"model_overrides={model}"]


def _torchrun(data_dir, args: list[str]) -> None:
    """``minigpt_helpers train`` in two CPU processes (gloo)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MINIGPT_DATA_DIR": str(data_dir)}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
              "--log-dir", str(data_dir / "torchrun-logs"),  # not a new folder in /tmp for every launch
              "-m", "minigpt_helpers", "train", *args]
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("optimizer, rel, atol", [("adamw", 1e-5, 1e-5), ("muon", 1e-3, 5e-3)])
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(data_dir, optimizer, rel, atol) -> None:
    # Averaging two half-batch gradients rounds differently from one whole batch. AdamW carries
    # that last-bit difference along; Muon's Newton-Schulz iteration (in bf16) magnifies it in a
    # few weights. The gradient norms still catch a wrong average (a sum would double them).
    write_tiny_data(data_dir)
    torch.set_num_threads(1)
    choice = ["--set", f"optimizer={optimizer}"]
    assert cli.main(["train", *_args("one", 4), *choice]) == 0  # one process, 4 sequences per step
    _torchrun(data_dir, [*_args("two", 2), *choice])  # two processes, 2 sequences each

    run = runs.read_run("two")
    assert run["world_size"] == 2 and run["sessions"][0]["backend"] == "gloo" and run["global_batch_tokens"] == 4 * 16
    one, two = read_metrics(runs.run_dir("one")), read_metrics(runs.run_dir("two"))
    assert [r["step"] for r in one] == [r["step"] for r in two] == list(range(7))
    for a, b in zip(one, two):
        for key in ("train_loss", "val_loss", "grad_norm"):
            if a[key] is None:
                assert b[key] is None
            else:
                assert b[key] == pytest.approx(a[key], rel=rel), (a["step"], key)
    wa = checkpoint.load_checkpoint(checkpoint.find_checkpoint("one", "latest")).model.state_dict()
    wb = checkpoint.load_checkpoint(checkpoint.find_checkpoint("two", "latest")).model.state_dict()
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=10 * rel, atol=atol, msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.slow
def test_two_gloo_processes_stopped_and_resumed_repeat_the_run_exactly(data_dir) -> None:
    # With dropout, every step draws random masks: the resumed processes must continue the
    # generators, the optimizer and the batches exactly where the stopped ones were.
    write_tiny_data(data_dir)
    _torchrun(data_dir, _args("whole", 2, dropout=0.2))
    _torchrun(data_dir, [*_args("halves", 2, dropout=0.2), "--set", "stop_at_step=3"])
    assert runs.read_run("halves")["stop_reason"] == "stopped"
    _torchrun(data_dir, _args("halves", 2, dropout=0.2))  # resumes from step 3
    assert [s["start_step"] for s in runs.read_run("halves")["sessions"]] == [0, 3]
    whole, halves = read_metrics(runs.run_dir("whole")), read_metrics(runs.run_dir("halves"))
    assert [r["step"] for r in halves] == [r["step"] for r in whole] == list(range(7))
    for a, b in zip(whole, halves):
        assert (a["train_loss"], a["val_loss"], a["grad_norm"]) == (b["train_loss"], b["val_loss"], b["grad_norm"]), a["step"]
    wa = checkpoint.load_checkpoint(checkpoint.find_checkpoint("whole", "latest")).model.state_dict()
    wb = checkpoint.load_checkpoint(checkpoint.find_checkpoint("halves", "latest")).model.state_dict()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def test_leaving_the_group_waits_for_the_others_only_after_a_normal_end(monkeypatch) -> None:
    from minigpt_helpers import distributed

    calls: list[str] = []
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(distributed.dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(distributed.dist, "destroy_process_group", lambda: calls.append("destroy"))
    mine = distributed.DistInfo(rank=1, world_size=2, backend="gloo", owns_group=True)
    distributed.cleanup(mine)
    assert calls == ["barrier", "destroy"]  # nobody closes connections another process still uses
    calls.clear()
    distributed.cleanup(mine, wait=False)  # after an error the others may never reach a barrier
    assert calls == ["destroy"]
    calls.clear()
    distributed.cleanup(distributed.DistInfo(world_size=2, backend="gloo", owns_group=False))
    assert calls == []  # a group someone else made is theirs to end
