"""Training: schedule, accumulation, clipping, resume equality, NaN stop, early stopping, checkpoints,
metrics keys, the CLI, the checkpoints stage, recipes and the precision/compile choices."""

from __future__ import annotations

import json
import math
import random
import sys

import numpy as np
import pytest
import torch

from _textgen import sentences
from _textgen import tiny_config as cfg
from minigpt_helpers import artifacts, checkpoint, cli, dataset, hardware, runs, stages, training
from minigpt_helpers.schedule import LRSchedule
from minigpt_helpers.tokenization import CharTokenizer
from minigpt_helpers.runs import METRIC_KEYS, read_metrics

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def losses(run: str) -> dict[int, float]:
    return {r["step"]: r["train_loss"] for r in read_metrics(runs.run_dir(run)) if r["train_loss"] is not None}


def weights(folder) -> dict[str, torch.Tensor]:
    return checkpoint.load_checkpoint(folder).model.state_dict()


# --------------------------------------------------------------------------- schedule


def test_schedule_warmup_cosine_floor() -> None:
    s = LRSchedule(peak_lr=1e-3, max_steps=110, warmup_steps=10, min_lr_ratio=0.1)
    assert s(0) == pytest.approx(1e-4) and s(4) == pytest.approx(5e-4)  # linear warmup, (step + 1) / warmup
    assert s(9) == pytest.approx(1e-3) and s(10) == pytest.approx(1e-3)  # the peak
    assert s(60) == pytest.approx(1e-4 + 0.5 * 9e-4)  # half way through the cosine: half way to the floor
    assert s(109) > 1e-4 and s(110) == pytest.approx(1e-4) and s(10_000) == pytest.approx(1e-4)  # the floor
    values = s.values()
    assert len(values) == 110 and all(a >= b for a, b in zip(values[9:], values[10:]))  # never rises after warmup


def test_schedule_plateau_and_extension_at_the_floor() -> None:
    s = LRSchedule(peak_lr=1.0, max_steps=200, warmup_steps=0, min_lr_ratio=0.1, plateau_fraction=0.5, decay_steps=100)
    assert s.decay_start == 50
    assert all(s(i) == 1.0 for i in range(50))  # held at the peak for half the decay's span
    assert s(75) == pytest.approx(0.1 + 0.5 * 0.9)  # then the cosine over the other half
    assert all(s(i) == pytest.approx(0.1) for i in range(100, 200))  # extended at the floor


def test_schedule_warmup_stable_linear_decay() -> None:
    s = LRSchedule(peak_lr=1.0, max_steps=100, warmup_steps=10, min_lr_ratio=0.0, plateau_fraction=0.5, decay="linear")
    assert s.decay_start == 55 and all(s(i) == 1.0 for i in range(9, 55))  # warmup, then stable at the peak
    assert s(55 + 45 // 3) == pytest.approx(2 / 3) and s(100) == 0.0  # a straight line down to the floor
    cosine = LRSchedule(peak_lr=1.0, max_steps=100, warmup_steps=10, min_lr_ratio=0.0, plateau_fraction=0.5)
    assert cosine(55 + 45 // 3) == pytest.approx(0.75)  # the cosine is still higher a third of the way down
    with pytest.raises(ValueError, match="decay='step'"):
        LRSchedule(peak_lr=1.0, max_steps=10, decay="step")


def test_schedule_names_every_problem() -> None:
    with pytest.raises(ValueError) as err:
        LRSchedule(peak_lr=0, max_steps=10, warmup_steps=20, min_lr_ratio=2, plateau_fraction=1.0)
    msg = str(err.value)
    for field in ("peak_lr", "warmup_steps", "min_lr_ratio", "plateau_fraction"):
        assert field in msg


def test_config_validation_collects_problems_and_profile_mapping() -> None:
    with pytest.raises(ValueError) as err:
        training.TrainConfig(run="a/b", batch_size=0, beta2=1.5, precision="fp8", model_overrides={"vocab_size": 3})
    msg = str(err.value)
    for field in ("run=", "batch_size", "beta2", "precision", "vocab_size"):
        assert field in msg
    from minigpt_helpers.profiles import get_profile

    p = get_profile("cpu")
    c = training.TrainConfig.from_profile(p, max_steps=700)
    assert (c.run, c.batch_size, c.learning_rate, c.model_preset, c.max_steps) == ("cpu", p.batch_size, p.learning_rate, p.model_preset, 700)
    assert c.model_overrides["arch"] == p.arch and c.model_config(100).architecture == p.arch
    assert c.time_budget_s == p.time_budget_s and c.context_length == p.context_length
    assert training.TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


# --------------------------------------------------------------------------- one step


def _grads_at_each_step(trainer: training.Trainer) -> list[list[torch.Tensor]]:
    """Record the gradients the optimizer is handed at every step."""
    seen: list[list[torch.Tensor]] = []
    (optimizer,) = trainer.optimizers  # AdamW alone
    step = optimizer.step

    def spy(*args, **kwargs):
        seen.append([p.grad.clone() for p in trainer.raw_model.parameters()])
        return step(*args, **kwargs)

    optimizer.step = spy
    return seen


def test_accumulating_k_micro_batches_equals_one_big_batch(tiny_data) -> None:
    big = training.Trainer(cfg(run="big", batch_size=8, grad_accum_steps=1, grad_clip=0.0), progress=False)
    acc = training.Trainer(cfg(run="acc", batch_size=2, grad_accum_steps=4, grad_clip=0.0), progress=False)
    g_big, g_acc = _grads_at_each_step(big), _grads_at_each_step(acc)
    for _ in range(3):
        big.train_step()
        acc.train_step()
    assert big.step == acc.step == 3 and len(g_big) == len(g_acc) == 3
    torch.testing.assert_close(acc.loss_sum, big.loss_sum, rtol=1e-5, atol=1e-6)  # same mean losses
    for step_big, step_acc in zip(g_big, g_acc):  # the same gradients, step after step
        for a, b in zip(step_acc, step_big):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # without dividing by the number of micro-batches the sum would be 4 times too big: the check can fail
    assert not torch.allclose(4 * g_acc[0][0], g_big[0][0], rtol=1e-4, atol=1e-6)


def test_clipping_caps_the_update_and_logs_the_norm_before(tiny_data) -> None:
    t = training.Trainer(cfg(grad_clip=1e-3), progress=False)
    seen = []
    (optimizer,) = t.optimizers
    step = optimizer.step

    def spy(*args, **kwargs):
        seen.append(torch.norm(torch.stack([p.grad.norm() for p in t.raw_model.parameters() if p.grad is not None])).item())
        return step(*args, **kwargs)

    optimizer.step = spy
    t.train_step()
    t.train_step()
    assert len(seen) == 2 and max(seen) <= 1e-3 * 1.001  # the optimizer saw clipped gradients
    assert t.norm_sum.item() / 2 > 0.01  # the logged norm is the one before clipping


# --------------------------------------------------------------------------- whole runs


def test_metrics_file_keys_and_run_folder(tiny_data) -> None:
    result = training.train(cfg(max_steps=8, checkpoint_interval=4, sample_interval=4), progress=False)
    assert result.step == 8 and result.stop_reason == "max_steps" and result.finished
    records = read_metrics(result.run_dir)
    assert [r["step"] for r in records] == list(range(9))  # step 0 (untrained val loss), then every step
    assert all(tuple(r) == METRIC_KEYS for r in records)
    assert records[0]["val_loss"] == pytest.approx(math.log(CharTokenizer.train([sentences(1, 400)]).vocab_size + 0), abs=0.7)
    assert [r["step"] for r in records if r["val_loss"] is not None] == [0, 4, 8]
    assert all(r["mfu"] is None for r in records)  # no GPU: no MFU
    assert records[-1]["tokens"] == 8 * 4 * 16 and records[-1]["tokens_per_s"] > 0 and records[-1]["elapsed_s"] > 0
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["status"] == "finished" and run["config"]["batch_size"] == 4 and "git_commit" in run
    assert run["hardware"] and run["model"]["n_embd"] == 32 and len(run["sessions"]) == 1
    assert json.loads((result.run_dir / "latest.json").read_text()) == {"folder": "step-000008", "step": 8}
    assert checkpoint.find_checkpoint("tiny", "latest") == result.run_dir / "step-000008"
    best = checkpoint.load_checkpoint(checkpoint.find_checkpoint("tiny", "best"))
    assert best.meta["step"] == result.best_step and best.config["train"]["run"] == "tiny"
    samples = [json.loads(line) for line in (result.run_dir / "samples.jsonl").read_text().splitlines()]
    assert [s["step"] for s in samples] == [4, 8] and all(s["text"] for s in samples)


def test_resume_after_a_stop_repeats_the_uninterrupted_run_step_for_step(tiny_data) -> None:
    over = {"model_overrides": {"n_layer": 2, "n_head": 2, "n_embd": 32, "dropout": 0.1}}  # RNG matters too
    full = training.train(cfg(run="full", max_steps=12, checkpoint_interval=4, **over), progress=False)
    first = training.train(cfg(run="split", max_steps=12, checkpoint_interval=4, stop_at_step=6, **over), progress=False)
    assert first.stop_reason == "stopped" and first.step == 6 and not first.finished
    second = training.train(cfg(run="split", max_steps=12, checkpoint_interval=4, **over), resume=True, progress=False)
    assert second.start_step == 6 and second.step == 12
    a, b = losses("full"), losses("split")
    assert len(a) == 12 and a == b  # bit for bit on the CPU
    wa, wb = weights(full.run_dir / "step-000012"), weights(second.run_dir / "step-000012")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    run = json.loads((second.run_dir / "run.json").read_text())
    assert [s["start_step"] for s in run["sessions"]] == [0, 6]


def test_resume_refuses_other_settings_and_auto_starts_over(tiny_data) -> None:
    training.train(cfg(max_steps=4), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        training.train(cfg(max_steps=8, batch_size=2), resume=True, progress=False)
    again = training.train(cfg(max_steps=4, batch_size=2), progress=False)  # auto: other settings, start over
    assert again.start_step == 0 and again.step == 4
    done = training.train(cfg(max_steps=4, batch_size=2), progress=False)  # auto: finished, nothing to do
    assert done.start_step == 4 and done.step == 4


def test_init_from_starts_a_run_from_a_checkpoints_weights(tiny_data) -> None:
    base = training.train(cfg(run="base", max_steps=4), progress=False)
    trained = weights(base.run_dir / "best")
    fine = training.Trainer(cfg(run="fine", init_from="checkpoints/base/best", learning_rate=1e-4), progress=False)
    assert all(torch.equal(fine.raw_model.state_dict()[k], trained[k]) for k in trained)
    fresh = training.Trainer(cfg(run="fresh"), progress=False)
    assert not torch.equal(fresh.raw_model.state_dict()["transformer.wte.weight"], trained["transformer.wte.weight"])
    result = fine.run()
    assert result.step == 8 and runs.read_run("fine")["config"]["init_from"] == "checkpoints/base/best"
    # dropout changes how it trains, not what the weights are; a different shape is refused, naming the field
    training.Trainer(cfg(run="fine2", init_from=str(base.run_dir / "best"),
                         model_overrides={"n_layer": 2, "n_head": 2, "n_embd": 32, "dropout": 0.1}), progress=False)
    with pytest.raises(ValueError, match="n_embd=32 there, 64 here"):
        training.Trainer(cfg(run="wide", init_from="checkpoints/base/best",
                             model_overrides={"n_layer": 2, "n_head": 2, "n_embd": 64}), progress=False)
    with pytest.raises(FileNotFoundError, match="not a checkpoint folder"):
        training.Trainer(cfg(run="nowhere", init_from="checkpoints/nothing-here"), progress=False)
    with pytest.raises(ValueError, match="init_from=''"):
        cfg(init_from="")


def test_stop_request_ends_cleanly_with_a_checkpoint(tiny_data) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    result = training.train(cfg(max_steps=50, checkpoint_interval=40, sample_interval=100, sample_tokens=8), stop=stop,
                            progress=False)
    assert result.stop_reason == "stopped" and result.step == 1
    assert json.loads((result.run_dir / "latest.json").read_text())["step"] == 1
    # stopped before its first evaluation (step 4): measured at the stop, so the model is usable as it is
    assert result.best_val_loss is not None and result.best_step == 1
    assert checkpoint.load_checkpoint(result.run_dir / "best").meta["step"] == 1
    assert [x["step"] for x in result.samples] == [1]  # and what it writes so far
    runs.write_stage_manifest("ci", "tiny")  # the stage can name it: 06 to 09 can use it


def test_every_stop_measures_the_model_as_it_is(tiny_data) -> None:
    first = training.train(cfg(max_steps=20, eval_interval=10, stop_at_step=3), progress=False)
    second = training.train(cfg(max_steps=20, eval_interval=10, stop_at_step=6), progress=False)  # resumes at 3
    assert (first.step, second.start_step, second.step) == (3, 3, 6)
    measured = [r["step"] for r in read_metrics(second.run_dir) if r.get("val_loss") is not None]
    assert measured == [0, 3, 6]  # the untrained model, then each stop (no evaluation step reached)
    assert second.val_loss == next(r["val_loss"] for r in read_metrics(second.run_dir) if r["step"] == 6)


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tiny_data, monkeypatch) -> None:
    from minigpt_helpers.model import GPT

    real_forward = GPT.forward
    calls = {"n": 0}

    def poisoned(self, idx, targets=None, **kw):
        logits, loss = real_forward(self, idx, targets, **kw)
        if self.training:
            calls["n"] += 1
            if calls["n"] > 5:
                loss = loss * float("nan")
        return logits, loss

    monkeypatch.setattr(GPT, "forward", poisoned)
    with pytest.raises(training.NonFiniteLossError, match="step-000004") as err:
        training.train(cfg(max_steps=20, checkpoint_interval=4), progress=False)
    assert "NaN" in str(err.value) and "at step 6" in str(err.value)
    folder = runs.run_dir("tiny")
    assert json.loads((folder / "latest.json").read_text())["step"] == 4
    assert sorted(p.name for p in folder.glob("step-*")) == ["step-000004"]
    assert all(torch.isfinite(w).all() for w in weights(folder / "step-000004").values())


def test_early_stopping_after_patience_evaluations_without_improvement(tiny_data, monkeypatch) -> None:
    scores = iter([5.0, 4.0, 4.5, 4.6, 4.7, 4.8])
    monkeypatch.setattr(training.Trainer, "evaluate", lambda self: next(scores))
    result = training.train(cfg(max_steps=40, eval_interval=2, patience=2), progress=False)
    assert result.stop_reason == "early_stopping" and result.step == 6 and result.finished
    assert result.best_val_loss == 4.0 and result.best_step == 2
    assert checkpoint.load_checkpoint(result.run_dir / "best").meta["step"] == 2


def test_keeps_the_last_three_periodic_checkpoints(tiny_data) -> None:
    result = training.train(cfg(max_steps=10, checkpoint_interval=2, eval_interval=5), progress=False)
    assert sorted(p.name for p in result.run_dir.glob("step-*")) == ["step-000006", "step-000008", "step-000010"]
    assert not list(result.run_dir.glob(".*"))  # no temporary files left behind


def test_a_failed_save_leaves_the_previous_checkpoint_and_pointer_intact(tiny_data, monkeypatch) -> None:
    real_save = torch.save
    saves = {"n": 0}

    def failing(obj, path, *a, **kw):
        saves["n"] += 1
        if saves["n"] == 2:
            raise OSError("disk full (simulated)")
        return real_save(obj, path, *a, **kw)

    monkeypatch.setattr(torch, "save", failing)
    with pytest.raises(OSError, match="disk full"):
        training.train(cfg(max_steps=8, checkpoint_interval=4), progress=False)
    folder = runs.run_dir("tiny")
    assert json.loads((folder / "latest.json").read_text())["step"] == 4
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(("step-", ".step-"))) == ["step-000004"]
    checkpoint.load_training_state(folder / "step-000004")  # complete and loadable


def test_sample_text_is_repeatable_and_leaves_the_global_rng_alone(tiny_data) -> None:
    t = training.Trainer(cfg(), progress=False)
    state = torch.get_rng_state()
    a = training.sample_text(t.raw_model, t.tokenizer, "The", 40, seed=3)
    b = training.sample_text(t.raw_model, t.tokenizer, "The", 40, seed=3)
    assert a == b and a.startswith("The") and len(a) >= 43  # 40 tokens (<unk> and <eot> read as 5 characters)
    assert torch.equal(state, torch.get_rng_state())
    long = training.sample_text(t.raw_model, t.tokenizer, "", 40, seed=1)  # past the 16-token context
    assert len(long) >= 40


def test_each_rank_puts_the_saved_gpu_generator_back_on_its_own_gpu(tmp_path, monkeypatch) -> None:
    # Two GPUs faked on the CPU: rank 0 saves the state of cuda:0 (the GPUs of a multi-GPU run
    # all draw the same numbers); rank 1 resumes on cuda:1 and must get that state there, not
    # the untouched state of cuda:1 as rank 0's process sees it.
    gpus = {0: torch.tensor([7, 7], dtype=torch.uint8), 1: torch.tensor([1, 1], dtype=torch.uint8)}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device="cuda": gpus[torch.device(device).index].clone())
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda new, device="cuda": gpus.__setitem__(torch.device(device).index, new.clone()))
    torch.save(runs.rng_state("cuda:0"), tmp_path / "s.pt")
    gpus.update({0: torch.zeros(2, dtype=torch.uint8), 1: torch.zeros(2, dtype=torch.uint8)})  # a new process
    saved = torch.load(tmp_path / "s.pt", weights_only=True)
    runs.set_rng_state(saved, "cuda:1")
    assert gpus[1].tolist() == [7, 7] and gpus[0].tolist() == [0, 0]
    runs.set_rng_state(saved, "cpu")  # resumed on a CPU: the GPU's state is not for it
    assert gpus[0].tolist() == [0, 0]
    assert runs.rng_state("cpu")["device"] is None


def test_rng_state_round_trips_through_weights_only_load(tmp_path) -> None:
    training.seed_everything(7)
    state = runs.rng_state()
    torch.save(state, tmp_path / "s.pt")
    expected = (random.random(), float(np.random.rand()), torch.rand(1).item())
    training.seed_everything(99)
    runs.set_rng_state(torch.load(tmp_path / "s.pt", weights_only=True))
    assert (random.random(), float(np.random.rand()), torch.rand(1).item()) == expected


# --------------------------------------------------------------------------- CLI, stage, recipes


def test_cli_trains_a_tiny_run_end_to_end(tiny_data, capsys) -> None:
    args = ["--profile", "ci", "--run", "cli-run", "--max-steps", "6", "--eval-interval", "3", "--eval-batches", "2",
            "--batch-size", "4", "--context", "16", "--warmup", "1", "--device", "cpu", "--no-progress", "--no-tensorboard",
            "--set", "tokens_dir=tiny", "--set", "tokenizer_dir=tiny/tokenizer", "--set", "beta2=0.99",
            "--set", 'model_overrides={"n_layer": 1, "n_head": 2, "n_embd": 32}']
    assert cli.main(["train", *args]) == 0
    out = capsys.readouterr().out
    assert "cli-run" in out and "max_steps at step 6" in out and "ms/step" in out
    run = runs.read_run("cli-run")
    assert run["config"]["beta2"] == 0.99 and run["config"]["model_overrides"]["n_layer"] == 1
    assert checkpoint.load_checkpoint(checkpoint.find_checkpoint("cli-run", "latest")).meta["step"] == 6
    assert not artifacts.manifest_path("checkpoints").exists()  # an experiment does not claim the stage
    assert cli.main(["train", "--profile", "ci", "--print-config", "--set", "beta2=0.9"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == "ci"
    assert cli.main(["train", *args[:-2]] + ["--set", "nonsense=1"]) == 2


def test_build_checkpoints_trains_the_profile_run_and_writes_the_manifest(data_dir) -> None:
    from minigpt_helpers.profiles import get_profile

    profile = get_profile("ci").with_overrides(context_length=16, max_steps=4, eval_interval=2, eval_batches=2,
                                                batch_size=4, warmup_steps=1, sample_interval=0)
    text = {1: sentences(3, 300), 2: sentences(4, 200), 3: sentences(5, 150)}
    artifacts.write_manifest("raw", profile, {"books": []})
    clean = artifacts.stage_dir("clean")
    for bid, t in text.items():
        (clean / f"{bid}.txt").write_text(t)
    artifacts.write_manifest("clean", profile, {"books": [{"book_id": b, "title": str(b), "author": "", "file": f"{b}.txt",
                                                           "chars": len(t), "bytes": len(t)} for b, t in text.items()]})
    CharTokenizer.train(text.values()).save(artifacts.stage_dir("tokenizer"))
    artifacts.write_manifest("tokenizer", profile, {})
    folder = stages.ensure("checkpoints", profile, quiet=True)
    manifest = artifacts.read_manifest("checkpoints")
    assert manifest["default_run"] == "ci" and manifest["runs"]["ci"]["step"] == 4
    assert checkpoint.find_checkpoint() == folder / "ci" / "best"
    assert checkpoint.find_checkpoint(which="latest") == folder / "ci" / "step-000004"
    assert artifacts.staleness("checkpoints", profile) is None


def test_shakespeare_recipe_prepares_nanogpts_split_and_settings(shared_datasets) -> None:
    from minigpt_helpers import recipes

    folder = recipes.prepare_recipe("shakespeare-char")
    text = (shared_datasets / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    meta = dataset.read_meta(folder)
    assert meta["counts"] == {"train": int(len(text) * 0.9) + 1, "val": len(text) - int(len(text) * 0.9) + 1}
    assert meta["vocab_size"] == 65 + 2
    c = recipes.recipe_config("shakespeare-char")
    # nanoGPT's data, shape, batch, steps and evaluation; the block, optimizer and schedule are ours
    assert (c.batch_size, c.context_length, c.max_steps, c.grad_accum_steps) == (12, 64, 2000, 1)
    assert (c.eval_interval, c.eval_batches, c.seed) == (250, 20, 1337)
    m = c.model_config(meta["vocab_size"])
    assert (m.n_layer, m.n_head, m.n_embd, m.dropout) == (4, 4, 128, 0.0)
    assert m.architecture == "modern" and c.optimizer == "adamw" and c.compile


def test_wikitext_recipe_says_the_train_split_is_not_available_offline(tmp_path, monkeypatch) -> None:
    from minigpt_helpers import recipes

    (tmp_path / "wikitext-2-raw").mkdir()
    (tmp_path / "wikitext-2-raw" / "wiki.valid.raw").write_text(" = A = \n")
    monkeypatch.setenv("MINIGPT_DATASETS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="not available offline"):
        recipes.prepare_recipe("wikitext")
    assert recipes.recipe_config("wikitext").activation_checkpointing


# --------------------------------------------------------------------------- hardware choices


def test_precision_follows_the_hardware(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (7, 5))  # Colab's T4
    t4 = hardware.choose_precision("cuda")
    assert t4.name == "fp16" and t4.needs_scaler and t4.dtype == torch.float16
    with pytest.raises(ValueError, match="fp16"):
        hardware.choose_precision("cuda", "bf16")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (8, 0))  # A100
    a100 = hardware.choose_precision("cuda")
    assert a100.name == "bf16" and not a100.needs_scaler
    assert hardware.choose_precision("cuda", "fp32").name == "fp32"
    assert hardware.choose_precision("mps").name == "fp32"
    with pytest.raises(ValueError):
        hardware.choose_precision("cpu", "fp16")
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)  # most laptops
    cpu = hardware.choose_precision("cpu")
    assert cpu.name == "fp32" and cpu.grad_scaler() is None
    with cpu.autocast():
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)  # AVX512-BF16 or AMX
    fast = hardware.choose_precision("cpu")
    assert fast.name == "bf16" and fast.grad_scaler() is None
    with fast.autocast():
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.bfloat16
    assert hardware.choose_precision("cpu", "fp32").name == "fp32"  # asking for float32 still gets it


def test_cpu_bf16_detection_reads_torchs_cpu_flags(monkeypatch) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert hardware.cpu_has_native_bf16()
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not hardware.cpu_has_native_bf16()
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)  # a torch without the probe
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert not hardware.cpu_has_native_bf16()  # unknown: float32, the safe choice


def test_compile_is_skipped_where_it_does_not_work(monkeypatch) -> None:
    assert hardware.choose_compile("mps")[0] is False
    assert hardware.choose_compile("cpu")[0] is False  # auto: not worth it on a CPU
    assert hardware.choose_compile("cpu", False)[0] is False
    if sys.platform.startswith("linux"):
        assert hardware.choose_compile("cpu", True)[0] is True
    monkeypatch.setattr(sys, "platform", "win32")
    ok, why = hardware.choose_compile("cuda", True)
    assert not ok and "Windows" in why


def test_peak_flops_and_flops_per_token(monkeypatch) -> None:
    monkeypatch.delenv("MINIGPT_PEAK_TFLOPS", raising=False)
    assert hardware.peak_flops("cuda", "NVIDIA A100-SXM4-40GB") == 312e12
    assert hardware.peak_flops("cuda", "Tesla T4") == 65e12
    assert hardware.peak_flops("cuda", "NVIDIA A10G") == 125e12
    assert hardware.peak_flops("cuda", "Some Future GPU") is None
    assert hardware.peak_flops("cpu") is None
    from minigpt_helpers.model import preset

    c = preset("shakespeare-char", vocab_size=65)
    n = sum(p.numel() for p in __import__("minigpt_helpers.model", fromlist=["GPT"]).GPT(c).parameters()) - 64 * 128
    assert hardware.flops_per_token(c) == 6 * n + 12 * 4 * 128 * 64


def test_metrics_are_mirrored_to_tensorboard_and_wandb_when_installed(tmp_path, monkeypatch) -> None:
    import types

    from minigpt_helpers.runs import MetricsLogger

    calls: dict[str, list] = {"tb": [], "wandb": [], "init": []}

    class Writer:
        def __init__(self, log_dir):
            calls["tb_dir"] = log_dir

        def add_scalar(self, key, value, step):
            calls["tb"].append((key, value, step))

        def close(self):
            calls["tb_closed"] = True

    class Run:
        def log(self, values, step):
            calls["wandb"].append((values, step))

        def finish(self):
            calls["wandb_finished"] = True

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=Writer))
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=lambda **kw: calls["init"].append(kw) or Run()))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logger = MetricsLogger(tmp_path, tensorboard=None, wandb=True, run_name="r", config={"a": 1})
    row = logger.log({"step": 3, "train_loss": 2.5, "lr": 1e-3})
    logger.close()
    assert tuple(row) == METRIC_KEYS and row["val_loss"] is None
    assert ("train_loss", 2.5, 3) in calls["tb"] and calls["tb_closed"] and calls["tb_dir"].endswith("tensorboard")
    assert calls["init"][0]["mode"] == "offline" and calls["init"][0]["name"] == "r"
    assert calls["wandb"] == [({"train_loss": 2.5, "lr": 1e-3}, 3)] and calls["wandb_finished"]
    assert read_metrics(tmp_path) == [row]


def test_tensorboard_event_files_read_back(tiny_data) -> None:
    """The real TensorBoard writer (the ``track`` extra): what training logged is in its event file."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = training.train(cfg(run="tb", max_steps=6, eval_interval=3, log_interval=2, tensorboard=True),
                            progress=False)
    events = EventAccumulator(str(result.run_dir / "tensorboard"))
    events.Reload()
    logged = {r["step"]: r for r in read_metrics(result.run_dir)}
    train_loss = {e.step: e.value for e in events.Scalars("train_loss")}
    assert sorted(train_loss) == [s for s in sorted(logged) if logged[s]["train_loss"] is not None] == [2, 3, 4, 6]
    assert all(abs(train_loss[s] - logged[s]["train_loss"]) < 1e-5 for s in train_loss)
    assert [e.step for e in events.Scalars("val_loss")] == [0, 3, 6]


def test_a_resumed_run_continues_its_wandb_run(tiny_data, monkeypatch) -> None:
    import types

    ids = []

    class Run:
        def log(self, values, step):
            pass

        def finish(self):
            pass

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=lambda **kw: ids.append(kw["id"]) or Run()))
    training.train(cfg(run="w", max_steps=6, checkpoint_interval=3, stop_at_step=3, wandb=True), progress=False)
    training.train(cfg(run="w", max_steps=6, checkpoint_interval=3, wandb=True), resume=True, progress=False)
    training.train(cfg(run="w", max_steps=6, checkpoint_interval=3, wandb=True), resume=False, progress=False)
    assert ids[0] == ids[1] != ids[2] and runs.read_run("w")["wandb_id"] == ids[2]


def test_a_failing_torch_compile_falls_back_to_eager_and_leaves_the_rng_alone(tiny_data, monkeypatch) -> None:
    def broken_compile(model, *args, **kwargs):
        def fail(*a, **kw):
            torch.rand(3)  # consumes random numbers before failing, as a half-done compile might
            raise RuntimeError("no C++ compiler found (simulated)")
        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    monkeypatch.setattr(hardware, "choose_compile", lambda device, requested: (bool(requested), "as asked"))
    eager = training.train(cfg(run="eager", compile=False, max_steps=4), progress=False)
    fallback = training.train(cfg(run="fallback", compile=True, max_steps=4), progress=False)
    assert losses("fallback") == losses("eager") and fallback.step == eager.step == 4
    run = runs.read_run("fallback")
    assert run["compile"] is False and run["sessions"][0]["compile"] is False


def test_compiling_before_training_covers_the_training_and_evaluation_graphs(tiny_data, monkeypatch) -> None:
    """The trainer compiles up front so the minute it takes is not training time: if the real steps
    or evaluations then needed another graph (the dummy batch once passed one tensor as both input
    and targets, so the first real step compiled again), that minute would land inside the run."""
    ok, why = hardware.compile_available()
    if not ok:
        pytest.skip(f"torch.compile cannot run here: {why}")
    import torch._dynamo

    monkeypatch.setattr(hardware, "choose_compile", lambda device, requested: (bool(requested), "as asked"))
    monkeypatch.setattr(hardware, "compiled_evaluation", lambda device: True)  # as on CUDA
    torch._dynamo.reset()
    original = hardware.compile_model

    def compile_then_forbid_recompiling(*args, **kwargs):
        compiled = original(*args, **kwargs)
        monkeypatch.setattr(torch._dynamo.config, "error_on_recompile", True)
        return compiled

    monkeypatch.setattr(hardware, "compile_model", compile_then_forbid_recompiling)
    try:
        t = training.train(cfg(run="compiled", compile=True, max_steps=4,
                               model_overrides={"n_layer": 1, "n_head": 2, "n_embd": 16, "dropout": 0.1}),
                           progress=False)
    finally:
        torch._dynamo.reset()
    if not runs.read_run("compiled")["compile"]:
        pytest.skip("torch.compile failed here (no C++ compiler?), so there is nothing to check")
    assert t.step == 4 and t.val_loss is not None  # trained and evaluated, both compiled, no recompiling


def test_with_a_time_budget_the_decay_follows_whichever_runs_out_first(tiny_data) -> None:
    t = training.Trainer(cfg(max_steps=100, warmup_steps=2, time_budget_s=100.0), progress=False)
    sched = t.schedule
    t.step = 1
    t.elapsed = lambda: 90.0
    assert t.lr_step() == 1  # warmup counts steps only
    t.step = 10
    assert t.lr_step() == 90  # 90% of the budget used: read the schedule at 90% of the steps
    t.train_step()
    assert t.last_lr == pytest.approx(sched(90))
    t.elapsed = lambda: 500.0
    assert t.schedule(t.lr_step()) == pytest.approx(sched.floor)  # past the budget: the floor
    t.elapsed = lambda: 5.0
    assert t.lr_step() == t.step  # steps ahead of the clock: steps decide
    assert training.Trainer(cfg(max_steps=100, warmup_steps=2, time_budget_s=100.0, lr_follows_budget=False),
                            progress=False).lr_step() == 0


# --------------------------------------------------------------------------- review fixes


def test_samples_come_at_every_sample_interval_even_between_log_steps(tiny_data) -> None:
    result = training.train(cfg(max_steps=9, log_interval=4, eval_interval=100, sample_interval=3,
                                sample_tokens=5), resume=False, progress=False)
    assert [s["step"] for s in result.samples] == [3, 6, 9]


def test_a_failed_setup_leaves_the_thread_count_as_it_was(tiny_data) -> None:
    before = torch.get_num_threads()
    with pytest.raises(FileNotFoundError):
        training.train(cfg(threads=before + 1, tokens_dir="nowhere"), resume=False, progress=False)
    assert torch.get_num_threads() == before


def test_clipping_does_not_force_the_foreach_path(tiny_data, monkeypatch) -> None:
    """foreach=True raises on devices without the fused kernels (Apple's MPS): leave the choice to torch."""
    calls = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(*args, **kwargs):
        calls.append(kwargs.get("foreach"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    training.train(cfg(max_steps=2), resume=False, progress=False)
    assert calls and all(f is not True for f in calls)


# --------------------------------------------------------------------------- Muon


MODERN = {"n_layer": 2, "n_head": 2, "n_embd": 32, "arch": "modern"}


def test_muon_trains_the_blocks_matrices_and_adamw_the_rest(tiny_data) -> None:
    t = training.Trainer(cfg(optimizer="muon", matrix_lr=0.05, embedding_lr=0.02, model_overrides=MODERN), progress=False)
    muon, adamw = t.optimizers
    assert isinstance(muon, torch.optim.Muon) and isinstance(adamw, torch.optim.AdamW)
    in_muon = {id(p) for g in muon.param_groups for p in g["params"]}
    in_adamw = {id(p) for g in adamw.param_groups for p in g["params"]}
    names = {id(p): n for n, p in t.raw_model.named_parameters()}
    assert sorted(names[i] for i in in_muon) == sorted(n for n, p in t.raw_model.named_parameters()
                                                       if n.startswith("transformer.h.") and p.dim() == 2)
    assert not in_muon & in_adamw and len(in_muon) + len(in_adamw) == len(names)  # each weight once
    assert {names[i] for i in in_adamw} == {"transformer.wte.weight", "lm_head.weight"}
    peaks = {names[id(g["params"][0])]: g["peak_lr"] for o in t.optimizers for g in o.param_groups}
    assert peaks["transformer.wte.weight"] == 0.02 and peaks["lm_head.weight"] == t.config.learning_rate
    assert peaks["transformer.h.0.attn.c_attn.weight"] == 0.05
    before = {n: p.detach().clone() for n, p in t.raw_model.named_parameters()}
    t.train_step()
    t.train_step()
    for group in muon.param_groups + adamw.param_groups:  # every group follows the schedule from its peak
        assert group["lr"] == pytest.approx(group["peak_lr"] * t.schedule(1) / t.config.learning_rate)
    moved = [n for n, p in t.raw_model.named_parameters() if not torch.equal(p, before[n])]
    assert len(moved) == len(before)  # zero-initialised projections move too


def test_muon_resume_repeats_the_uninterrupted_run(tiny_data) -> None:
    over = dict(optimizer="muon", model_overrides=MODERN, lr_decay="linear", plateau_fraction=0.5)
    full = training.train(cfg(run="full", max_steps=10, checkpoint_interval=5, **over), progress=False)
    training.train(cfg(run="split", max_steps=10, checkpoint_interval=5, stop_at_step=5, **over), progress=False)
    second = training.train(cfg(run="split", max_steps=10, checkpoint_interval=5, **over), resume=True, progress=False)
    assert second.start_step == 5 and losses("full") == losses("split") and len(losses("full")) == 10
    wa, wb = weights(full.run_dir / "step-000010"), weights(second.run_dir / "step-000010")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(ValueError, match="optimizer"):  # another optimizer is another run
        training.train(cfg(run="split", max_steps=12, model_overrides=MODERN), resume=True, progress=False)


def test_without_torch_muon_training_falls_back_to_adamw(tiny_data, monkeypatch, caplog) -> None:
    monkeypatch.delattr(torch.optim, "Muon")
    with caplog.at_level("WARNING"):
        t = training.Trainer(cfg(optimizer="muon", model_overrides=MODERN), progress=False)
    (only,) = t.optimizers
    assert isinstance(only, torch.optim.AdamW)
    assert "torch.optim.Muon" in caplog.text and "AdamW instead" in caplog.text
    t.train_step()
    assert t.step == 1


def test_optimizer_and_learning_rates_are_validated() -> None:
    with pytest.raises(ValueError) as err:
        training.TrainConfig(optimizer="sgd", matrix_lr=0.0, embedding_lr=-1.0)
    msg = str(err.value)
    for field in ("optimizer='sgd'", "matrix_lr=0.0", "embedding_lr=-1.0"):
        assert field in msg


def test_every_profile_trains_the_modern_block_with_muon(tiny_data) -> None:
    from minigpt_helpers.profiles import PROFILES

    for profile in PROFILES.values():  # the gpu profile too: its settings, on tiny shapes
        c = training.TrainConfig.from_profile(profile)
        assert c.optimizer == "muon" and c.model_config(1000).architecture == "modern", profile.name
        tiny = c.replace(run=f"tiny-{profile.name}", tokens_dir="tiny", tokenizer_dir="tiny/tokenizer", context_length=16,
                         batch_size=2, grad_accum_steps=1, max_steps=2, warmup_steps=1, eval_interval=2, eval_batches=1,
                         checkpoint_interval=2, sample_interval=0, device="cpu", precision="fp32", compile=False,
                         time_budget_s=None, tensorboard=False, patience=None,
                         model_overrides={**c.model_overrides, "n_layer": 1, "n_head": 2, "n_embd": 16})
        result = training.train(tiny, progress=False)
        assert result.step == 2 and math.isfinite(result.best_val_loss), profile.name
