"""Checks that can fail: a pass line, or an error with a hint that says what to look at.

Notebooks use ``check`` and friends instead of printing numbers for the reader to eyeball.
Exercises use ``exercise``: a learner's empty answer is "not attempted yet", not a failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

PASS = "\u2705"  # green tick
FAIL = "\u274c"  # red cross


class CheckFailed(AssertionError):
    """A notebook check did not hold. The message says what was expected and a hint."""


def check(ok: Any, what: str, hint: str = "") -> None:
    """Print a pass line when ``ok`` is true, else raise CheckFailed with ``hint``."""
    if ok:
        print(f"{PASS} {what}")
        return
    raise CheckFailed(f"{FAIL} {what}" + (f"\n   hint: {hint}" if hint else ""))


def check_between(value: float, low: float, high: float, what: str, hint: str = "") -> None:
    """Check ``low <= value <= high`` and show the value either way."""
    try:
        number = float(value)
    except (TypeError, ValueError):  # None, or not a number at all: a failed check, not a crash
        check(False, f"{what}: {value!r} is not a number (expected {low:g} to {high:g})", hint)
        return
    ok = not math.isnan(number) and low <= number <= high
    check(ok, f"{what}: {number:.4g} (expected {low:g} to {high:g})", hint)


SPEED_HINT = "is the machine busy? Close other programs, then run this cell again"


def check_speed(
    value: float, low: float, high: float, what: str, *, enforce: bool = True, hint: str = SPEED_HINT
) -> None:
    """``check_between`` for a measured speed or time, which moves with whatever else the machine does.

    ``enforce=False`` (the ci profile: the test suite on a shared machine) shows the figure and
    never fails on it: speed targets are measured by the benchmark scripts, not by tests.
    """
    if enforce:
        check_between(value, low, high, what, hint)
        return
    try:
        shown = f"{float(value):.4g}"
    except (TypeError, ValueError):
        shown = repr(value)
    print(f"\u2139\ufe0f {what}: {shown} (expected {low:g} to {high:g} on an idle machine; "
          "a timing, shown but not checked here)")


def check_close(actual: Any, expected: Any, what: str, *, atol: float = 1e-5, rtol: float = 1e-5, hint: str = "") -> None:
    """Check two numbers or tensors agree within tolerances, showing the largest difference."""
    import torch

    # float64 on the CPU: MPS has no float64, and the comparison should not depend on the device.
    # Python numbers go straight to float64: through torch's default float32 they would lose digits.
    a, b = (x.detach().cpu().to(torch.float64) if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)
            for x in (actual, expected))
    if a.shape != b.shape:
        check(False, f"{what}: shapes {tuple(a.shape)} vs {tuple(b.shape)}", hint or "the two results should have the same shape")
        return
    diff = (a - b).abs().max().item() if a.numel() else 0.0
    check(torch.allclose(a, b, atol=atol, rtol=rtol), f"{what} (max difference {diff:.2e})", hint)


def exercise(name: str, answer: Any, test: Callable[[Any], None]) -> None:
    """Run ``test(answer)`` for an exercise and report; never raises.

    ``answer`` None means the learner has not tried yet. ``test`` raises CheckFailed (or
    AssertionError) when the answer is wrong. Prints the verdict (returns nothing, so a
    notebook cell shows no stray value).
    """
    if answer is None:
        print(f"\u23f3 {name}: not attempted yet. Fill in the cell above; the solutions are in the "
              "notebook of the same name in solutions/.")
        return
    try:
        test(answer)
    except AssertionError as err:
        print(f"{FAIL} {name}: not yet.\n   {err}")
        return
    print(f"{PASS} {name}: well done.")
