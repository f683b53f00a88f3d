"""Generation: turn a trained GPT into text, one token at a time.

The engine (first part) works on token ids only, like nanochat's: ``SamplingConfig``, the logit
processors one by one and together (``process_logits``), and ``stream_batch`` / ``stream`` /
``generate``, which run on a KV cache and slide the window past the context (the cached and
uncached paths read the same windows, so greedy decoding gives the same tokens either way).
The second part, "text on top", takes a tokenizer: ``complete`` and ``stream_text`` take a
prompt string, stop at stop strings or ``StopRule``s, and stream pieces of text that never split
a multi-byte character (``TextDecoder``). The sampling widget, the chat, the command line and
the HTTP server all run on it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from .hardware import model_device

log = logging.getLogger(__name__)

FINISH_STOP = "stop"  # a stop sequence (or stop string) was generated; it is not in the output
FINISH_LENGTH = "length"  # max_new_tokens were generated
MAX_TEMPERATURE = 10.0
MAX_REPETITION_PENALTY = 10.0


# =========================================================================== the engine: ids only


@dataclass
class SamplingConfig:
    """How to pick each next token. Validated on creation; every problem is named with its range.

    ``temperature=0`` is greedy decoding (always the most likely token). ``top_k=0`` and
    ``top_p=1.0`` switch those filters off; ``repetition_penalty=1.0`` too. ``seed`` makes
    sampling repeatable (a private ``torch.Generator`` per call; the global RNG is untouched);
    None draws one from the global RNG. ``stop_sequences`` are lists of token ids: generation
    ends when the output ends with one of them, which is then left out. ``slide``: how far the
    window jumps once the sequence is longer than the context (None: a quarter of the context).
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 100
    seed: int | None = None
    stop_sequences: list[list[int]] = field(default_factory=list)
    slide: int | None = None

    def __post_init__(self) -> None:
        problems = []

        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        def whole(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        if self.top_k is None:
            self.top_k = 0
        if self.top_p is None:
            self.top_p = 1.0
        if not (number(self.temperature) and 0.0 <= self.temperature <= MAX_TEMPERATURE):
            problems.append(f"temperature={self.temperature!r}: use a number from 0 (greedy) to "
                            f"{MAX_TEMPERATURE:g}; 1 samples the model's own distribution")
        if not (whole(self.top_k) and self.top_k >= 0):
            problems.append(f"top_k={self.top_k!r}: use a whole number >= 1 to keep the k likeliest tokens, or 0 to keep all")
        if not (number(self.top_p) and 0.0 < self.top_p <= 1.0):
            problems.append(f"top_p={self.top_p!r}: use a probability in (0, 1], e.g. 0.9; 1 keeps every token")
        if not (number(self.repetition_penalty) and 0.0 < self.repetition_penalty <= MAX_REPETITION_PENALTY):
            problems.append(f"repetition_penalty={self.repetition_penalty!r}: use a number in (0, "
                            f"{MAX_REPETITION_PENALTY:g}], e.g. 1.1 to 1.3; 1 switches it off")
        if not (whole(self.max_new_tokens) and self.max_new_tokens >= 1):
            problems.append(f"max_new_tokens={self.max_new_tokens!r}: use a whole number of at least 1")
        if self.seed is not None and not (whole(self.seed) and 0 <= self.seed < 2**63):
            problems.append(f"seed={self.seed!r}: use None or a whole number from 0 to 2**63 - 1")
        if self.slide is not None and not (whole(self.slide) and self.slide >= 1):
            problems.append(f"slide={self.slide!r}: use None (a quarter of the context) or a whole number >= 1")
        stops = self.stop_sequences
        if isinstance(stops, (list, tuple)) and all(isinstance(s, (list, tuple)) for s in stops):
            bad = [s for s in stops if not s or not all(whole(i) and i >= 0 for i in s)]
            if bad:
                problems.append(f"stop_sequences has {bad[:3]}: each stop sequence is a non-empty list of token ids (>= 0)")
            else:
                self.stop_sequences = [list(s) for s in stops]
        else:
            problems.append(f"stop_sequences={stops!r}: give a list of token-id lists, e.g. [[tokenizer.eot_id]]")
        if problems:
            raise ValueError("SamplingConfig is invalid:\n- " + "\n- ".join(problems))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def replace(self, **changes: Any) -> SamplingConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StreamEvent:
    """One step of a stream: a new token (``token_id``), or the end (``finish_reason`` set, no token)."""

    token_id: int | None
    finish_reason: str | None = None


# --------------------------------------------------------------------------- logit processors


def seen_mask(previous: Any, vocab_size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """A (vocab_size,) bool mask of the ids in ``previous`` (a list or a 1-D tensor of ids)."""
    mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    ids = torch.as_tensor(list(previous) if not torch.is_tensor(previous) else previous, dtype=torch.long)
    if ids.numel():
        mask[ids.to(mask.device)] = True
    return mask


def apply_repetition_penalty(logits: torch.Tensor, previous: Any, penalty: float) -> torch.Tensor:
    """Make tokens seen before less likely: CTRL's penalty, made sign-aware as in Hugging Face
    transformers. A positive score is divided by the penalty, a negative one multiplied by it, so
    the token always loses (CTRL divides every score, which would raise a negative one).

    ``previous``: the ids seen so far (a list, a 1-D tensor), or a bool mask shaped like ``logits``.
    """
    if penalty == 1.0:
        return logits
    if torch.is_tensor(previous) and previous.dtype == torch.bool:
        mask = previous.to(logits.device)
    else:
        mask = seen_mask(previous, logits.size(-1), logits.device).expand_as(logits)
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(mask, penalised, logits)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the scores by the temperature: below 1 sharpens the distribution, above 1 flattens it."""
    if temperature <= 0:
        raise ValueError("temperature=0 means greedy decoding: take logits.argmax(-1) instead of dividing by 0")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly the ``k`` highest scores in each row (ties broken by index); the rest get -inf."""
    if k <= 0 or k >= logits.size(-1):
        return logits
    keep = torch.zeros_like(logits, dtype=torch.bool)
    keep.scatter_(-1, torch.topk(logits, k, dim=-1).indices, True)
    return logits.masked_fill(~keep, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of likeliest tokens whose probabilities add up to at least ``p`` (nucleus)."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above each one
    drop_sorted = before >= p  # the top token is always kept (before = 0 < p)
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def process_logits(logits: torch.Tensor, config: SamplingConfig, previous: Any = ()) -> torch.Tensor:
    """All the processors in order: repetition penalty, temperature, top-k, top-p.

    For greedy decoding (temperature 0) only the repetition penalty applies: the argmax is
    always inside the top-k and top-p sets.
    """
    logits = apply_repetition_penalty(logits.float(), previous, config.repetition_penalty)
    if config.greedy:
        return logits
    logits = apply_temperature(logits, config.temperature)
    logits = top_k_filter(logits, config.top_k)
    return top_p_filter(logits, config.top_p)


def next_token_probs(logits: torch.Tensor, config: SamplingConfig, previous: Any = ()) -> torch.Tensor:
    """The distribution the next token is drawn from (one-hot on the argmax for greedy)."""
    processed = process_logits(logits, config, previous)
    if config.greedy:
        return F.one_hot(processed.argmax(-1), processed.size(-1)).float()
    return processed.softmax(dim=-1)


# --------------------------------------------------------------------------- windows and prompts


def default_slide(context_length: int) -> int:
    """How far the window jumps past the context when ``SamplingConfig.slide`` is None."""
    return max(1, context_length // 4)


def window_start(length: int, context_length: int, slide: int) -> int:
    """Index of the first token the model reads when the sequence holds ``length`` tokens.

    Up to the context, all of them (0). Beyond it the start moves in jumps of ``slide``, so
    the window holds between ``context_length - slide + 1`` and ``context_length`` tokens and a
    KV cache is refilled only once per jump. ``slide=1`` crops to the last ``context_length``
    tokens at every step (nanoGPT's rule, but then a cache saves nothing past the context).
    """
    if length <= context_length:
        return 0
    slide = min(max(1, slide), context_length)
    return -(-(length - context_length) // slide) * slide  # ceil((length - context) / slide) * slide


def crop_prompt(prompt_ids: Sequence[int], context_length: int) -> list[int]:
    """The prompt as a list of ids, cropped from the left to ``context_length`` tokens (with a warning)."""
    ids = [int(i) for i in prompt_ids]
    if len(ids) > context_length:
        log.warning(
            "the prompt has %d tokens, more than the model's context of %d: keeping its last %d "
            "(the first %d are dropped)", len(ids), context_length, context_length, len(ids) - context_length,
        )
        ids = ids[-context_length:]
    return ids


def _longest_stop_prefix(generated: list[int], stops: list[list[int]]) -> int:
    """Length of the longest tail of ``generated`` that could still grow into a stop sequence."""
    best = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(generated)), best, -1):
            if generated[-n:] == stop[:n]:
                best = n
                break
    return best


class _Row:
    """Book-keeping for one sequence of a batch: what was generated, held back, and why it ended."""

    def __init__(self, prompt_len: int) -> None:
        self.prompt_len = prompt_len
        self.generated: list[int] = []
        self.emitted = 0  # how many of ``generated`` were yielded
        self.finish_reason: str | None = None

    def push(self, token: int, config: SamplingConfig) -> list[StreamEvent]:
        """Add a token; return the events it releases (tokens, then the end if it ended)."""
        g = self.generated
        g.append(token)
        for stop in config.stop_sequences:
            if len(g) >= len(stop) and g[-len(stop):] == stop:
                events = [StreamEvent(t) for t in g[self.emitted:len(g) - len(stop)]]
                del g[len(g) - len(stop):]  # the stop sequence is not part of the output
                self.emitted = len(g)
                self.finish_reason = FINISH_STOP
                return [*events, StreamEvent(None, FINISH_STOP)]
        if len(g) >= config.max_new_tokens:
            events = [StreamEvent(t) for t in g[self.emitted:]]
            self.emitted = len(g)
            self.finish_reason = FINISH_LENGTH
            return [*events, StreamEvent(None, FINISH_LENGTH)]
        safe = len(g) - _longest_stop_prefix(g, config.stop_sequences)  # hold back a possible stop's start
        events = [StreamEvent(t) for t in g[self.emitted:safe]]
        self.emitted = max(self.emitted, safe)
        return events


# --------------------------------------------------------------------------- the loop


def _check_prompts(model: torch.nn.Module, prompts: Sequence[Sequence[int]]) -> list[list[int]]:
    """The prompts as lists of ids cropped to the context, or a ValueError naming the bad one."""
    if not prompts:
        raise ValueError("prompts is empty: give at least one list of token ids")
    vocab = model.config.vocab_size
    rows_ids = [crop_prompt(p, model.config.context_length) for p in prompts]
    for b, ids in enumerate(rows_ids):
        if not ids:
            raise ValueError(f"prompt {b} is empty: give at least one token id (e.g. the tokenizer's eot_id)")
        if max(ids) >= vocab or min(ids) < 0:
            raise ValueError(f"prompt {b} holds ids outside 0..{vocab - 1} (the model's vocab_size={vocab})")
    if model.training and getattr(model.config, "dropout", 0) > 0:
        log.warning("the model is in training mode, so dropout makes generation random: call model.eval() first")
    return rows_ids


def _draw(probs: torch.Tensor, drawing: list[bool], generators: list[torch.Generator]) -> torch.Tensor:
    """One token per row from ``probs`` (on the CPU, so a seed gives the same text on any device);
    a row that is not ``drawing`` (still in its prompt, or finished) gets 0."""
    return torch.tensor([int(torch.multinomial(probs[b], 1, generator=generators[b])) if draw else 0
                         for b, draw in enumerate(drawing)])


@torch.inference_mode()
def stream_batch(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    config: SamplingConfig,
    *,
    use_cache: bool = True,
    suppress_first: Sequence[int] = (),
) -> Iterator[tuple[int, StreamEvent]]:
    """Generate for several prompts at once; yields ``(row, StreamEvent)`` as tokens come.

    The rows advance in lock step without padding: while a row is still inside its own (longer)
    prompt, its next token is the prompt's, so each row reads exactly what it would read alone.
    Row ``b`` samples with seed ``config.seed + b``. ``suppress_first``: ids a row's first new
    token may not be (a chat reply must not open with a blank line).
    """
    if not isinstance(config, SamplingConfig):
        raise TypeError(f"config must be a SamplingConfig, got {type(config).__name__}")
    context, vocab = model.config.context_length, model.config.vocab_size
    rows_ids = _check_prompts(model, prompts)
    device = model_device(model)
    B = len(rows_ids)
    lengths = [len(ids) for ids in rows_ids]
    slide = config.slide or default_slide(context)
    total = max(lengths) + config.max_new_tokens
    seq = torch.zeros(B, total, dtype=torch.long, device=device)
    for b, ids in enumerate(rows_ids):
        seq[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    prompt_len = torch.tensor(lengths, device=device)
    rows = [_Row(n) for n in lengths]

    base_seed = config.seed if config.seed is not None else int(torch.randint(0, 2**62, (1,)).item())
    generators = [torch.Generator().manual_seed(base_seed + b) for b in range(B)] if not config.greedy else []
    seen = None
    if config.repetition_penalty != 1.0:
        seen = torch.zeros(B, vocab, dtype=torch.bool, device=device)
        for b, ids in enumerate(rows_ids):
            seen[b, torch.tensor(ids, device=device)] = True

    banned = sorted({int(t) for t in suppress_first if 0 <= int(t) < vocab})
    if len(banned) >= vocab:
        raise ValueError("suppress_first bans every token of the vocabulary; leave at least one allowed")
    banned_ids = torch.tensor(banned, dtype=torch.long, device=device) if banned else None

    cache = model.new_kv_cache(B, device=device) if use_cache else None
    start = 0  # the cache holds seq[:, start : start + cache.length]
    L = min(lengths)  # every row holds L tokens; the next one goes to position L
    while True:
        s = window_start(L, context, slide)
        if cache is None:
            logits = model(seq[:, s:L], last_only=True)[0][:, -1]
        else:
            if s != start:  # the window jumped: refill the cache from the tokens it keeps
                cache.reset()
                start = s
            logits = model(seq[:, start + cache.length : L], kv_cache=cache, last_only=True)[0][:, -1]
        if banned_ids is not None and L in lengths:  # some row is about to draw its first token
            logits = logits.float().clone()
            for b in (b for b, n in enumerate(lengths) if n == L):
                logits[b, banned_ids] = float("-inf")  # before top-k/top-p, so they pick among the allowed
        logits = process_logits(logits, config, seen)  # (B, vocab), float32
        if config.greedy:
            chosen = logits.argmax(dim=-1)
        else:
            drawing = [row.finish_reason is None and L >= n for row, n in zip(rows, lengths, strict=True)]
            chosen = _draw(logits.softmax(dim=-1).cpu(), drawing, generators).to(device)
        in_prompt = prompt_len > L
        seq[:, L] = torch.where(in_prompt, seq[:, L], chosen)
        new_tokens = seq[:, L].tolist()
        L += 1
        for b, row in enumerate(rows):
            if row.finish_reason is not None or L <= lengths[b]:
                continue
            token = new_tokens[b]
            if seen is not None:
                seen[b, token] = True
            for event in row.push(token, config):
                yield b, event
        if all(row.finish_reason is not None for row in rows):
            return


def stream(
    model: torch.nn.Module,
    prompt_ids: Sequence[int],
    config: SamplingConfig,
    *,
    use_cache: bool = True,
    suppress_first: Sequence[int] = (),
) -> Iterator[StreamEvent]:
    """Generate from one prompt, yielding a ``StreamEvent`` per token and a last one with the finish reason."""
    for _, event in stream_batch(model, [prompt_ids], config, use_cache=use_cache, suppress_first=suppress_first):
        yield event


def generate(
    model: torch.nn.Module, prompt_ids: Sequence[int], config: SamplingConfig, *, use_cache: bool = True
) -> list[int]:
    """The new token ids for one prompt (without the prompt, without a stop sequence)."""
    return [e.token_id for e in stream(model, prompt_ids, config, use_cache=use_cache) if e.token_id is not None]


def generate_batch(
    model: torch.nn.Module, prompts: Sequence[Sequence[int]], config: SamplingConfig, *, use_cache: bool = True
) -> list[list[int]]:
    """The new token ids for each prompt, computed in one batch (see ``stream_batch``)."""
    return [ids for ids, _ in generate_with_reasons(model, prompts, config, use_cache=use_cache)]


def generate_with_reasons(
    model: torch.nn.Module, prompts: Sequence[Sequence[int]], config: SamplingConfig, *, use_cache: bool = True
) -> list[tuple[list[int], str]]:
    """Like ``generate_batch``, with each row's finish reason ("stop" or "length")."""
    out: list[list[int]] = [[] for _ in prompts]
    reasons = [""] * len(prompts)
    for b, event in stream_batch(model, prompts, config, use_cache=use_cache):
        if event.token_id is not None:
            out[b].append(event.token_id)
        else:
            reasons[b] = event.finish_reason or ""
    return list(zip(out, reasons))


# =========================================================================== text on top (tokenizer-aware)
#
# Everything below takes a tokenizer (anything with encode, decode and eot_id). The engine
# above never sees one.


def encode_prompt(tokenizer: Any, prompt: str | Sequence[int]) -> list[int]:
    """Ids of a prompt string (or the ids given); an empty prompt starts a new document (eot)."""
    ids = tokenizer.encode(prompt) if isinstance(prompt, str) else [int(i) for i in prompt]
    return ids or [tokenizer.eot_id]


_BLANK_IDS: dict[tuple[str, int], list[int]] = {}


def blank_token_ids(tokenizer: Any) -> list[int]:
    """The ids whose text is only whitespace (spaces, newlines), plus the end-of-text id.

    Decodes every id once per tokenizer (about 0.1 s for GPT-2's 50,257) and remembers the answer.
    """
    key = (str(getattr(tokenizer, "sha256", None) or id(tokenizer)), tokenizer.vocab_size)
    if key not in _BLANK_IDS:
        blank = [i for i in range(tokenizer.vocab_size) if i != tokenizer.eot_id and not tokenizer.decode([i]).strip()]
        _BLANK_IDS[key] = [*blank, tokenizer.eot_id]
    return _BLANK_IDS[key]


@runtime_checkable
class StopRule(Protocol):
    """A stop that no fixed string describes: a rule that reads the decoded text.

    ``find(text)``: where the first stop begins in ``text`` (-1: none); the text is cut there.
    ``pending(text)``: how many characters at the end of ``text`` could still become one; they
    are held back until the next tokens settle it. A stop string is the special case
    ``find = text.find(s)``, ``pending`` = the longest end of the text that starts ``s``.
    """

    def find(self, text: str) -> int: ...

    def pending(self, text: str) -> int: ...


def _stop_prefix_chars(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of ``text`` that is the start of a stop string."""
    best = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:n]):
                best = n
                break
    return best


class TextDecoder:
    """Token ids in, clean pieces of text out: the decoding half of ``TextStream``.

    ``push(token_id)`` returns the text that the new token makes safe to show, often "": a piece
    never ends inside a multi-byte character (a byte-level token can be half of one) and never
    shows a stop or the start of one. ``stop`` holds stop strings and ``StopRule``s. Once a stop
    appears, ``stopped`` is true and ``text`` ends just before it. ``flush()`` releases what was
    held back when the tokens end. Decoding everything so far at each step (rather than each
    token alone) is what lets the bytes of a split character meet again.
    """

    def __init__(self, tokenizer: Any, stop: str | StopRule | Sequence[str | StopRule] = ()) -> None:
        if isinstance(stop, (str, StopRule)):
            stop = [stop]
        for s in stop:
            if not isinstance(s, (str, StopRule)):
                raise TypeError(f"stop holds {s!r}: use strings, or StopRule objects (with find and pending methods)")
        if any(isinstance(s, str) and not s for s in stop):
            raise ValueError("stop holds an empty string: every stop string needs at least one character")
        self.tokenizer, self.stop = tokenizer, list(stop)
        self._strings = [s for s in self.stop if isinstance(s, str)]
        self._rules = [s for s in self.stop if not isinstance(s, str)]
        self.token_ids: list[int] = []
        self.text = ""  # what was released so far
        self.stopped = False

    def _release(self, upto: str) -> str:
        piece, self.text = upto[len(self.text):], upto
        return piece

    def push(self, token_id: int) -> str:
        """Add one token; return the new text it makes safe to show ("" while something is held back)."""
        if self.stopped:
            raise RuntimeError("a stop was already found; make a new TextDecoder for more text")
        self.token_ids.append(int(token_id))
        full = self.tokenizer.decode(self.token_ids)
        found = [full.find(s) for s in self._strings] + [rule.find(full) for rule in self._rules]
        cut = min((i for i in found if i >= 0), default=-1)
        if cut >= 0:  # a stop appeared in the decoded text
            self.stopped = True
            if cut > len(self.text):
                return self._release(full[:cut])
            self.text = self.text[:cut]
            return ""
        if full.endswith("\ufffd"):
            return ""  # half a character: wait for the token that completes it
        held = max([_stop_prefix_chars(full, self._strings)] + [rule.pending(full) for rule in self._rules])
        safe = len(full) - held
        return self._release(full[:safe]) if safe > len(self.text) else ""

    def flush(self) -> str:
        """The end of the tokens: release what was held back (a possible stop's start, an unfinished character)."""
        if self.stopped:
            return ""
        full = self.tokenizer.decode(self.token_ids)
        return self._release(full) if len(full) > len(self.text) else ""


class TextStream:
    """Iterate to get pieces of text as they are generated; afterwards ``text``, ``token_ids``
    and ``finish_reason`` ("stop" or "length") describe the whole completion.

    Pieces never end inside a multi-byte character (a token can be half of one) and never show
    a stop or the start of one; stops (strings or ``StopRule``s) are found on the decoded text (``TextDecoder``).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        prompt: str | Sequence[int],
        config: SamplingConfig,
        *,
        stop: Sequence[str | StopRule] = (),
        stop_at_eot: bool = True,
        use_cache: bool = True,
        nonblank_start: bool = False,
    ) -> None:
        self._decoder = TextDecoder(tokenizer, stop)  # checks the stops
        if stop_at_eot and [tokenizer.eot_id] not in config.stop_sequences:
            config = config.replace(stop_sequences=[*config.stop_sequences, [tokenizer.eot_id]])
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.stop, self.use_cache = self._decoder.stop, use_cache
        self.suppress_first = blank_token_ids(tokenizer) if nonblank_start else []
        self.prompt_ids = encode_prompt(tokenizer, prompt)
        self.finish_reason: str | None = None
        self._started = False

    @property
    def token_ids(self) -> list[int]:
        """The ids generated so far (a stop sequence of ids is left out; a stop string's tokens are in)."""
        return self._decoder.token_ids

    @property
    def text(self) -> str:
        """The text released so far; after the end, the whole completion, cut before any stop string."""
        return self._decoder.text

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a TextStream can be iterated once; make a new one")
        self._started = True
        decoder = self._decoder
        events = stream(self.model, self.prompt_ids, self.config, use_cache=self.use_cache,
                        suppress_first=self.suppress_first)
        try:
            for event in events:
                if event.token_id is None:
                    self.finish_reason = event.finish_reason
                    break
                piece = decoder.push(event.token_id)
                if decoder.stopped:
                    self.finish_reason = FINISH_STOP  # set before the last piece, for a reader who stops there
                if piece:
                    yield piece
                if decoder.stopped:
                    return
            piece = decoder.flush()
            if piece:
                yield piece
        finally:
            events.close()


def stream_text(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt: str | Sequence[int],
    config: SamplingConfig | None = None,
    *,
    stop: Sequence[str | StopRule] = (),
    stop_at_eot: bool = True,
    use_cache: bool = True,
    nonblank_start: bool = False,
) -> TextStream:
    """A ``TextStream``: iterate it for pieces of text; stops at ``stop`` (strings or ``StopRule``s)
    and, by default, at end of text.

    ``nonblank_start``: the first token must show some text (no blank, no end of text), so a
    chat reply cannot end before it starts when the model's favourite next token is a newline.
    """
    return TextStream(model, tokenizer, prompt, config or SamplingConfig(), stop=stop,
                      stop_at_eot=stop_at_eot, use_cache=use_cache, nonblank_start=nonblank_start)


def complete(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt: str | Sequence[int],
    config: SamplingConfig | None = None,
    *,
    stop: Sequence[str | StopRule] = (),
    stop_at_eot: bool = True,
    use_cache: bool = True,
) -> str:
    """The text generated after ``prompt`` (without the prompt, cut before any stop string)."""
    s = stream_text(model, tokenizer, prompt, config, stop=stop, stop_at_eot=stop_at_eot, use_cache=use_cache)
    for _ in s:
        pass
    return s.text


def complete_batch(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    config: SamplingConfig | None = None,
    *,
    stop_at_eot: bool = True,
    use_cache: bool = True,
) -> list[str]:
    """Completions of several prompts, generated in one batch (stop sequences as ids only)."""
    config = config or SamplingConfig()
    if stop_at_eot and [tokenizer.eot_id] not in config.stop_sequences:
        config = config.replace(stop_sequences=[*config.stop_sequences, [tokenizer.eot_id]])
    ids = [encode_prompt(tokenizer, p) for p in prompts]
    return [tokenizer.decode(out) for out in generate_batch(model, ids, config, use_cache=use_cache)]


__all__ = [
    "SamplingConfig", "StreamEvent", "FINISH_STOP", "FINISH_LENGTH",
    "seen_mask", "apply_repetition_penalty", "apply_temperature", "top_k_filter", "top_p_filter",
    "process_logits", "next_token_probs", "default_slide", "window_start", "crop_prompt",
    "stream_batch", "stream", "generate", "generate_batch", "generate_with_reasons",
    "encode_prompt", "StopRule", "TextDecoder", "TextStream", "stream_text", "complete", "complete_batch",
]
