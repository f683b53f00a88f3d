# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/01_cleaning.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 01 · Cleaning: books in, clean text out
#
# A language model learns whatever text you give it. Feed it Project Gutenberg files as they
# come and it learns, once per book, the 3,000 words of the Gutenberg licence, volunteers'
# names, `[Illustration]` tags, footnote numbers and lines broken at 70 characters. In this
# notebook you separate the books from that noise, one rule at a time, and you write the first
# rule yourself: where a book starts and ends inside its Gutenberg file.
#
# You will decode bytes into text, cut the Gutenberg header and licence (exercise 1), meet the
# other rules on a made-up page, check your cut and the package's rules against the package's
# cleaner on every book, then clean every book and see what each rule removed.
#
# **Reads** the profile's books (downloaded, or the offline copies in `MINIGPT_DATASETS_DIR`)
# into `data/raw/`. **Writes** `data/clean/<book_id>.txt` (UTF-8, one paragraph per line, a
# blank line between paragraphs) and `data/clean/manifest.json` (per book: title, what each rule
# removed; corpus totals; skipped files), which 02 and 03 read.
#
# Expected runtime:
# - `ci` (3 short books, the test suite): a few seconds
# - `cpu` (33 books on a 2-core laptop CPU): under a minute
# - `gpu` (the same 33 books; nothing here uses the GPU): under a minute
#
# **Core path:** sections 1 to 5, 7, 8 and 10. Sections 6 (filters from web-text pipelines) and
# 9 (junk files in your own folder) are optional.

# %%
# Setup (the same cell opens every notebook). On Colab it installs the course's package from
# GitHub, keeping Colab's own torch; locally `python tasks.py setup` did that.
# To pick a profile, set MINIGPT_PROFILE (ci, cpu or gpu) before running this cell.
REPO = "minigpt-course/minigpt-from-books"  # on GitHub; a fork: its owner/name
DRIVE = False  # on Colab, True keeps data/ on your Google Drive: it survives a new runtime
import importlib.util, os, subprocess, sys

if "google.colab" in sys.modules:
    url = os.environ.get("MINIGPT_REPO", REPO)
    url = url if ":" in url else f"https://github.com/{url}"
    print(f"installing minigpt-helpers from {url} ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"minigpt-helpers @ git+{url}"],
                         capture_output=True, text=True)
    if pip.returncode:
        print((pip.stdout + pip.stderr)[-3000:])
        raise SystemExit(f"the package could not be installed from {url}: if you work on a fork, put its "
                         "owner/name in REPO above (or set MINIGPT_REPO), or run `python tasks.py repo "
                         "owner/name` in your fork")
elif importlib.util.find_spec("minigpt_helpers") is None:  # a checkout used without installing
    repo_root = os.path.abspath("..")
    sys.path.insert(0, repo_root)
    # cells that run `python -m minigpt_helpers` start a new Python, which needs the path too
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [repo_root, os.environ.get("PYTHONPATH")]))

from minigpt_helpers.notebook import start

PROFILE = start("01_cleaning", drive=DRIVE)

# %% [markdown]
# ## 1. The raw books
#
# `ensure("raw", ...)` fetches the profile's books into `data/raw/` once, recording where each
# came from and its SHA-256, and does nothing when they are already there. The files are kept
# exactly as they arrived: decoding and cleaning are this notebook's job.
#
# **Your own books.** Set `MINIGPT_BOOKS` to a folder of plain-text books (`.txt`, UTF-8,
# Windows-1252 or Latin-1) and this notebook, and every later one, works on them instead:
# `python3 tasks.py course --books FOLDER` sets it for the whole course, or set
# `os.environ["MINIGPT_BOOKS"]` before `start` in the setup cell of every notebook you open.
# `MINIGPT_GUTENBERG_IDS=1342,84,11` picks other Project Gutenberg books. A later notebook
# opened with another choice stops and says so, rather than mixing two libraries.

# %%
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt

from minigpt_helpers import artifacts, cleaning, lessons, sources, stages
from minigpt_helpers.checks import check, check_between, exercise
from minigpt_helpers.notebook import figure

# %%
if artifacts.corpus_mismatch(PROFILE):  # your settings chose other books than those on disk: fetch them
    stages.build_raw(PROFILE)
stages.ensure("raw", PROFILE)
raw_books = artifacts.read_manifest("raw")["books"]
for b in raw_books[:5]:
    print(f"{b['book_id']:>8}  {b['bytes']:>9,} bytes  {b['title'][:50]}")
print(f"... {len(raw_books)} books, {sum(b['bytes'] for b in raw_books) / 1e6:.1f} MB")

# %% [markdown]
# ## 2. From bytes to text
#
# A file is bytes; text is what you get after choosing an encoding. Gutenberg serves most books
# as UTF-8 *with a byte-order mark* (three bytes, `EF BB BF`, that mean "this is UTF-8") and
# Windows line endings (`\r\n`). Older files are Latin-1, or Windows-1252, which is Latin-1 plus
# curly quotes, dashes and `…` in the bytes `0x80`-`0x9F`. Decode with the wrong one and you
# get either an error or *mojibake*: quietly wrong characters that a model then learns.

# %%
sample = "“Café” — naïve…\r\n"
as_utf8_bom = b"\xef\xbb\xbf" + sample.encode("utf-8")
as_cp1252 = sample.encode("cp1252")
print("UTF-8 bytes read as Windows-1252:", repr(as_utf8_bom.decode("cp1252", errors="replace")))
try:
    as_cp1252.decode("utf-8")
except UnicodeDecodeError as err:
    print("Windows-1252 bytes read as UTF-8:", err)

# %% [markdown]
# The rule `decode_bytes` follows: a byte-order mark decides; else strict UTF-8 (a random
# byte sequence is almost never valid UTF-8, so success is strong evidence); else, when the
# file is mostly valid UTF-8 with a few stray bytes, read just those as Windows-1252; else
# Windows-1252 for the whole file (called Latin-1 when no byte falls in `0x80`-`0x9F`). Bytes
# that are none of these are not text: the file is refused with a message that says what to do.

# %%
latin = "Le café naïf, señor «García»\n".encode("latin-1")
for data in (as_utf8_bom, as_cp1252, latin):
    text, encoding = cleaning.decode_bytes(data)
    print(f"{encoding:>17}: {text!r}")
check(cleaning.decode_bytes(as_cp1252)[0] == sample, "Windows-1252 bytes decode to the original text")
check(cleaning.decode_bytes(as_utf8_bom) == (sample, "utf-8 (with BOM)"), "the BOM is read, and dropped")

# %%
garbage = bytes([0x81, 0x8D, 0x9D, 0xFF, 0xFE, 0x90]) * 20
try:
    cleaning.decode_bytes(garbage)
    check(False, "random bytes should be refused")
except cleaning.UndecodableError as err:
    check("save it as UTF-8" in str(err), "undecodable bytes are refused with a fix to try", str(err))
    print("  message:", err)

# %% [markdown]
# Decode every raw book, and turn Windows line endings into `\n` so that every later rule sees
# one kind of line break:

# %%
raw_texts = {}
for b in raw_books:
    try:
        text, _ = cleaning.decode_bytes(sources.raw_book_path(b).read_bytes())
        raw_texts[b["book_id"]] = cleaning.normalize_newlines(text)
    except cleaning.UndecodableError as err:
        print(f"{b['book_id']}: {err}; build_clean will skip it")
BOOK = next(b for b in raw_books if b["book_id"] in raw_texts)
raw = raw_texts[BOOK["book_id"]]
print(f"{len(raw_texts)} books decoded; the first, {BOOK['title']!r}, has {len(raw):,} characters")

# %% [markdown]
# ## 3. Where does the book start and end?
#
# Every Gutenberg file wraps the book in Project Gutenberg's own text: a header with the title
# and release date, a `*** START OF ...` marker, the book, a footer line or two, and the full
# licence.

# %%
figure("gutenberg_file")

# %% [markdown]
# Here are the first lines of the first book, and every line of it that looks like a marker:

# %%
print("\n".join(line for line in raw.split("\n")[:25] if line.strip()))
print("\n...\n")
for number, line in enumerate(raw.split("\n")):
    marker = "START OF" in line or "END OF" in line or line.strip().lower().startswith("end of")
    if marker and "gutenberg" in line.lower():
        print(f"line {number:>6}: {line[:90]}")

# %% [markdown]
# **Exercise 1: where the book is.** Write `book_bounds(text)` that returns `(start, end)`,
# two positions in `text` (a whole file with `\n` line endings) such that `text[start:end]` is
# the book:
#
# - `start` is just after the START marker: `*** START OF THE PROJECT GUTENBERG EBOOK ... ***`
#   (`THIS` instead of `THE` in older files; sometimes no space after the `***`). A long title
#   can wrap the marker onto a second line, which then ends with `***`;
# - `end` is where the footer begins: the first line after the start that begins (after any
#   indentation) with `*** END OF THE PROJECT GUTENBERG` (or `THIS`, or `***END`), or with
#   `End of the Project Gutenberg` or `End of Project Gutenberg` (any case); `len(text)` if
#   there is no such line.
#
# Leading and trailing blank lines do not matter. `re.search(pattern, text, re.M)` (with `re.M`,
# `^` matches at the start of every line), `str.find` and `str.index` are all you need. The check
# tries four made-up files, then compares your cut with the package's `gutenberg_bounds` on every
# book of this profile that has a START marker.

# %%
book_bounds = None  # your answer: def book_bounds(text): ... return start, end

FAKE_FILES = {  # made-up files in the styles your rule must handle; the book is always "Book."
    "older": "Title: X\n\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n\nBook.\n\n*** END OF THIS PROJECT GUTENBERG EBOOK X ***\nLicence\n",
    "no spaces": "***START OF THE PROJECT GUTENBERG EBOOK X***\nBook.\n***END OF THE PROJECT GUTENBERG EBOOK X***\n",
    "end line": "*** START OF THE PROJECT GUTENBERG EBOOK X ***\nBook.\nEnd of the Project Gutenberg EBook of X\n*** END OF THE ...\n",
    "wrapped": "*** START OF THIS PROJECT GUTENBERG EBOOK A LONG\nTITLE ***\nBook.\n    *** END OF THIS PROJECT GUTENBERG EBOOK A\n",
}


def test_book_bounds(rule):
    def cut(text, name):
        try:
            start, end = rule(text)
        except Exception as err:  # a crash in your rule fails the check, it does not stop the notebook
            raise AssertionError(f"on {name}, book_bounds raised {err!r}") from err
        return start, end

    for style, text in FAKE_FILES.items():
        start, end = cut(text, f"made-up file '{style}'")
        assert text[start:end].strip() == "Book.", f"made-up file '{style}': your cut is {text[start:end]!r}, not just 'Book.'"
    compared = 0
    for book_id, text in raw_texts.items():
        package = cleaning.gutenberg_bounds(text)
        if package.header != "start-marker":  # a 1990s etext without markers: only the package handles those
            continue
        start, end = cut(text, book_id)
        mine, theirs = text[start:end].strip(), text[package.start:package.end].strip()
        assert mine[:50] == theirs[:50], f"{book_id}: your book starts {mine[:50]!r}, the package's {theirs[:50]!r}"
        assert mine[-50:] == theirs[-50:], f"{book_id}: your book ends {mine[-50:]!r}, the package's {theirs[-50:]!r}"
        assert mine == theirs, f"{book_id}: same first and last words, but {len(mine):,} characters against {len(theirs):,}"
        compared += 1
    assert compared > 0 or PROFILE.books_folder, "no book here has a START marker to compare with"


exercise("where the book is", book_bounds, test_book_bounds)

# %% [markdown]
# *Solution:* [solutions/01_cleaning.ipynb](../solutions/01_cleaning.ipynb), exercise 1.
#
# From here on the notebook cuts books with your `book_bounds` once you have written it, and
# with the package's rule until then:

# %%
def package_bounds(text):
    """The package's rule as a (start, end) pair: every header style, 1990s etexts included."""
    bounds = cleaning.gutenberg_bounds(text)
    return bounds.start, bounds.end


find_book = book_bounds or package_bounds  # yours once you have written it
book_start, book_end = find_book(raw)
print(f"cutting with {find_book.__name__}: header {book_start:,} characters, footer and licence {len(raw) - book_end:,}")
print(f"that is {100 * (book_start + len(raw) - book_end) / len(raw):.0f}% of the file, repeated in every book")

# %% [markdown]
# ## 4. The other rules, one at a time
#
# Each kind of noise has its own small rule, a function from text to text. Keeping them apart
# makes each easy to test and to switch off, and lets us measure what each one removed. Here is
# a made-up page with one of everything (the real books have all of these somewhere):

# %%
PAGE = """\ufeffThe Project Gutenberg EBook of The Lighthouse Cat, by Ada Example\r
\r
*** START OF THIS PROJECT GUTENBERG EBOOK THE LIGHTHOUSE CAT ***\r
\r
Produced by A. Volunteer and the Online Distributed Proofreading Team\r
\r
[Transcriber's Note: the spelling of the original has been kept.]\r
\r
THE LIGHTHOUSE CAT\r
\r
CONTENTS\r
\r
CHAPTER I. The Keeper\r
CHAPTER II. The Storm\r
\r
\r
\r
CHAPTER I. The Keeper\r
\r
[Illustration: Céleste on the landing]\r
\r
The cat who lived at the lighthouse was called Ce\u0301leste, and she did not\r
care for visitors. “Fog again,” said the keeper&mdash;and the cat agreed with a\r
_slow_ blink.[1] {12}\r
\r
    Round and round the lamp went,\r
    All the long night through.\r
\r
[1] Keepers kept cats against the mice.\r
\r
*** END OF THIS PROJECT GUTENBERG EBOOK THE LIGHTHOUSE CAT ***\r
This file is under the Project Gutenberg License...\r
"""

# %% [markdown]
# **Line endings and Unicode.** `é` can be one code point (U+00E9) or two (`e` + a combining
# accent). They look the same and compare different, so a tokenizer would learn two spellings
# of every accented word. NFC normalisation picks the one-code-point form. The same rule turns
# odd spaces (no-break, thin) into spaces and removes invisible characters: soft hyphens,
# zero-width spaces, stray byte-order marks, control characters.

# %%
step = cleaning.normalize_unicode(cleaning.normalize_newlines(PAGE))
print(f"{len(PAGE) - len(step)} characters fewer: the BOM, every \\r, and 'e' + combining accent became one 'é'")
odd = "Cafe\u0301\u00a0au\u200b lait\u00ad, tab\there"
print(repr(odd), "->", repr(cleaning.normalize_unicode(odd)))
check(cleaning.normalize_unicode("e\u0301") == "é", "NFC makes 'e' + accent one character")

# %% [markdown]
# **The Gutenberg header, footer and licence: the package's version.** Exercise 1 covers the
# files with markers. The course's 87 shared books use five styles: the older `*** START OF
# THIS PROJECT GUTENBERG EBOOK`, the newer `THE` (with or without spaces around the asterisks),
# a transitional 2003 style whose licence comes *after* the end marker, and 1990s etexts with
# no markers at all, only the end of the "Small Print!" licence (three of them have no footer).
# `cleaning.gutenberg_bounds` finds the header's end and the footer's start in each style:

# %%
STYLES = {
    "older": "*** START OF THIS PROJECT GUTENBERG EBOOK X ***\nBook.\n*** END OF THIS PROJECT GUTENBERG EBOOK X ***\n",
    "newer": "*** START OF THE PROJECT GUTENBERG EBOOK X ***\nBook.\nEnd of the Project Gutenberg EBook of X\n",
    "no spaces": "***START OF THE PROJECT GUTENBERG EBOOK X***\nBook.\n***END OF THE PROJECT GUTENBERG EBOOK X***\n",
    "2003": "*** START OF THE PROJECT GUTENBERG EBOOK, X ***\nBook.\n*** END OF THE PROJECT GUTENBERG EBOOK, X ***\n***START**THE SMALL PRINT!**...\n",
    "1990s": "(licence)\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\nBook.\nEnd of The Project Gutenberg Etext of X\n",
    "no footer": "(licence)\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\nBook.\nFINIS.\n",
}
for style, text in STYLES.items():
    b = cleaning.gutenberg_bounds(text)
    print(f"{style:>10}: header {b.header:<12} footer {b.footer:<11} body {text[b.start:b.end].strip()!r}")
check(all(cleaning.strip_gutenberg(t).strip().startswith("Book.") for t in STYLES.values()), "every style leaves just the book")

# %% [markdown]
# `strip_gutenberg` cuts there, and also drops Project Gutenberg's own notes near the top of
# the book (an "HTML version" note, say). On the made-up page:

# %%
step = cleaning.strip_gutenberg(step)
print(step)

# %% [markdown]
# **Credits and transcriber's notes.** Right after the header come the e-text's credits
# ("Produced by ...", "Transcribed from the 1897 edition by ...") and often a transcriber's
# note about spelling or italics, sometimes several paragraphs long and signed; long books may
# end with a list of corrections. None of it is the book. The notes rule runs first, because a
# credits paragraph can sit inside a note.

# %%
step = cleaning.remove_credits(cleaning.remove_transcriber_notes(step))
print(step[:200])

# %% [markdown]
# **Markup inside the text.** HTML entities such as `&mdash;` (a few files were converted from
# HTML), `[Illustration: ...]` tags, footnotes (the marker `[1]` and the note `[1] Keepers...`;
# a marker is removed only when the book defines that note, so Shakespeare's `the[m]selues`
# survives), page numbers in braces, and `_italics_`, which Gutenberg marks with underscores.
# Bare numbers on their own line stay: in these books they are chapter numbers.
#
# **Tables of contents.** A list of chapter titles teaches the model little and repeats the
# headings it sees anyway. The rule finds a `CONTENTS` heading, takes its first entry
# ("CHAPTER I. The Keeper") and removes everything up to where that entry is printed again,
# where the book really starts; when it cannot tell, it removes less, or nothing.

# %%
for func in (cleaning.strip_html, cleaning.remove_illustrations, cleaning.remove_footnotes,
             cleaning.remove_page_artifacts, cleaning.remove_toc, cleaning.remove_italics):
    before, step = step, func(step)
    print(f"{func.__name__:>22}: {len(before) - len(step):>3} characters removed")
print("\n" + step)

# %% [markdown]
# **Hard-wrapped lines.** Gutenberg texts are wrapped at about 70 characters. Those line breaks
# are the typesetter's, not the author's: left in, every paragraph teaches the model to break
# lines mid-sentence. Joining needs care, though: verse, lists and tables are made of lines. A
# block is joined only when its lines are long (median 45 characters or more after indentation),
# do not change indentation, have no columns, and do not almost all start with a capital.

# %%
step = cleaning.join_wrapped_lines(step)
print(step)
check(step.count("\n\n") == 3 and "Round and round the lamp went,\nAll the long night through." in step,
      "the prose paragraph is one line, the verse keeps its lines")

# %% [markdown]
# In a real book the picture is clear: nearly every line of the raw text is 60 to 75
# characters long, because that is where the transcriber's text editor wrapped it.

# %%
body = raw[book_start:book_end]  # the first book, cut by find_book
joined = cleaning.join_wrapped_lines(body)
fig, ax = plt.subplots(figsize=(9, 3), dpi=90)
ax.hist([min(len(l), 200) for l in body.split("\n") if l.strip()], bins=50, alpha=0.7, label="raw lines")
ax.hist([min(len(l), 200) for l in joined.split("\n") if l.strip()], bins=50, alpha=0.7, label="after joining")
ax.set(xlabel="line length (characters, capped at 200)", ylabel="lines", title=f"{lessons.short_title(BOOK['title'])}: hard wrapping")
ax.legend(); plt.show()

# %% [markdown]
# **ASCII folding (off by default).** Some pipelines fold everything to plain ASCII: `é` to
# `e`, curly quotes to straight ones, `—` to `--`. A smaller alphabet, against lost information
# (`résumé` and `resume` become one word, `£5` becomes `L5`, Greek words vanish). Byte-level
# BPE (02) handles any character, so the course keeps Unicode; `CleanOptions(ascii_only=True)`
# folds.

# %%
print(cleaning.fold_ascii("“Café” — naïve… £5, Æsop, λόγος"))
non_ascii = sum(not c.isascii() for c in joined)
print(f"{lessons.short_title(BOOK['title'])}: {non_ascii:,} of {len(joined):,} characters are not ASCII")

# %% [markdown]
# ## 5. Your cut and the package's rules against the package's cleaner
#
# `cleaning.RULES` lists the rules in the order `clean_text` runs them. Now clean every raw book
# by hand: in place of the package's `strip_gutenberg` use `find_book` (your cut where a file
# has a START marker), then the package's other rules in order. `clean_text` runs
# `strip_gutenberg`, which does more than cut at the markers; the check says whether the rules
# after it make the two agree, character for character, on every book.

# %%
print(" -> ".join(rule.name for rule in cleaning.RULES))


def clean_by_hand(text):
    for rule in cleaning.RULES:
        if rule.name == "gutenberg":
            has_marker = cleaning.gutenberg_bounds(text).header == "start-marker"
            start, end = (find_book if has_marker else package_bounds)(text)
            text = text[start:end]
        elif rule.name != "ascii":  # ASCII folding is off by default
            text = rule.func(text)
    return text

# %%
by_hand = {book_id: clean_by_hand(text) for book_id, text in raw_texts.items()}
differ = [book_id for book_id, text in raw_texts.items() if cleaning.clean_text(text).text != by_hand[book_id]]
if PROFILE.books_folder:  # your own books may be of any era: shown, not checked
    print(f"{len(raw_texts) - len(differ)} of {len(raw_texts)} books agree; strip_gutenberg does more on {differ}")
else:
    check(not differ, f"{find_book.__name__} + the other rules equal clean_text on all {len(raw_texts)} books",
          f"they differ on {differ}: compare clean_by_hand(raw_texts[id]) with cleaning.clean_text(raw_texts[id]).text "
          "(a few books outside the course's lists, such as the First Folio plays, need strip_gutenberg's extra care)")

# %% [markdown]
# ## 6. Documents and filters (optional)
#
# *Optional: skip to section 7 for the core path.*
#
# Pipelines built for web text filter *documents*: drop those outside 10 to 2,048 tokens, drop
# exact duplicates, optionally drop profanity. For web pages a document is a page. For books,
# what is a document? A whole book is far longer than 2,048 tokens, so that range would drop
# every book. Treat each paragraph as a document instead, and see what those web settings do.
#
# To count tokens before any tokenizer exists we count **words and punctuation marks**
# (`\w+|[^\w\s]`). GPT-2's tokenizer makes somewhat more tokens from the same text:

# %%
from minigpt_helpers.tokenization import GPT2Tokenizer

clean = by_hand[BOOK["book_id"]]
ours, gpt2 = cleaning.count_tokens(clean), len(GPT2Tokenizer().encode(clean))
print(f"{lessons.short_title(BOOK['title'])}: {ours:,} words and punctuation marks, {gpt2:,} GPT-2 tokens")
check_between(gpt2 / ours, 1.0, 1.5, "GPT-2 tokens per counted token")

# %%
web = cleaning.PRESETS["web-documents"]  # paragraphs, 10 to 2,048 tokens, exact duplicates dropped
dropped = cleaning.filter_documents(clean, web)
paragraphs = clean.split("\n\n")
print(f"web settings drop {dropped.units_dropped['length']:,} of {len(paragraphs):,} paragraphs "
      f"({100 * dropped.removed['length'].chars / len(clean):.1f}% of the characters) for length, "
      f"{dropped.units_dropped['duplicates']} as duplicates")
short_dialogue = [p for p in paragraphs[len(paragraphs) // 4:] if cleaning.count_tokens(p) < 10 and re.search("[“\"‘]", p)]
print("for example:", short_dialogue[:8])

# %% [markdown]
# Those short "documents" are dialogue, chapter headings and the last line of a scene: the
# book, not noise. And the paragraphs that repeat word for word inside a book are mostly
# intended: refrains in fairy tales ("Mirror, mirror..."), a chorus, an epigraph echoed on the
# last page. So for books the course filters **whole books** by default:
#
# - `unit="book"`, `min_tokens=100`: a "book" under 100 tokens is a stub (an empty file, a
#   failed download, a title page); no upper limit, the dataset (03) cuts books into windows;
# - `dedupe=True`: the same book twice (two copies in your folder) is kept once;
# - `profanity=False`: a basic word list is there (`profanity=True`, `profanity_words=...`), but
#   on these books it mostly removes dialogue, and it misses what a 19th-century book calls rude.

# %%
swear = cleaning.CleanOptions(unit="paragraph", min_tokens=0, profanity=True, profanity_words=("confound", "blast"))
demo = "Blast and confound it, the lamp is out!\n\nThe keeper lit it again.\n"
print(repr(cleaning.filter_documents(demo, swear).text))
by_paragraph = cleaning.CleanOptions(unit="paragraph", min_tokens=0)
repeats = sum(cleaning.filter_documents(t, by_paragraph).units_dropped["duplicates"] for t in by_hand.values())
print(f"paragraph dedupe would drop {repeats} repeated paragraphs (8+ tokens) from this profile's books")

# %%
examples = []  # repeats inside one book, as counted above (each book is deduplicated on its own)
for t in by_hand.values():
    seen_once = set()
    for p in t.split("\n\n"):
        if p in seen_once and cleaning.count_tokens(p) >= 8 and len(examples) < 3:
            examples.append(p[:90])
        seen_once.add(p)
print("for example:", examples)

# %% [markdown]
# ## 7. Clean every book with the package
#
# `build_clean` decodes and cleans every raw book, writes `data/clean/<book_id>.txt`, and last
# the manifest: per book what each rule removed, corpus totals, the options, and any file it
# had to skip, with the reason.

# %%
stages.build_clean(PROFILE)
manifest = artifacts.read_manifest("clean")
totals = manifest["totals"]
print(f"cleaned {totals['books']} books: {totals['raw_chars'] / 1e6:.2f}M -> {totals['chars'] / 1e6:.2f}M characters "
      f"({totals['bytes'] / 1e6:.2f} MB of UTF-8), about {totals['tokens_estimate'] / 1e6:.2f}M tokens")

# %% [markdown]
# What each rule removed, over the whole corpus (characters and lines; joining lines removes
# line breaks, not characters):

# %%
names = [n for n in manifest["rules"] if totals["removed"][n]["chars"] or totals["removed"][n]["lines"]]
print(f"{'rule':>18} {'characters':>12} {'lines':>9}")
for name in names:
    r = totals["removed"][name]
    print(f"{name:>18} {r['chars']:>12,} {r['lines']:>9,}")
print(f"{'total':>18} {totals['raw_chars'] - totals['chars']:>12,}")

# %% [markdown]
# And per book:

# %%
show = manifest["books"][:40]
titles = [lessons.short_title(b["title"]) for b in show]
fig, ax = plt.subplots(figsize=(10, max(2.5, 0.22 * len(show) + 1)), dpi=90)
left = [0.0] * len(show)
for name in [n for n in names if n not in ("newlines", "join_lines")]:
    widths = [b["removed"][name]["chars"] / 1000 for b in show]
    ax.barh(titles, widths, left=left, label=name)
    left = [l + w for l, w in zip(left, widths)]
ax.invert_yaxis(); ax.set_xlabel("thousand characters removed"); ax.legend(fontsize=7, ncol=3, loc="lower right")
ax.set_title("What each rule removed, per book"); plt.tight_layout(); plt.show()

# %% [markdown]
# The Gutenberg licence dominates: about 19,000 characters per modern file, whatever the
# book's length. Notes, footnotes, tables of contents and illustration tags matter for some
# books only.
#
# Checks that can fail. Expected: every raw book cleaned (or skipped with its reason), no
# Gutenberg licence or marker left anywhere, nothing but UTF-8 with `\n` line endings,
# cleaning clean text changes nothing, and each book keeps most of its text (75% of its
# characters or more: a short book loses a larger share, since the licence has a fixed length).

# %%
clean_dir = artifacts.stage_dir("clean")
texts = {b["book_id"]: (clean_dir / b["file"]).read_text(encoding="utf-8") for b in manifest["books"]}
skipped = [s for s in manifest["skipped"] if "book_id" in s]
check(len(texts) + len(skipped) == len(raw_books), f"{len(texts)} books cleaned, {len(skipped)} skipped with a reason")
check(not any(re.search(r"Project Gutenberg|\*\*\* ?START OF|\*\*\* ?END OF|\r", t) for t in texts.values()),
      "no Gutenberg licence, marker or \\r left", "look for the book that still has one")
check(all(cleaning.clean_text(t).text == t for t in texts.values()), "cleaning clean text changes nothing")
kept = [b["chars"] / b["raw_chars"] for b in manifest["books"]]
if PROFILE.books_folder is None:  # your own books may be anything: a short one is mostly licence
    check_between(min(kept), 0.75, 1.0, "smallest share of a book's characters kept")

# %% [markdown]
# ## 8. Before and after
#
# The start of the first book as it was (after decoding and the cut) and as the model will see it.

# %%
print(body[:700].strip(), "\n\n" + "=" * 70 + "\n")
print(texts.get(BOOK["book_id"], "(skipped: the manifest says why)")[:700])

# %% [markdown]
# ## 9. Junk files in your own folder (optional)
#
# *Optional: skip to section 10 for the core path.*
#
# With `MINIGPT_BOOKS` set (section 1), `build_clean` cleans your books instead. Real folders
# hold more than books: pictures, empty files, a zip renamed `.txt`, a file in an encoding that
# is not text at all. Each of those is skipped and reported with its reason, and the rest are
# cleaned. Here is a small folder made up on the spot: one good book and four bad files,
# cleaned into a scratch data folder so this profile's books stay as they are.

# %%
demo_dir = Path(tempfile.mkdtemp(prefix="my-books-"))
(demo_dir / "lighthouse.txt").write_text(
    "THE LIGHTHOUSE CAT\r\n\r\n" + "The cat who lived at the lighthouse went up the hundred steps every\r\n"
    "evening before the keeper, and waited for him on the landings.\r\n\r\n" * 12, encoding="utf-8-sig")
(demo_dir / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 a picture")
(demo_dir / "notes.txt").write_bytes(b"")
(demo_dir / "archive.txt").write_bytes(b"PK\x03\x04\x00\x00 a zip file named .txt")
(demo_dir / "scrambled.txt").write_bytes(bytes([0x81, 0x8D, 0x9D, 0xC3, 0x28]) * 40)
print(sorted(p.name for p in demo_dir.iterdir()))

# %%
real_data_dir = os.environ.get(artifacts.DATA_DIR_ENV)
os.environ[artifacts.DATA_DIR_ENV] = str(demo_dir / "data")  # a scratch data folder for the demo
try:
    stages.build_clean(PROFILE, local_folder=demo_dir)
    demo_manifest = artifacts.read_manifest("clean")
finally:
    if real_data_dir is None:
        del os.environ[artifacts.DATA_DIR_ENV]
    else:
        os.environ[artifacts.DATA_DIR_ENV] = real_data_dir
for skip in demo_manifest["skipped"]:
    print(f"skipped {Path(skip['path']).name:>13}: {skip['reason']}")

# %%
check([b["book_id"] for b in demo_manifest["books"]] == ["lighthouse"] and len(demo_manifest["skipped"]) == 4,
      "the good book is cleaned, the four bad files are skipped with a reason")
check(artifacts.data_dir() != demo_dir / "data", "back on this profile's data folder")
shutil.rmtree(demo_dir)  # the made-up folder and its scratch data are not needed again

# %% [markdown]
# ## 10. Exercises
#
# **Exercise 2: a rule of your own, chapter headings.** Write `remove_chapter_headings(text)`
# that removes every line that starts with a chapter heading, `CHAPTER` or `STAVE` (A Christmas
# Carol has staves) followed by a number in Roman or Arabic figures, whatever the case and
# whatever follows on that line (`CHAPTER I. Down the Rabbit-Hole` goes too). Every other line
# stays, including sentences that mention a chapter. The check also runs it on this profile's
# clean books, where it must remove something.

# %%
remove_chapter_headings = None  # your answer: def remove_chapter_headings(text): ...

HEADINGS = ("CHAPTER I\n\nIt began in chapter one.\n\nChapter 12. The Storm\n\nchapter xiv.\n\n"
            "  STAVE II:  THE FIRST SPIRIT  \n\nChapters are short.\n")


def test_headings(rule):
    out = rule(HEADINGS)
    for gone in ("CHAPTER I", "Chapter 12", "chapter xiv", "STAVE II"):
        assert gone not in out, f"{gone!r} is still there"
    for kept in ("It began in chapter one.", "Chapters are short."):
        assert kept in out, f"{kept!r} was removed too"
    assert sum(len(t) - len(rule(t)) for t in texts.values()) > 0, "it removed nothing from the real books"


exercise("a chapter-heading rule", remove_chapter_headings, test_headings)

# %% [markdown]
# *Solution:* [solutions/01_cleaning.ipynb](../solutions/01_cleaning.ipynb), exercise 2.
#
# **Exercise 3: what would ASCII folding change?** Find the five most common non-ASCII
# characters in this profile's clean books (`texts`), most common first, as one string; break
# ties by the character itself. Then look at what `cleaning.fold_ascii` makes of each.

# %%
top_non_ascii = None  # your answer: a string such as "’“”—é"


def test_top_non_ascii(answer):
    counts = Counter(c for t in texts.values() for c in t if not c.isascii())
    assert counts, "these books have no non-ASCII character at all"
    assert isinstance(answer, str) and len(answer) == min(5, len(counts)), f"give {min(5, len(counts))} characters as one string"
    for c in answer:
        assert c in counts, f"{c!r} is not a non-ASCII character of these books"
    got = [counts[c] for c in answer]
    assert got == sorted(got, reverse=True), f"not most common first: the counts are {got}"
    best = sorted(counts, key=lambda c: (-counts[c], c))[:5]
    assert answer == "".join(best), f"{answer!r} misses {''.join(c for c in best if c not in answer)!r}: count every book"


exercise("the most common non-ASCII characters", top_non_ascii, test_top_non_ascii)

# %% [markdown]
# *Solution:* [solutions/01_cleaning.ipynb](../solutions/01_cleaning.ipynb), exercise 3.
#
# ## Summary
#
# - Bytes become text by a rule, not a guess: a byte-order mark, then strict UTF-8, then
#   Windows-1252/Latin-1; anything else is refused with a message, and the other books go on.
# - A book sits between Project Gutenberg's START marker and its footer; you wrote that cut,
#   and with the package's other rules it cleans every book exactly as `clean_text` does.
# - One small rule per kind of noise, each testable and measurable: credits, transcriber's
#   notes, HTML, illustration tags, footnotes, page numbers, tables of contents, `_italics_`,
#   hard wrapping, Unicode forms and invisible characters.
# - For books, a document is the whole book: stubs and exact copies go, paragraphs stay.
# - `data/clean/` holds one clean UTF-8 file per book and a manifest of what each rule removed.
#
# **Next:** 02_tokenization turns this clean text into token ids: GPT-2's BPE, a BPE trained on
# these very books, and characters.
