"""Notebook widgets for 07 and 08: a sampling panel and a chat box, with text streaming in.

Both keep their work in a plain method (``SamplingWidget.generate``, ``ChatWidget.send``) that
the button calls, so it runs, and is tested, without a browser: it reads the controls, streams
into the output and returns the text. ipywidgets is imported when a widget is made, not before.
"""

from __future__ import annotations

import html
from typing import Any

from .chat import BOT, USER, ChatSession
from .generation import SamplingConfig, stream_text
from .widgets import WidgetView

_BOX = ("font-family: ui-monospace, monospace; white-space: pre-wrap; border: 1px solid #ccc; "
        "border-radius: 4px; padding: 6px; min-height: 3em")


def _pre(inner: str) -> str:
    return f'<div style="{_BOX}">{inner}</div>'


class SamplingWidget(WidgetView):
    """Prompt box, sliders for temperature, top-k, top-p and length, a seed, a Generate button,
    and the output streaming in (the prompt in bold, then what the model wrote)."""

    def __init__(self, model: Any, tokenizer: Any, prompt: str = "", config: SamplingConfig | None = None,
                 *, max_length: int | None = None) -> None:
        import ipywidgets as w

        self.model, self.tokenizer = model, tokenizer
        c = config or SamplingConfig(temperature=0.8, top_k=50, top_p=0.95, max_new_tokens=100, seed=0)
        top = max(1, min(200, model.config.vocab_size))
        longest = max_length or max(c.max_new_tokens, 4 * model.config.context_length)
        style = {"description_width": "90px"}
        self.prompt = w.Textarea(value=prompt, description="prompt", style=style,
                                 layout=w.Layout(width="95%", height="4em"))
        self.temperature = w.FloatSlider(value=c.temperature, min=0.0, max=2.0, step=0.05, description="temperature",
                                         style=style)
        self.top_k = w.IntSlider(value=min(c.top_k, top), min=0, max=top, description="top-k (0: all)", style=style)
        self.top_p = w.FloatSlider(value=c.top_p, min=0.05, max=1.0, step=0.05, description="top-p", style=style)
        self.length = w.IntSlider(value=min(c.max_new_tokens, longest), min=1, max=longest, description="length",
                                  style=style)
        self.seed = w.IntText(value=c.seed if c.seed is not None else 0, description="seed", style=style)
        self.button = w.Button(description="Generate", button_style="primary", icon="play")
        self.output = w.HTML(value=_pre(""))
        self.status = w.HTML(value="")
        self.button.on_click(lambda _button: self.generate())
        self._base = c
        self.text = ""
        self.widget = w.VBox([
            self.prompt,
            w.HBox([w.VBox([self.temperature, self.top_k, self.top_p]), w.VBox([self.length, self.seed, self.button])]),
            self.output, self.status,
        ])

    def config(self) -> SamplingConfig:
        """The sampling settings the controls show now."""
        return self._base.replace(temperature=float(self.temperature.value), top_k=int(self.top_k.value),
                                  top_p=float(self.top_p.value), max_new_tokens=int(self.length.value),
                                  seed=int(self.seed.value))

    def generate(self) -> str:
        """The button's callback: stream a completion of the prompt into the output; return it."""
        prompt = self.prompt.value
        head = f"<b>{html.escape(prompt)}</b>"
        self.text = ""
        self.button.disabled = True
        try:
            stream = stream_text(self.model, self.tokenizer, prompt, self.config())
            for piece in stream:
                self.text += piece
                self.output.value = _pre(head + html.escape(self.text))
            self.status.value = f"<small>{len(stream.token_ids)} tokens; finished: {stream.finish_reason}</small>"
        except ValueError as err:  # e.g. a setting out of range: say so where the output goes
            self.status.value = f'<span style="color: #b00">{html.escape(str(err))}</span>'
        finally:
            self.button.disabled = False
        return self.text


class ChatWidget(WidgetView):
    """A chat box: the history above, a message box and Send / New chat buttons below; replies
    stream into the history as they are written."""

    def __init__(self, session: ChatSession) -> None:
        import ipywidgets as w

        self.session = session
        self.history = w.HTML(value=_pre(""))
        self.message = w.Text(placeholder="Write a message, press Enter", continuous_update=False,
                              layout=w.Layout(width="70%"))
        self.send_button = w.Button(description="Send", button_style="primary")
        self.clear_button = w.Button(description="New chat")
        self.note = w.HTML(value="")
        self.send_button.on_click(lambda _button: self.send())
        self.clear_button.on_click(lambda _button: self.clear())
        self.message.observe(self._on_enter, names="value")  # Enter (or leaving the box) commits the text
        self.widget = w.VBox([self.history, w.HBox([self.message, self.send_button, self.clear_button]), self.note])
        self._busy = False

    def _line(self, role: str, text: str) -> str:
        name = self.session.template.name(role)
        colour = "#1a5fb4" if role == BOT else "#333"
        return f'<b style="color: {colour}">{html.escape(name)}:</b> {html.escape(text)}'

    def _render(self, turns: list[tuple[str, str]], pending: str | None = None) -> None:
        lines = [self._line(role, text) for role, text in turns]
        if pending is not None:
            lines.append(self._line(BOT, pending + "\u258c"))  # a cursor while the reply streams in
        self.history.value = _pre("<br>".join(lines))

    def _on_enter(self, change: dict[str, Any]) -> None:
        if change.get("new", "").strip() and not self._busy:
            self.send()

    def send(self, message: str | None = None) -> str:
        """The Send callback: take the message (or the box's text), stream the reply in, return it."""
        text = (self.message.value if message is None else message).strip()
        if not text or self._busy:
            return ""
        self._busy = True
        reply = ""
        self.message.value = ""
        self.send_button.disabled = True
        try:
            shown = self.session.history + [(USER, text)]
            self._render(shown, reply)
            for piece in self.session.stream_reply(text):
                reply += piece
                self._render(shown, reply)
            self._render(self.session.history)
            dropped = self.session.last_dropped
            self.note.value = (f"<small>{dropped} oldest turn(s) left out to fit the context</small>" if dropped else "")
        finally:
            self._busy = False
            self.send_button.disabled = False
        return reply

    def clear(self) -> None:
        """Start a new conversation."""
        self.session.reset()
        self._render([])
        self.note.value = ""


__all__ = ["SamplingWidget", "ChatWidget"]
