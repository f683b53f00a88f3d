"""Checkpoints: the one module that saves and loads models.

A checkpoint is a folder:

    model.safetensors     the weights (tied weights stored once)
    config.json           {"model": GPTConfig fields, "tokenizer": {kind, name, sha256, ...},
                           "train": the resolved training config, "meta": step, losses, ...}
    tokenizer/            a copy of the tokenizer files, so the folder stands on its own
    training_state.pt     optional: optimizer, RNG and data-position state for resuming
                          (tensors and plain containers only; loaded with weights_only=True)

Nothing here unpickles arbitrary objects. Loading refuses a vocabulary or shape mismatch with a
message that says what to do.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .artifacts import (
    atomic_folder,
    read_json,
    read_manifest,
    restore_folder,
    stage_dir,
    write_json_atomic,
)
from .model import GPT, GPTConfig
from .tokenization import Tokenizer, load_tokenizer

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER_DIR = "tokenizer"
TRAINING_STATE = "training_state.pt"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (in eval mode), its tokenizer and its config."""

    model: GPT
    tokenizer: Tokenizer
    config: dict[str, Any]
    path: Path

    @property
    def meta(self) -> dict[str, Any]:
        return self.config.get("meta", {})


def save_checkpoint(
    folder: str | os.PathLike[str],
    model: torch.nn.Module,
    tokenizer: Tokenizer,
    *,
    train_config: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder atomically: built beside ``folder``, then renamed over it."""
    from safetensors.torch import save_model

    target = Path(folder)
    raw = getattr(model, "module", model)  # unwrap DDP
    raw = getattr(raw, "_orig_mod", raw)  # unwrap torch.compile
    if not isinstance(raw, GPT):
        raise TypeError(f"save_checkpoint expects a minigpt_helpers GPT, got {type(raw).__name__}")
    with atomic_folder(target) as tmp:
        save_model(raw, str(tmp / WEIGHTS))
        tokenizer.save(tmp / TOKENIZER_DIR)
        config = {
            "format": "minigpt-checkpoint/1",
            "model": raw.config.to_dict(),
            "tokenizer": tokenizer.config(),
            "train": train_config or {},
            "meta": meta or {},
        }
        write_json_atomic(tmp / CONFIG, config)
        if training_state is not None:
            torch.save(training_state, tmp / TRAINING_STATE)
    return target


def read_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    folder = restore_folder(folder)
    path = folder / CONFIG
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: {folder} is not a checkpoint folder (expected {CONFIG} and {WEIGHTS}); "
            "train one in notebooks/05_training.ipynb or pass the folder of an existing checkpoint"
        )
    return read_json(path)


def load_checkpoint(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> Checkpoint:
    """Load model, tokenizer and config from a checkpoint folder; the model is in eval mode."""
    from safetensors.torch import load_model

    folder = Path(folder)
    config = read_config(folder)
    if not isinstance(config.get("model"), dict):
        other = " (it looks like a Hugging Face model folder: load that with transformers)" if (
            "model_type" in config or "architectures" in config) else ""
        raise ValueError(
            f"{folder / CONFIG} is not a minigpt checkpoint's config (format {config.get('format')!r}, no "
            f"'model' section){other}; pass a folder written by training (data/checkpoints/<run>/best) or by export"
        )
    model_config = GPTConfig.from_dict(config["model"])
    if not (folder / TOKENIZER_DIR).is_dir():
        raise FileNotFoundError(f"{folder / TOKENIZER_DIR} is missing: every checkpoint holds its own tokenizer, so "
                                "this folder is incomplete; save or export the checkpoint again")
    tokenizer = load_tokenizer(folder / TOKENIZER_DIR)
    if tokenizer.vocab_size != model_config.vocab_size:
        raise ValueError(
            f"{folder}: the model's vocab_size={model_config.vocab_size} does not match its tokenizer "
            f"({tokenizer.name}, {tokenizer.vocab_size} tokens); the checkpoint is inconsistent: re-save it"
        )
    expected = config.get("tokenizer", {}).get("sha256")
    if expected and expected != tokenizer.sha256:
        raise ValueError(f"{folder}: tokenizer files changed since the checkpoint was saved (SHA-256 differs)")
    model = GPT(model_config)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing; the checkpoint folder is incomplete")
    try:
        missing, unexpected = load_model(model, str(weights), strict=False)
    except RuntimeError as err:  # shape mismatch
        raise ValueError(
            f"{weights} does not fit the model described in {folder / CONFIG}: {err}. "
            "The weights and config come from different models; re-save the checkpoint."
        ) from err
    if missing or unexpected:
        raise ValueError(
            f"{weights} does not fit the model in {folder / CONFIG}: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    model.to(device).eval()
    return Checkpoint(model=model, tokenizer=tokenizer, config=config, path=folder)


def load_training_state(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The optimizer/RNG/data state saved for resuming (tensors and plain containers only)."""
    path = Path(folder) / TRAINING_STATE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: this checkpoint was saved without training state, so it cannot be resumed")
    return torch.load(path, map_location="cpu", weights_only=True)


def find_checkpoint(run: str | None = None, which: str = "best") -> Path:
    """The folder of a run's ``best`` or ``latest`` checkpoint under ``data/checkpoints``.

    ``run`` defaults to the run that 05_training recorded in the stage manifest.
    """
    if which not in ("best", "latest"):
        raise ValueError(f"which={which!r}: use 'best' or 'latest'")
    root = stage_dir("checkpoints")
    if run is None:
        run = read_manifest("checkpoints").get("default_run")
        if not run:
            raise FileNotFoundError(f"{root}/manifest.json names no default run; pass run=... explicitly")
    run_dir = root / run
    if which == "latest":
        pointer = run_dir / "latest.json"
        if not pointer.is_file():
            raise FileNotFoundError(f"{pointer} is missing: run {run!r} has no periodic checkpoint yet")
        folder = run_dir / read_json(pointer)["folder"]
    else:
        folder = restore_folder(run_dir / "best")
    if not (folder / CONFIG).is_file():
        raise FileNotFoundError(f"{folder} holds no checkpoint; train run {run!r} in notebooks/05_training.ipynb")
    return folder
