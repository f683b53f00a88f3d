"""Cleaning: raw book files in, clean UTF-8 text out (``data/clean/``).

A book from Project Gutenberg carries a lot that is not the book: a licence header and footer,
"Produced by" credits, transcriber's notes, footnote markers, ``[Illustration]`` tags, page
numbers, ``_italics_`` markup, a table of contents, and lines hard-wrapped at 70 characters.
Each of these is removed by one small rule (a function ``str -> str``) so the notebook can show
them one at a time; ``clean_text`` runs them in order and reports what each one removed.

Files are decoded first (``decode_bytes``): UTF-8 with or without a byte-order mark, Windows-1252
and Latin-1, CRLF or LF. Then, optionally, whole "documents" (paragraphs or books) are filtered:
a token-length range, exact duplicates and a basic profanity list.
"""

from __future__ import annotations

import codecs
import html
import logging
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import artifacts, sources
from .profiles import Profile

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- decoding


class UndecodableError(ValueError):
    """The bytes are not text in any encoding the cleaner knows (UTF-8, Windows-1252, Latin-1)."""


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the offending bytes of a mostly-UTF-8 file as Windows-1252."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    bad = err.object[err.start : err.end]
    return bad.decode("cp1252", errors="strict"), err.end


_FALLBACK = "minigpt-cp1252-fallback"


def _fallback_handler() -> str:
    """The codec error handler's name, registered on first use (importing registers nothing)."""
    try:
        codecs.lookup_error(_FALLBACK)
    except LookupError:
        codecs.register_error(_FALLBACK, _cp1252_fallback)
    return _FALLBACK

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


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a text file's bytes; returns (text, encoding name).

    Tried in order: a byte-order mark (UTF-8/16/32), strict UTF-8, UTF-8 with a few stray
    Windows-1252 bytes, then Windows-1252 (named "latin-1" when no byte in 0x80-0x9F makes
    the two differ). Line endings and the BOM character are left for ``normalize_newlines``.
    Raises UndecodableError (a ValueError) for bytes that are not text in any of these.
    """
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
        raise UndecodableError(
            f"decodes as {name} but holds {controls} control characters: it looks binary, not a text file"
        )
    return text, name


def _decode_not_utf8(data: bytes, first: UnicodeDecodeError) -> tuple[str, str]:
    # Mostly UTF-8 (valid multi-byte characters outnumber the stray bytes): keep it UTF-8 and
    # read only the stray bytes as Windows-1252, instead of turning every é into Ã©.
    valid_multibyte = sum(1 for ch in data.decode("utf-8", errors="ignore") if ord(ch) > 127)
    stray = len(data.decode("utf-8", errors="replace").encode("utf-8")) - len(data.decode("utf-8", errors="ignore").encode("utf-8"))
    stray //= 3  # each replacement character is 3 bytes in UTF-8
    if valid_multibyte > stray:
        try:
            return data.decode("utf-8", errors=_fallback_handler()), f"utf-8 ({stray} stray bytes read as cp1252)"
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
    has_c1 = any(0x80 <= b <= 0x9F for b in data)
    return text, "cp1252" if has_c1 else "latin-1"


# --------------------------------------------------------------------------- small helpers

# Blank-line separated blocks ("paragraphs"), keeping the separators so that a rule which drops
# a block leaves everything else byte for byte as it was.
_SEPARATOR_RE = re.compile(r"(\n[ \t]*\n(?:[ \t]*\n)*)")


def _split_blocks(text: str) -> list[str]:
    """[block, separator, block, separator, ..., block]: even indexes are blocks."""
    return _SEPARATOR_RE.split(text)


def _drop_blocks(parts: list[str], drop: set[int]) -> str:
    """Join ``_split_blocks`` parts without the blocks whose index is in ``drop`` (and a separator)."""
    out = []
    for i in range(0, len(parts), 2):
        if i in drop:
            continue
        out.append(parts[i])
        if i + 1 < len(parts):
            out.append(parts[i + 1])
    return "".join(out)


def _split_front(text: str) -> tuple[list[str], str]:
    """The front matter as ``_split_blocks`` parts, and the rest of the text untouched."""
    cut = text.find("\n\n", _front_limit(text))
    if cut < 0:
        return _split_blocks(text), ""
    return _split_blocks(text[:cut]), text[cut:]


def _front_limit(text: str) -> int:
    """Where the front matter (title page, credits, notes) can end, in characters."""
    return max(20_000, min(len(text) // 6, 60_000))


def _back_start(text: str, share: float = 0.2, most: int = 80_000) -> int:
    """Where the back matter (end notes, corrections) can start, in characters: the last fifth
    (at least the last 20,000 characters, at most 80,000), and always in the second half."""
    return max(len(text) - max(20_000, min(int(len(text) * share), most)), len(text) // 2)


# --------------------------------------------------------------------------- the rules


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR to LF, form feeds to a blank line, and a leading byte-order mark removed."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n").replace("\v", "\n")


_SPACES = {0x00A0: " ", 0x1680: " ", 0x202F: " ", 0x205F: " ", 0x3000: " ", 0x2028: "\n", 0x2029: "\n\n"}
_SPACES.update({c: " " for c in range(0x2000, 0x200B)})
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
_ODD_CHAR_RE = re.compile(r"[^\n -~]")  # anything but a newline and printable ASCII
_PRINTABLE_ASCII_RUNS_RE = re.compile(r"[\n -~]+")


def normalize_unicode(text: str, form: str | None = "NFC") -> str:
    """Unicode normal form (NFC: é as one code point), odd spaces to spaces, non-printables removed.

    Removed: control characters (but newlines), soft hyphens, zero-width and direction marks,
    byte-order marks, private-use and unassigned code points. A tab becomes a space.
    """
    if text.isascii():
        if text.replace("\n", "").isprintable():
            return text  # the common case: plain printable ASCII, nothing to do
        odd = set(_ODD_CHAR_RE.findall(text))
    else:
        if form and not unicodedata.is_normalized(form, text):
            text = unicodedata.normalize(form, text)
        odd = set(_PRINTABLE_ASCII_RUNS_RE.sub("", text))
    table: dict[str, str] = {}
    for ch in odd:
        if ch == "\t":
            table[ch] = " "
        elif ord(ch) in _SPACES:
            table[ch] = _SPACES[ord(ch)]
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            table[ch] = ""  # controls, zero-width and format characters, private use, unassigned
    for ch, replacement in table.items():  # a handful of distinct characters: str.replace is fastest
        text = text.replace(ch, replacement)
    return text


def _cases(*words: str) -> str:
    """A regex alternative for each word as Title, lower and UPPER case (faster than re.I)."""
    out = []
    for w in words:
        out += [w, w[0].upper() + w[1:], w[0].lower() + w[1:], w.upper()]
    return "(?:" + "|".join(dict.fromkeys(out)) + ")"


_START_RE = re.compile(r"[ \t]*\*{3}[ \t]*START OF TH(?:IS|E) PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b[^\n]*")
_SMALL_PRINT_END_RE = re.compile(r"[ \t]*\*END\*?[ \t]*THE SMALL PRINT![^\n]*")
_FOOTER_LINE_RE = re.compile(
    r"[ \t]*(?:\*{3}[ \t]*END OF TH(?:IS|E) PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b"
    r"|End of (?:the |this )?Project Gutenberg\b|\*{3}[ \t]*START\*{2}THE SMALL PRINT)",
    re.I,
)
_PG_SPELLINGS = ("PROJECT GUTENBERG", "Project Gutenberg", "Project gutenberg", "project gutenberg", "SMALL PRINT")
# The First Folio etexts open with a note from Project Gutenberg's director after the licence.
_DIRECTOR_NOTES_RE = re.compile(r"Executive Director's Notes:.*?\nExecutive Director[ \t]*\n(?:[ \t]*\n)*(?:\*{3}[ \t]*\n)?", re.S)


@dataclass(frozen=True)
class GutenbergBounds:
    """Where the book is inside a Gutenberg file, and which header and footer styles were found."""

    start: int  # first character after the header
    end: int  # first character of the footer (len(text) when there is none)
    header: str  # "start-marker", "small-print" or "none"
    footer: str  # "end-marker", "end-line", "small-print" or "none"


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_at(text: str, pos: int) -> tuple[int, str]:
    start = _line_start(text, pos)
    end = text.find("\n", pos)
    return start, text[start : end if end >= 0 else len(text)]


def gutenberg_bounds(text: str) -> GutenbergBounds:
    """Find the end of the header and the start of the footer of a Project Gutenberg file.

    Header: the ``*** START OF THE/THIS PROJECT GUTENBERG EBOOK ... ***`` line (with or without
    spaces, sometimes wrapped over two lines), else the end of the 1990s "Small Print!" licence.
    Footer: the first ``*** END OF ...`` line, ``End of the Project Gutenberg EBook of ...`` line
    or trailing Small Print licence after the header, whichever comes first; some have none.
    """
    # Plain substring searches first (fast), then a regex on the one line found.
    start, header = 0, "none"
    head = text[:200_000]
    for pos in sorted(p for p in (head.find("START OF THE PROJECT"), head.find("START OF THIS PROJECT")) if p >= 0):
        line_start, line = _line_at(text, pos)
        if _START_RE.match(line):
            start, header = line_start + len(line), "start-marker"
            if "***" not in line[line.find("START") :]:
                # the title and the closing *** wrapped onto the next line(s)
                for _ in range(2):
                    nxt = text.find("\n", start + 1)
                    nxt = nxt if nxt >= 0 else len(text)
                    following, start = text[start + 1 : nxt], nxt
                    if following.rstrip().endswith("***"):
                        break
            break
    if header == "none":
        pos = head.find("THE SMALL PRINT!", 0, len(text) // 2)
        while pos >= 0:
            line_start, line = _line_at(text, pos)
            if _SMALL_PRINT_END_RE.search(line):
                start, header = line_start + len(line), "small-print"
                break
            pos = head.find("THE SMALL PRINT!", pos + 1, len(text) // 2)
    end, footer = len(text), "none"
    for spelling in _PG_SPELLINGS:
        pos = text.find(spelling, start, end)
        while pos >= 0:
            line_start, line = _line_at(text, pos)
            match = _FOOTER_LINE_RE.match(line)
            if match and line_start >= start:
                end = line_start
                kind = match.group(0).strip().upper()
                footer = "end-marker" if kind.startswith("***") and "END" in kind else "small-print" if "SMALL PRINT" in kind else "end-line"
                break
            pos = text.find(spelling, pos + 1, end)
    return GutenbergBounds(start, end, header, footer)


def strip_gutenberg(text: str) -> str:
    """Remove the Project Gutenberg header, footer and licence, and PG notes in the front matter."""
    bounds = gutenberg_bounds(text)
    body = text[bounds.start : bounds.end]
    if "Executive Director's Notes:" in body[: _front_limit(body)]:
        body = _DIRECTOR_NOTES_RE.sub("", body, count=1)
    # Paragraphs near the top that talk about Project Gutenberg ("Note: Project Gutenberg also
    # has an HTML version...", "Project Gutenberg's Etext of Shakespeare's...").
    parts, rest = _split_front(body)
    drop = {i for i in range(0, len(parts), 2) if "gutenberg" in parts[i].lower()}
    return _drop_blocks(parts, drop) + rest if drop else body


_CREDIT_RE = re.compile(
    r"\W{0,3}(?:(?:This |The )?(?:e-?text|etext|e-?book|ebook|file) (?:was |is )?(?:produced|prepared|scanned|transcribed|created|digiti[sz]ed)"
    r"|Produced by|Prepared by|E-?text prepared|Transcribed (?:from|by)|Scanned (?:by|from)|Digiti[sz]ed by"
    r"|HTML version|Proofread by|Proofing by|Updated editions|Copyright \(C\)|(?:A|THE) Millennium Fulcrum)",
    re.I,
)
# words that only an e-text's own credits use (checked on the lower-cased paragraph)
_CREDIT_WORDS = ("distributed proof", "pgdp.net", "internet archive", "http://", "https://", "www.", "email", "e-mail", "@", "hathitrust", "google print", "html", "fulcrum edition")
# a note about the electronic edition, whatever its length
_ETEXT_RE = re.compile(r"\b(?:e-?texts?|e-?books?)\b")


def remove_credits(text: str) -> str:
    """Remove "Produced by ..." and other e-text credits (scanner, transcriber, HTML version) near the top."""
    parts, rest = _split_front(text)
    drop = set()
    for i in range(0, len(parts), 2):
        block = parts[i].strip()
        if not block:
            continue
        low = block.lower()
        etext = ("etext" in low or "e-text" in low or "ebook" in low or "e-book" in low) and _ETEXT_RE.search(low)
        if etext or _CREDIT_RE.match(block) or (len(block) < 600 and any(w in low for w in _CREDIT_WORDS)):
            drop.add(i)
    return _drop_blocks(parts, drop) + rest if drop else text


_NOTE_HEAD = (
    r"(?:" + _cases("Original", "Project Gutenberg", "Etext", "E-text") + r" )?"
    + _cases("Transcriber", "Transcribers", "Scanner", "Preparer", "Editor", "Producer", "Updater") + r"(?:['’]?[sS])?[ \t]+"
    + _cases("Note", "Notes") + r"\b"
)
_NOTE_START_RE = re.compile(r"[ \t]*[\[(|]?[ \t]*(?:" + _NOTE_HEAD + r"|Note from the original file|Note:)")
_INLINE_NOTE_RE = re.compile(r"[\[(][ \t]*" + _NOTE_HEAD + r"[^\])]*[\])]")
_BACK_NOTE_RE = re.compile(
    r"\n[ \t|]*(?:" + _NOTE_HEAD + r"|Typographical errors corrected|List of (?:changes|corrections)\b|Corrections made)"
)
_ETEXT_WORDS_RE = re.compile(r"e-?text|e-?book|\bfile\b|\bHTML\b|Gutenberg|transcri|edition", re.I)


_WORD_RE = re.compile(r"[^\W\d_]+")


def _is_prose(block: str) -> bool:
    """A block of running sentences (not a heading, a title line or a list)."""
    words = _WORD_RE.findall(block)
    if len(words) < 4 or sum(map(len, words)) < 20:
        return False
    capitalised = sum(w[0].isupper() for w in words)
    if capitalised > 0.5 * len(words):
        return False  # a title, a heading or a list of names
    return block.strip().count("\n") >= 1 or block.rstrip()[-1] in ".!?:;)\"'”’]"


_NAME_WORD_RE = re.compile(r"[A-Z][a-z]*\.?")


def _is_signature(block: str) -> bool:
    """A name on its own line ("David Reed") that signs a note."""
    words = block.split()
    return "\n" not in block.strip() and 2 <= len(words) <= 3 and all(_NAME_WORD_RE.fullmatch(w) for w in words)


_BRACKET_WORD_RE = re.compile(r"[\[(][ \t]*([A-Za-z][A-Za-z-]*)")
_NOTE_FIRST_WORDS = {"original", "project", "etext", "e-text", "transcriber", "transcribers", "transcriber's", "scanner", "preparer", "editor", "producer", "updater"}


def _remove_inline_notes(text: str) -> str:
    """``[Transcriber's Note: ...]`` anywhere: find brackets opening with a note word, then match."""
    spans = []
    for candidate in _BRACKET_WORD_RE.finditer(text):
        if candidate.group(1).lower() in _NOTE_FIRST_WORDS:
            match = _INLINE_NOTE_RE.match(text, candidate.start())
            if match and (not spans or match.start() >= spans[-1][1]):
                spans.append(match.span())
    if not spans:
        return text
    out, pos = [], 0
    for start, end in spans:
        out.append(text[pos:start])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def remove_transcriber_notes(text: str) -> str:
    """Remove transcriber's (scanner's, editor's) notes: at the top, inline in brackets, and at the end.

    A note at the top may run over several paragraphs: after a note, following paragraphs of
    running prose (and a one-line signature) are taken as part of it, up to the next heading or
    title line. A note heading near the end ("TRANSCRIBER'S NOTES", "Typographical errors
    corrected") starts a list of corrections: it is removed with everything after it.
    """
    text = _remove_inline_notes(text)
    for match in _BACK_NOTE_RE.finditer(text, _back_start(text)):
        line_end = text.find("\n", match.start() + 1)
        line = text[match.start() : line_end if line_end >= 0 else len(text)]
        if "]" not in line and ")" not in line:  # a heading, not a bracketed one-off
            text = text[: match.start() + 1]
            break
    parts, rest = _split_front(text)
    drop, i = set(), 0
    while i < len(parts):
        block = parts[i]
        stripped = block.strip()
        if _NOTE_START_RE.match(block) and (not stripped.lower().startswith(("note:", "[note:")) or _ETEXT_WORDS_RE.search(block)):
            drop.add(i)
            bracketed = stripped.startswith("[") and stripped.endswith("]")
            j = i + 2
            while not bracketed and j < len(parts) and _is_prose(parts[j]):
                drop.add(j)
                j += 2
            if j > i + 2 and j < len(parts) and _is_signature(parts[j]):
                drop.add(j)
                j += 2
            i = j
            continue
        i += 2
    return _drop_blocks(parts, drop) + rest if drop else text


_TAG_NAMES = r"(?:a|b|i|u|s|em|strong|small|big|sup|sub|tt|span|div|p|br|hr|font|center|h[1-6]|li|ul|ol|table|tr|td|th|blockquote|pre|img|html|head|body|title)"
_TAG_RE = re.compile(r"</?" + _TAG_NAMES + r"\b[^<>]{0,200}?/?>", re.I)
_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def strip_html(text: str) -> str:
    """Remove HTML tags (``<i>``, ``</p>``, ``<br/>``...) and decode entities (``&mdash;`` to —)."""
    if "<" in text:
        text = _TAG_RE.sub("", text)
    return _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text) if "&" in text else text


_ILLUSTRATION_RE = re.compile(
    r"\[[ \t]*_?" + _cases("Illustration", "Illustrations", "Picture", "Plate", "Frontispiece", "Image", "Decoration")
    + r"_?\b(?:[^\[\]]|\[[^\[\]]*\])*\]"
)
_COVER_LINE_RE = re.compile(r"\n[ \t]*(?:cover|\[?cover image\]?)[ \t]*(?=\n)")


def remove_illustrations(text: str) -> str:
    """Remove ``[Illustration: ...]`` tags (also ``[Picture: ...]``, ``[PLATE: ...]``) and "cover" image lines."""
    if "[" in text:
        text = _ILLUSTRATION_RE.sub("", text)
    front = _front_limit(text)
    return _COVER_LINE_RE.sub("\n", "\n" + text[:front])[1:] + text[front:]


_FOOTNOTE_BLOCK_RE = re.compile(r"\[" + _cases("Footnote") + r"[ \t]*([^\]:\s]*)[ \t]*:(?:[^\[\]]|\[[^\[\]]*\])*\]")
# a paragraph that starts with a footnote label: "[1] ...", "[A] ...", "{12} ...", "12 (return)"
_FOOTNOTE_PARA_RE = re.compile(
    r"\n(?:[ \t]*\n)+[ \t]*(?:\[(\d{1,3}|[A-Za-z]|\*{1,3})\]|\{(\d{1,4}[a-z]?)\}|(\d{1,4}) \(return\)[ \t]*\n)(?:[^\n]|\n(?![ \t]*\n))*"
)
_FOOTNOTE_HEADING_RE = re.compile(r"\n[ \t]*(?:FOOTNOTES?|Footnotes?)[:.]?[ \t]*(?=\n)")
_MARKER_RE = re.compile(r"\[(\d{1,3}|[A-Za-z]|\*{1,3})\]")
_NOTES_SECTION_RE = re.compile(r"\n[ \t]*(?:FOOTNOTES|Footnotes|NOTES|Notes|ENDNOTES|Endnotes)[:.]?[ \t]*(?=\n)")


def remove_footnotes(text: str) -> str:
    """Remove footnotes: ``[Footnote 1: ...]`` blocks, note paragraphs that start with ``[1]``,
    ``{12}`` or ``12 (return)``, a FOOTNOTES heading, and the markers in the text.

    A bracketed marker such as ``[2]`` or ``[A]`` is removed only when the book defines that
    footnote, so ``the[m]selues`` in Shakespeare and "A Boston Ballad [1854]" stay as printed.
    """
    labels: set[str] = set()
    if "[" in text:
        labels.update(m.group(1).lower() for m in _FOOTNOTE_BLOCK_RE.finditer(text))
        text = _FOOTNOTE_BLOCK_RE.sub("", text)

    def definition(match: re.Match[str]) -> str:
        labels.add((match.group(1) or match.group(2) or match.group(3)).lower())
        return ""

    # An endnotes section near the end ("NOTES", then "[1] ..."): notes can run over several
    # paragraphs there, so the heading and everything after it goes.
    for match in _NOTES_SECTION_RE.finditer(text, _back_start(text, share=0.25, most=len(text))):
        if _FOOTNOTE_PARA_RE.match(text, match.end()):
            text = text[: match.start() + 1]
            break
    text = _FOOTNOTE_PARA_RE.sub(definition, "\n\n" + text)[2:]
    if labels:
        text = _MARKER_RE.sub(lambda m: "" if m.group(1).lower() in labels else m.group(0), text)
        text = _FOOTNOTE_HEADING_RE.sub("\n", "\n" + text)[1:]
    return text


_BRACE_PAGE_RE = re.compile(r"\{(?:[Pp][Gg]?\.?|[Pp]age)?[ \t]*\d{1,4}[a-z]?\}")
_BRACKET_PAGE_RE = re.compile(r"\[(?:Pg|PG|Page|p\.)[ \t]*[\divxlc]{1,6}\]")
_RULE_LINE_RE = re.compile(r"\n[ \t]*[-=_~+|#]{5,}[ \t]*(?=\n)")
_BOX_LINE_RE = re.compile(r"\n[ \t]*\|([^|\n]*)\|[ \t]*(?=\n)")
_SECTION_BREAK_RE = re.compile(r"\n[ \t]*\*(?:[ \t]*\*){2,}[ \t]*(?=\n)")


def remove_page_artifacts(text: str) -> str:
    """Remove page numbers (``{12}``, ``[Pg 12]``) and layout: rule lines, box borders.

    Scene breaks made of asterisks become one ``* * *`` line. Bare numbers on a line are left
    alone: in these books they are chapter numbers, not page numbers.
    """
    text = "\n" + text + "\n"
    if "{" in text:
        text = _BRACE_PAGE_RE.sub("", text)
    if "[P" in text or "[p" in text:
        text = _BRACKET_PAGE_RE.sub("", text)
    if "|" in text:
        text = _BOX_LINE_RE.sub(lambda m: "\n" + m.group(1).rstrip(), text)
    text = _RULE_LINE_RE.sub("\n", text)
    if "* " in text or "**" in text:
        text = _SECTION_BREAK_RE.sub("\n* * *", text)
    return text[1:-1]


_CONTENTS_RE = re.compile(r"\n[ \t]*(?:TABLE OF |Table of )?(?:CONTENTS?|Contents?)[.:]?[ \t]*(?=\n)")
_TOC_WINDOW = 60_000  # characters after a CONTENTS heading in which the table must end
_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_WORD_NUMBERS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth"
_LABEL_RE = re.compile(
    r"(?:(chapter|chap|book|part|volume|vol|section|stave|letter|act|scene)\.?\s+)?(?:" + _ROMAN + r"|\d{1,3}|" + _WORD_NUMBERS + r")\b\.?(?:\s*[-—–:.]+\s*|\s+|$)",
    re.I,
)
_PAGE_REF_RE = re.compile(r"(?:[ \t]{2,}|[ \t]*(?:\.[ \t]*){2,})(?:[0-9ivxlcIVXLC]+(?:[-–][0-9ivxlcIVXLC]+)?)\.?[ \t]*$")
_HEADER_WORDS = {"page", "pages", "chapter", "chap", "part", "no", "contents", "page."}


_NON_WORD_RE = re.compile(r"[\W_]+")


def _norm_line(line: str) -> str:
    return " ".join(_NON_WORD_RE.sub(" ", line).split()).casefold()


@dataclass(frozen=True)
class _Entry:
    full: str  # the whole line, normalised ("chapter i down the rabbit hole")
    label: str  # its label ("chapter i"), "" when it has none
    name: str  # what follows the label ("down the rabbit hole")
    worded: bool  # the label has a word ("chapter i", not just "i")


def _entry(line: str) -> _Entry:
    line = _PAGE_REF_RE.sub("", line.strip())
    match = _LABEL_RE.match(line)
    if not match:
        return _Entry(_norm_line(line), "", _norm_line(line), False)
    return _Entry(_norm_line(line), _norm_line(match.group(0)), _norm_line(line[match.end() :]), bool(match.group(1)))


def remove_toc(text: str) -> str:
    """Remove a table of contents when it can be recognised.

    After a ``CONTENTS`` heading, the first entry (say "CHAPTER I. Down the Rabbit-Hole") is
    printed again where the book really begins, whole or in part ("CHAPTER I." above "DOWN
    THE RABBIT-HOLE"); everything from the heading up to there is the table (and any list of
    illustrations after it). When the first entry never reappears before the first paragraph
    of prose, nothing is removed.
    """
    search_from = 0
    while True:
        match = _CONTENTS_RE.search("\n" + text, search_from, _front_limit(text))
        if not match:
            return text
        start = match.start()  # in text: the newline before the heading
        cut = _toc_end(text, match.end() - 1)
        if cut is None:
            search_from = match.end()
            continue
        text = text[:start] + text[cut - 1 :] if start > 0 else text[cut:]
        search_from = start


def _toc_end(text: str, after: int) -> int | None:
    """Where the book resumes after a table of contents that starts at ``after``, or None."""
    lines = text[after : after + _TOC_WINDOW].split("\n")
    offsets, pos = [], after
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    entries: list[int] = []  # the first two entries (column headers such as "PAGE" skipped)
    for k, line in enumerate(lines):
        if line.strip() and not set(_norm_line(line).split()) <= _HEADER_WORDS:
            entries.append(k)
            if len(entries) == 2:
                break
    if len(entries) < 2:
        return None
    first = _entry(lines[entries[0]])
    both = _norm_line(lines[entries[0]] + " " + lines[entries[1]])
    name_start = " ".join(first.name.split()[:5]) + " " if len(first.name.split()) >= 6 else None
    # the table must end before the first paragraph of prose (wrapped lines of sentences; an
    # entry's description that ends with a page number is not prose)
    end_line, block = len(lines), []
    for k, line in enumerate(lines):
        if line.strip():
            block.append(line.rstrip())
            continue
        if (
            len(block) >= 2
            and not _PAGE_REF_RE.search(block[-1])  # an entry's description, then its page
            and not _LABEL_RE.match(block[0].strip())  # "VI.  The Arcana of the fire-eaters..."
            and _is_prose("\n".join(block))
            and _wrapped("\n".join(block), block)
        ):
            end_line = k - len(block)
            break
        block = []
    for k in range(entries[0] + 1, end_line):
        if not lines[k].strip():
            continue
        here = _entry(lines[k])
        if here.full in (first.full, both) or (first.worded and not first.name and here.full == first.label):
            return offsets[k]
        if (len(first.name) > 3 and here.name == first.name) or (name_start and here.name.startswith(name_start)):
            # the name found: its label may stand on the line above ("Chapter 1" / "NAME")
            prev = k - 1
            while prev > entries[0] and not lines[prev].strip():
                prev -= 1
            above = _entry(lines[prev])
            if not here.label and above.label and not above.name:
                k = prev
            return offsets[k]
        if first.worded and here.full == first.label:
            return offsets[k]
    # Not found: the book may open with something the table does not list (a preface). Cut at
    # the last wide gap (two or more blank lines) before that first paragraph of prose.
    if end_line < len(lines):
        for k in range(end_line - 1, entries[1], -1):
            if lines[k].strip() and not lines[k - 1].strip() and not lines[k - 2].strip():
                return offsets[k]
    return None


_ITALICS_RE = re.compile(r"_(?<![\w_]_)(?=[^\s_])([^_|]{0,3000})(?<=[^\s_])_(?![\w_])")
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")


def _unitalic(match: re.Match[str]) -> str:
    inner = match.group(1)
    return match.group(0) if "\n" in inner and _BLANK_LINE_RE.search(inner) else inner


def remove_italics(text: str) -> str:
    """Remove ``_italics_`` markup, keeping the words: ``_very_`` becomes ``very``.

    The underscores must hug a word on both sides and sit in one paragraph, so ``snake_case``,
    a blank ``______`` and a stray ``_`` are left alone.
    """
    return _ITALICS_RE.sub(_unitalic, text) if "_" in text else text


_MULTI_SPACE_RE = re.compile(r"  +")
_INDENT_RE = re.compile(r"\n( *)")
_COLUMNS_RE = re.compile(r"[^ \n] {3,}[^ \n]")
_DASH_NEWLINE_RE = re.compile(r"([-—–])\n[ \t]*")


def _wrapped(block: str, lines: list[str]) -> bool:
    """True when a block's lines are one hard-wrapped paragraph.

    Not wrapped: verse (short lines, lines that all start with a capital, or changing
    indentation), lists and tables (columns separated by runs of spaces).
    """
    indented = "\n " in block or block.startswith(" ")
    if len(lines) == 2:
        if len(lines[0].lstrip() if indented else lines[0]) < 45:
            return False
    else:
        lengths = sorted(len(line.lstrip()) for line in lines[:-1]) if indented else sorted(map(len, lines[:-1]))
        if lengths[0] < 40 or lengths[len(lengths) // 2] < 45:
            return False
    if indented and len(set(_INDENT_RE.findall(block))) > 1:
        return False  # verse with indented lines
    if "   " in block and _COLUMNS_RE.search(block):
        return False  # columns: a table or a list of chapters
    n = len(lines) - 1
    if n >= 2:  # verse when 3 lines in 4 start with a capital; stop counting once that is ruled out
        lower, allowed = 0, n - 0.75 * n
        for line in lines[1:]:
            first = line.lstrip()[:1]
            if not first.isupper():
                lower += 1
                if lower > allowed:
                    return True
        return False
    return True


def _split_indented(block: str) -> list[str]:
    """Split a block whose paragraphs are marked by an indented first line, not a blank line.

    Only long, wrapped lines qualify (a median of 55 characters or more, several lines per
    paragraph): verse that indents every other line stays as it is.
    """
    lines = block.split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines]
    base = min(indents)
    starts = [i for i in range(1, len(lines)) if 2 <= indents[i] - base <= 8]
    if not starts or any(indents[i] != base for i in range(1, len(lines)) if i not in starts):
        return [block]
    lengths = sorted(len(line.strip()) for line in lines)
    if lengths[len(lengths) // 2] < 55 or len(lines) < 2.5 * (len(starts) + 1):
        return [block]
    bounds = [0] + starts + [len(lines)]
    pieces = [lines[a:b] for a, b in zip(bounds, bounds[1:])]
    if all(len(p) == 1 or _wrapped("\n".join(p), p) for p in pieces):
        return ["\n".join(p) for p in pieces]
    return [block]


def _join_block(block: str) -> str:
    """One blank-line-separated block, with at least two lines, right-stripped: joined or kept."""
    lines = block.split("\n")
    if not _wrapped(block, lines):
        indent = min(len(line) - len(line.lstrip()) for line in lines)
        return "\n".join(line[indent:] for line in lines) if indent else block
    if "-\n" in block or "—\n" in block or "–\n" in block:
        block = _DASH_NEWLINE_RE.sub(r"\1", block)
    block = block.replace("\n", " ")
    if "  " in block:
        block = _MULTI_SPACE_RE.sub(" ", block)
    return block.strip()


def join_wrapped_lines(text: str) -> str:
    """Join hard-wrapped lines into one line per paragraph; keep verse, lists and tables as lines.

    Also tidies whitespace: one blank line between paragraphs, no trailing spaces, no common
    indentation, single spaces inside joined paragraphs, and a final newline. A line that ends
    with a hyphen or a dash joins the next without a space ("self-" + "made").
    """
    out = []
    for block in _BLANK_LINE_RE.split(text):
        if "\n" in block:
            block = block.strip("\n")
            if " \n" in block or "\t" in block:
                block = "\n".join(line.rstrip() for line in block.split("\n"))
            if "\n" in block:
                for piece in _split_indented(block) if "\n " in block else (block,):
                    out.append(_join_block(piece) if "\n" in piece else piece.strip())
                continue
        if "  " in block:
            block = _MULTI_SPACE_RE.sub(" ", block)
        block = block.strip()
        if block:
            out.append(block)
    while out and not any(c.isalnum() for c in out[0]):
        out.pop(0)  # a leading "* * *" separates nothing
    while out and not any(c.isalnum() for c in out[-1]):
        out.pop()
    if out:
        out[0] = out[0].lstrip()  # the text starts at its first word, wherever a title was centred
    return "\n\n".join(out) + "\n" if out else ""


_ASCII_MAP = {
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "«": '"', "»": '"', "‹": "'", "›": "'", "–": "-", "—": "--", "―": "--", "‐": "-", "‑": "-", "−": "-",
    "…": "...", "•": "*", "·": ".", "×": "x", "÷": "/", "½": "1/2", "¼": "1/4", "¾": "3/4",
    "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ø": "o", "Ø": "O", "ð": "d", "Ð": "D",
    "þ": "th", "Þ": "Th", "ł": "l", "Ł": "L", "£": "L", "€": "EUR", "©": "(c)", "®": "(R)", "°": " degrees",
}


def fold_ascii(text: str) -> str:
    """Fold to plain ASCII: é to e, curly quotes to straight ones, — to --; drop what has no ASCII form."""
    if text.isascii():
        return text
    cache: dict[str, str] = {}

    def fold(match: re.Match[str]) -> str:
        ch = match.group(0)
        if ch not in cache:
            plain = _ASCII_MAP.get(ch) or unicodedata.normalize("NFKD", ch)
            cache[ch] = plain.encode("ascii", errors="ignore").decode("ascii")
        return cache[ch]

    return _NON_ASCII_RE.sub(fold, text)


# --------------------------------------------------------------------------- document filters

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
TOKEN_COUNT_NOTE = "words and punctuation marks, regex \\w+|[^\\w\\s] (no tokenizer needed)"


def count_tokens(text: str) -> int:
    """A cheap token count that needs no tokenizer: words plus punctuation marks.

    On these books GPT-2's tokenizer makes about 1.1 to 1.4 times as many tokens (more for old
    spelling); good enough to filter documents by length before any tokenizer is trained.
    """
    return len(_TOKEN_RE.findall(text))


# A short list of strong English swear words; extend it with ``profanity_words``. Off by default:
# on 19th-century books it mostly removes dialogue (and misses what an old book calls rude).
DEFAULT_PROFANITY: tuple[str, ...] = ("fuck", "fucking", "fucked", "shit", "shitty", "cunt", "motherfucker", "bullshit", "asshole", "dickhead")


# --------------------------------------------------------------------------- options and results


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
    # filters on documents: the whole "book" (default) or each "paragraph"
    unit: str = "book"
    min_tokens: int = 100  # a "book" shorter than this is a stub, not a book
    max_tokens: int | None = None
    dedupe: bool = True  # drop exact repeats of a unit (a book seen twice) ...
    dedupe_min_tokens: int = 8  # ... of at least this many tokens ("Yes, sir." may repeat)
    profanity: bool = False
    profanity_words: tuple[str, ...] = DEFAULT_PROFANITY

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            if f.type == "bool" and not isinstance(getattr(self, f.name), bool):
                problems.append(f"{f.name}={getattr(self, f.name)!r}: use True or False")
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
        elif self.profanity and not self.profanity_words:
            problems.append("profanity=True with no profanity_words: add words or set profanity=False")
        if problems:
            raise ValueError("CleanOptions is invalid:\n- " + "\n- ".join(problems))
        object.__setattr__(self, "profanity_words", tuple(words))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["profanity_words"] = len(self.profanity_words)  # a count: keep word lists out of manifests
        return d


# Named option sets: the course's default for books, web-style document filters, ASCII folding.
PRESETS: dict[str, CleanOptions] = {
    "books": CleanOptions(),
    "web-documents": CleanOptions(unit="paragraph", min_tokens=10, max_tokens=2048),  # web-style documents
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
    option: str  # the CleanOptions field that switches it on
    func: Callable[..., str]
    what: str


# The order matters: decode-level fixes first, then the big cuts (licence, notes, credits),
# then markup inside the text, and joining lines last so every rule sees the original lines.
RULES: tuple[Rule, ...] = (
    Rule("newlines", "", normalize_newlines, "CRLF/CR line endings and a byte-order mark"),
    Rule("unicode", "unicode_form", normalize_unicode, "Unicode normal form, odd spaces and non-printable characters"),
    Rule("gutenberg", "gutenberg", strip_gutenberg, "Project Gutenberg header, footer and licence"),
    Rule("transcriber_notes", "transcriber_notes", remove_transcriber_notes, "transcriber's notes"),
    Rule("credits", "credits", remove_credits, '"Produced by" and other e-text credits'),
    Rule("html", "html", strip_html, "HTML tags and entities"),
    Rule("illustrations", "illustrations", remove_illustrations, "[Illustration] tags"),
    Rule("footnotes", "footnotes", remove_footnotes, "footnotes and their markers"),
    Rule("page_artifacts", "page_artifacts", remove_page_artifacts, "page numbers, rule lines, boxes, spaced-out scene breaks"),
    Rule("contents", "contents", remove_toc, "table of contents"),
    Rule("italics", "italics", remove_italics, "_italics_ markup"),
    Rule("ascii", "ascii_only", fold_ascii, "folded to ASCII (off by default)"),
    Rule("join_lines", "join_lines", join_wrapped_lines, "hard-wrapped lines joined, whitespace tidied"),
)
FILTERS: tuple[str, ...] = ("length", "duplicates", "profanity")


def _enabled(rule: Rule, options: CleanOptions) -> bool:
    return True if not rule.option else bool(getattr(options, rule.option))


def apply_rules(text: str, options: CleanOptions | None = None) -> CleanResult:
    """Run the cleaning rules (not the document filters) in order, measuring each one."""
    options = options or CleanOptions()
    result = CleanResult(text=text)
    lines = text.count("\n")
    for rule in RULES:
        removed = result.removed.setdefault(rule.name, Removed())
        if not _enabled(rule, options):
            continue
        before = result.text
        after = normalize_unicode(before, options.unicode_form) if rule.name == "unicode" else rule.func(before)
        if after is before or (len(after) == len(before) and after == before):
            continue
        after_lines = after.count("\n")
        removed.chars += len(before) - len(after)
        removed.lines += lines - after_lines
        result.text, lines = after, after_lines
    if not options.join_lines:  # still end with the same tidy layout
        tidy = _tidy(result.text)
        result.removed["join_lines"].add(result.text, tidy)
        result.text = tidy
    return result


def _tidy(text: str) -> str:
    blocks = ["\n".join(line.rstrip() for line in b.strip("\n").split("\n")) for b in re.split(r"\n[ \t]*\n", text)]
    blocks = [b for b in blocks if b.strip()]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _at_least_tokens(text: str, n: int) -> bool:
    """``count_tokens(text) >= n``, without counting a whole book: n words are enough."""
    return len(text.split(None, n)) > n or count_tokens(text) >= n


def filter_documents(text: str, options: CleanOptions | None = None, *, seen: set[int] | None = None) -> CleanResult:
    """Drop documents (paragraphs, or the whole book) by token length, exact repeats and profanity.

    ``seen`` carries the hashes of documents already kept, so repeats across books are found too.
    """
    options = options or CleanOptions()
    result = CleanResult(text=text, removed={name: Removed() for name in FILTERS}, units_dropped={name: 0 for name in FILTERS})
    seen = set() if seen is None else seen
    units = [text.strip("\n")] if options.unit == "book" else text.strip("\n").split("\n\n")
    units = [u for u in units if u.strip()]
    profane = re.compile(r"\b(?:" + "|".join(map(re.escape, options.profanity_words)) + r")\b", re.I) if options.profanity else None
    kept = []
    for unit in units:
        reason = None
        if (options.min_tokens and not _at_least_tokens(unit, options.min_tokens)) or (
            options.max_tokens is not None and len(unit) > options.max_tokens and count_tokens(unit) > options.max_tokens
        ):
            reason = "length"
        elif profane is not None and profane.search(unit):
            reason = "profanity"
        elif options.dedupe and _at_least_tokens(unit, options.dedupe_min_tokens):
            key = hash(unit)
            if key in seen:
                reason = "duplicates"
            else:
                seen.add(key)
        if reason is None:
            kept.append(unit)
        else:
            result.units_dropped[reason] += 1
            result.removed[reason].chars += len(unit) + 2
            result.removed[reason].lines += unit.count("\n") + 2
    result.text = "\n\n".join(kept) + "\n" if kept else ""
    # the last paragraph has no blank line after it: count exactly what changed
    total = Removed()
    total.add(text, result.text)
    extra_c = sum(r.chars for r in result.removed.values()) - total.chars
    extra_l = sum(r.lines for r in result.removed.values()) - total.lines
    for name in FILTERS:  # charge the rounding to the first filter that removed something
        if result.units_dropped[name]:
            result.removed[name].chars -= extra_c
            result.removed[name].lines -= extra_l
            break
    return result


def clean_text(text: str, options: CleanOptions | None = None, *, seen: set[int] | None = None) -> CleanResult:
    """Clean one book's text: every rule in ``RULES`` in order, then the document filters.

    Returns the clean text (UTF-8-ready, LF, paragraphs separated by one blank line) and what
    each rule and filter removed. Cleaning clean text again changes nothing.
    """
    options = options or CleanOptions()
    ruled = apply_rules(text, options)
    filtered = filter_documents(ruled.text, options, seen=seen)
    return CleanResult(text=filtered.text, removed={**ruled.removed, **filtered.removed}, units_dropped=filtered.units_dropped)


# --------------------------------------------------------------------------- the clean stage


def clean_file(path: str | os.PathLike[str], options: CleanOptions | None = None, *, seen: set[int] | None = None) -> tuple[CleanResult, str]:
    """Decode and clean one file; returns (result, encoding). Raises UndecodableError for non-text."""
    text, encoding = decode_bytes(Path(path).read_bytes())
    return clean_text(text, options, seen=seen), encoding


def build_clean(profile: Profile, *, local_folder: str | os.PathLike[str] | None = None, options: CleanOptions | None = None) -> Path:
    """Clean every book of the raw stage into ``data/clean/<book_id>.txt`` and write the manifest.

    With ``local_folder``, the raw stage is first rebuilt from that folder of .txt files. A file
    that cannot be decoded, or that the filters drop, is skipped and listed with its reason; the
    rest are cleaned. The manifest is written last, so a half-built stage never looks current.
    """
    from tqdm.auto import tqdm


    options = options or CleanOptions()
    if local_folder is not None:
        sources.build_raw(profile, local_folder=local_folder)
    else:
        artifacts.ensure("raw", profile, quiet=True)
    raw = artifacts.read_manifest("raw")
    out_dir = artifacts.stage_dir("clean")
    skipped: list[dict[str, Any]] = [dict(s) for s in raw.get("skipped", [])]
    books: list[dict[str, Any]] = []
    seen: set[int] = set()
    totals = {name: Removed() for name in [r.name for r in RULES] + list(FILTERS)}
    for entry in tqdm(raw["books"], desc="cleaning", unit="book", disable=len(raw["books"]) < 10):
        path = sources.raw_book_path(entry)
        try:
            result, encoding = clean_file(path, options, seen=seen)
        except (UndecodableError, OSError) as err:
            skipped.append({"book_id": entry["book_id"], "path": entry.get("source", str(path)), "reason": str(err)})
            log.warning("skipped %s: %s", entry["book_id"], err)
            continue
        if not result.text.strip():
            reason = _why_empty(result, options)
            skipped.append({"book_id": entry["book_id"], "path": entry.get("source", str(path)), "reason": reason})
            log.warning("skipped %s: %s", entry["book_id"], reason)
            continue
        name = f"{entry['book_id']}.txt"
        artifacts.write_text_atomic(out_dir / name, result.text)
        for rule, removed in result.removed.items():
            totals[rule].chars += removed.chars
            totals[rule].lines += removed.lines
        books.append(
            {
                "book_id": entry["book_id"],
                "title": entry["title"],
                "author": entry["author"],
                "file": name,
                "chars": len(result.text),
                "bytes": len(result.text.encode("utf-8")),
                "lines": result.text.count("\n"),
                "paragraphs": result.text.count("\n\n") + 1,
                "tokens_estimate": count_tokens(result.text),
                "encoding": encoding,
                "raw_bytes": entry.get("bytes"),
                "raw_chars": len(result.text) + result.removed_chars,
                "raw_sha256": entry.get("sha256"),
                "removed": result.removed_dict(),
                "units_dropped": result.units_dropped,
            }
        )
    if not books:
        raise ValueError(
            "no book could be cleaned: "
            + "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in skipped)
            + ". Give it plain-text books (UTF-8, Windows-1252 or Latin-1 .txt files)."
        )
    keep = {b["file"] for b in books}
    for old in out_dir.glob("*.txt"):
        if old.name not in keep:
            old.unlink()  # a book from an earlier build that is not part of this one
    artifacts.write_manifest(
        "clean",
        profile,
        {
            "books": books,
            "skipped": skipped,
            "totals": {
                "books": len(books),
                "chars": sum(b["chars"] for b in books),
                "bytes": sum(b["bytes"] for b in books),
                "raw_chars": sum(b["raw_chars"] for b in books),
                "tokens_estimate": sum(b["tokens_estimate"] for b in books),
                "removed": {name: asdict(r) for name, r in totals.items()},
            },
            "options": options.to_dict(),
            "rules": [r.name for r in RULES] + list(FILTERS),
            "token_count": TOKEN_COUNT_NOTE,
            "origin": raw.get("origin"),
        },
    )
    return out_dir


def _why_empty(result: CleanResult, options: CleanOptions) -> str:
    if result.units_dropped.get("duplicates"):
        return "an exact duplicate of a book cleaned before it"
    if result.units_dropped.get("length"):
        return f"too short once cleaned (fewer than min_tokens={options.min_tokens} tokens)"
    if result.units_dropped.get("profanity"):
        return "dropped by the profanity filter"
    return "nothing left after cleaning"
