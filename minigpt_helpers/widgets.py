"""Widgets and HTML pictures the notebooks share, one section per notebook.

Every widget has a render function that returns plain HTML (so it works, and is tested,
without a display) and a small class that wires ipywidgets to it. ipywidgets is imported
only when a widget is built, so importing this module does nothing.

The classes work with ipywidgets 7 (Colab's) and 8 alike: they use only controls both have, and
``WidgetView`` shows one through either version's display hook.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from .tokenization import Tokenizer


class WidgetView:
    """Shows ``self.widget`` (an ipywidgets box) when the object is displayed.

    IPython calls ``_ipython_display_`` for ``display(obj)`` and for an object left as a cell's
    last expression; ipywidgets 7 widgets show themselves only through that hook, and ipywidgets
    8's through ``_repr_mimebundle_``, so displaying the box itself works with both.
    ``_repr_mimebundle_`` serves front ends that format objects without IPython's hook.
    """

    widget: Any

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        own = getattr(self.widget, "_repr_mimebundle_", None)  # ipywidgets 8
        return own(**kwargs) if own is not None else {"text/plain": repr(self.widget)}


# --------------------------------------------------------------------------- 02 tokenization

# Light backgrounds that stay readable with dark text, in light and dark notebook themes.
TOKEN_COLOURS = ("#ffd97a", "#9fe0b4", "#a9c8f5", "#f7b0c8", "#d3bdf5", "#f9c49a")
NEWLINE_MARK = "\u21b5"  # shown at the end of a line, so newline tokens can be seen


def token_spans(tok: Tokenizer, text: str, ids: Sequence[int] | None = None) -> list[tuple[str, list[int]]]:
    """``text`` cut where its tokens meet: (piece, ids) pairs whose pieces join back to ``text``.

    A token that ends inside a multi-byte character (an emoji split into byte tokens) is kept
    with the tokens that complete it, so every piece is readable text.
    """
    ids = tok.encode(text) if ids is None else ids
    spans: list[tuple[str, list[int]]] = []
    pending, group = b"", []
    for i in ids:
        pending += tok.token_bytes(i)
        group.append(i)
        try:
            piece = pending.decode("utf-8")
        except UnicodeDecodeError:
            continue
        spans.append((piece, group))
        pending, group = b"", []
    if group:
        spans.append((pending.decode("utf-8", errors="replace"), group))
    return spans


def render_tokens(tok: Tokenizer, text: str, *, max_tokens: int = 2000) -> str:
    """``text`` as HTML with one coloured box per token (hover shows the ids)."""
    spans = token_spans(tok, text)
    shown, count = [], 0
    for k, (piece, ids) in enumerate(spans):
        if count >= max_tokens:
            break
        count += len(ids)
        colour = TOKEN_COLOURS[k % len(TOKEN_COLOURS)]
        visible = html.escape(piece).replace("\n", NEWLINE_MARK + "\n")
        shown.append(f'<span style="background:{colour};color:#000" title="{" ".join(map(str, ids))}">{visible}</span>')
    total = sum(len(ids) for _, ids in spans)
    more = f'<span style="color:#888"> ... ({total - count} more tokens)</span>' if count < total else ""
    return (
        '<div style="font-family:monospace;white-space:pre-wrap;line-height:1.7;word-break:break-word">'
        + "".join(shown) + more + "</div>"
    )


def render_comparison(tokenizers: Mapping[str, Tokenizer] | Tokenizer, text: str, *, max_tokens: int = 2000) -> str:
    """The same text coloured by each tokenizer, with its token count and bytes per token."""
    if isinstance(tokenizers, Tokenizer):
        tokenizers = {tokenizers.name: tokenizers}
    n_bytes = len(text.encode("utf-8"))
    rows = []
    for label, tok in tokenizers.items():
        n = len(tok.encode(text))
        ratio = f"{n_bytes / n:.2f} bytes/token" if n else "no tokens"
        rows.append(
            f'<div style="margin:0.4em 0"><b>{html.escape(label)}</b> '
            f'<span style="color:#666">({tok.vocab_size:,} tokens in vocabulary): {n:,} token{"" if n == 1 else "s"}, {ratio}</span>'
            + render_tokens(tok, text, max_tokens=max_tokens) + "</div>"
        )
    return "".join(rows)


class TokenViewer(WidgetView):
    """A text box; under it, what you type coloured by token for each tokenizer, live.

    ``update(text)`` is the callback: it re-renders and returns the HTML (testable headless).
    Display the viewer (or ``viewer.widget``) in a notebook to use it.
    """

    def __init__(self, tokenizers: Mapping[str, Tokenizer] | Tokenizer, text: str = "", *, max_tokens: int = 2000) -> None:
        import ipywidgets as w

        self.tokenizers = tokenizers
        self.max_tokens = max_tokens
        self.textarea = w.Textarea(value=text, placeholder="Type or paste text here", continuous_update=True,
                                   layout=w.Layout(width="100%", height="7em"))
        self.output = w.HTML()
        self.textarea.observe(self._on_change, names="value")
        self.widget = w.VBox([self.textarea, self.output])
        self.update(text)

    def _on_change(self, change: dict[str, Any]) -> None:
        self.update(change["new"])

    def update(self, text: str) -> str:
        """Re-render for ``text``; returns the HTML now shown."""
        self.output.value = render_comparison(self.tokenizers, text, max_tokens=self.max_tokens)
        return self.output.value


def token_viewer(tokenizers: Mapping[str, Tokenizer] | Tokenizer, text: str = "", *, max_tokens: int = 2000) -> TokenViewer:
    """A ``TokenViewer`` over ``tokenizers`` starting with ``text``."""
    return TokenViewer(tokenizers, text, max_tokens=max_tokens)
