"""A live training dashboard for notebooks, from core ipywidgets and matplotlib.

``Dashboard().start(config)`` shows the curves (train and validation loss, learning rate and
gradient norm, tokens per second), a progress bar with the time left, the latest sampled text
and a Stop button, then trains in a background thread so the notebook stays responsive: the
button works while training runs. ``await dashboard.wait_async()`` (in the next cell) waits
until training ends, then draws a static copy of the curves, which stays in the saved notebook
where widgets do not render (GitHub). Why ``await``: Jupyter handles a widget's click between
cells, or while a cell awaits; a cell that blocks in plain code (``wait()``) holds the click
until it ends, so Stop would do nothing during "Run All". Interrupting the kernel while either
waits stops training the same way as the button.

``plot_metrics(records)`` draws the same curves from ``metrics.jsonl`` records (06 reuses it).
"""

from __future__ import annotations

import html
import io
import logging
import threading
import time
from typing import Any

from . import training
from .widgets import WidgetView

log = logging.getLogger(__name__)


def plot_metrics(records: list[dict[str, Any]], fig: Any = None, title: str = "",
                 levels: dict[str, float] | None = None) -> Any:
    """Loss (train and validation), learning rate with gradient norm, and tokens/s against step.

    ``levels`` draws a dashed line per baseline on the loss plot (e.g. ``baselines.loss_levels``:
    the validation loss of the unigram and bigram counts), so you see the model pass them.
    """
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(10, 3.2), dpi=80)
    fig.clear()
    ax_loss, ax_lr, ax_speed = fig.subplots(1, 3)
    train = [(r["step"], r["train_loss"]) for r in records if r.get("train_loss") is not None]
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    if train:
        ax_loss.plot(*zip(*train), lw=1, label="train")
    if val:
        ax_loss.plot(*zip(*val), "o-", ms=3, label="validation")
    for (name, value), style in zip((levels or {}).items(), ["--", ":", "-."]):
        ax_loss.axhline(value, ls=style, c="grey", lw=1, label=f"{name} ({value:.2f})")
    ax_loss.set(xlabel="step", ylabel="loss (nats/token)", title=title or "loss")
    if train or val:
        ax_loss.legend(fontsize=8)
    lr = [(r["step"], r["lr"]) for r in records if r.get("lr") is not None]
    norm = [(r["step"], r["grad_norm"]) for r in records if r.get("grad_norm") is not None]
    if lr:
        ax_lr.plot(*zip(*lr), color="tab:green", lw=1)
    ax_lr.set(xlabel="step", ylabel="learning rate", title="learning rate and gradient norm")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax_norm = ax_lr.twinx()
    if norm:
        ax_norm.plot(*zip(*norm), color="tab:red", lw=0.8, alpha=0.7)
    ax_norm.set_ylabel("gradient norm (before clipping)", color="tab:red", fontsize=8)
    speed = [(r["step"], r["tokens_per_s"]) for r in records if r.get("tokens_per_s") is not None]
    if speed:
        ax_speed.plot(*zip(*speed), color="tab:purple", lw=1)
        ax_speed.set_ylim(bottom=0)
    ax_speed.set(xlabel="step", ylabel="tokens / s", title="throughput")
    fig.tight_layout()
    return fig


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class Dashboard(WidgetView):
    """Live curves, numbers, samples and a Stop button for one training session."""

    def __init__(self, title: str = "", redraw_every_s: float = 5.0, keep_samples: int = 3,
                 levels: dict[str, float] | None = None) -> None:
        import ipywidgets as w

        self.title = title
        self.levels = levels
        self.redraw_every_s = redraw_every_s
        self.keep_samples = keep_samples
        self.records: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []
        self.result: Any = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_draw = 0.0
        self._info: dict[str, Any] = {}
        self.header = w.HTML(value=f"<b>{html.escape(title)}</b> waiting to start")
        self.bar = w.IntProgress(value=0, min=0, max=1, description="steps", layout=w.Layout(width="60%"))
        self.stop_button = w.Button(description="Stop (saves a checkpoint)", button_style="warning",
                                    icon="stop", layout=w.Layout(width="230px"))
        self.stop_button.on_click(lambda _: self.stop())
        self.plot = w.Image(format="png", layout=w.Layout(width="100%", max_width="900px"))
        self.sample_box = w.HTML(value="")
        self.widget = w.VBox([self.header, w.HBox([self.bar, self.stop_button]), self.plot, self.sample_box])

    # ---- control

    def start(self, config: Any, *, resume: bool | None = None, show: bool = True) -> Dashboard:
        """Show the dashboard and train ``config`` in a background thread; ``wait()`` collects the result."""

        if self._thread is not None:
            raise RuntimeError("this dashboard already ran a session; make a new Dashboard() for another")
        if show:
            from IPython.display import display

            display(self.widget)

        def work() -> None:
            try:
                self.result = training.train(config, resume=resume, stop=self._stop, on_event=self.update,
                                             progress=False)
            except BaseException as err:  # re-raised by wait() in the notebook's thread
                self.error = err
                self.header.value += f" <span style='color:#b00'>failed: {html.escape(str(err)[:300])}</span>"
            finally:
                self.stop_button.disabled = True

        self._thread = threading.Thread(target=work, name=f"training-{config.run}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End training after the current step, with a checkpoint (what the button does)."""
        self._stop.set()
        self.stop_button.disabled = True
        self.stop_button.description = "stopping..."

    def wait(self, show_figure: bool = True) -> Any:
        """Block until training ends; then draw the static curves and return the TrainResult.

        In a notebook prefer ``await wait_async()``: while this blocks, Jupyter holds clicks on Stop.
        """
        thread = self._started()
        try:
            while thread.is_alive():
                thread.join(timeout=0.2)
        except KeyboardInterrupt:  # the notebook's interrupt button: stop cleanly, then wait
            self._interrupted()
        return self._finish(show_figure)

    async def wait_async(self, show_figure: bool = True, poll_s: float = 0.2) -> Any:
        """``result = await dashboard.wait_async()``: ``wait()`` that lets the kernel handle the Stop button.

        Between polls the kernel's event loop runs, and with ipykernel 7 or later that includes
        widget clicks, so Stop works while this cell waits (an older kernel still holds the click;
        its interrupt button stops training on any kernel).
        """
        import asyncio

        thread = self._started()
        try:
            while thread.is_alive():
                await asyncio.sleep(poll_s)
        except (KeyboardInterrupt, asyncio.CancelledError):  # an interrupted cell: stop cleanly, then wait
            self._interrupted()
        return self._finish(show_figure)

    def _started(self) -> threading.Thread:
        if self._thread is None:
            raise RuntimeError("nothing to wait for: call start(config) first")
        return self._thread

    def _interrupted(self) -> None:
        log.warning("interrupted: stopping training after this step, with a checkpoint")
        self.stop()
        self._started().join()

    def _finish(self, show_figure: bool) -> Any:
        if self.error is not None:
            raise self.error
        if show_figure:  # a static copy below, which stays in the saved notebook; the live one goes
            import matplotlib.pyplot as plt

            self.plot.value = b""
            self.plot.layout.display = "none"
            fig = plot_metrics(self.records, title=self.title or "loss", levels=self.levels)
            plt.show()
            plt.close(fig)
        return self.result

    # ---- events from the training loop

    def update(self, kind: str, data: dict[str, Any]) -> None:
        """Receive one event from ``training.train(on_event=...)`` and refresh what it changes."""
        if kind == "start":
            self._info = data
            self.records = list(data.get("history") or [])
            self.bar.max = data["max_steps"]
            self.bar.value = data["step"]
            self._header(None)
            self._draw(force=True)
        elif kind == "log":
            self.records.append(data)
            self.bar.value = min(int(data["step"]), self.bar.max)
            self._header(data)
            self._draw(force=data.get("val_loss") is not None)
        elif kind == "sample":
            self.samples.append(data)
            shown = self.samples[::-1][: self.keep_samples]
            self.sample_box.value = "".join(
                f"<div><b>step {s['step']}</b><pre style='white-space:pre-wrap;margin:2px 0 8px 0'>"
                f"{html.escape(s['text'])}</pre></div>" for s in shown)
        elif kind == "end":
            self._draw(force=True)
            reason = data.get("stop_reason")
            self.header.value += f" &middot; <b>ended: {html.escape(str(reason))}</b> at step {data.get('step')}"

    def _header(self, row: dict[str, Any] | None) -> None:
        info = self._info
        parts = [f"<b>{html.escape(self.title or info.get('config', {}).get('run', ''))}</b>",
                 f"{info.get('parameters', 0) / 1e6:.2f}M parameters on {html.escape(str(info.get('device', '')))} "
                 f"({info.get('precision', '')})"]
        if row:
            def f(key: str, fmt: str) -> str:
                v = row.get(key)
                return "-" if v is None else format(v, fmt)

            parts += [f"step {row['step']:,} / {info.get('max_steps', 0):,}", f"loss {f('train_loss', '.3f')}",
                      f"val {f('val_loss', '.3f')}" if row.get("val_loss") is not None else
                      f"best val {f('best_val_loss', '.3f')}",
                      f"lr {f('lr', '.2e')}", f"grad norm {f('grad_norm', '.2f')}",
                      f"{f('tokens_per_s', ',.0f')} tok/s", f"{_duration(row.get('eta_s'))} left"]
        self.header.value = " &middot; ".join(parts)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < self.redraw_every_s:
            return
        self._last_draw = now
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 3.2), dpi=80)  # no pyplot: safe to draw from the training thread
        FigureCanvasAgg(fig)
        plot_metrics(self.records, fig=fig, title=self.title or "loss", levels=self.levels)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self.plot.value = buf.getvalue()
