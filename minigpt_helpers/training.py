"""Training: the loop of 05_training.

``train(TrainConfig.from_profile(PROFILE))`` trains the profile's model on ``data/tokens`` and
writes the run folder ``data/checkpoints/<run>/`` (see ``runs``).

One optimizer step: draw a global batch (``batch_size x grad_accum_steps x processes`` windows),
run this process's micro-batches forward and backward with the loss divided by
``grad_accum_steps`` (the gradients add up to those of one big batch), clip the gradient norm and
step the optimizers (Muon for the blocks' matrices and AdamW for the rest, or AdamW alone) at the
schedule's learning rate. Every ``eval_interval`` steps and at any stop: the validation loss, the
best checkpoint, early stopping; every ``checkpoint_interval`` steps and at a stop: a periodic
checkpoint. A resume restores model, optimizers, step, random state and the sampler's position,
so it continues the same run. ``python -m minigpt_helpers train`` runs the same loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed, hardware, runs
from .artifacts import data_dir, read_json, stage_dir, write_json_atomic
from .checkpoint import load_checkpoint, load_training_state, save_checkpoint
from .dataset import RandomBatches, get_batch, load_tokens, to_device
from .generation import SamplingConfig, complete
from .model import GPT
from .notebook import hardware_summary
from .profiles import TrainConfig, pick_device
from .tokenization import load_tokenizer

log = logging.getLogger(__name__)

FINISHED = ("max_steps", "early_stopping", "time_budget")  # stop reasons that end a run


@dataclass
class TrainResult:
    """What a training session did. ``step`` counts optimizer steps over the whole run."""

    run_dir: Path
    step: int
    stop_reason: str  # max_steps, early_stopping, time_budget, stopped (button, interrupt, stop_at_step)
    start_step: int = 0
    tokens: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    best_val_loss: float | None = None
    best_step: int | None = None
    elapsed_s: float = 0.0  # training time over all sessions
    session_s: float = 0.0  # this session's loop time (training, evaluation, checkpoints)
    train_time_s: float = 0.0  # this session's time in training steps only
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.stop_reason in FINISHED

    @property
    def ms_per_step(self) -> float | None:
        """Training time per optimizer step in this session (evaluation left out)."""
        steps = self.step - self.start_step
        return 1000.0 * self.train_time_s / steps if steps else None


class NonFiniteLossError(RuntimeError):
    """The loss or the gradients became NaN or infinite; the run stopped without saving."""


# --------------------------------------------------------------------------- small pieces


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (every device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _data_path(value: str | None, stage: str) -> Path:
    if value is None:
        return stage_dir(stage)
    path = Path(value).expanduser()
    return path if path.is_absolute() else data_dir() / path


@torch.no_grad()
def sample_text(
    model: Any,
    tokenizer: Any,
    prompt: str = "",
    max_new_tokens: int = 100,
    *,
    temperature: float = 0.8,
    top_k: int | None = 50,
    seed: int = 0,
    precision: hardware.Precision | None = None,
) -> str:
    """``prompt`` (default: a new document) and its continuation by ``generation.complete``, in the
    run's number format. Its own seed leaves the training run's random state untouched."""
    was_training = model.training
    model.eval()
    config = SamplingConfig(temperature=temperature, top_k=top_k or 0, max_new_tokens=max_new_tokens, seed=seed)
    with precision.autocast() if precision else contextlib.nullcontext():
        text = complete(model, tokenizer, prompt or [tokenizer.eot_id], config, stop_at_eot=False)
    model.train(was_training)
    return prompt + text


@torch.no_grad()
def estimate_loss(
    model: torch.nn.Module,
    data: Any,
    *,
    batches: int,
    batch_size: int,
    context: int | None = None,
    seed: int = 43,
    precision: str | hardware.Precision = "fp32",
    rank: int = 0,
    world_size: int = 1,
) -> float:
    """The mean loss of ``batches`` random windows of ``data``, drawn with ``seed`` (the same ones
    every time): training's ``val_loss``. With several processes each scores its ``rank``'s share
    of every batch; the mean over processes is the one-process figure."""
    device = hardware.model_device(model)
    T = context or model.config.context_length
    if not isinstance(precision, hardware.Precision):
        precision = hardware.choose_precision(device, precision)
    generator = torch.Generator().manual_seed(seed)
    B = batch_size
    was_training = model.training
    model.eval()
    total = torch.zeros((), device=device)
    try:
        for _ in range(batches):
            x, y = get_batch(data, B * world_size, T, generator=generator)
            x, y = x[rank * B:(rank + 1) * B], y[rank * B:(rank + 1) * B]
            with precision.autocast():
                _, loss = model(to_device(x, device), to_device(y, device))
            total += loss.float()
    finally:
        model.train(was_training)
    return float(total) / batches


def build_optimizers(model: Any, config: TrainConfig, device: str | torch.device = "cpu") -> list[torch.optim.Optimizer]:
    """The optimizers of a run, each group with its ``peak_lr`` (the schedule scales them all).

    "adamw": AdamW for every weight; matrices and embeddings decay, biases and gains do not.
    "muon": ``torch.optim.Muon`` for the blocks' weight matrices (each update orthogonalised, so
    every direction of a matrix learns at the same rate), AdamW for the rest. On a torch without
    Muon, AdamW trains everything and a warning says so.
    """
    c = config
    muon = c.optimizer == "muon"
    if muon and not hasattr(torch.optim, "Muon"):
        log.warning("optimizer='muon' needs torch.optim.Muon (torch 2.9 or newer; this is torch %s): "
                    "training every weight with AdamW instead", torch.__version__)
        muon = False
    matrices = model.hidden_matrices() if muon else []
    embeddings = [model.transformer.wte.weight]
    taken = {id(p) for p in matrices + embeddings}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in taken]
    groups = [
        dict(params=embeddings, peak_lr=c.embedding_lr or c.learning_rate, weight_decay=c.weight_decay),
        dict(params=[p for p in rest if p.dim() >= 2], peak_lr=c.learning_rate, weight_decay=c.weight_decay),
        dict(params=[p for p in rest if p.dim() < 2], peak_lr=c.learning_rate, weight_decay=0.0),
    ]
    groups = [dict(g, lr=g["peak_lr"]) for g in groups if g["params"]]
    fast = {"fused": True} if torch.device(device).type in ("cuda", "cpu") else {"foreach": True}
    optimizers: list[torch.optim.Optimizer] = [
        torch.optim.AdamW(groups, betas=(c.beta1, c.beta2), eps=c.eps, **fast)]
    if muon:  # no weight decay: Muon's updates already keep the matrices' scale in check
        optimizers.insert(0, torch.optim.Muon([dict(params=matrices, lr=c.matrix_lr, peak_lr=c.matrix_lr)],
                                              momentum=0.95, weight_decay=0.0))
    return optimizers


# --------------------------------------------------------------------------- the trainer


class Trainer:
    """One training run: set up (or resume) in ``__init__``, then ``run()`` loops until a stop.

    ``stop`` is anything with ``is_set()`` (a ``threading.Event``): the dashboard's Stop button.
    ``on_event(kind, data)`` hears "start", "log", "sample", "checkpoint" and "end" (rank 0 only).
    ``resume``: None continues a compatible run found in the folder, else starts over; True
    must continue (or raises); False starts over, deleting the folder's old checkpoints.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        resume: bool | None = None,
        stop: Any = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        progress: bool = True,
    ) -> None:
        self.config = c = config
        self.stop_event = stop if stop is not None else threading.Event()
        self.on_event = on_event
        self.progress = progress
        self.resume = resume
        if c.threads:
            torch.set_num_threads(c.threads)
        self.dist = distributed.init(c.device)
        self.is_main = self.dist.is_main
        self.device = self.dist.device or pick_device(None if c.device == "auto" else c.device)
        hardware.setup_backends(self.device, c.deterministic)
        self.precision = hardware.choose_precision(self.device, c.precision)
        self.run_dir = runs.run_dir(c.run)

        # data: the token files and the tokenizer they were made with
        self.tokenizer = load_tokenizer(_data_path(c.tokenizer_dir, "tokenizer"))
        tokens = _data_path(c.tokens_dir, "tokens")
        self.train_data = load_tokens("train", tokenizer=self.tokenizer, folder=tokens)
        self.val_data = load_tokens("val", tokenizer=self.tokenizer, folder=tokens)
        meta = self.train_data.meta
        self.tokens_info = {"folder": str(tokens), "tokenizer": meta["tokenizer"], "counts": meta["counts"],
                            "bytes": meta.get("bytes")}
        self.global_batch = c.batch_size * c.grad_accum_steps * self.dist.world_size  # windows per step
        self.tokens_per_step = self.global_batch * c.context_length

        # the model, its optimizers and the batches, seeded so a run is repeatable
        seed_everything(c.seed)
        self.model_config = c.model_config(self.tokenizer.vocab_size)
        self.raw_model = GPT(self.model_config).to(self.device)
        if c.init_from:  # a resume below replaces these weights with the run's own
            self._load_init_weights(_data_path(c.init_from, "checkpoints"))
        self.schedule = c.schedule()
        self.optimizers = build_optimizers(self.raw_model, c, self.device)
        self.scaler = self.precision.grad_scaler()
        self.batches = RandomBatches(self.train_data, self.global_batch, c.context_length, seed=c.seed)
        self.step, self.tokens, self.elapsed_prior = 0, 0, 0.0
        self.best_val: float | None = None
        self.best_step: int | None = None
        self.bad_evals = 0
        self.last_val: float | None = None
        self.last_train: float | None = None
        self.finished_reason: str | None = None
        self.start_step = self._restore()
        self._prepare_compute()

    # ---- setup

    def _load_init_weights(self, folder: Path) -> None:
        """Copy a trained checkpoint's weights into the fresh model (fine-tuning starts from them)."""
        where = f"init_from={self.config.init_from!r} ({folder})"
        loaded = load_checkpoint(folder, device="cpu")
        mine, theirs = self.model_config.to_dict(), loaded.model.config.to_dict()
        how_it_trains = ("dropout", "activation_checkpointing")  # not what the weights are
        differ = [f"{k}={theirs.get(k)!r} there, {v!r} here" for k, v in mine.items()
                  if k not in how_it_trains and theirs.get(k) != v]
        if differ:
            raise ValueError(f"{where}: that checkpoint's model differs from this run's ({'; '.join(differ)}); "
                             "train with the model_preset, model_overrides and context_length it was trained with")
        if loaded.tokenizer.sha256 != self.tokenizer.sha256:
            raise ValueError(f"{where}: this run's tokenizer ({self.tokenizer.name}) is not the one that checkpoint "
                             "was trained with; encode the token files with the checkpoint's tokenizer and pass "
                             "it as tokenizer_dir")
        self.raw_model.load_state_dict(loaded.model.state_dict())

    def _restore(self) -> int:
        """Continue from the run's latest periodic checkpoint, or start over; the first step."""
        c = self.config
        found, problem = None, ""
        if self.resume is not False:
            found, problem, saved = runs.resume_point(self.run_dir, c, self.tokens_info, self.dist.world_size)
            if found is None and self.resume:
                raise ValueError(f"cannot resume: {problem}. Start it over with resume=False (--fresh), "
                                 "or pick another run name")
            if found is None and (self.run_dir / runs.LATEST_FILE).is_file():
                log.warning("starting run %r over: %s", c.run, problem)
            if found is not None and saved.get("status") == "finished":
                self.finished_reason = saved.get("stop_reason")
        if self.is_main and found is None:
            runs.clear_run_dir(self.run_dir)
        distributed.barrier(self.dist)
        if found is None:
            return 0
        state = load_training_state(found)
        self.raw_model.load_state_dict(load_checkpoint(found, device="cpu").model.state_dict())
        for optimizer, saved_state in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved_state)
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.batches.load_state_dict(state["sampler"])
        runs.set_rng_state(state["rng"], self.device)
        self.step, self.tokens, self.elapsed_prior = int(state["step"]), int(state["tokens"]), float(state["elapsed_s"])
        self.best_val, self.best_step = state.get("best_val_loss"), state.get("best_step")
        self.bad_evals = int(state.get("bad_evals", 0))
        self.last_val = state.get("val_loss")
        if self.is_main:  # lines logged after that checkpoint will be logged again
            runs.truncate_metrics(self.run_dir, self.step)
            runs.truncate_metrics(self.run_dir, self.step, runs.SAMPLES_FILE)
        log.info("resuming run %r from %s (step %d)", c.run, found, self.step)
        return self.step

    def _prepare_compute(self) -> None:
        """Compile (where it helps), wrap for several processes, and set up the step's counters."""
        c = self.config
        self.compiled, self.compile_reason = hardware.choose_compile(self.device, c.compile)
        self.compile_s = 0.0
        # evaluation runs compiled only where that pays for its compile (on CUDA)
        self.compiled_eval = self.compiled and hardware.compiled_evaluation(self.device)
        self.model: Any = self.raw_model
        if self.compiled:
            self.model, self.compile_s, failure = hardware.compile_model(
                self.raw_model, (c.batch_size, c.context_length), self.precision, eval_too=self.compiled_eval)
            if failure:
                self.compiled, self.compiled_eval, self.compile_reason = False, False, failure
        self.elapsed_prior += self.compile_s  # compiling is part of the run's time (and its budget)
        self.eval_model = self.model if self.compiled_eval else self.raw_model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.dist.local_rank] if str(self.device).startswith("cuda") else None
            self.model = DDP(self.model, device_ids=ids)
        self.model.train()
        self.last_lr = self.schedule(self.step)
        # sums over the steps since the last log line, kept on the device (no host sync per step)
        self.loss_sum = torch.zeros((), device=self.device)
        self.norm_sum = torch.zeros((), device=self.device)
        self.norm_bad = torch.zeros((), device=self.device)
        self.peak = hardware.peak_flops(self.device)
        self.flops_per_token = hardware.flops_per_token(self.model_config)
        self.sync = hardware.synchronize(self.device)

    # ---- one optimizer step

    def train_step(self) -> None:
        """Forward and backward over this process's micro-batches, clip, and step the optimizers."""
        c, A, B = self.config, self.config.grad_accum_steps, self.config.batch_size
        lr = self.schedule(self.lr_step())
        for optimizer in self.optimizers:  # every group follows the schedule from its own peak
            for group in optimizer.param_groups:
                group["lr"] = group["peak_lr"] * lr / c.learning_rate
        x, y = next(self.batches)  # the global batch, (B * A * processes, T), on the CPU
        rank = self.dist.rank
        x, y = x[rank * A * B:(rank + 1) * A * B], y[rank * A * B:(rank + 1) * A * B]  # this process's share
        for micro in range(A):
            xb, yb = to_device(x[micro * B:(micro + 1) * B], self.device), to_device(y[micro * B:(micro + 1) * B], self.device)
            last = micro == A - 1
            no_sync = self.model.no_sync() if self.dist.enabled and not last else contextlib.nullcontext()
            with no_sync:  # under DDP, average the gradients across processes once, after the last
                with self.precision.autocast():
                    _, loss = self.model(xb, yb)
                loss = loss / A  # A micro-batches of mean losses add up to the big batch's mean
                (self.scaler.scale(loss) if self.scaler else loss).backward()
            self.loss_sum += loss.detach()
        if self.scaler:
            for optimizer in self.optimizers:
                self.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        max_norm = c.grad_clip if c.grad_clip > 0 else float("inf")
        # foreach=None: the fused path where the device has it; foreach=True raises on Apple's MPS
        norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), max_norm, foreach=None)
        finite = torch.isfinite(norm)
        self.norm_sum += torch.where(finite, norm, torch.zeros_like(norm))
        self.norm_bad += (~finite).to(self.norm_bad.dtype)
        for optimizer in self.optimizers:
            if self.scaler:
                self.scaler.step(optimizer)  # skips the step when the scaled gradients overflowed
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.update()
        self.step += 1
        self.tokens += self.tokens_per_step
        self.last_lr = lr

    def lr_step(self) -> int:
        """The step the schedule is read at. With a time budget (and ``lr_follows_budget``) the decay
        runs on whichever is further along, steps or time, so a slower machine still ends its run at
        the floor instead of being cut off at a high learning rate. Warmup always counts steps."""
        c = self.config
        if c.time_budget_s is None or not c.lr_follows_budget or self.step < c.warmup_steps:
            return self.step
        return max(self.step, int(self.elapsed() / c.time_budget_s * self.schedule.end))

    # ---- evaluation, checkpoints, samples

    def evaluate(self) -> float:
        """Mean validation loss over ``eval_batches`` fixed batches (the same every time, and the
        same whether one process or several share them out)."""
        c, d = self.config, self.dist
        loss = estimate_loss(self.eval_model, self.val_data, batches=c.eval_batches, batch_size=c.batch_size,
                             context=c.context_length, seed=c.seed + 1, precision=self.precision,
                             rank=d.rank, world_size=d.world_size)
        return float(distributed.all_reduce_mean(torch.tensor(loss, device=self.device), d)) if d.enabled else loss

    def _meta(self) -> dict[str, Any]:
        return {"run": self.config.run, "step": self.step, "tokens": self.tokens, "train_loss": self.last_train,
                "val_loss": self.last_val, "best_val_loss": self.best_val, "best_step": self.best_step,
                "elapsed_s": round(self.elapsed(), 2)}

    def save_best(self) -> None:
        if self.is_main:
            save_checkpoint(self.run_dir / runs.BEST_DIR, self.raw_model, self.tokenizer,
                            train_config=self.config.to_dict(), meta=self._meta())

    def save_periodic(self) -> Path | None:
        """A checkpoint with the training state; ``latest.json`` points at it, older ones are pruned."""
        if not self.is_main:
            return None
        name = f"step-{self.step:06d}"
        state = {
            "format": runs.STATE_FORMAT, "step": self.step, "tokens": self.tokens, "elapsed_s": self.elapsed(),
            "optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "sampler": self.batches.state_dict(), "rng": runs.rng_state(self.device),
            "best_val_loss": self.best_val, "best_step": self.best_step, "bad_evals": self.bad_evals,
            "val_loss": self.last_val, "world_size": self.dist.world_size,
        }
        folder = save_checkpoint(self.run_dir / name, self.raw_model, self.tokenizer,
                                 train_config=self.config.to_dict(), meta=self._meta(), training_state=state)
        runs.point_latest(self.run_dir, name, self.step, self.config.keep_last)
        return folder

    def sample(self) -> str:
        c = self.config
        return sample_text(self.raw_model, self.tokenizer, c.sample_prompt, c.sample_tokens,
                           temperature=c.sample_temperature, top_k=c.sample_top_k, seed=c.seed + self.step,
                           precision=self.precision)

    # ---- the loop

    def elapsed(self) -> float:
        """Training time over every session of this run (setup left out)."""
        return self.elapsed_prior + (time.perf_counter() - self.loop_t0 if hasattr(self, "loop_t0") else 0.0)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None and self.is_main:
            self.on_event(kind, data)

    def _write_run_file(self, status: str, stop_reason: str | None = None) -> None:
        if not self.is_main:
            return
        path = self.run_dir / runs.RUN_FILE
        sessions = read_json(path).get("sessions", []) if path.is_file() else []
        if status == "running":
            sessions.append({"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "start_step": self.start_step,
                             "device": hardware.describe(self.device), "precision": self.precision.name,
                             "compile": self.compiled, "compile_s": round(self.compile_s, 1),
                             "world_size": self.dist.world_size, "backend": self.dist.backend})
        write_json_atomic(path, {
            "run": self.config.run, "status": status, "stop_reason": stop_reason, "step": self.step,
            "best_val_loss": self.best_val, "best_step": self.best_step,
            "config": self.config.to_dict(), "model": self.model_config.to_dict(),
            "parameters": self.raw_model.num_parameters(), "tokens": self.tokens_info,
            "world_size": self.dist.world_size, "global_batch_tokens": self.tokens_per_step,
            "git_commit": runs.git_commit(), "hardware": hardware_summary(), "precision": self.precision.name,
            "compile": self.compiled, "torch": torch.__version__, "sessions": sessions,
            "wandb_id": getattr(self, "wandb_id", None),
        })

    def _check_stop(self) -> str | None:
        """Why to stop after this step, or None. Under DDP every process must agree, so the stop
        button and the time budget (which differ between processes) are settled at log steps."""
        c = self.config
        if self.step >= c.max_steps:
            return "max_steps"
        if c.stop_at_step is not None and self.step >= c.stop_at_step:
            return "stopped"
        if self.dist.enabled and self.step % c.log_interval:
            return None
        stop = self.stop_event.is_set()
        over = c.time_budget_s is not None and self.elapsed() >= c.time_budget_s
        if self.dist.enabled:
            flags = torch.tensor([float(stop), float(over)], device=self.device)
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
            stop, over = bool(flags[0]), bool(flags[1])
        return "stopped" if stop else ("time_budget" if over else None)

    @contextlib.contextmanager
    def _stoppable(self) -> Iterator[None]:
        """Ctrl-C (or the notebook's interrupt) asks for a stop after this step, with a checkpoint;
        a second one aborts."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def interrupt(signum: int, frame: Any) -> None:
            log.warning("interrupt: stopping after this step and saving a checkpoint (press again to abort)")
            self.stop_event.set()
            signal.signal(signal.SIGINT, previous or signal.default_int_handler)

        previous = signal.signal(signal.SIGINT, interrupt)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _window(self, steps: int, window_time: float) -> dict[str, Any]:
        """The log record of the ``steps`` steps since the last log line (one host sync)."""
        stats = distributed.all_reduce_mean(torch.stack([self.loss_sum, self.norm_sum, self.norm_bad]), self.dist)
        loss_sum, norm_sum, norm_bad = (float(v) for v in stats.tolist())
        self.loss_sum.zero_(), self.norm_sum.zero_(), self.norm_bad.zero_()
        good = steps - round(norm_bad)
        grad_norm = norm_sum / good if good > 0 else None
        train_loss = loss_sum / steps
        if not math.isfinite(train_loss) or (norm_bad > 0 and self.scaler is None):
            raise NonFiniteLossError(self._nan_message(train_loss, grad_norm))
        self.last_train = train_loss
        tokens_per_s = steps * self.tokens_per_step / window_time
        mfu = self.flops_per_token * tokens_per_s / (self.peak * self.dist.world_size) if self.peak else None
        return {"step": self.step, "tokens": self.tokens, "train_loss": train_loss, "lr": self.last_lr,
                "grad_norm": grad_norm, "tokens_per_s": tokens_per_s, "elapsed_s": round(self.elapsed(), 3),
                "mfu": mfu}

    def _validate(self) -> bool:
        """Measure the validation loss, keep the best checkpoint; True when patience ran out."""
        c = self.config
        self.last_val = self.evaluate()
        if self.best_val is None or self.last_val < self.best_val - c.min_delta:
            self.best_val, self.best_step, self.bad_evals = self.last_val, self.step, 0
            self.save_best()
            return False
        self.bad_evals += 1
        if c.patience is None or self.bad_evals < c.patience:
            return False
        log.info("early stopping at step %d: no improvement on %.4f (step %d) in %d evaluations",
                 self.step, self.best_val, self.best_step, self.bad_evals)
        return True

    def _report(self, row: dict[str, Any], steps_per_s: float, bar: Any) -> None:
        c = self.config
        eta = (c.max_steps - self.step) / steps_per_s if steps_per_s > 0 else None
        if c.time_budget_s is not None:
            eta = min(eta or math.inf, max(0.0, c.time_budget_s - self.elapsed()))
        self._emit("log", {**row, "max_steps": c.max_steps, "eta_s": eta, "best_val_loss": self.best_val})
        if bar is not None:
            bar.update(self.step - bar.n)
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", tok_s=f"{row['tokens_per_s']:,.0f}",
                            **({"val": f"{self.last_val:.3f}"} if self.last_val is not None else {}))

    def _finished_already(self) -> bool:
        c = self.config
        return self.step >= c.max_steps or (self.finished_reason == "early_stopping" and self.resume is None) or (
            c.time_budget_s is not None and self.elapsed_prior >= c.time_budget_s)

    def run(self) -> TrainResult:
        """Train until max_steps, the time budget, early stopping, NaN, or a stop request."""
        c = self.config
        if self._finished_already():
            reason = self.finished_reason or "max_steps"
            log.info("run %r is already finished (%s at step %d); nothing to train", c.run, reason, self.step)
            return TrainResult(self.run_dir, self.step, reason, self.start_step, self.tokens,
                               best_val_loss=self.best_val, best_step=self.best_step, val_loss=self.last_val,
                               elapsed_s=self.elapsed_prior)
        logger = runs.MetricsLogger(self.run_dir, enabled=self.is_main, tensorboard=c.tensorboard, wandb=c.wandb,
                                    wandb_project=c.wandb_project, wandb_mode=c.wandb_mode, run_name=c.run,
                                    config=c.to_dict())
        self.wandb_id = logger.wandb_id
        self._write_run_file("running")
        has_history = self.is_main and (self.run_dir / runs.METRICS_FILE).is_file()
        self._emit("start", {"config": c.to_dict(), "step": self.step, "max_steps": c.max_steps,
                             "parameters": self.raw_model.num_parameters(), "device": hardware.describe(self.device),
                             "precision": self.precision.name, "compile": self.compiled,
                             "history": runs.read_metrics(self.run_dir) if has_history else [],
                             "time_budget_s": c.time_budget_s})
        bar = tqdm(total=c.max_steps, initial=self.step, unit="step", desc=c.run, dynamic_ncols=True) \
            if self.progress and self.is_main else None
        samples: list[dict[str, Any]] = []
        self.loop_t0 = window_t0 = time.perf_counter()
        window_step, train_time, stop_reason = self.step, 0.0, None
        try:
            with self._stoppable():
                if self.step == 0:  # the untrained model: where the curves start
                    self.last_val = self.evaluate()
                    row = logger.log({"step": 0, "tokens": 0, "val_loss": self.last_val, "lr": self.schedule(0),
                                      "elapsed_s": 0.0})
                    self._emit("log", {**row, "max_steps": c.max_steps, "eta_s": None})
                    window_t0 = time.perf_counter()
                while stop_reason is None:
                    self.train_step()
                    s = self.step
                    stop_reason = self._check_stop()
                    # at any stop too: the model as it is gets measured (and saved as best if it is)
                    eval_now = s % c.eval_interval == 0 or stop_reason is not None
                    save_now = s % c.every_checkpoint == 0 or stop_reason is not None
                    sample_now = bool(c.sample_interval) and s % c.sample_interval == 0
                    if not (s % c.log_interval == 0 or eval_now or save_now or sample_now):
                        continue  # samples come after the log below, so a sample step is a log step too
                    self.sync()
                    window_time = max(time.perf_counter() - window_t0, 1e-9)
                    train_time += window_time
                    record = self._window(s - window_step, window_time)
                    if eval_now:
                        patience_out = self._validate()
                        record["val_loss"] = self.last_val
                        if patience_out and stop_reason is None:
                            stop_reason, save_now = "early_stopping", True
                    self._report(logger.log(record), (s - window_step) / window_time, bar)
                    if save_now:
                        if not all(bool(torch.isfinite(p).all()) for p in self.raw_model.parameters()):
                            raise NonFiniteLossError(self._nan_message(record["train_loss"], record["grad_norm"], weights=True))
                        self._emit("checkpoint", {"step": s, "folder": str(self.save_periodic())})
                    # a sample every sample_interval steps, at the end, and at a stop if this session has none yet
                    end_sample = stop_reason in FINISHED or (stop_reason is not None and not samples)
                    if c.sample_interval and (s % c.sample_interval == 0 or end_sample) and self.is_main:
                        samples.append({"step": s, "text": self.sample()})
                        runs.append_sample(self.run_dir, s, samples[-1]["text"])
                        self._emit("sample", samples[-1])
                    window_t0, window_step = time.perf_counter(), s  # evaluation and saving left out
        finally:
            if bar is not None:
                bar.close()
            logger.close()
        self._write_run_file("finished" if stop_reason in FINISHED else "stopped", stop_reason)
        result = TrainResult(self.run_dir, self.step, stop_reason or "max_steps", self.start_step, self.tokens,
                             self.last_train, self.last_val, self.best_val, self.best_step, self.elapsed(),
                             time.perf_counter() - self.loop_t0, train_time, samples)
        self._emit("end", dataclasses.asdict(result) | {"run_dir": str(self.run_dir)})
        return result

    def close(self, ended: bool = True) -> None:
        """Let go of the DDP wrapper, then leave the process group (waiting for the other processes
        when the run ``ended`` normally). Left to the garbage collector, the wrapper could go while
        Python shuts down, where gloo's threads can abort the process."""
        self.model = self.eval_model = self.raw_model
        if self.dist.owns_group:
            gc.collect()  # the wrapper is in reference cycles of its own: free it now, while all is alive
        distributed.cleanup(self.dist, wait=ended)

    def _nan_message(self, train_loss: float, grad_norm: float | None, weights: bool = False) -> str:
        what = "the weights" if weights else ("the training loss" if not math.isfinite(train_loss) else "the gradient norm")
        latest = self.run_dir / runs.LATEST_FILE
        last = read_json(latest) if latest.is_file() else None
        kept = (f"The last good checkpoint, {self.run_dir / last['folder']} (step {last['step']}), is intact: "
                "resume from it (resume=True) with a lower learning_rate" if last else
                "No checkpoint was saved yet: start again with a lower learning_rate")
        return (f"{what} became NaN or infinite at step {self.step} (learning rate {self.last_lr:.3g}, train loss "
                f"{train_loss:.4g}, gradient norm {grad_norm}); training stopped without saving. {kept} "
                f"(e.g. {self.config.learning_rate / 3:.2g}), or a smaller grad_clip.")


def train(
    config: TrainConfig,
    *,
    resume: bool | None = None,
    stop: Any = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or continue) the run ``config`` describes; see ``Trainer`` for the arguments."""
    threads = torch.get_num_threads()
    trainer = None
    ended = False
    try:  # building the Trainer sets config.threads, then may fail (a wrong path): restore either way
        trainer = Trainer(config, resume=resume, stop=stop, on_event=on_event, progress=progress)
        result = trainer.run()
        ended = True
        return result
    finally:
        if trainer is not None:
            trainer.close(ended)
        torch.set_num_threads(threads)  # config.threads applies to this run only


