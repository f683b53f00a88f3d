"""Where a training run's numbers go: ``metrics.jsonl`` always, TensorBoard and Weights & Biases optionally.

``metrics.jsonl`` has one JSON object per logged step, every line with the same keys
(``METRIC_KEYS``; null where a value was not measured at that step):

    step          optimizer steps done (0: before training, with the untrained model's val_loss)
    tokens        training tokens seen so far (all processes together)
    train_loss    mean training loss (nats per token) over the steps since the previous line
    val_loss      validation loss on the fixed evaluation batches (eval steps only)
    lr            learning rate of the last step
    grad_norm     mean gradient norm before clipping over the steps since the previous line
    tokens_per_s  training throughput since the previous line (evaluation time left out)
    mfu           model FLOPs utilisation, 0..1 (GPUs with a known peak only)
    elapsed_s     training time so far, over every session of the run

``read_metrics`` reads it back; 06_evaluation draws its curves from it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .artifacts import write_text_atomic

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
METRIC_KEYS: tuple[str, ...] = (
    "step", "tokens", "train_loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "mfu", "elapsed_s",
)


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
    if not path.is_file():
        return
    kept = [r for r in read_metrics(path) if r.get("step", 0) <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


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
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")
        if tensorboard is not False:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
            except ImportError:
                if tensorboard:
                    log.warning("tensorboard=True but the tensorboard package is not installed "
                                "(pip install tensorboard); logging to metrics.jsonl only")
        if wandb:
            try:
                import wandb as wb
            except ImportError:
                log.warning("wandb=True but the wandb package is not installed (pip install wandb); "
                            "logging to metrics.jsonl only")
            else:
                mode = os.environ.get("WANDB_MODE", wandb_mode)
                self.wandb_run = wb.init(project=wandb_project, name=run_name, config=config or {},
                                         dir=str(run_dir), mode=mode, resume="allow")

    def log(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write one record (missing keys become null) and return it as written."""
        row = {k: record.get(k) for k in METRIC_KEYS}
        if not self.enabled:
            return row
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        step = row["step"]
        values = {k: v for k, v in row.items() if k not in ("step",) and isinstance(v, (int, float))}
        if self.tb is not None:
            for key, value in values.items():
                self.tb.add_scalar(key, value, step)
        if self.wandb_run is not None:
            self.wandb_run.log(values, step=step)
        return row

    def close(self) -> None:
        if not self.enabled:
            return
        self._file.close()
        if self.tb is not None:
            self.tb.close()
        if self.wandb_run is not None:
            self.wandb_run.finish()
