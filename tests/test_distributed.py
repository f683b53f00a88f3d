"""Several processes: 2 CPU processes under torchrun (gloo) train exactly like one process with the
same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from minigpt_helpers import checkpoint, dataset, training
from minigpt_helpers.tokenization import CharTokenizer
from minigpt_helpers.tracking import read_metrics

from _textgen import sentences


def _args(run: str, batch_size: int) -> list[str]:
    return ["--profile", "ci", "--run-name", run, "--max-steps", "6", "--eval-interval", "3", "--eval-batches", "4",
            "--batch-size", str(batch_size), "--context", "16", "--warmup", "2", "--log-interval", "1",
            "--device", "cpu", "--no-progress", "--no-tensorboard", "--set", "tokens_dir=tiny",
            "--set", "tokenizer_dir=tiny/tokenizer", "--set", "sample_interval=0",
            "--set", 'model_overrides={"n_layer": 2, "n_head": 2, "n_embd": 32, "bias": false}']


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(data_dir) -> None:
    folder = data_dir / "tiny"
    train, val = sentences(1, 400), sentences(2, 60)
    tok = CharTokenizer.train([train, val])
    tok.save(folder / "tokenizer")
    dataset.write_token_files(folder, tok, {"train": [train], "val": [val]})

    torch.set_num_threads(1)
    assert training.cli(_args("one", 4)) == 0  # one process, 4 sequences per step

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MINIGPT_DATA_DIR": str(data_dir)}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
              "-m", "minigpt_helpers", "train", *_args("two", 2)]  # two processes, 2 sequences each
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]

    run = training.read_run("two")
    assert run["world_size"] == 2 and run["sessions"][0]["backend"] == "gloo" and run["global_batch_tokens"] == 4 * 16
    one, two = read_metrics(training.run_dir("one")), read_metrics(training.run_dir("two"))
    assert [r["step"] for r in one] == [r["step"] for r in two] == list(range(7))
    for a, b in zip(one, two):
        for key in ("train_loss", "val_loss", "grad_norm"):
            if a[key] is None:
                assert b[key] is None
            else:
                assert b[key] == pytest.approx(a[key], rel=1e-5), (a["step"], key)
    wa = checkpoint.load_checkpoint(checkpoint.find_checkpoint("one", "latest")).model.state_dict()
    wb = checkpoint.load_checkpoint(checkpoint.find_checkpoint("two", "latest")).model.state_dict()
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=1e-4, atol=1e-5, msg=name)
