"""The notebooks' checks: pass lines when they hold, CheckFailed with the hint when they do not."""

from __future__ import annotations

import math

import pytest
import torch

from minigpt_helpers.checks import CheckFailed, check, check_between, check_close, check_speed, exercise


def test_check_prints_a_pass_line_or_raises_with_the_hint(capsys) -> None:
    check(1 + 1 == 2, "arithmetic")
    assert "arithmetic" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="hint: look at the loss"):
        check(False, "the loss went down", "look at the loss")


@pytest.mark.parametrize("value", [0.0, 1.0, 0.5])
def test_check_between_includes_both_ends(value, capsys) -> None:
    check_between(value, 0.0, 1.0, "fraction")
    assert f"fraction: {value:.4g}" in capsys.readouterr().out


@pytest.mark.parametrize("value", [-0.1, 1.1, math.nan, math.inf])
def test_check_between_fails_outside_the_range_and_on_nan(value) -> None:
    with pytest.raises(CheckFailed, match="expected 0 to 1"):
        check_between(value, 0.0, 1.0, "fraction")


@pytest.mark.parametrize("value", [None, "five"])
def test_check_between_fails_cleanly_on_something_that_is_not_a_number(value) -> None:
    with pytest.raises(CheckFailed, match="is not a number"):
        check_between(value, 0.0, 1.0, "best validation loss")


def test_check_speed_enforced_is_check_between(capsys) -> None:
    check_speed(3.0, 1.5, 1000, "speed-up")
    assert "speed-up: 3 (expected 1.5 to 1000)" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="hint: is the machine busy"):
        check_speed(0.1, 1.5, 1000, "speed-up", hint="is the machine busy")


@pytest.mark.parametrize("value", [0.1, 3.0, None])
def test_check_speed_not_enforced_shows_the_figure_and_never_fails(value, capsys) -> None:
    check_speed(value, 1.5, 1000, "speed-up", enforce=False)
    out = capsys.readouterr().out
    assert "speed-up:" in out and "not checked here" in out
    assert (f"{value:.4g}" if value is not None else "None") in out


def test_check_close_uses_the_tolerances_and_shows_the_difference(capsys) -> None:
    check_close(torch.tensor([1.0, 2.0], dtype=torch.float64), [1.0, 2.0 + 1e-7], "tensors")
    assert "max difference 1.00e-07" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="max difference 1.00e-03"):
        check_close(1.0, 1.001, "numbers", atol=1e-4, rtol=0)
    check_close(1.0, 1.001, "numbers", atol=1e-2)


def test_check_close_refuses_different_shapes() -> None:
    with pytest.raises(CheckFailed, match=r"shapes \(2,\) vs \(3,\)"):
        check_close(torch.zeros(2), torch.zeros(3), "logits")


def test_exercise_reports_not_attempted_wrong_and_right(capsys) -> None:
    def test(answer: int) -> None:
        check(answer == 42, "the answer", "think again")

    exercise("ex", None, test)
    assert "not attempted yet" in capsys.readouterr().out
    exercise("ex", 41, test)  # never raises: a wrong answer is feedback, not a crash
    out = capsys.readouterr().out
    assert "not yet" in out and "think again" in out
    exercise("ex", 42, test)
    assert "well done" in capsys.readouterr().out
