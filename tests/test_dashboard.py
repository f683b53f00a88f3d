"""The training dashboard without a browser: the Stop button's handler, wait() and wait_async().

The point of wait_async(): while a notebook cell awaits it, the kernel's event loop keeps running
and can deliver a click on Stop. Here a callback scheduled on the same event loop plays the click;
a waiter that blocked the loop (a join, a sleep) would never let it run and the run would finish.
"""

from __future__ import annotations

import asyncio

import pytest
from _textgen import tiny_config as cfg

from minigpt_helpers import checkpoint
from minigpt_helpers.dashboard import Dashboard

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Minutes of training unless stopped; the time budget ends it if a stop never arrives (a broken
# waiter), so a failing test fails in a minute instead of hanging.
LONG = dict(max_steps=100_000, eval_interval=50, time_budget_s=60)


def test_wait_returns_the_finished_run_and_draws_the_curves(tiny_data) -> None:
    dash = Dashboard("tiny").start(cfg(), resume=False, show=False)
    result = dash.wait(show_figure=False)
    assert result.finished and result.step == 8 and result.stop_reason == "max_steps"
    assert [r["step"] for r in dash.records if r.get("train_loss") is not None] == list(range(1, 9))
    assert dash.bar.value == 8 and dash.stop_button.disabled and "ended: max_steps" in dash.header.value
    assert dash.plot.value  # the live figure was drawn at least once


def test_the_stop_button_ends_training_with_a_checkpoint(tiny_data) -> None:
    dash = Dashboard().start(cfg(**LONG), resume=False, show=False)
    dash.stop_button.click()  # what a click in the browser calls
    result = dash.wait(show_figure=False)
    assert result.stop_reason == "stopped" and 0 < result.step < 100
    assert dash.stop_button.description == "stopping..."
    assert checkpoint.find_checkpoint("tiny", which="latest") is not None  # resumable where it stopped


def test_a_click_is_handled_while_wait_async_waits(tiny_data) -> None:
    async def cell() -> object:
        dash = Dashboard().start(cfg(**LONG), resume=False, show=False)
        asyncio.get_running_loop().call_later(0.5, dash.stop_button.click)  # a click arriving mid-wait
        return await dash.wait_async(show_figure=False, poll_s=0.05)

    result = asyncio.run(cell())
    assert result.stop_reason == "stopped" and result.step < 100


def test_an_interrupted_wait_async_stops_training_cleanly(tiny_data) -> None:
    async def cell() -> tuple[object, Dashboard]:
        dash = Dashboard().start(cfg(**LONG), resume=False, show=False)
        waiting = asyncio.ensure_future(dash.wait_async(show_figure=False, poll_s=0.05))
        await asyncio.sleep(0.5)
        waiting.cancel()  # how the kernel's interrupt button reaches an awaiting cell
        return await waiting, dash

    result, dash = asyncio.run(cell())
    assert result.stop_reason == "stopped" and not dash._thread.is_alive()


def test_waiting_before_starting_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="start"):
        Dashboard().wait()
    with pytest.raises(RuntimeError, match="start"):
        asyncio.run(Dashboard().wait_async())
