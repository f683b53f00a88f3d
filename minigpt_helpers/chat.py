"""Chat with a base model of books: the conversation written like a play script.

A persona line, then one ``NAME: text`` line per turn, ending with the bot's tag so that the
likeliest continuation is its line. A reply ends at the end of its line or at another speaker's
tag (``SpeakerTag``); the oldest turns are dropped to fit the context (``fit_turns``).
``ChatSession`` keeps the history and streams replies; ``cli`` runs it in a terminal.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .generation import SamplingConfig, _stop_prefix_chars, encode_prompt, stream_text

log = logging.getLogger(__name__)

USER, BOT = "user", "bot"
EXIT_WORDS = ("exit", "quit")
DEFAULT_PERSONA = "A conversation between a curious reader and a wise old librarian who has read every book."


def one_line(text: str) -> str:
    """A message as one line: newlines become spaces, so a message cannot start a fake turn."""
    return " ".join(text.split())


# A speaker's tag: a name in capitals of up to four words, the last of at least two letters (so
# "I:" is not one), then a colon. Words have at most 24 characters, so a search per token stays cheap.
_CAPS_WORD = r"[A-Z][A-Z'\-]{0,23}"
_CAPS_NAME = rf"(?:{_CAPS_WORD} ){{0,3}}[A-Z][A-Z'\-]{{0,22}}[A-Z]"
_PARTIAL_CAPS = re.compile(rf"(?<![A-Za-z0-9])(?:{_CAPS_WORD} ){{0,3}}{_CAPS_WORD} ?$")  # may still become a tag
_LONGEST_TAG = 4 * 25 + 1
_WORD = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class SpeakerTag:
    """A stop rule (``generation.StopRule``): the reply ends where another speaker's tag starts
    inside its line (``Oh, my lord! HAMLET: Nay``): a name in capitals, or one of ``names``, and a colon.

    Tags before the reply's first word are no stop (``ReplyStart`` drops them). Whitespace before
    a stopping tag goes with it, so ``pending`` holds back trailing whitespace too.
    """

    names: tuple[str, ...] = ()

    @property
    def _tag(self) -> re.Pattern[str]:
        extra = "".join(f"|{re.escape(n)}" for n in self.names)
        return re.compile(rf"(?<![A-Za-z0-9])(?:{_CAPS_NAME}{extra}):")

    def leading(self, text: str) -> int:
        """Where the reply's words begin: after the space and any tags that open ``text``."""
        tag, end = self._tag, 0
        while True:
            m = tag.search(text, end)
            if m is None or _WORD.search(text, end, m.start()):
                return end + len(text[end:]) - len(text[end:].lstrip())
            end = m.end()

    def find(self, text: str) -> int:
        m = self._tag.search(text, self.leading(text))
        return -1 if m is None else len(text[:m.start()].rstrip())

    def pending(self, text: str) -> int:
        held = 0
        m = _PARTIAL_CAPS.search(text, max(0, len(text) - _LONGEST_TAG))  # a tag is never longer
        if m is not None:
            held = len(text) - m.start()
        held = max(held, _stop_prefix_chars(text, [f"{name}:" for name in self.names]))  # the start of "Name:"
        return len(text) - len(text[:len(text) - held].rstrip())  # a space waits too: a tag would take it along


class ReplyStart:
    """The opening of a streamed reply: ``push(piece)`` returns what to show.

    Until the first word it drops the space after the bot's tag and any tags the model wrote
    first; then pieces pass unchanged. ``flush()`` returns what is held if no word came.
    """

    def __init__(self, rule: SpeakerTag | None = None) -> None:
        self.rule = rule or SpeakerTag()
        self.started = False
        self._held = ""

    @classmethod
    def for_stops(cls, stops: Sequence[Any]) -> ReplyStart:
        """The opening for a reply that stops at ``stops``: it drops the tags of their ``SpeakerTag``."""
        return cls(next((s for s in stops if isinstance(s, SpeakerTag)), None))

    def push(self, piece: str) -> str:
        if self.started:
            return piece
        self._held += piece
        text = self._held[self.rule.leading(self._held):]
        if not _WORD.search(text):
            return ""
        self.started, self._held = True, ""
        return text

    def flush(self) -> str:
        text, self._held = self._held[self.rule.leading(self._held):], ""  # "" once started
        return text


def reply_pieces(pieces: Iterable[str], stops: Sequence[Any]) -> Iterator[str]:
    """The streamed pieces of a reply without its opening (``ReplyStart``), empty ones left out."""
    opening = ReplyStart.for_stops(stops)
    for piece in pieces:
        piece = opening.push(piece)
        if piece:
            yield piece
    rest = opening.flush()  # a reply that ended before its first word
    if rest:
        yield rest


@dataclass
class ChatTemplate:
    """How a conversation becomes text: a persona line, then one ``NAME: text`` line per turn.

    The reply is prompted with the bot's tag and *no* trailing space: the tokenizer glues a
    space to the word after it (" Well", not " " + "Well").
    """

    persona: str = DEFAULT_PERSONA
    user_name: str = "READER"
    bot_name: str = "LIBRARIAN"

    def __post_init__(self) -> None:
        problems = []
        for name in ("user_name", "bot_name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or "\n" in value or ":" in value:
                problems.append(f"{name}={value!r}: use a short name on one line, without a colon, e.g. 'READER'")
        if self.user_name == self.bot_name:
            problems.append(f"user_name and bot_name are both {self.user_name!r}: give the two speakers different names")
        if not isinstance(self.persona, str):
            problems.append(f"persona={self.persona!r}: use a string (it may be empty)")
        if problems:
            raise ValueError("ChatTemplate is invalid:\n- " + "\n- ".join(problems))

    def name(self, role: str) -> str:
        if role not in (USER, BOT):
            raise ValueError(f"role={role!r}: use {USER!r} or {BOT!r}")
        return self.user_name if role == USER else self.bot_name

    def header(self) -> str:
        return f"{one_line(self.persona)}\n\n" if self.persona.strip() else ""

    def turn(self, role: str, text: str) -> str:
        return f"{self.name(role)}: {one_line(text)}\n"

    def render(self, turns: Sequence[tuple[str, str]], *, open_reply: bool = True) -> str:
        """The prompt text: persona, the turns, and (``open_reply``) the bot's tag to start its reply."""
        text = self.header() + "".join(self.turn(role, msg) for role, msg in turns)
        return text + f"{self.bot_name}:" if open_reply else text

    def stops(self) -> list[str | SpeakerTag]:
        """Where a reply ends: at the end of its line (every turn is one line), or at another speaker's tag."""
        return ["\n", SpeakerTag((self.user_name, self.bot_name))]


def fit_turns(turns: Sequence[tuple[str, str]], count_tokens: Any, budget: int,
              template: ChatTemplate) -> tuple[list[tuple[str, str]], int]:
    """Drop the oldest turns until the rendered prompt has at most ``budget`` tokens; returns the
    kept turns and how many were dropped. The last turn (the new message) always stays.

    Dropping one at a time re-counts the rest each time (quadratic on a long conversation), so
    this keeps the newest 2, 4, 8, ... turns until a prompt does not fit, then bisects: O(log n)
    counts, the same answer since fewer turns never take more tokens.
    """
    turns = list(turns)
    n = len(turns)
    if n <= 1:  # nothing to drop: the new message always stays
        return turns, 0

    def fits(keep: int) -> bool:
        return count_tokens(template.render(turns[n - keep:])) <= budget

    # keeping `lo` newest turns fits (or lo == 1: always kept); keeping `hi` does not (or hi == n + 1)
    lo, hi, keep = 1, n + 1, 2
    while lo < n and hi == n + 1:  # gallop: 2, 4, 8, ... until a prompt does not fit or all turns do
        if fits(keep):
            lo, keep = keep, min(2 * keep, n)
        else:
            hi = keep
    while hi - lo > 1:  # binary search between the last that fitted and the first that did not
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return turns[n - lo:], n - lo


class ChatSession:
    """A conversation with a model: the history, the template, and replies streamed as they come.

    With ``config.seed`` set, reply n (from 0) samples with seed ``seed + n``: a conversation replays exactly.
    """

    def __init__(self, model: Any, tokenizer: Any, config: SamplingConfig | None = None,
                 template: ChatTemplate | None = None, *, reply_room: int | None = None,
                 use_cache: bool = True) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.config = config or SamplingConfig(temperature=0.8, top_k=50, top_p=0.95, max_new_tokens=64)
        self.template = template or ChatTemplate()
        context = model.config.context_length
        # Tokens kept free for the reply: the reply length, but at most half the context.
        self.reply_room = reply_room if reply_room is not None else min(self.config.max_new_tokens, context // 2)
        if not 0 <= self.reply_room < context:
            raise ValueError(f"reply_room={self.reply_room}: use 0 to {context - 1} (the context is {context} tokens)")
        self.use_cache = use_cache
        self.history: list[tuple[str, str]] = []
        self.last_dropped = 0  # turns left out of the last prompt
        self.persona_dropped = False  # whether the last prompt had to leave out the persona line
        self.last_finish_reason: str | None = None
        self.last_prompt = ""

    @property
    def budget(self) -> int:
        """The most tokens the prompt may take, leaving ``reply_room`` of the context for the reply."""
        return self.model.config.context_length - self.reply_room

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def build_prompt(self, message: str) -> tuple[str, list[int]]:
        """The prompt for the next reply: history + ``message``, oldest turns dropped to fit."""
        turns, self.last_dropped = fit_turns([*self.history, (USER, message)], self.count_tokens,
                                             self.budget, self.template)
        if self.last_dropped:
            log.debug("dropped the %d oldest turn(s) to fit the context of %d tokens",
                     self.last_dropped, self.model.config.context_length)
        text = self.template.render(turns)
        self.persona_dropped = False
        if self.count_tokens(text) > self.budget and self.template.persona:
            # Even the new message alone does not fit beside the persona: the persona goes too.
            self.persona_dropped = True
            text = dataclasses.replace(self.template, persona="").render(turns)
            log.debug("left out the persona line: the new message and the reply need the whole context")
        return text, encode_prompt(self.tokenizer, text)

    def stream_reply(self, message: str) -> Iterator[str]:
        """Yield the reply to ``message`` piece by piece; both turns join the history at the end."""
        message = one_line(message)
        self.last_prompt, ids = self.build_prompt(message)
        config = self.config
        if config.seed is not None:  # repeatable, but not the same draw for every reply
            config = config.replace(seed=config.seed + len(self.history) // 2)
        # nonblank_start: a newline right after "NAME:" would end the reply before it began
        stops = self.template.stops()
        stream = stream_text(self.model, self.tokenizer, ids, config, stop=stops,
                             use_cache=self.use_cache, nonblank_start=True)
        shown = []
        for piece in reply_pieces(stream, stops):
            shown.append(piece)
            yield piece
        self.last_finish_reason = stream.finish_reason
        self.history += [(USER, message), (BOT, one_line("".join(shown)))]

    def reply(self, message: str) -> str:
        """The whole reply to ``message`` (see ``stream_reply``)."""
        return "".join(self.stream_reply(message))

    def reset(self) -> None:
        """Forget the conversation (the template and settings stay)."""
        self.history.clear()
        self.last_dropped = 0

    def transcript(self) -> str:
        """The conversation so far as the model sees it (without dropping anything)."""
        return self.template.render(self.history, open_reply=False)


__all__ = ["BOT", "DEFAULT_PERSONA", "EXIT_WORDS", "USER", "ChatSession", "ChatTemplate", "ReplyStart", "SpeakerTag",
           "fit_turns", "one_line", "reply_pieces"]
