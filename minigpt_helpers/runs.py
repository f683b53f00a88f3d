"""A training run's folder, ``data/checkpoints/<run>/``: what the training loop writes beside the
weights, and what a resume reads back.

    run.json          the resolved config, model config, token files, git commit, hardware,
                      one entry per session (a resume adds one), status and why it stopped
    metrics.jsonl     one line per logged step, every line with the keys ``METRIC_KEYS``
    samples.jsonl     text sampled while training: {"step", "text"}
    best/             the checkpoint with the lowest validation loss
    step-NNNNNN/      periodic checkpoints with the training state, the last few kept
    latest.json       {"folder": "step-NNNNNN", "step": N}: where a resume starts
    tensorboard/      event files, when the tensorboard package is installed
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import hardware
from .artifacts import read_json, repo_root, stage_dir, write_json_atomic, write_manifest, write_text_atomic
from .checkpoint import load_training_state

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
LATEST_FILE = "latest.json"
SAMPLES_FILE = "samples.jsonl"
METRICS_FILE = "metrics.jsonl"
BEST_DIR = "best"
STATE_FORMAT = 2  # 2: a list of optimizers' states
# the metrics.jsonl columns (null where not measured at that step): train_loss and grad_norm are
# means over the steps since the previous line, val_loss is measured at evaluation steps only,
# mfu is the model FLOPs utilisation (0..1, GPUs with a known peak only)
METRIC_KEYS: tuple[str, ...] = (
    "step", "tokens", "train_loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "mfu", "elapsed_s",
)
# A resume must keep these the same: they decide what the weights and batches are.
IDENTITY_FIELDS = ("model_preset", "model_overrides", "activation_checkpointing", "context_length",
                   "batch_size", "grad_accum_steps", "seed", "init_from", "optimizer")


def run_dir(run: str) -> Path:
    """``data/checkpoints/<run>``."""
    return stage_dir("checkpoints") / run


def read_run(run: str | os.PathLike[str]) -> dict[str, Any]:
    """A run's run.json (a run name under data/checkpoints, or a folder)."""
    path = Path(run) if Path(run).is_dir() else run_dir(str(run))
    if not (path / RUN_FILE).is_file():
        raise FileNotFoundError(f"{path / RUN_FILE} is missing: train the run first (notebooks/05_training.ipynb)")
    return read_json(path / RUN_FILE)


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


# --------------------------------------------------------------------------- random state


def rng_state(device: str | torch.device = "cpu") -> dict[str, Any]:
    """The global generators' states as tensors and plain numbers (loadable with weights_only).

    The training device's own generator (dropout on a GPU) is saved as "device". Every process of
    a multi-GPU run draws the same numbers, so rank 0's state is the one each rank puts back.
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


# --------------------------------------------------------------------------- metrics and samples


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of a run's ``metrics.jsonl`` (a run folder or the file itself)."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: train the run first (notebooks/05_training.ipynb)")
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut short by a crash: the rest is still good
                    log.warning("%s: skipping a line that is not JSON: %.60s", path, line)
    return records


def truncate_metrics(run_dir: Path, step: int, name: str = METRICS_FILE) -> None:
    """Drop the records of a JSON-lines file after ``step`` (a resume from that step logs them again)."""
    path = run_dir / name
    if path.is_file():
        kept = [r for r in read_metrics(path) if r.get("step", 0) <= step]
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


def append_sample(run_dir: Path, step: int, text: str) -> None:
    with open(run_dir / SAMPLES_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, "text": text}) + "\n")


class MetricsLogger:
    """Appends records to ``metrics.jsonl`` and mirrors them to TensorBoard and W&B when enabled."""

    def __init__(
        self,
        run_dir: Path,
        *,
        enabled: bool = True,
        tensorboard: bool | None = None,
        wandb: bool = False,
        wandb_project: str = "minigpt",
        wandb_mode: str = "offline",
        run_name: str = "",
        config: dict[str, Any] | None = None,
    ) -> None:
        self.enabled = enabled
        self.path = run_dir / METRICS_FILE
        self.tb = None
        self.wandb_run = None
        self.wandb_id: str | None = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")
        if tensorboard is not False:
            try:
                from torch.utils.tensorboard import SummaryWriter  # optional: the tensorboard package

                self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
            except ImportError:
                if tensorboard:
                    log.warning("tensorboard=True but the tensorboard package is not installed "
                                "(pip install tensorboard); logging to metrics.jsonl only")
        if wandb:
            try:
                import wandb as wb  # optional: the wandb package
            except ImportError:
                log.warning("wandb=True but the wandb package is not installed (pip install wandb); "
                            "logging to metrics.jsonl only")
            else:  # a resumed run continues its W&B run: the id is kept in run.json
                saved = read_json(run_dir / RUN_FILE) if (run_dir / RUN_FILE).is_file() else {}
                self.wandb_id = saved.get("wandb_id") or secrets.token_hex(8)
                mode = os.environ.get("WANDB_MODE", wandb_mode)
                self.wandb_run = wb.init(project=wandb_project, name=run_name, config=config or {}, dir=str(run_dir),
                                         mode=mode, id=self.wandb_id, resume="allow")

    def log(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write one record (missing keys become null) and return it as written."""
        row = {k: record.get(k) for k in METRIC_KEYS}
        if not self.enabled:
            return row
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        values = {k: v for k, v in row.items() if k != "step" and isinstance(v, (int, float))}
        if self.tb is not None:
            for key, value in values.items():
                self.tb.add_scalar(key, value, row["step"])
        if self.wandb_run is not None:
            self.wandb_run.log(values, step=row["step"])
        return row

    def close(self) -> None:
        if not self.enabled:
            return
        self._file.close()
        if self.tb is not None:
            self.tb.close()
        if self.wandb_run is not None:
            self.wandb_run.finish()


# --------------------------------------------------------------------------- resuming


def resume_point(folder: Path, config: Any, tokens_info: dict[str, Any], world_size: int) -> tuple[Path | None, str, dict]:
    """``(checkpoint, problem, run.json)``: the periodic checkpoint a run with ``config`` can continue
    from, or None and why not (no checkpoint yet, other settings, other token files)."""
    pointer = folder / LATEST_FILE
    if not pointer.is_file() or not (folder / RUN_FILE).is_file():
        return None, f"{folder} has no {LATEST_FILE} (no periodic checkpoint yet)", {}
    saved = read_json(folder / RUN_FILE)
    old = saved.get("config", {})
    differ = [f"{k}: {old.get(k)!r} -> {getattr(config, k)!r}" for k in IDENTITY_FIELDS if old.get(k) != getattr(config, k)]
    tokens = saved.get("tokens", {})
    if tokens.get("tokenizer") != tokens_info["tokenizer"] or tokens.get("counts") != tokens_info["counts"]:
        differ.append("the token files (tokenizer or counts) changed")
    if saved.get("world_size", 1) * old.get("batch_size", 0) != world_size * config.batch_size:
        differ.append(f"processes x batch_size: {saved.get('world_size', 1)} x {old.get('batch_size')} -> "
                      f"{world_size} x {config.batch_size}")
    if differ:
        return None, f"run {config.run!r} was trained with other settings ({'; '.join(differ)})", saved
    checkpoint = folder / read_json(pointer)["folder"]
    if not (checkpoint / "training_state.pt").is_file():
        return None, f"{checkpoint} holds no training state", saved
    if load_training_state(checkpoint).get("format") != STATE_FORMAT:
        return None, f"{checkpoint}'s training state was written by another version of this course", saved
    return checkpoint, "", saved


def clear_run_dir(folder: Path) -> None:
    """Remove what an earlier run of this name left (checkpoints, metrics), not other files."""
    if not folder.is_dir():
        return
    for item in folder.iterdir():
        if item.name in (BEST_DIR, "tensorboard", "wandb") or re.fullmatch(r"step-\d+", item.name):
            shutil.rmtree(item, ignore_errors=True)
        elif item.name in (LATEST_FILE, RUN_FILE, SAMPLES_FILE, METRICS_FILE):
            item.unlink()


def point_latest(folder: Path, name: str, step: int, keep_last: int) -> None:
    """Make ``latest.json`` name the periodic checkpoint ``name``, then prune all but the last few."""
    write_json_atomic(folder / LATEST_FILE, {"folder": name, "step": step})
    periodic = sorted((p for p in folder.glob("step-*") if re.fullmatch(r"step-\d+", p.name)),
                      key=lambda p: int(p.name[5:]))
    for old in periodic[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


def write_stage_manifest(profile: Any, run: str | None = None) -> Path:
    """Record ``run`` (default: the profile's run) as the checkpoints stage's default run."""
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
