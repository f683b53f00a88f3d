"""Cleaning: raw book files in, clean UTF-8 text out (``data/clean/``).

Bytes are decoded (``decode_bytes``), then small rules ``str -> str`` run in order (``RULES``:
line endings, Unicode, HTML, ASCII folding here, the Gutenberg apparatus in ``gutenberg``), then
whole documents are filtered by length, exact repeats and profanity. ``clean_text`` reports
what each rule and filter removed; ``stages.build_clean`` writes the stage.
"""

from __future__ import annotations

import codecs
import functools
import html
import logging
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from . import artifacts, sources
from .gutenberg import (  # the Gutenberg rules are also cleaning.<name>, as notebook 01 uses them
    gutenberg_bounds,  # noqa: F401
    join_wrapped_lines,
    remove_credits,
    remove_footnotes,
    remove_illustrations,
    remove_italics,
    remove_page_artifacts,
    remove_toc,
    remove_transcriber_notes,
    strip_gutenberg,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- decoding


class UndecodableError(ValueError):
    """The bytes are not text in any encoding the cleaner knows (UTF-8, Windows-1252, Latin-1)."""


_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# C0 controls other than tab, newline, carriage return and form feed, DEL, and the C1 controls:
# plain text has (almost) none of them, binary files are full of them.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_CP1252_FALLBACK = "minigpt-cp1252-fallback"


def decode_bytes(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a text file's bytes: by its byte-order mark, else strict UTF-8, else UTF-8
    with a few stray Windows-1252 bytes, else Windows-1252 ("latin-1" when no byte in 0x80-0x9F
    tells them apart). Raises UndecodableError for bytes that are none of these."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec), f"{codec} (with BOM)"
            except UnicodeDecodeError as err:
                if codec != "utf-8":
                    raise UndecodableError(f"starts with a {codec} byte-order mark but does not decode as {codec} ({err.reason} at byte {err.start})") from err
                data = data[len(bom) :]  # a UTF-8 BOM on a file with stray bytes: go on below
                break
    try:
        text, name = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as first:
        text, name = _decode_not_utf8(data, first)
    controls = len(_CONTROL_RE.findall(text[:200_000]))
    if controls > max(8, len(text[:200_000]) // 1000):
        raise UndecodableError(f"decodes as {name} but holds {controls} control characters: it looks binary, not a text file")
    return text, name


def _decode_not_utf8(data: bytes, first: UnicodeDecodeError) -> tuple[str, str]:
    # Mostly UTF-8 (valid multi-byte characters outnumber the stray bytes): read only the stray
    # bytes as Windows-1252, instead of turning every é into Ã©.
    valid = data.decode("utf-8", errors="ignore")
    stray = data.decode("utf-8", errors="replace").count("\ufffd") - valid.count("\ufffd")
    if sum(not ch.isascii() for ch in valid) > stray:
        try:
            codecs.lookup_error(_CP1252_FALLBACK)
        except LookupError:  # registered on first use: importing the module registers nothing
            codecs.register_error(_CP1252_FALLBACK, lambda err: (err.object[err.start : err.end].decode("cp1252"), err.end))
        try:
            return data.decode("utf-8", errors=_CP1252_FALLBACK), f"utf-8 ({stray} stray bytes read as cp1252)"
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as err:
        raise UndecodableError(
            f"not UTF-8 ({first.reason} at byte {first.start}) and not Windows-1252 or Latin-1 "
            f"(byte 0x{data[err.start]:02x} at {err.start} is not a character in either); "
            "open it in an editor and save it as UTF-8"
        ) from err
    return text, "cp1252" if any(0x80 <= b <= 0x9F for b in data) else "latin-1"


# --------------------------------------------------------------------------- generic rules (the Gutenberg ones: gutenberg.py)


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR to LF, form feeds to a blank line, and a leading byte-order mark removed."""
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n").replace("\v", "\n")


_SPACES = {0x09: " ", 0x00A0: " ", 0x1680: " ", 0x202F: " ", 0x205F: " ", 0x3000: " ", 0x2028: "\n", 0x2029: "\n\n"}
_SPACES.update({c: " " for c in range(0x2000, 0x200B)})


def normalize_unicode(text: str, form: str | None = "NFC") -> str:
    """Unicode normal form (NFC: é as one code point), odd spaces to spaces, non-printables removed.

    Removed: control characters (but newlines), soft hyphens, zero-width and direction marks,
    byte-order marks, private-use and unassigned code points. A tab becomes a space.
    """
    if text.isascii() and text.replace("\n", "").isprintable():
        return text  # plain printable ASCII: nothing to do
    if form and not unicodedata.is_normalized(form, text):
        text = unicodedata.normalize(form, text)
    for ch in set(re.sub(r"[\n -~]+", "", text)):  # a handful of distinct characters: str.replace is fastest
        if ord(ch) in _SPACES:
            text = text.replace(ch, _SPACES[ord(ch)])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            text = text.replace(ch, "")  # controls, format characters, private use, unassigned
    return text


_TAG_NAMES = r"(?:a|b|i|u|s|em|strong|small|big|sup|sub|tt|span|div|p|br|hr|font|center|h[1-6]|li|ul|ol|table|tr|td|th|blockquote|pre|img|html|head|body|title)"
_TAG_RE = re.compile(r"</?" + _TAG_NAMES + r"\b[^<>]{0,200}?/?>", re.IGNORECASE)
_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def strip_html(text: str) -> str:
    """Remove HTML tags (``<i>``, ``</p>``, ``<br/>``...) and decode entities (``&mdash;`` to —)."""
    if "<" in text:
        text = _TAG_RE.sub("", text)
    return _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text) if "&" in text else text


_ASCII_MAP = {
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "«": '"', "»": '"', "‹": "'", "›": "'", "–": "-", "—": "--", "―": "--", "‐": "-", "‑": "-", "−": "-",
    "…": "...", "•": "*", "·": ".", "×": "x", "÷": "/", "½": "1/2", "¼": "1/4", "¾": "3/4",
    "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ø": "o", "Ø": "O", "ð": "d", "Ð": "D",
    "þ": "th", "Þ": "Th", "ł": "l", "Ł": "L", "£": "L", "€": "EUR", "©": "(c)", "®": "(R)", "°": " degrees",
}


@functools.cache
def _fold_char(ch: str) -> str:
    return (_ASCII_MAP.get(ch) or unicodedata.normalize("NFKD", ch)).encode("ascii", errors="ignore").decode("ascii")


def fold_ascii(text: str) -> str:
    """Fold to plain ASCII: é to e, curly quotes to straight ones, — to --; drop what has no ASCII form."""
    return text if text.isascii() else re.sub(r"[^\x00-\x7f]", lambda m: _fold_char(m.group(0)), text)


# --------------------------------------------------------------------------- options and results

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
TOKEN_COUNT_NOTE = "words and punctuation marks, regex \\w+|[^\\w\\s] (no tokenizer needed)"
# Strong English swear words, extended with ``profanity_words``. Off by default: on old books it
# mostly removes dialogue.
DEFAULT_PROFANITY: tuple[str, ...] = ("fuck", "fucking", "fucked", "shit", "shitty", "cunt", "motherfucker", "bullshit", "asshole", "dickhead")


def count_tokens(text: str) -> int:
    """Words plus punctuation marks: a token count to filter documents before any tokenizer exists."""
    return len(_TOKEN_RE.findall(text))


@dataclass(frozen=True)
class CleanOptions:
    """Which rules run and how documents are filtered. The defaults are the course's choice for books."""

    gutenberg: bool = True  # Project Gutenberg header, footer, licence
    credits: bool = True  # "Produced by ..." and other e-text credits
    transcriber_notes: bool = True
    html: bool = True  # tags and entities
    illustrations: bool = True  # [Illustration: ...]
    footnotes: bool = True  # [Footnote 1: ...] and markers
    page_artifacts: bool = True  # {12}, [Pg 12], rule lines, boxes
    contents: bool = True  # tables of contents, where recognised
    italics: bool = True  # _italics_ -> italics
    join_lines: bool = True  # hard-wrapped lines -> one line per paragraph
    unicode_form: str | None = "NFC"  # None keeps the text's own form
    ascii_only: bool = False  # fold to plain ASCII (é -> e, curly quotes -> straight)
    unit: str = "book"  # what the filters below drop: the whole "book" or each "paragraph"
    min_tokens: int = 100  # a "book" shorter than this is a stub, not a book
    max_tokens: int | None = None
    dedupe: bool = True  # drop exact repeats of a unit (a book seen twice) ...
    dedupe_min_tokens: int = 8  # ... of at least this many tokens ("Yes, sir." may repeat)
    profanity: bool = False
    profanity_words: tuple[str, ...] = DEFAULT_PROFANITY

    def __post_init__(self) -> None:
        problems = [f"{f.name}={getattr(self, f.name)!r}: use True or False"
                    for f in fields(self) if f.type == "bool" and not isinstance(getattr(self, f.name), bool)]
        if self.unicode_form not in (None, "NFC", "NFKC"):
            problems.append(f"unicode_form={self.unicode_form!r}: use 'NFC' (recommended), 'NFKC' or None")
        if self.unit not in ("paragraph", "book"):
            problems.append(f"unit={self.unit!r}: use 'paragraph' or 'book'")
        if not isinstance(self.min_tokens, int) or self.min_tokens < 0:
            problems.append(f"min_tokens={self.min_tokens!r}: use a whole number >= 0, e.g. 10")
        if self.max_tokens is not None and (not isinstance(self.max_tokens, int) or self.max_tokens <= max(self.min_tokens if isinstance(self.min_tokens, int) else 0, 0)):
            problems.append(f"max_tokens={self.max_tokens!r}: use None (no limit) or a whole number above min_tokens={self.min_tokens}, e.g. 2048")
        if not isinstance(self.dedupe_min_tokens, int) or self.dedupe_min_tokens < 0:
            problems.append(f"dedupe_min_tokens={self.dedupe_min_tokens!r}: use a whole number >= 0, e.g. 8")
        words = self.profanity_words
        if not isinstance(words, (tuple, list)) or not all(isinstance(w, str) and w.strip() for w in words):
            problems.append("profanity_words: give a tuple of non-empty words, e.g. ('darn', 'heck')")
        elif self.profanity and not words:
            problems.append("profanity=True with no profanity_words: add words or set profanity=False")
        if problems:
            raise ValueError("CleanOptions is invalid:\n- " + "\n- ".join(problems))
        object.__setattr__(self, "profanity_words", tuple(words))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "profanity_words": len(self.profanity_words)}  # a count: no word lists in manifests


# Named option sets: the course's default for books, web-style document filters, ASCII folding.
PRESETS: dict[str, CleanOptions] = {
    "books": CleanOptions(),
    "web-documents": CleanOptions(unit="paragraph", min_tokens=10, max_tokens=2048),
    "ascii": CleanOptions(ascii_only=True),
}


@dataclass
class Removed:
    """What one rule removed: characters and lines (a rule that joins lines removes only lines)."""

    chars: int = 0
    lines: int = 0

    def add(self, before: str, after: str) -> None:
        self.chars += len(before) - len(after)
        self.lines += before.count("\n") - after.count("\n")


@dataclass
class CleanResult:
    """The clean text and, per rule in the order they ran, what it removed."""

    text: str
    removed: dict[str, Removed] = field(default_factory=dict)
    units_dropped: dict[str, int] = field(default_factory=dict)

    @property
    def removed_chars(self) -> int:
        return sum(r.chars for r in self.removed.values())

    def removed_dict(self) -> dict[str, dict[str, int]]:
        return {name: asdict(r) for name, r in self.removed.items()}


@dataclass(frozen=True)
class Rule:
    name: str
    option: str  # the CleanOptions field that switches it on ("" for always)
    func: Callable[[str], str]


# The order matters: decode-level fixes first, then the big cuts (licence, notes, credits), then
# markup inside the text, and joining lines last so every rule sees the original lines.
RULES: tuple[Rule, ...] = (
    Rule("newlines", "", normalize_newlines),
    Rule("unicode", "unicode_form", normalize_unicode),
    Rule("gutenberg", "gutenberg", strip_gutenberg),
    Rule("transcriber_notes", "transcriber_notes", remove_transcriber_notes),
    Rule("credits", "credits", remove_credits),
    Rule("html", "html", strip_html),
    Rule("illustrations", "illustrations", remove_illustrations),
    Rule("footnotes", "footnotes", remove_footnotes),
    Rule("page_artifacts", "page_artifacts", remove_page_artifacts),
    Rule("contents", "contents", remove_toc),
    Rule("italics", "italics", remove_italics),
    Rule("ascii", "ascii_only", fold_ascii),
    Rule("join_lines", "join_lines", join_wrapped_lines),
)
FILTERS: tuple[str, ...] = ("length", "duplicates", "profanity")


def apply_rules(text: str, options: CleanOptions | None = None) -> CleanResult:
    """Run the cleaning rules (not the document filters) in order, measuring each one."""
    options = options or CleanOptions()
    result = CleanResult(text, {rule.name: Removed() for rule in RULES})
    for rule in RULES:
        if not rule.option or getattr(options, rule.option):
            after = normalize_unicode(result.text, options.unicode_form) if rule.name == "unicode" else rule.func(result.text)
            result.removed[rule.name].add(result.text, after)
            result.text = after
    if not options.join_lines:  # still end with the same tidy layout
        tidy = _tidy(result.text)
        result.removed["join_lines"].add(result.text, tidy)
        result.text = tidy
    return result


def _tidy(text: str) -> str:
    """One blank line between blocks, no trailing spaces, a final newline; lines kept as they are."""
    blocks = ["\n".join(line.rstrip() for line in b.strip("\n").split("\n")) for b in re.split(r"\n[ \t]*\n", text)]
    blocks = [b for b in blocks if b.strip()]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _at_least_tokens(text: str, n: int) -> bool:
    """``count_tokens(text) >= n``, without counting a whole book: n words are enough."""
    return len(text.split(None, n)) > n or count_tokens(text) >= n


def _why_dropped(unit: str, options: CleanOptions, profane: re.Pattern[str] | None, seen: set[int]) -> str | None:
    """The filter that drops ``unit`` (adding a kept unit to ``seen``), or None to keep it."""
    if (options.min_tokens and not _at_least_tokens(unit, options.min_tokens)) or (
        options.max_tokens is not None and len(unit) > options.max_tokens and count_tokens(unit) > options.max_tokens
    ):
        return "length"
    if profane is not None and profane.search(unit):
        return "profanity"
    if options.dedupe and _at_least_tokens(unit, options.dedupe_min_tokens):
        if hash(unit) in seen:
            return "duplicates"
        seen.add(hash(unit))
    return None


def filter_documents(text: str, options: CleanOptions | None = None, *, seen: set[int] | None = None) -> CleanResult:
    """Drop documents (paragraphs, or the whole book) by token length, exact repeats and profanity.

    ``seen`` carries the hashes of documents already kept, so repeats across books are found too.
    """
    options = options or CleanOptions()
    result = CleanResult(text, {name: Removed() for name in FILTERS}, {name: 0 for name in FILTERS})
    seen = set() if seen is None else seen
    units = [text.strip("\n")] if options.unit == "book" else text.strip("\n").split("\n\n")
    profane = None
    if options.profanity:
        profane = re.compile(r"\b(?:" + "|".join(map(re.escape, options.profanity_words)) + r")\b", re.IGNORECASE)
    kept = []
    for unit in filter(str.strip, units):
        reason = _why_dropped(unit, options, profane, seen)
        if reason is None:
            kept.append(unit)
        else:
            result.units_dropped[reason] += 1
            result.removed[reason].add(unit + "\n\n", "")
    result.text = "\n\n".join(kept) + "\n" if kept else ""
    # Each dropped unit was charged its blank line, which the last one does not have: charge the
    # difference from what really changed to the first filter that dropped something.
    total = Removed()
    total.add(text, result.text)
    first = next((result.removed[name] for name in FILTERS if result.units_dropped[name]), None)
    if first is not None:
        first.chars -= sum(r.chars for r in result.removed.values()) - total.chars
        first.lines -= sum(r.lines for r in result.removed.values()) - total.lines
    return result


def clean_text(text: str, options: CleanOptions | None = None, *, seen: set[int] | None = None) -> CleanResult:
    """Clean one book's text: every rule in ``RULES`` in order, then the document filters.

    Returns the clean text (LF, paragraphs separated by one blank line) and what each rule and
    filter removed. Cleaning clean text again changes nothing.
    """
    options = options or CleanOptions()
    ruled = apply_rules(text, options)
    filtered = filter_documents(ruled.text, options, seen=seen)
    return CleanResult(filtered.text, {**ruled.removed, **filtered.removed}, filtered.units_dropped)


# --------------------------------------------------------------------------- the clean stage


def clean_file(path: str | os.PathLike[str], options: CleanOptions | None = None, *, seen: set[int] | None = None) -> tuple[CleanResult, str]:
    """Decode and clean one file; returns (result, encoding). Raises UndecodableError for non-text."""
    text, encoding = decode_bytes(Path(path).read_bytes())
    return clean_text(text, options, seen=seen), encoding


def clean_books(raw: dict[str, Any], options: CleanOptions, out_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Clean each book of the raw manifest into ``out_dir``: (manifest records, skipped files with reasons)."""
    books: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = [dict(s) for s in raw.get("skipped", [])]
    seen: set[int] = set()
    for entry in tqdm(raw["books"], desc="cleaning", unit="book", disable=len(raw["books"]) < 10):
        path = sources.raw_book_path(entry)
        try:
            result, encoding = clean_file(path, options, seen=seen)
            reason = None if result.text.strip() else _why_empty(result, options)
        except (UndecodableError, OSError) as err:
            reason = str(err)
        if reason is not None:
            skipped.append({"book_id": entry["book_id"], "path": entry.get("source", str(path)), "reason": reason})
            log.warning("skipped %s: %s", entry["book_id"], reason)
            continue
        artifacts.write_text_atomic(out_dir / f"{entry['book_id']}.txt", result.text)
        books.append(_book_record(entry, result, encoding))
    return books, skipped


def clean_totals(books: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """The corpus's size, and what each rule and filter (``names``) removed from it."""
    sizes = {key: sum(b[key] for b in books) for key in ("chars", "bytes", "raw_chars", "tokens_estimate")}
    removed = {name: {key: sum(b["removed"][name][key] for b in books) for key in ("chars", "lines")} for name in names}
    return {"books": len(books), **sizes, "removed": removed}


def _book_record(entry: dict[str, Any], result: CleanResult, encoding: str) -> dict[str, Any]:
    """One book's line in the clean manifest: where it came from, its size, what each rule removed."""
    text = result.text
    return {
        "book_id": entry["book_id"],
        "title": entry["title"],
        "author": entry["author"],
        "file": f"{entry['book_id']}.txt",
        "chars": len(text),
        "bytes": len(text.encode("utf-8")),
        "lines": text.count("\n"),
        "paragraphs": text.count("\n\n") + 1,
        "tokens_estimate": count_tokens(text),
        "encoding": encoding,
        "raw_bytes": entry.get("bytes"),
        "raw_chars": len(text) + result.removed_chars,
        "raw_sha256": entry.get("sha256"),
        "removed": result.removed_dict(),
        "units_dropped": result.units_dropped,
    }


def _why_empty(result: CleanResult, options: CleanOptions) -> str:
    if result.units_dropped.get("duplicates"):
        return "an exact duplicate of a book cleaned before it"
    if result.units_dropped.get("length"):
        return f"too short once cleaned (fewer than min_tokens={options.min_tokens} tokens)"
    if result.units_dropped.get("profanity"):
        return "dropped by the profanity filter"
    return "nothing left after cleaning"
