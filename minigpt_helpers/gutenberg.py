"""Gutenberg: the rules that take a Project Gutenberg e-text's apparatus out of the book.

The licence header and footer, e-text credits, transcriber's notes, ``[Illustration]`` tags,
footnotes, page numbers, tables of contents, ``_italics_`` markup and hard-wrapped lines: each
is one function ``str -> str`` that ``cleaning.RULES`` runs in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate, islice, pairwise
from typing import Any

# --------------------------------------------------------------------------- blocks

# Blank-line separated blocks with their separators, [block, sep, block, ..., block]: a rule that
# drops blocks leaves everything else byte for byte as it was.
_SEPARATOR_RE = re.compile(r"(\n[ \t]*\n(?:[ \t]*\n)*)")


def _drop_blocks(parts: list[str], drop: set[int]) -> str:
    """Join split parts without the blocks (even indexes) in ``drop`` and the separator after each."""
    return "".join(part for i, part in enumerate(parts) if i - i % 2 not in drop)


def _front_limit(text: str) -> int:
    """Where the front matter (title page, credits, notes) can end, in characters."""
    return max(20_000, min(len(text) // 6, 60_000))


def _split_front(text: str) -> tuple[list[str], str]:
    """The front matter as split blocks, and the rest of the text untouched."""
    cut = text.find("\n\n", _front_limit(text))
    cut = len(text) if cut < 0 else cut
    return _SEPARATOR_RE.split(text[:cut]), text[cut:]


def _drop_front(text: str, is_apparatus: Callable[[str], Any]) -> str:
    """Remove the blocks of the front matter for which ``is_apparatus`` is true."""
    parts, rest = _split_front(text)
    return _drop_blocks(parts, {i for i in range(0, len(parts), 2) if is_apparatus(parts[i])}) + rest


def _back_start(text: str, share: float = 0.2, most: int = 80_000) -> int:
    """Where the back matter can start: the last ``share`` of the text (at least 20,000 characters,
    at most ``most``), and always in the second half."""
    return max(len(text) - max(20_000, min(int(len(text) * share), most)), len(text) // 2)


def _cases(*words: str) -> str:
    """A regex alternative for each word as Title, lower and UPPER case (faster than re.IGNORECASE)."""
    out = []
    for w in words:
        out += [w, w[0].upper() + w[1:], w[0].lower() + w[1:], w.upper()]
    return "(?:" + "|".join(dict.fromkeys(out)) + ")"


def _line_at(text: str, pos: int) -> tuple[int, str]:
    """(start, text) of the line that holds ``pos``."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, text[start : end if end >= 0 else len(text)]


# --------------------------------------------------------------------------- the rules


_START_RE = re.compile(r"[ \t]*\*{3}[ \t]*START OF TH(?:IS|E) PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b[^\n]*")
_SMALL_PRINT_END_RE = re.compile(r"[ \t]*\*END\*?[ \t]*THE SMALL PRINT![^\n]*")
_FOOTER_LINE_RE = re.compile(
    r"[ \t]*(?:\*{3}[ \t]*END OF TH(?:IS|E) PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b"
    r"|End of (?:the |this )?Project Gutenberg\b|\*{3}[ \t]*START\*{2}THE SMALL PRINT)",
    re.IGNORECASE,
)
_PG_SPELLINGS = ("PROJECT GUTENBERG", "Project Gutenberg", "Project gutenberg", "project gutenberg", "SMALL PRINT")
# The First Folio etexts open with a note from Project Gutenberg's director after the licence.
_DIRECTOR_NOTES_RE = re.compile(r"Executive Director's Notes:.*?\nExecutive Director[ \t]*\n(?:[ \t]*\n)*(?:\*{3}[ \t]*\n)?", re.DOTALL)


@dataclass(frozen=True)
class GutenbergBounds:
    """Where the book is inside a Gutenberg file, and which header and footer styles were found."""

    start: int  # first character after the header
    end: int  # first character of the footer (len(text) when there is none)
    header: str  # "start-marker", "small-print" or "none"
    footer: str  # "end-marker", "end-line", "small-print" or "none"


def gutenberg_bounds(text: str) -> GutenbergBounds:
    """The end of the header (the ``*** START OF THE/THIS PROJECT GUTENBERG EBOOK`` line, else the
    end of the 1990s "Small Print!" licence) and the start of the footer (the first ``*** END OF``
    line, ``End of the Project Gutenberg EBook`` line or Small Print licence after it), if any."""
    start, header = _header_end(text)
    end, footer = _footer_start(text, start)
    return GutenbergBounds(start, end, header, footer)


def _header_end(text: str) -> tuple[int, str]:
    # Plain substring searches first (fast), then a regex on the one line found.
    head = text[:200_000]
    for pos in sorted(p for p in (head.find("START OF THE PROJECT"), head.find("START OF THIS PROJECT")) if p >= 0):
        line_start, line = _line_at(text, pos)
        if _START_RE.match(line):
            start = line_start + len(line)
            if "***" not in line[line.find("START") :]:  # the title and closing *** wrapped onto the next line(s)
                for _ in range(2):
                    nxt = text.find("\n", start + 1)
                    nxt = nxt if nxt >= 0 else len(text)
                    following, start = text[start + 1 : nxt], nxt
                    if following.rstrip().endswith("***"):
                        break
            return start, "start-marker"
    pos = head.find("THE SMALL PRINT!", 0, len(text) // 2)
    while pos >= 0:
        line_start, line = _line_at(text, pos)
        if _SMALL_PRINT_END_RE.search(line):
            return line_start + len(line), "small-print"
        pos = head.find("THE SMALL PRINT!", pos + 1, len(text) // 2)
    return 0, "none"


def _footer_start(text: str, start: int) -> tuple[int, str]:
    end, footer = len(text), "none"
    for spelling in _PG_SPELLINGS:
        pos = text.find(spelling, start, end)
        while pos >= 0:
            line_start, line = _line_at(text, pos)
            match = _FOOTER_LINE_RE.match(line)
            if match and line_start >= start:
                end, kind = line_start, match.group(0).strip().upper()
                footer = "end-marker" if kind.startswith("***") and "END" in kind else "small-print" if "SMALL PRINT" in kind else "end-line"
                break
            pos = text.find(spelling, pos + 1, end)
    return end, footer


def strip_gutenberg(text: str) -> str:
    """Remove the Project Gutenberg header, footer and licence, and PG notes in the front matter."""
    bounds = gutenberg_bounds(text)
    body = text[bounds.start : bounds.end]
    if "Executive Director's Notes:" in body[: _front_limit(body)]:
        body = _DIRECTOR_NOTES_RE.sub("", body, count=1)
    # paragraphs near the top that talk about Project Gutenberg ("Note: ... also has an HTML version")
    return _drop_front(body, lambda block: "gutenberg" in block.lower())


_CREDIT_RE = re.compile(
    r"\W{0,3}(?:(?:This |The )?(?:e-?text|etext|e-?book|ebook|file) (?:was |is )?(?:produced|prepared|scanned|transcribed|created|digiti[sz]ed)"
    r"|Produced by|Prepared by|E-?text prepared|Transcribed (?:from|by)|Scanned (?:by|from)|Digiti[sz]ed by"
    r"|HTML version|Proofread by|Proofing by|Updated editions|Copyright \(C\)|(?:A|THE) Millennium Fulcrum)",
    re.IGNORECASE,
)
# words that only an e-text's own credits use (checked on the lower-cased paragraph)
_CREDIT_WORDS = ("distributed proof", "pgdp.net", "internet archive", "http://", "https://", "www.", "email", "e-mail", "@", "hathitrust", "google print", "html", "fulcrum edition")
_ETEXT_RE = re.compile(r"\b(?:e-?texts?|e-?books?)\b")  # a note about the electronic edition, whatever its length


def _is_credit(block: str) -> bool:
    block = block.strip()
    low = block.lower()
    etext = ("etext" in low or "e-text" in low or "ebook" in low or "e-book" in low) and _ETEXT_RE.search(low)
    return bool(block) and bool(etext or _CREDIT_RE.match(block) or (len(block) < 600 and any(w in low for w in _CREDIT_WORDS)))


def remove_credits(text: str) -> str:
    """Remove "Produced by ..." and other e-text credits (scanner, transcriber, HTML version) near the top."""
    return _drop_front(text, _is_credit)


_NOTE_HEAD = (
    r"(?:" + _cases("Original", "Project Gutenberg", "Etext", "E-text") + r" )?"
    + _cases("Transcriber", "Transcribers", "Scanner", "Preparer", "Editor", "Producer", "Updater") + r"(?:['’]?[sS])?[ \t]+"
    + _cases("Note", "Notes") + r"\b"
)
_NOTE_START_RE = re.compile(r"[ \t]*[\[(|]?[ \t]*(?:" + _NOTE_HEAD + r"|Note from the original file|Note:)")
_INLINE_NOTE_RE = re.compile(r"[\[(][ \t]*" + _NOTE_HEAD + r"[^\])]*[\])]")
_BACK_NOTE_RE = re.compile(r"\n[ \t|]*(?:" + _NOTE_HEAD + r"|Typographical errors corrected|List of (?:changes|corrections)\b|Corrections made)")
_ETEXT_WORDS_RE = re.compile(r"e-?text|e-?book|\bfile\b|\bHTML\b|Gutenberg|transcri|edition", re.IGNORECASE)
# an inline note is looked for only where a bracket opens with one of these words (fast)
_BRACKET_WORD_RE = re.compile(r"[\[(][ \t]*([A-Za-z][A-Za-z-]*)")
_NOTE_FIRST_WORDS = {"original", "project", "etext", "e-text", "transcriber", "transcribers", "scanner", "preparer", "editor", "producer", "updater"}
_WORD_RE = re.compile(r"[^\W\d_]+")
_NAME_WORD_RE = re.compile(r"[A-Z][a-z]*\.?")


def _is_prose(block: str) -> bool:
    """A block of running sentences (not a heading, a title line or a list of names)."""
    words = _WORD_RE.findall(block)
    if len(words) < 4 or sum(map(len, words)) < 20 or sum(w[0].isupper() for w in words) > 0.5 * len(words):
        return False
    return block.strip().count("\n") >= 1 or block.rstrip()[-1] in ".!?:;)\"'”’]"


def _is_signature(block: str) -> bool:
    """A name on its own line ("David Reed") that signs a note."""
    words = block.split()
    return "\n" not in block.strip() and 2 <= len(words) <= 3 and all(_NAME_WORD_RE.fullmatch(w) for w in words)


def remove_transcriber_notes(text: str) -> str:
    """Remove transcriber's (scanner's, editor's) notes: inline in brackets; at the top, with the
    prose paragraphs and signature that follow; and at the end, where a note heading ("Typographical
    errors corrected") starts a list of corrections that runs to the end."""
    out, pos = [], 0
    for candidate in _BRACKET_WORD_RE.finditer(text):
        if candidate.group(1).lower() in _NOTE_FIRST_WORDS and candidate.start() >= pos:
            match = _INLINE_NOTE_RE.match(text, candidate.start())
            if match:
                out.append(text[pos : match.start()])
                pos = match.end()
    text = "".join(out) + text[pos:]
    for match in _BACK_NOTE_RE.finditer(text, _back_start(text)):
        _, line = _line_at(text, match.start() + 1)
        if "]" not in line and ")" not in line:  # a heading, not a bracketed one-off
            text = text[: match.start() + 1]
            break
    parts, rest = _split_front(text)
    drop, i = set(), 0
    while i < len(parts):
        stripped = parts[i].strip()
        if not _NOTE_START_RE.match(parts[i]) or (stripped.lower().startswith(("note:", "[note:")) and not _ETEXT_WORDS_RE.search(parts[i])):
            i += 2
            continue
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
    return _drop_blocks(parts, drop) + rest


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
    """Remove ``[Footnote 1: ...]`` blocks, notes that start with ``[1]``, ``{12}`` or ``12 (return)``,
    a FOOTNOTES heading, and the markers ``[2]`` or ``[A]`` of the notes the book defines (so
    ``the[m]selues`` in Shakespeare and "A Boston Ballad [1854]" stay as printed)."""
    labels: set[str] = set()
    if "[" in text:
        labels.update(m.group(1).lower() for m in _FOOTNOTE_BLOCK_RE.finditer(text))
        text = _FOOTNOTE_BLOCK_RE.sub("", text)

    def definition(match: re.Match[str]) -> str:
        labels.add((match.group(1) or match.group(2) or match.group(3)).lower())
        return ""

    # an endnotes section near the end ("NOTES", then "[1] ..."), whose notes can run over
    # several paragraphs: the heading and everything after it go
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
    """Remove page numbers (``{12}``, ``[Pg 12]``), rule lines and box borders; scene breaks of
    asterisks become one ``* * *`` line. Bare numbers on a line stay: here they number chapters."""
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
    re.IGNORECASE,
)
_PAGE_REF_RE = re.compile(r"(?:[ \t]{2,}|[ \t]*(?:\.[ \t]*){2,})(?:[0-9ivxlcIVXLC]+(?:[-–][0-9ivxlcIVXLC]+)?)\.?[ \t]*$")
_HEADER_WORDS = {"page", "pages", "chapter", "chap", "part", "no", "contents", "page."}
_NON_WORD_RE = re.compile(r"[\W_]+")


def _norm_line(line: str) -> str:
    return " ".join(_NON_WORD_RE.sub(" ", line).split()).casefold()


@dataclass(frozen=True)
class _Entry:
    """A line of a table of contents, normalised: "chapter i down the rabbit hole"."""

    full: str
    label: str  # "chapter i", "" when it has none
    name: str  # "down the rabbit hole"
    worded: bool  # the label has a word ("chapter i", not just "i")


def _entry(line: str) -> _Entry:
    line = _PAGE_REF_RE.sub("", line.strip())
    match = _LABEL_RE.match(line)
    if not match:
        return _Entry(_norm_line(line), "", _norm_line(line), False)
    return _Entry(_norm_line(line), _norm_line(match.group(0)), _norm_line(line[match.end() :]), bool(match.group(1)))


def remove_toc(text: str) -> str:
    """Remove a table of contents where it can be recognised: from a ``CONTENTS`` heading up to
    where its first entry ("CHAPTER I. Down the Rabbit-Hole") is printed again, whole or in part,
    before the first paragraph of prose; else nothing."""
    search_from = 0
    while match := _CONTENTS_RE.search("\n" + text, search_from, _front_limit(text)):
        start = match.start()  # in text: the newline before the heading
        cut = _toc_end(text, match.end() - 1)
        if cut is None:
            search_from = match.end()
        else:
            text = text[:start] + text[cut - 1 :] if start > 0 else text[cut:]
            search_from = start
    return text


def _toc_end(text: str, after: int) -> int | None:
    """Where the book resumes after a table of contents that starts at ``after``, or None."""
    lines = text[after : after + _TOC_WINDOW].split("\n")
    offsets = list(accumulate((len(line) + 1 for line in lines[:-1]), initial=after))
    candidates = (k for k, line in enumerate(lines) if line.strip() and not set(_norm_line(line).split()) <= _HEADER_WORDS)
    entries = list(islice(candidates, 2))  # the first two entries, column headers such as "PAGE" skipped
    if len(entries) < 2:
        return None
    end = _first_prose(lines)
    k = _first_entry_again(lines, entries, end)
    if k is None and end < len(lines):
        # the book may open with something the table does not list (a preface): cut at the last
        # wide gap (two or more blank lines) before the first paragraph of prose
        gaps = (j for j in range(end - 1, entries[1], -1) if lines[j].strip() and not lines[j - 1].strip() and not lines[j - 2].strip())
        k = next(gaps, None)
    return None if k is None else offsets[k]


def _first_prose(lines: list[str]) -> int:
    """The first line of the first paragraph of wrapped prose (len(lines) if none): the table ends before it."""
    block: list[str] = []
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
            return k - len(block)
        block = []
    return len(lines)


def _first_entry_again(lines: list[str], entries: list[int], end: int) -> int | None:
    """The line before ``end`` where the table's first entry is printed again, or None."""
    first = _entry(lines[entries[0]])
    both = _norm_line(lines[entries[0]] + " " + lines[entries[1]])
    name_start = " ".join(first.name.split()[:5]) + " " if len(first.name.split()) >= 6 else None
    for k in range(entries[0] + 1, end):
        if not lines[k].strip():
            continue
        here = _entry(lines[k])
        if here.full in (first.full, both) or (first.worded and here.full == first.label):
            return k
        if (len(first.name) > 3 and here.name == first.name) or (name_start and here.name.startswith(name_start)):
            prev = k - 1  # the name found: its label may stand on the line above ("Chapter 1" / "NAME")
            while prev > entries[0] and not lines[prev].strip():
                prev -= 1
            above = _entry(lines[prev])
            return prev if not here.label and above.label and not above.name else k
    return None


_ITALICS_RE = re.compile(r"_(?<![\w_]_)(?=[^\s_])([^_|]{0,3000})(?<=[^\s_])_(?![\w_])")
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")


def _unitalic(match: re.Match[str]) -> str:
    inner = match.group(1)
    return match.group(0) if "\n" in inner and _BLANK_LINE_RE.search(inner) else inner


def remove_italics(text: str) -> str:
    """``_very_`` becomes ``very``. The underscores must hug a word and sit in one paragraph, so
    ``snake_case``, a blank ``______`` and a stray ``_`` are left alone."""
    return _ITALICS_RE.sub(_unitalic, text) if "_" in text else text


_MULTI_SPACE_RE = re.compile(r"  +")
_INDENT_RE = re.compile(r"\n( *)")
_COLUMNS_RE = re.compile(r"[^ \n] {3,}[^ \n]")
_DASH_NEWLINE_RE = re.compile(r"([-—–])\n[ \t]*")


def _wrapped(block: str, lines: list[str]) -> bool:
    """True when a block of two or more lines is one hard-wrapped paragraph, not verse (short lines,
    changing indentation, capitals at the start of nearly every line) nor a table (columns)."""
    indented = "\n " in block or block.startswith(" ")
    if len(lines) == 2:
        if len(lines[0].lstrip() if indented else lines[0]) < 45:
            return False
    else:
        lengths = sorted(len(line.lstrip()) if indented else len(line) for line in lines[:-1])
        if lengths[0] < 40 or lengths[len(lengths) // 2] < 45:
            return False
    if indented and len(set(_INDENT_RE.findall(block))) > 1:
        return False  # verse with indented lines
    if "   " in block and _COLUMNS_RE.search(block):
        return False  # columns: a table or a list of chapters
    n = len(lines) - 1  # verse when 3 lines in 4 after the first start with a capital
    return n < 2 or sum(not line.lstrip()[:1].isupper() for line in lines[1:]) > n / 4


def _split_indented(block: str) -> list[str]:
    """Split a block whose paragraphs start with an indented line, not a blank line; only long,
    wrapped lines qualify, so verse that indents every other line stays as it is."""
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
    pieces = [lines[a:b] for a, b in pairwise(bounds)]
    if all(len(p) == 1 or _wrapped("\n".join(p), p) for p in pieces):
        return ["\n".join(p) for p in pieces]
    return [block]


def _join_block(block: str) -> str:
    """One right-stripped block of two or more lines: joined into one line, or kept as lines."""
    lines = block.split("\n")
    if not _wrapped(block, lines):
        indent = min(len(line) - len(line.lstrip()) for line in lines)
        return "\n".join(line[indent:] for line in lines) if indent else block
    if "-\n" in block or "—\n" in block or "–\n" in block:
        block = _DASH_NEWLINE_RE.sub(r"\1", block)
    block = block.replace("\n", " ")
    return (_MULTI_SPACE_RE.sub(" ", block) if "  " in block else block).strip()


def join_wrapped_lines(text: str) -> str:
    """Join hard-wrapped lines into one line per paragraph ("self-" + "made" without a space);
    keep verse, lists and tables as lines. Also tidies whitespace: one blank line between
    paragraphs, no trailing spaces or common indentation, single spaces, a final newline."""
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
        block = (_MULTI_SPACE_RE.sub(" ", block) if "  " in block else block).strip()
        if block:
            out.append(block)
    while out and not any(c.isalnum() for c in out[0]):
        out.pop(0)  # a leading or trailing "* * *" separates nothing
    while out and not any(c.isalnum() for c in out[-1]):
        out.pop()
    if out:
        out[0] = out[0].lstrip()  # the text starts at its first word, wherever a title was centred
    return "\n\n".join(out) + "\n" if out else ""
