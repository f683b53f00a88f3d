"""The learning-rate schedule: linear warmup, an optional plateau at the peak, a decay to a floor.

``LRSchedule(peak_lr, max_steps, warmup_steps)(step)`` is the learning rate of optimizer step
``step`` (0 is the first update):

    warmup    steps 0 .. warmup_steps-1     peak * (step + 1) / warmup_steps
    plateau   the next plateau_fraction of the steps after warmup, at the peak
    decay     from the peak down to the floor (min_lr_ratio * peak) at decay_steps: a cosine
              (``decay="cosine"``) or a straight line (``decay="linear"``)
    floor     every later step stays at the floor

Warmup, a long plateau and a short linear cool-down (``plateau_fraction=0.7, decay="linear"``)
is the "warmup-stable-decay" (WSD) schedule of nanochat and modded-nanogpt.

A "plateau extension", as we read the idea: a schedule that can be stretched. Holding
the peak for a fraction of the run (``plateau_fraction``) keeps the model learning fast for
longer before the cosine cool-down, which is the part of the run where the loss drops most;
and a run extended past its planned end (``decay_steps`` < ``max_steps``, or a finished run
resumed with a larger ``max_steps`` and the old ``decay_steps``) continues at the floor instead
of jumping back up to a high learning rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

DECAYS = ("cosine", "linear")

@dataclass(frozen=True)
class LRSchedule:
    """Learning rate per optimizer step; validated on creation (every problem named with its fix)."""

    peak_lr: float
    max_steps: int
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1  # the floor, as a fraction of the peak
    plateau_fraction: float = 0.0  # share of the post-warmup steps held at the peak
    decay_steps: int | None = None  # where the decay reaches the floor (None: max_steps)
    decay: str = "cosine"  # "cosine" or "linear"

    def __post_init__(self) -> None:
        problems = []
        if not self.peak_lr > 0:
            problems.append(f"peak_lr={self.peak_lr}: use a positive learning rate, e.g. 1e-3")
        if self.max_steps < 1:
            problems.append(f"max_steps={self.max_steps}: train at least 1 step")
        if not 0 <= self.warmup_steps <= self.end:
            problems.append(f"warmup_steps={self.warmup_steps}: use 0 to {self.end} (the decay's end)")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            problems.append(f"min_lr_ratio={self.min_lr_ratio}: use a fraction of the peak in [0, 1], e.g. 0.1")
        if not 0.0 <= self.plateau_fraction < 1.0:
            problems.append(f"plateau_fraction={self.plateau_fraction}: use a fraction in [0, 1), e.g. 0.3")
        if self.decay_steps is not None and self.decay_steps < 1:
            problems.append(f"decay_steps={self.decay_steps}: use at least 1, or None for max_steps")
        if self.decay not in DECAYS:
            problems.append(f"decay={self.decay!r}: use one of {', '.join(map(repr, DECAYS))}")
        if problems:
            raise ValueError("LRSchedule is invalid:\n- " + "\n- ".join(problems))

    @property
    def end(self) -> int:
        """The step at which the learning rate reaches the floor."""
        return self.max_steps if self.decay_steps is None else self.decay_steps

    @property
    def floor(self) -> float:
        return self.min_lr_ratio * self.peak_lr

    @property
    def decay_start(self) -> int:
        """The first step of the decay (after warmup and plateau)."""
        return self.warmup_steps + round(self.plateau_fraction * (self.end - self.warmup_steps))

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.peak_lr * (step + 1) / self.warmup_steps
        start = self.decay_start
        if step < start:
            return self.peak_lr
        if step >= self.end:
            return self.floor
        progress = (step - start) / max(1, self.end - start)  # 0 -> 1 over the decay
        left = 1.0 - progress if self.decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.floor + left * (self.peak_lr - self.floor)

    def values(self, steps: int | None = None) -> list[float]:
        """The learning rate of steps 0 .. steps-1 (default: max_steps), e.g. to plot."""
        return [self(s) for s in range(self.max_steps if steps is None else steps)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plot_schedules(schedules: dict[str, LRSchedule], steps: int | None = None, ax: Any = None) -> Any:
    """Draw several schedules on one axis (learning rate against optimizer step)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3), dpi=90)
    for (label, schedule), style in zip(schedules.items(), ["-", "--", ":", "-."] * 4):
        ax.plot(schedule.values(steps), style, label=label)
    ax.set(xlabel="optimizer step", ylabel="learning rate")
    ax.legend()
    return ax
