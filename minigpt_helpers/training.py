"""Training: the loop of 05_training as a ``Trainer``, and the checkpoints stage.

``train(TrainConfig.from_profile(PROFILE))`` trains the profile's model on ``data/tokens`` and
writes a run folder ``data/checkpoints/<run>/``:

    run.json          the resolved config, model config, token files, git commit, hardware,
                      one entry per session (a resume adds one), status and why it stopped
    metrics.jsonl     one line per logged step (keys: ``tracking.METRIC_KEYS``)
    samples.jsonl     text sampled every ``sample_interval`` steps: {"step", "text"}
    best/             the checkpoint with the lowest validation loss (checkpoint.py's folder)
    step-NNNNNN/      periodic checkpoints with the training state, the last ``keep_last`` kept
    latest.json       {"folder": "step-NNNNNN", "step": N}: where a resume starts
    tensorboard/      event files, when the tensorboard package is installed

One optimizer step: draw a global batch (``batch_size x grad_accum_steps x processes``
sequences), run each of this process's micro-batches forward and backward with the loss
divided by ``grad_accum_steps`` (so the gradients add up to those of one big batch), clip the
gradient norm, step the optimizers (Muon for the blocks' matrices and AdamW for the rest, or
AdamW alone) at the schedule's learning rate. Every ``eval_interval`` steps and at
a stop: the validation loss on fixed batches, the best checkpoint, early stopping (so a stopped
run is measured as it is and always has a best checkpoint). Every ``checkpoint_interval`` steps
and at a stop: a periodic checkpoint. A resume restores model, optimizer, gradient scaler, step,
RNG states and the sampler's position, so it continues the same run.

``python -m minigpt_helpers train ...`` runs the same loop (see ``cli``); ``torchrun`` runs it on
several GPUs or machines (``distributed``); ``recipes`` adds named runs beyond the books.
A profile's training settings live in ``profiles`` (``TrainConfig.from_profile``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import distributed, hardware
from .artifacts import (
    data_dir,
    ensure,
    read_json,
    repo_root,
    stage_dir,
    write_json_atomic,
    write_manifest,
)
from .checkpoint import load_checkpoint, load_training_state, save_checkpoint
from .dataset import RandomBatches, get_batch, load_tokens, to_device
from .generation import SamplingConfig, complete
from .model import GPT, preset
from .notebook import hardware_summary
from .profiles import pick_device
from .schedule import LRSchedule
from .tokenization import load_tokenizer
from .tracking import METRIC_KEYS, MetricsLogger, read_metrics, truncate_metrics

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
LATEST_FILE = "latest.json"
SAMPLES_FILE = "samples.jsonl"
BEST_DIR = "best"
STATE_FORMAT = 2  # 2: a list of optimizers' states

# A resume must keep these the same: they decide what the weights and batches are.
IDENTITY_FIELDS = ("model_preset", "model_overrides", "activation_checkpointing", "context_length",
                   "batch_size", "grad_accum_steps", "seed", "init_from", "optimizer")
FINISHED = ("max_steps", "early_stopping", "time_budget")  # stop reasons that end a run
OPTIMIZERS = ("adamw", "muon")


# --------------------------------------------------------------------------- config


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved resolved in run.json and every checkpoint."""

    run: str = "default"  # the folder under data/checkpoints/
    # data: None means the stage folders data/tokens and data/tokenizer; relative paths are
    # under the data folder (e.g. "recipes/shakespeare-char")
    tokens_dir: str | None = None
    tokenizer_dir: str | None = None
    context_length: int = 128
    batch_size: int = 16  # sequences per micro-batch, per process
    grad_accum_steps: int = 1  # micro-batches per optimizer step
    # model: a preset of minigpt_helpers.model, with fields changed
    model_preset: str = "cpu"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    activation_checkpointing: bool = False
    # fine-tuning: a checkpoint folder whose weights start the run instead of random ones (the
    # same model and tokenizer; relative paths are under the data folder, e.g. "checkpoints/cpu/best")
    init_from: str | None = None
    # the optimizer: "adamw" for every weight, or "muon": Muon for the blocks' matrices and AdamW
    # for the rest (embeddings, head, gains, biases)
    optimizer: str = "adamw"
    matrix_lr: float = 0.02  # Muon's peak learning rate
    embedding_lr: float | None = None  # AdamW's peak for the token table (None: learning_rate)
    # the learning-rate schedule
    max_steps: int = 1000
    learning_rate: float = 1e-3  # AdamW's peak
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # the floor, as a fraction of the peak
    plateau_fraction: float = 0.0  # share of the post-warmup steps held at the peak
    decay_steps: int | None = None  # where the decay reaches the floor (None: max_steps)
    lr_decay: str = "cosine"  # "cosine", or "linear" (with a plateau: warmup-stable-decay)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0  # 0 turns clipping off (the norm is still logged)
    # evaluation, early stopping, checkpoints, samples
    eval_interval: int = 250
    eval_batches: int = 20
    patience: int | None = None  # stop after this many evaluations without improvement
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    checkpoint_interval: int | None = None  # None: every eval_interval
    keep_last: int = 3
    sample_interval: int = 0  # 0: no samples while training
    sample_tokens: int = 100
    sample_prompt: str = ""  # "" starts from the end-of-text token (the start of a document)
    sample_temperature: float = 0.8
    sample_top_k: int | None = 50
    # limits for this session
    time_budget_s: float | None = None  # training time over all sessions, then stop (None: no limit)
    lr_follows_budget: bool = True  # with a budget, decay by whichever runs out first: steps or time
    stop_at_step: int | None = None  # end this session at that step, with a checkpoint
    # hardware
    device: str = "auto"  # auto: cuda, then mps, then cpu (MINIGPT_DEVICE overrides)
    precision: str = "auto"  # auto, bf16, fp16, fp32 (see hardware.choose_precision)
    compile: bool | None = None  # None: where it helps (CUDA on Linux)
    threads: int | None = None  # CPU threads for torch (None: torch's default, one per core)
    seed: int = 42
    deterministic: bool = False
    # logging
    log_interval: int = 10
    tensorboard: bool | None = None  # None: when the tensorboard package is installed
    wandb: bool = False
    wandb_project: str = "minigpt"
    wandb_mode: str = "offline"  # offline works without an account; "online" uploads

    def __post_init__(self) -> None:
        problems = []
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.run or ""):
            problems.append(f"run={self.run!r}: use letters, digits, '.', '_' or '-' (it names a folder)")
        for name in ("context_length", "batch_size", "grad_accum_steps", "max_steps", "eval_interval",
                     "eval_batches", "keep_last", "log_interval", "sample_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name}={value!r}: use a whole number of at least 1")
        for name in ("patience", "checkpoint_interval", "stop_at_step", "decay_steps", "threads"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems.append(f"{name}={value!r}: use a whole number of at least 1, or None")
        if self.init_from is not None and (not isinstance(self.init_from, str) or not self.init_from.strip()):
            problems.append(f"init_from={self.init_from!r}: use a checkpoint folder (e.g. 'checkpoints/cpu/best'), or None")
        if self.sample_interval < 0:
            problems.append(f"sample_interval={self.sample_interval}: use 0 (no samples) or a number of steps")
        for name in ("weight_decay", "grad_clip", "min_delta", "eps"):
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)}: use 0 or more")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name}={getattr(self, name)}: use a value in [0, 1), e.g. 0.9 or 0.95")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            problems.append(f"time_budget_s={self.time_budget_s}: use a positive number of seconds, or None")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer={self.optimizer!r}: use one of {', '.join(map(repr, OPTIMIZERS))}")
        for name in ("matrix_lr", "embedding_lr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                problems.append(f"{name}={value!r}: use a positive learning rate"
                                + (", or None for learning_rate" if name == "embedding_lr" else ", e.g. 0.02"))
        if self.precision not in hardware.PRECISIONS:
            problems.append(f"precision={self.precision!r}: use one of {', '.join(hardware.PRECISIONS)}")
        if self.sample_temperature <= 0:
            problems.append(f"sample_temperature={self.sample_temperature}: use a positive number, e.g. 0.8")
        if not isinstance(self.model_overrides, dict):
            problems.append(f"model_overrides={self.model_overrides!r}: use a dict of GPTConfig fields")
        elif "vocab_size" in self.model_overrides or "context_length" in self.model_overrides:
            problems.append("model_overrides: vocab_size comes from the tokenizer and context_length from "
                            "the config's own context_length field; remove them")
        try:
            self.schedule()
        except ValueError as err:
            problems.extend(str(err).split("\n- ")[1:])
        if problems:
            raise ValueError("TrainConfig is invalid:\n- " + "\n- ".join(problems))

    # ---- derived

    def schedule(self) -> LRSchedule:
        """The learning rate of every optimizer step."""
        return LRSchedule(self.learning_rate, self.max_steps, self.warmup_steps, self.min_lr_ratio,
                          self.plateau_fraction, self.decay_steps, self.lr_decay)

    def model_config(self, vocab_size: int) -> Any:
        """The GPTConfig this run trains: the preset, the tokenizer's vocabulary, this context."""

        return preset(self.model_preset, vocab_size=vocab_size, context_length=self.context_length,
                      **{**self.model_overrides, "activation_checkpointing": self.activation_checkpointing})

    @property
    def every_checkpoint(self) -> int:
        return self.checkpoint_interval or self.eval_interval

    # ---- conversion

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown fields {unknown}; the fields are {sorted(known)}")
        return cls(**data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_profile(cls, profile: Any, **overrides: Any) -> TrainConfig:
        """The run a profile trains (run name = profile name): the profile's fields that are
        TrainConfig fields too, then its ``training`` settings, then ``overrides``."""
        known = {f.name for f in dataclasses.fields(cls)}
        base: dict[str, Any] = {f.name: getattr(profile, f.name) for f in dataclasses.fields(profile)
                                if f.name in known}
        base.update(run=profile.name, sample_tokens=profile.max_new_tokens, **profile.training)
        base.update(overrides)
        base["model_overrides"] = {"arch": profile.arch, **base.get("model_overrides", {})}
        if unknown := sorted(set(base) - known):
            raise ValueError(f"TrainConfig has no field(s) {unknown}; the fields are {sorted(known)}")
        return cls(**base)


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


def rng_state(device: str | torch.device = "cpu") -> dict[str, Any]:
    """The global generators' states as tensors and plain numbers (loadable with weights_only).

    ``device``: the training device, whose own generator (dropout on a GPU) is saved as "device".
    Every process of a multi-GPU run draws the same numbers on its own GPU, so rank 0's state is
    the one each rank puts back on its GPU.
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    device_state = hardware.device_rng_state(device)
    return {
        "torch": torch.get_rng_state(),
        "device": {"type": torch.device(device).type, "state": device_state} if device_state is not None else None,
        "numpy": {"keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": py_gauss},
    }


def set_rng_state(state: dict[str, Any], device: str | torch.device = "cpu") -> None:
    """Put back what ``rng_state`` saved; the device generator goes to ``device`` if it is of that kind."""
    torch.set_rng_state(state["torch"])
    saved = state.get("device")
    if saved is not None and saved["type"] == torch.device(device).type:
        hardware.set_device_rng_state(device, saved["state"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))


def git_commit() -> str | None:
    """The checkout's commit (with "-dirty" when tracked files changed), or None outside git."""
    root = repo_root()
    if root is None or not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def run_dir(run: str) -> Path:
    """``data/checkpoints/<run>``."""
    return stage_dir("checkpoints") / run


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
    taken = {id(p) for p in matrices}
    embeddings = [model.transformer.wte.weight]
    taken |= {id(p) for p in embeddings}
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
        if c.threads:
            torch.set_num_threads(c.threads)
        self.dist = distributed.init(c.device)
        self.is_main = self.dist.is_main
        self.device = self.dist.device or pick_device(None if c.device == "auto" else c.device)
        hardware.setup_backends(self.device, c.deterministic)
        self.precision = hardware.choose_precision(self.device, c.precision)
        self.run_dir = run_dir(c.run)

        # data: the token files and the tokenizer they were made with
        self.tokenizer = load_tokenizer(_data_path(c.tokenizer_dir, "tokenizer"))
        tokens = _data_path(c.tokens_dir, "tokens")
        self.train_data = load_tokens("train", tokenizer=self.tokenizer, folder=tokens)
        self.val_data = load_tokens("val", tokenizer=self.tokenizer, folder=tokens)
        self.tokens_info = {"folder": str(tokens), "tokenizer": self.train_data.meta["tokenizer"],
                            "counts": self.train_data.meta["counts"], "bytes": self.train_data.meta.get("bytes")}
        world = self.dist.world_size
        self.global_batch = c.batch_size * c.grad_accum_steps * world  # sequences per optimizer step
        self.tokens_per_step = self.global_batch * c.context_length

        # the model, its optimizer and the batches, seeded so a run is repeatable
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
        self.resume = resume

        found = self._resume_point(resume)
        if self.is_main and found is None:
            self._clear_run_dir()
        distributed.barrier(self.dist)
        self.start_step = 0
        if found is not None:
            folder, state = found, load_training_state(found)
            loaded = load_checkpoint(folder, device="cpu")  # copied into the model on its device below
            self.raw_model.load_state_dict(loaded.model.state_dict())
            for optimizer, saved in zip(self.optimizers, state["optimizers"], strict=True):
                optimizer.load_state_dict(saved)
            if self.scaler is not None and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            self.batches.load_state_dict(state["sampler"])
            set_rng_state(state["rng"], self.device)
            self.step, self.tokens, self.elapsed_prior = int(state["step"]), int(state["tokens"]), float(state["elapsed_s"])
            self.best_val, self.best_step = state.get("best_val_loss"), state.get("best_step")
            self.bad_evals = int(state.get("bad_evals", 0))
            self.last_val = state.get("val_loss")
            self.start_step = self.step
            if self.is_main:  # lines logged after that checkpoint will be logged again
                truncate_metrics(self.run_dir, self.step)
                truncate_metrics(self.run_dir, self.step, SAMPLES_FILE)
            log.info("resuming run %r from %s (step %d)", c.run, folder, self.step)

        # how it computes: compile, then wrap for several processes
        self.compiled, self.compile_reason = hardware.choose_compile(self.device, c.compile)
        self.compile_s = 0.0
        # evaluation runs compiled only where that pays for its compile (on CUDA)
        self.compiled_eval = self.compiled and hardware.compiled_evaluation(self.device)
        self.model: Any = self._compile() if self.compiled else self.raw_model
        self.elapsed_prior += self.compile_s  # compiling is part of the run's time (and its budget)
        self.eval_model = self.model if self.compiled_eval else self.raw_model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.dist.local_rank] if str(self.device).startswith("cuda") else None
            self.model = DDP(self.model, device_ids=ids)
        self.model.train()
        self.last_lr = self.schedule(self.step)
        # running sums over the steps since the last log line, kept on the device (no host sync per step)
        self.loss_sum = torch.zeros((), device=self.device)
        self.norm_sum = torch.zeros((), device=self.device)
        self.norm_bad = torch.zeros((), device=self.device)
        self.peak = hardware.peak_flops(self.device)
        self.flops_per_token = hardware.flops_per_token(self.model_config)
        self.sync = hardware.synchronize(self.device)

    # ---- setup helpers

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

    def _compile(self) -> Any:
        """``torch.compile`` the model and compile its training step now, on a dummy batch, so the
        minute it takes is not counted as training time. If compiling fails (no C++ compiler, an
        unsupported platform), train without it. The random state is left as it was. Where
        evaluation runs compiled, its graph is compiled here too, not at the first evaluation."""
        c = self.config
        compiled = torch.compile(self.raw_model)
        rng = torch.get_rng_state()
        # the dummy step draws dropout masks on the device too: keep its generator as it was, or a
        # resumed run (state restored before this) would differ from one that never stopped
        device_rng = hardware.device_rng_state(self.device)
        t0 = time.perf_counter()
        try:
            # two tensors, not one passed twice: the compiled graph is specialised on whether
            # idx is targets, and real batches would compile it all over again
            x, y = (torch.zeros(c.batch_size, c.context_length, dtype=torch.long, device=self.device) for _ in range(2))
            with self.precision.autocast():
                _, loss = compiled(x, y)
            loss.backward()
            if self.compiled_eval:  # evaluation's graph (eval mode, no gradients) is another one: now too
                compiled.eval()
                with torch.no_grad(), self.precision.autocast():
                    compiled(x, y)
                compiled.train()
        except Exception as err:  # noqa: BLE001 - any compiler failure means: run eagerly
            log.warning("torch.compile failed (%s: %s); training without it", type(err).__name__, str(err)[:200])
            self.compiled, self.compiled_eval = False, False
            self.compile_reason = f"torch.compile failed: {type(err).__name__}"
            compiled = self.raw_model
        finally:
            self.raw_model.zero_grad(set_to_none=True)
            torch.set_rng_state(rng)
            hardware.set_device_rng_state(self.device, device_rng)
        self.sync = hardware.synchronize(self.device)
        self.sync()
        self.compile_s = time.perf_counter() - t0
        if self.compiled:
            log.info("compiled the model in %.1f s", self.compile_s)
        return compiled

    def _resume_point(self, resume: bool | None) -> Path | None:
        """The periodic checkpoint to continue from, or None to start over."""
        c = self.config
        pointer = self.run_dir / LATEST_FILE
        if resume is False:
            return None
        problem = None
        if not pointer.is_file() or not (self.run_dir / RUN_FILE).is_file():
            problem = f"{self.run_dir} has no {LATEST_FILE} (no periodic checkpoint yet)"
        else:
            saved = read_json(self.run_dir / RUN_FILE)
            old = saved.get("config", {})
            differ = [f"{k}: {old.get(k)!r} -> {getattr(c, k)!r}" for k in IDENTITY_FIELDS if old.get(k) != getattr(c, k)]
            if saved.get("tokens", {}).get("tokenizer") != self.tokens_info["tokenizer"] or \
                    saved.get("tokens", {}).get("counts") != self.tokens_info["counts"]:
                differ.append("the token files (tokenizer or counts) changed")
            if saved.get("world_size", 1) * old.get("batch_size", 0) != self.dist.world_size * c.batch_size:
                differ.append(f"processes x batch_size: {saved.get('world_size', 1)} x {old.get('batch_size')} -> "
                              f"{self.dist.world_size} x {c.batch_size}")
            if differ:
                problem = f"run {c.run!r} was trained with other settings ({'; '.join(differ)})"
            else:
                folder = self.run_dir / read_json(pointer)["folder"]
                if not (folder / "training_state.pt").is_file():
                    problem = f"{folder} holds no training state"
                elif load_training_state(folder).get("format") != STATE_FORMAT:
                    problem = f"{folder}'s training state was written by another version of this course"
                else:
                    self.finished_reason = saved.get("stop_reason") if saved.get("status") == "finished" else None
                    return folder
        if resume:
            raise ValueError(f"cannot resume: {problem}. Start it over with resume=False (--fresh), "
                             "or pick another run name")
        if pointer.is_file():
            log.warning("starting run %r over: %s", c.run, problem)
        return None

    def _clear_run_dir(self) -> None:
        """Remove what an earlier run of this name left (checkpoints, metrics), not other files."""
        d = self.run_dir
        if not d.is_dir():
            return
        for item in d.iterdir():
            if item.name in (BEST_DIR, "tensorboard", "wandb") or re.fullmatch(r"step-\d+", item.name):
                shutil.rmtree(item, ignore_errors=True)
            elif item.name in (LATEST_FILE, RUN_FILE, SAMPLES_FILE, "metrics.jsonl"):
                item.unlink()

    # ---- one optimizer step

    def train_step(self) -> None:
        """Forward and backward over this process's micro-batches, clip, and step AdamW."""

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
        # foreach=None: the fused path where the device has it (CPU, CUDA), the plain loop elsewhere
        # (foreach=True raises on Apple's MPS)
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

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean validation loss over ``eval_batches`` fixed batches (the same ones every time, and the
        same whether one process or several share them out)."""

        c, d = self.config, self.dist
        model = self.eval_model
        model.eval()
        generator = torch.Generator().manual_seed(c.seed + 1)
        total = torch.zeros(2, device=self.device)
        B = c.batch_size
        for _ in range(c.eval_batches):  # each batch: batch_size rows per process, shared out by rank
            x, y = get_batch(self.val_data, B * d.world_size, c.context_length, generator=generator)
            x, y = x[d.rank * B:(d.rank + 1) * B], y[d.rank * B:(d.rank + 1) * B]
            with self.precision.autocast():
                _, loss = model(to_device(x, self.device), to_device(y, self.device))
            total[0] += loss.float()
            total[1] += 1
        total = distributed.all_reduce_sum(total, d)
        model.train()
        return (total[0] / total[1]).item()

    def _meta(self, **extra: Any) -> dict[str, Any]:
        return {"run": self.config.run, "step": self.step, "tokens": self.tokens, "train_loss": self.last_train,
                "val_loss": self.last_val, "best_val_loss": self.best_val, "best_step": self.best_step,
                "elapsed_s": round(self.elapsed(), 2), **extra}

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.raw_model.parameters())

    def save_best(self) -> None:

        if self.is_main:
            save_checkpoint(self.run_dir / BEST_DIR, self.raw_model, self.tokenizer,
                            train_config=self.config.to_dict(), meta=self._meta())

    def save_periodic(self) -> Path | None:
        """A checkpoint with the training state, ``latest.json`` pointing at it, older ones pruned."""

        if not self.is_main:
            return None
        name = f"step-{self.step:06d}"
        state = {
            "format": STATE_FORMAT, "step": self.step, "tokens": self.tokens, "elapsed_s": self.elapsed(),
            "optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "sampler": self.batches.state_dict(), "rng": rng_state(self.device),
            "best_val_loss": self.best_val, "best_step": self.best_step, "bad_evals": self.bad_evals,
            "val_loss": self.last_val, "world_size": self.dist.world_size,
        }
        folder = save_checkpoint(self.run_dir / name, self.raw_model, self.tokenizer,
                                 train_config=self.config.to_dict(), meta=self._meta(), training_state=state)
        write_json_atomic(self.run_dir / LATEST_FILE, {"folder": name, "step": self.step})
        periodic = sorted((p for p in self.run_dir.glob("step-*") if re.fullmatch(r"step-\d+", p.name)),
                          key=lambda p: int(p.name[5:]))
        for old in periodic[:-self.config.keep_last]:
            shutil.rmtree(old, ignore_errors=True)
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
        path = self.run_dir / RUN_FILE
        saved = read_json(path) if path.is_file() else {}

        session = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "start_step": self.start_step,
                   "device": hardware.describe(self.device), "precision": self.precision.name,
                   "compile": self.compiled, "compile_s": round(self.compile_s, 1),
                   "world_size": self.dist.world_size, "backend": self.dist.backend}
        sessions = saved.get("sessions", [])
        if status == "running":
            sessions.append(session)
        n_params = self.raw_model.num_parameters()
        write_json_atomic(path, {
            "run": self.config.run, "status": status, "stop_reason": stop_reason, "step": self.step,
            "best_val_loss": self.best_val, "best_step": self.best_step,
            "config": self.config.to_dict(), "model": self.model_config.to_dict(), "parameters": n_params,
            "tokens": self.tokens_info, "world_size": self.dist.world_size,
            "global_batch_tokens": self.tokens_per_step, "git_commit": git_commit(),
            "hardware": hardware_summary(), "precision": self.precision.name, "compile": self.compiled,
            "torch": torch.__version__, "sessions": sessions,
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

    def run(self) -> TrainResult:
        """Train until max_steps, the time budget, early stopping, NaN, or a stop request."""
        c = self.config
        result = TrainResult(self.run_dir, self.step, self.finished_reason or "max_steps", self.start_step,
                             self.tokens, best_val_loss=self.best_val, best_step=self.best_step,
                             val_loss=self.last_val, elapsed_s=self.elapsed_prior)
        done = self.step >= c.max_steps or (self.finished_reason == "early_stopping" and self.resume is None) or (
            c.time_budget_s is not None and self.elapsed_prior >= c.time_budget_s)
        if done:
            log.info("run %r is already finished (%s at step %d); nothing to train", c.run, result.stop_reason, self.step)
            return result
        logger = MetricsLogger(self.run_dir, enabled=self.is_main, tensorboard=c.tensorboard, wandb=c.wandb,
                               wandb_project=c.wandb_project, wandb_mode=c.wandb_mode, run_name=c.run,
                               config=c.to_dict())
        self._write_run_file("running")
        history = read_metrics(self.run_dir) if self.is_main and (self.run_dir / "metrics.jsonl").is_file() else []
        self._emit("start", {"config": c.to_dict(), "step": self.step, "max_steps": c.max_steps,
                             "parameters": self.raw_model.num_parameters(), "device": hardware.describe(self.device),
                             "precision": self.precision.name, "compile": self.compiled, "history": history,
                             "time_budget_s": c.time_budget_s})
        bar = None
        if self.progress and self.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=c.max_steps, initial=self.step, unit="step", desc=c.run, dynamic_ncols=True)
        samples: list[dict[str, Any]] = []
        on_main_thread = threading.current_thread() is threading.main_thread()
        previous_handler = None
        if on_main_thread:  # Ctrl-C (or the notebook's interrupt) ends cleanly, with a checkpoint
            def _interrupt(signum: int, frame: Any) -> None:
                log.warning("interrupt: stopping after this step and saving a checkpoint (press again to abort)")
                self.stop_event.set()
                signal.signal(signal.SIGINT, previous_handler or signal.default_int_handler)
            previous_handler = signal.signal(signal.SIGINT, _interrupt)

        self.loop_t0 = time.perf_counter()
        train_time = 0.0
        window_t0, window_step = self.loop_t0, self.step
        stop_reason = None
        try:
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
                # a log step: one host sync for the window's mean loss and gradient norm
                self.sync()
                now = time.perf_counter()
                steps = s - window_step
                window_time = max(now - window_t0, 1e-9)
                train_time += window_time
                stats = distributed.all_reduce_mean(torch.stack([self.loss_sum, self.norm_sum, self.norm_bad]), self.dist)
                train_loss, norm_sum, norm_bad = (float(v) for v in stats.tolist())
                good = steps - round(norm_bad)
                grad_norm = norm_sum / good if good > 0 else None
                self.loss_sum.zero_(), self.norm_sum.zero_(), self.norm_bad.zero_()
                train_loss /= steps
                if not math.isfinite(train_loss) or (norm_bad > 0 and self.scaler is None):
                    raise NonFiniteLossError(self._nan_message(train_loss, grad_norm))
                self.last_train = train_loss
                tokens_per_s = steps * self.tokens_per_step / window_time
                record = {"step": s, "tokens": self.tokens, "train_loss": train_loss, "lr": self.last_lr,
                          "grad_norm": grad_norm, "tokens_per_s": tokens_per_s, "elapsed_s": round(self.elapsed(), 3),
                          "mfu": self.flops_per_token * tokens_per_s / (self.peak * self.dist.world_size) if self.peak else None}
                if eval_now:
                    self.last_val = record["val_loss"] = self.evaluate()
                    if self.best_val is None or self.last_val < self.best_val - c.min_delta:
                        self.best_val, self.best_step, self.bad_evals = self.last_val, s, 0
                        self.save_best()
                    else:
                        self.bad_evals += 1
                        if c.patience is not None and self.bad_evals >= c.patience and stop_reason is None:
                            stop_reason, save_now = "early_stopping", True
                            log.info("early stopping at step %d: no improvement on %.4f (step %d) in %d evaluations",
                                     s, self.best_val, self.best_step, self.bad_evals)
                row = logger.log(record)
                steps_per_s = steps / window_time
                eta = (c.max_steps - s) / steps_per_s if steps_per_s > 0 else None
                if c.time_budget_s is not None:
                    eta = min(eta or math.inf, max(0.0, c.time_budget_s - self.elapsed()))
                self._emit("log", {**row, "max_steps": c.max_steps, "eta_s": eta, "best_val_loss": self.best_val})
                if bar is not None:
                    bar.update(s - bar.n)
                    bar.set_postfix(loss=f"{train_loss:.3f}", tok_s=f"{tokens_per_s:,.0f}",
                                    **({"val": f"{self.last_val:.3f}"} if self.last_val is not None else {}))
                if save_now:
                    if not self._weights_finite():
                        raise NonFiniteLossError(self._nan_message(train_loss, grad_norm, weights=True))
                    folder = self.save_periodic()
                    self._emit("checkpoint", {"step": s, "folder": str(folder)})
                # a sample every sample_interval steps, at the end, and at a stop if this session has none yet
                end_sample = stop_reason in FINISHED or (stop_reason is not None and not samples)
                if c.sample_interval and (s % c.sample_interval == 0 or end_sample) and self.is_main:
                    text = self.sample()
                    samples.append({"step": s, "text": text})
                    with open(self.run_dir / SAMPLES_FILE, "a", encoding="utf-8") as f:
                        f.write(json.dumps({"step": s, "text": text}) + "\n")
                    self._emit("sample", {"step": s, "text": text})
                window_t0, window_step = time.perf_counter(), s  # evaluation and saving left out
        finally:
            if on_main_thread and previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
            if bar is not None:
                bar.close()
            logger.close()
        status = "finished" if stop_reason in FINISHED else "stopped"
        self._write_run_file(status, stop_reason)
        result = TrainResult(self.run_dir, self.step, stop_reason or "max_steps", self.start_step, self.tokens,
                             self.last_train, self.last_val, self.best_val, self.best_step, self.elapsed(),
                             time.perf_counter() - self.loop_t0, train_time, samples)
        self._emit("end", dataclasses.asdict(result) | {"run_dir": str(self.run_dir)})
        return result

    def close(self, ended: bool = True) -> None:
        """Let go of the DDP wrapper, then leave the process group (waiting for the other processes
        when the run ``ended`` normally). The wrapper holds the group, and a trainer sits in reference
        cycles, so left alone it would go whenever the garbage collector ran, at worst while Python
        shuts down, where gloo's threads can abort the process."""
        self.model = self.eval_model = self.raw_model
        if self.dist.owns_group:
            gc.collect()  # the wrapper is in reference cycles of its own: free it now, while all is alive
        distributed.cleanup(self.dist, wait=ended)

    def _nan_message(self, train_loss: float, grad_norm: float | None, weights: bool = False) -> str:
        what = "the weights" if weights else ("the training loss" if not math.isfinite(train_loss) else "the gradient norm")
        latest = self.run_dir / LATEST_FILE
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


def read_run(run: str | os.PathLike[str]) -> dict[str, Any]:
    """A run's run.json (a run name under data/checkpoints, or a folder)."""
    path = Path(run) if Path(run).is_dir() else run_dir(str(run))
    if not (path / RUN_FILE).is_file():
        raise FileNotFoundError(f"{path / RUN_FILE} is missing: train the run first (notebooks/05_training.ipynb)")
    return read_json(path / RUN_FILE)


__all__ = [
    "TrainConfig", "TrainResult", "Trainer", "train", "NonFiniteLossError", "sample_text", "seed_everything",
    "read_metrics", "read_run", "run_dir", "git_commit", "METRIC_KEYS", "build_checkpoints",
    "write_stage_manifest", "parse_value",
]


def parse_value(text: str) -> Any:
    """A ``--set FIELD=VALUE`` value: JSON where it parses (numbers, true, lists, dicts), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# --------------------------------------------------------------------------- the checkpoints stage


def write_stage_manifest(profile: Any, run: str | None = None) -> Path:
    """Record ``run`` (default: the profile's run) as the stage's default run in its manifest."""
    run = run or profile.name
    root = stage_dir("checkpoints")
    runs = {}
    for folder in sorted(p for p in root.iterdir() if (p / RUN_FILE).is_file()):
        info = read_json(folder / RUN_FILE)
        latest = read_json(folder / LATEST_FILE) if (folder / LATEST_FILE).is_file() else {}
        runs[folder.name] = {"best": BEST_DIR if (folder / BEST_DIR).is_dir() else None,
                             "latest": latest.get("folder"), "step": info.get("step"),
                             "best_val_loss": info.get("best_val_loss"), "best_step": info.get("best_step"),
                             "status": info.get("status"), "stop_reason": info.get("stop_reason")}
    if run not in runs or runs[run]["best"] is None:
        raise FileNotFoundError(f"{root / run} holds no finished run with a best checkpoint; train it first")
    return write_manifest("checkpoints", profile, {"default_run": run, "runs": runs})


def build_checkpoints(profile: Any) -> Path:
    """The stage builder: train the profile's run (continuing one left unfinished), then the manifest."""
    ensure("tokens", profile, quiet=True)
    config = TrainConfig.from_profile(profile)
    result = train(config, resume=None, progress=True)
    if not result.finished:
        raise RuntimeError(f"training run {config.run!r} stopped ({result.stop_reason}) before finishing; "
                           "run it again to continue")
    write_stage_manifest(profile, config.run)
    return stage_dir("checkpoints")
