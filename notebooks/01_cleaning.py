# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/01_cleaning.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 01 · Cleaning: books in, clean text out
#
# A language model learns whatever text you give it. Give it Project Gutenberg files as they
# come and it will learn, thirty-three times over, the 3,000 words of the Gutenberg licence, the
# names of volunteers, `[Illustration]` tags, footnote numbers and lines broken at 70
# characters. This notebook takes the books apart from that noise, one rule at a time:
#
# 1. decode the bytes correctly (UTF-8 with a byte-order mark, Windows-1252, Latin-1, CRLF);
# 2. cut the Gutenberg header, footer and licence, in every style the course's books use;
# 3. remove credits, transcriber's notes, illustration tags, footnotes, page numbers, `_italics_`
#    markup, HTML and tables of contents;
# 4. join hard-wrapped lines into paragraphs, normalise Unicode, and optionally fold to ASCII;
# 5. filter whole documents by length, repeats and (optionally) profanity;
# 6. run the package's version on every book, check it agrees, and look at what each rule removed.
#
# **Reads** the books of the profile (downloaded, or the offline copies in `MINIGPT_DATASETS_DIR`)
# into `data/raw/`. **Writes** `data/clean/<book_id>.txt` (UTF-8, one paragraph per line, a
# blank line between paragraphs) and `data/clean/manifest.json` (per book: title, author, file,
# characters, bytes, what each rule removed; corpus totals; the options used; skipped files),
# which the tokenizer (02) and the dataset (03) read.
#
# | profile | books | this notebook | of which cleaning every book (`build_clean`) |
# |---|---|---|---|
# | `ci` | 3 short books, 0.4 MB | 2 s | 0.2 s |
# | `cpu` | 33 books, 16 MB | 5 to 24 s | 1.4 to 5.8 s |
# | `gpu` | the same 33 books | about 10 s (no GPU work here) | about 2 s |
#
# Times are for a 2-core CPU with the books read from local copies, kernel start excluded; the
# measurements behind them are in benchmarks/README.md.

# %%
# Setup (the same cell opens every notebook). On Colab it installs the course's helper
# package from GitHub and keeps Colab's own torch; locally `python tasks.py setup` did that.
# To pick a profile, set MINIGPT_PROFILE (ci, cpu or gpu) before running this cell.
import importlib.util, os, subprocess, sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "minigpt-helpers[serve,export] @ git+https://github.com/minigpt-course/minigpt-from-books"], check=True)
    os.environ.setdefault("MINIGPT_DATA_DIR", "/content/data")
elif importlib.util.find_spec("minigpt_helpers") is None:  # a checkout used without installing
    repo_root = os.path.abspath("..")
    sys.path.insert(0, repo_root)
    # cells that run `python -m minigpt_helpers` start a new Python, which needs the path too
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [repo_root, os.environ.get("PYTHONPATH")]))

from minigpt_helpers.notebook import start

PROFILE = start("01_cleaning")

# %% [markdown]
# ## 1. The raw books
#
# `ensure("raw", ...)` fetches the profile's books into `data/raw/` once, recording where each
# came from and its SHA-256, and does nothing when they are already there. The files are kept
# exactly as they arrived: decoding and cleaning are this notebook's job.
#
# **Your own books.** Set the setting `MINIGPT_BOOKS` to a folder of plain-text books (`.txt`,
# UTF-8, Windows-1252 or Latin-1) and this notebook, and every later one, works on them instead
# of the profile's books: `python3 tasks.py course --books FOLDER` sets it for the whole course,
# or set it in the setup cell (`os.environ["MINIGPT_BOOKS"] = "/content/my_books"` before
# `start`) of every notebook you open. `MINIGPT_GUTENBERG_IDS=1342,84,11` picks other Project
# Gutenberg books. Files that are not text are skipped and reported (section 9 shows how). The
# books on disk are recorded in `data/raw/manifest.json`; a later notebook opened with another
# choice stops and says so, rather than mixing a model of one library with the books of another.

# %%
import re
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt

from minigpt_helpers import artifacts, cleaning, sources, stages
from minigpt_helpers.checks import check, check_between, exercise

t_start = time.time()
if artifacts.corpus_mismatch(PROFILE):  # your settings chose other books than those on disk: fetch them
    stages.build_raw(PROFILE)
stages.ensure("raw", PROFILE)
print(f"books: {PROFILE.corpus}")
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
# Windows-1252 for the whole file (called Latin-1 when no byte falls in `0x80`-`0x9F`, where
# the two differ). Bytes that are none of these, or that decode into control characters, are
# not text: the file is refused with a message that says what to do.

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
# ## 3. What a real book carries
#
# Here is the start of the first book of this profile, decoded. Everything before the line
# `*** START OF ...` is Project Gutenberg's header, and after the book comes a footer and the
# full licence.

# %%
raw_texts, encodings = {}, {}
for b in raw_books:
    try:
        raw_texts[b["book_id"]], encodings[b["book_id"]] = cleaning.decode_bytes(sources.raw_book_path(b).read_bytes())
    except cleaning.UndecodableError as err:
        print(f"{b['book_id']}: {err}; build_clean will skip it")
BOOK = next(b for b in raw_books if b["book_id"] in raw_texts)
raw = raw_texts[BOOK["book_id"]]
print(f"{BOOK['book_id']} ({BOOK['title']}), {encodings[BOOK['book_id']]}, {len(raw):,} characters\n")
print("\n".join(line for line in raw.replace("\r", "").split("\n")[:30] if line.strip()))

# %%
bounds = cleaning.gutenberg_bounds(cleaning.normalize_newlines(raw))
footer = len(cleaning.normalize_newlines(raw)) - bounds.end
print(f"header: {bounds.start:,} characters ({bounds.header}); footer and licence: {footer:,} characters ({bounds.footer})")
print(f"that is {100 * (bounds.start + footer) / len(raw):.0f}% of the file, repeated in every book")

# %% [markdown]
# ## 4. The rules, one at a time
#
# Each kind of noise has its own small rule, a function from text to text. Keeping them apart
# makes each easy to test and to switch off, and lets us measure what each one removed. First
# a made-up page that has one of everything (the real books have all of these somewhere), then
# the real book.

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
step = PAGE
for rule in cleaning.RULES[:2]:  # line endings and the BOM; Unicode normal form
    step = rule.func(step)
print(f"{len(PAGE) - len(step)} characters fewer: the BOM, every \\r, and 'e' + combining accent became one 'é'")

# %% [markdown]
# **Unicode.** `é` can be one code point (U+00E9) or two (`e` + a combining accent). They look
# the same and compare different, so a tokenizer would learn two spellings of every accented
# word. NFC normalisation picks the one-code-point form. The same rule turns odd spaces
# (no-break, thin) into spaces and removes invisible characters: soft hyphens, zero-width
# spaces, stray byte-order marks, control characters.

# %%
odd = "Cafe\u0301\u00a0au\u200b lait\u00ad, tab\there"
print(repr(odd), "->", repr(cleaning.normalize_unicode(odd)))
check(cleaning.normalize_unicode("e\u0301") == "é", "NFC makes 'e' + accent one character")

# %% [markdown]
# **The Gutenberg header, footer and licence.** Every file marks the book, but not always the
# same way. The course's 87 shared books use five styles: the older `*** START OF THIS
# PROJECT GUTENBERG EBOOK`, the newer `THE` (with or without spaces around the asterisks), a
# transitional 2003 style whose licence comes *after* the end marker, and 1990s etexts with no
# markers at all, only the end of the "Small Print!" licence (three of them have no footer).
# `gutenberg_bounds` finds the header's end and the footer's start in each style:

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
# Bare numbers on their own line are *not* removed: in these books they are chapter numbers.

# %%
for func in (cleaning.strip_html, cleaning.remove_illustrations, cleaning.remove_footnotes,
             cleaning.remove_page_artifacts, cleaning.remove_toc, cleaning.remove_italics):
    before, step = step, func(step)
    print(f"{func.__name__:>22}: {len(before) - len(step):>3} characters removed")
print("\n" + step)

# %% [markdown]
# **Tables of contents.** A list of chapter titles teaches the model little and repeats the
# headings it will see anyway. The rule looks for a `CONTENTS` heading, takes the first entry
# ("CHAPTER I. The Keeper") and removes everything up to where that entry is printed again,
# which is where the book really starts. When it cannot find that (the first paragraph of prose
# comes first), it removes only up to the last wide gap before the prose, or nothing: "where
# detectable" is the honest promise. Above, it removed the two entries and the heading.
#
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
body = cleaning.strip_gutenberg(cleaning.normalize_newlines(raw))
joined = cleaning.join_wrapped_lines(body)
fig, ax = plt.subplots(figsize=(9, 3), dpi=90)
ax.hist([min(len(l), 200) for l in body.split("\n") if l.strip()], bins=50, alpha=0.7, label="raw lines")
ax.hist([min(len(l), 200) for l in joined.split("\n") if l.strip()], bins=50, alpha=0.7, label="after joining")
ax.set(xlabel="line length (characters, capped at 200)", ylabel="lines", title=f"{BOOK['title'][:40]}: hard wrapping")
ax.legend(); plt.show()

# %% [markdown]
# **ASCII folding (optional).** Some pipelines fold everything to plain ASCII: `é` to `e`, curly
# quotes to straight ones, `—` to `--`. The trade-off: a smaller alphabet (a character-level
# model has fewer symbols to learn, and nothing looks odd in an old terminal) against losing
# information (`résumé` and `resume` become one word, `£5` becomes `L5`, Greek words vanish).
# Byte-level BPE (notebook 02) handles any character anyway, so the course keeps Unicode; set
# `CleanOptions(ascii_only=True)` to fold.

# %%
print(cleaning.fold_ascii("“Café” — naïve… £5, Æsop, λόγος"))
non_ascii = sum(not c.isascii() for c in joined)
print(f"{BOOK['book_id']}: {non_ascii:,} of {len(joined):,} characters are not ASCII")

# %% [markdown]
# ## 5. The package's `clean_text` agrees with the rules applied by hand
#
# `cleaning.RULES` lists the rules in the order `clean_text` runs them. Applied one by one to
# every raw book, they must give exactly what the package gives (the package also runs the
# document filters of section 6, which keep every one of these books).

# %%
print(" -> ".join(rule.name for rule in cleaning.RULES))
by_hand, differ = {}, []
for book_id, text in raw_texts.items():
    by_hand[book_id] = text
    for rule in cleaning.RULES:
        if rule.name != "ascii":  # off by default
            by_hand[book_id] = rule.func(by_hand[book_id])
    if cleaning.clean_text(text).text != by_hand[book_id]:
        differ.append(book_id)
check(not differ, f"clean_text equals the rules applied by hand on all {len(raw_texts)} books", f"they differ on {differ}")

# %% [markdown]
# ## 6. Documents and filters
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
print(f"{BOOK['book_id']}: {ours:,} words and punctuation marks, {gpt2:,} GPT-2 tokens")
check_between(gpt2 / ours, 1.0, 1.5, "GPT-2 tokens per counted token")

# %%
web = cleaning.PRESETS["web-documents"]  # paragraphs, 10 to 2,048 tokens, exact duplicates dropped
dropped = cleaning.filter_documents(clean, web)
n_par = len(clean.split("\n\n"))
print(f"web settings on {BOOK['book_id']}: drops {dropped.units_dropped['length']:,} of {n_par:,} paragraphs "
      f"({100 * dropped.removed['length'].chars / len(clean):.1f}% of the characters) for length, "
      f"{dropped.units_dropped['duplicates']} as duplicates")
paragraphs = clean.split("\n\n")
short_dialogue = [p for p in paragraphs[len(paragraphs) // 4:] if cleaning.count_tokens(p) < 10 and re.search("[“\"‘]", p)]
print("for example:", short_dialogue[:8])

# %% [markdown]
# Those short "documents" are dialogue, chapter headings and the last line of a scene: the
# book, not noise. And the paragraphs that repeat word for word inside a book are mostly
# intended: refrains in fairy tales ("Mirror, mirror..."), a chorus, an epigraph echoed on the
# last page. So for books the course filters **whole books** by default:
#
# - `unit="book"`, `min_tokens=100`: a "book" under 100 tokens is a stub (an empty file, a
#   failed download, a title page), not a book; no upper limit, the dataset (03) cuts books
#   into training windows anyway;
# - `dedupe=True`: the same book twice (two copies in your folder) is kept once;
# - `profanity=False`: a basic word list is there (`profanity=True`, `profanity_words=...`), but
#   on these books it mostly removes dialogue, and it misses what a 19th-century book calls rude.
#
# The paragraph-level settings stay one option away, for a corpus of short documents.

# %%
swear = cleaning.CleanOptions(unit="paragraph", min_tokens=0, profanity=True, profanity_words=("confound", "blast"))
demo = "Blast and confound it, the lamp is out!\n\nThe keeper lit it again.\n"
print(repr(cleaning.filter_documents(demo, swear).text))
by_paragraph = cleaning.CleanOptions(unit="paragraph", min_tokens=0)
clean_texts = list(by_hand.values())
repeats = sum(cleaning.filter_documents(t, by_paragraph).units_dropped["duplicates"] for t in clean_texts)
print(f"paragraph dedupe would drop {repeats} repeated paragraphs (8+ tokens) from this profile's books")
examples = []  # repeats inside one book, as the count above (each book is deduplicated on its own)
for t in clean_texts:
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
t0 = time.time()
stages.build_clean(PROFILE)
build_seconds = time.time() - t0
manifest = artifacts.read_manifest("clean")
totals = manifest["totals"]
print(f"cleaned {totals['books']} books in {build_seconds:.1f} s: {totals['raw_chars'] / 1e6:.2f}M -> "
      f"{totals['chars'] / 1e6:.2f}M characters ({totals['bytes'] / 1e6:.2f} MB of UTF-8), "
      f"about {totals['tokens_estimate'] / 1e6:.2f}M tokens")

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

# %%
show = manifest["books"][:40]
fig, ax = plt.subplots(figsize=(10, max(2.5, 0.22 * len(show) + 1)), dpi=90)
left = [0.0] * len(show)
for name in [n for n in names if n not in ("newlines", "join_lines")]:
    widths = [b["removed"][name]["chars"] / 1000 for b in show]
    ax.barh([b["book_id"] for b in show], widths, left=left, label=name)
    left = [l + w for l, w in zip(left, widths)]
ax.invert_yaxis(); ax.set_xlabel("thousand characters removed"); ax.legend(fontsize=7, ncol=3)
ax.set_title("What each rule removed, per book"); plt.tight_layout(); plt.show()

# %% [markdown]
# The Gutenberg licence dominates: about 19,000 characters per modern file, whatever the
# book's length. Notes, footnotes, tables of contents and illustration tags matter for some
# books only. The same per book, in characters (the last columns: line breaks removed by
# joining, and the share of the book's characters removed in all). A small negative number in
# "pages" means characters were added: scene breaks like `***` are rewritten as one `* * *` line.

# %%
columns = {"gutenberg": "licence", "transcriber_notes": "notes", "credits": "credits", "illustrations": "illus.",
           "footnotes": "footn.", "page_artifacts": "pages", "contents": "contents", "italics": "italics"}
print(f"{'book':>8}" + "".join(f"{c:>9}" for c in columns.values()) + f"{'joined':>9}{'removed':>9}")
for b in manifest["books"]:
    cells = "".join(f"{b['removed'][rule]['chars']:>9,}" for rule in columns)
    share = 100 * (b["raw_chars"] - b["chars"]) / b["raw_chars"]
    print(f"{b['book_id']:>8}{cells}{b['removed']['join_lines']['lines']:>9,}{share:>8.1f}%")

# %% [markdown]
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
# The start of the first book as it was (after decoding) and as the model will see it.

# %%
print(cleaning.normalize_newlines(raw)[bounds.start:bounds.start + 700].strip(), "\n\n" + "=" * 70 + "\n")
print(texts.get(BOOK["book_id"], "(skipped: the manifest says why)")[:700])

# %% [markdown]
# ## 9. Train on your own books
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
check([b["book_id"] for b in demo_manifest["books"]] == ["lighthouse"] and len(demo_manifest["skipped"]) == 4,
      "the good book is cleaned, the four bad files are skipped with a reason")
check(artifacts.data_dir() != demo_dir / "data", "back on this profile's data folder")
shutil.rmtree(demo_dir)  # the made-up folder and its scratch data are not needed again

# %% [markdown]
# ## Exercises
#
# **1. A rule of your own: chapter headings.** Write `remove_chapter_headings(text)` that
# removes every line that starts with a chapter heading, `CHAPTER` or `STAVE` (A Christmas Carol
# has staves) followed by a number in Roman or Arabic figures, whatever the case and whatever
# follows on that line (`CHAPTER I. Down the Rabbit-Hole` goes too). Every other line stays,
# including sentences that mention a chapter. Then measure it on this profile's clean books.

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

# %%
# @title Solution (try it yourself first) { display-mode: "form" }
CHAPTER_LINE = re.compile(r"^[ \t]*(?:chapter|stave)[ \t]+(?:[ivxlcdm]+|\d+)\b.*$", re.I | re.M)

def remove_chapter_headings(text):
    return CHAPTER_LINE.sub("", text)

test_headings(remove_chapter_headings)
lines_before = sum(t.count("\n") for t in texts.values())
removed = sum(len(t) - len(remove_chapter_headings(t)) for t in texts.values())
headings = sum(len(CHAPTER_LINE.findall(t)) for t in texts.values())
print(f"the rule removes {headings:,} headings ({removed:,} characters) from {len(texts)} books")

# %% [markdown]
# **2. Which rule removed the most?** From the manifest's corpus totals, name the rule (not
# `join_lines`, which removes line breaks) that removed the most characters, and give the share
# of all removed characters it accounts for (a number between 0 and 1).

# %%
top_rule = None  # your answer: (name, share), e.g. ("credits", 0.1)

def test_top_rule(answer):
    name, share = answer
    removed = {n: r["chars"] for n, r in totals["removed"].items() if n != "join_lines"}
    best = max(removed, key=removed.get)
    assert name == best, f"{name!r} removed {removed.get(name, 0):,} characters; another rule removed more"
    assert abs(share - removed[best] / sum(removed.values())) < 0.01, "the share is off: divide by all removed characters"

exercise("the rule that removed most", top_rule, test_top_rule)

# %%
# @title Solution (try it yourself first) { display-mode: "form" }
by_rule = {n: r["chars"] for n, r in totals["removed"].items() if n != "join_lines"}
name = max(by_rule, key=by_rule.get)
top_rule = (name, by_rule[name] / sum(by_rule.values()))
test_top_rule(top_rule)
print(f"{top_rule[0]} removed {100 * top_rule[1]:.0f}% of everything the rules removed")

# %% [markdown]
# **3. What would ASCII folding change?** Find the five most common non-ASCII characters in
# this profile's clean books (fewer if there are fewer), most common first, as one string;
# break ties by the character itself. Then look at what `cleaning.fold_ascii` makes of each.

# %%
top_non_ascii = None  # your answer: a string such as "’“”—é"

def test_top_non_ascii(answer):
    counts = {}
    for t in texts.values():
        for c in t:
            if not c.isascii():
                counts[c] = counts.get(c, 0) + 1
    expected = "".join(sorted(counts, key=lambda c: (-counts[c], c))[:5])
    assert answer == expected, f"{answer!r} is not {expected!r}: count every non-ASCII character of every book"

exercise("the most common non-ASCII characters", top_non_ascii, test_top_non_ascii)

# %%
# @title Solution (try it yourself first) { display-mode: "form" }
from collections import Counter

counts = Counter(c for t in texts.values() for c in t if not c.isascii())
top_non_ascii = "".join(sorted(counts, key=lambda c: (-counts[c], c))[:5])
test_top_non_ascii(top_non_ascii)
print("folded: " + ", ".join(f"{c!r} -> {cleaning.fold_ascii(c)!r} ({counts[c]:,}x)" for c in top_non_ascii))

# %% [markdown]
# ## Summary
#
# - Bytes become text by a rule, not a guess: a byte-order mark, then strict UTF-8, then
#   Windows-1252/Latin-1; anything else is refused with a message, and the rest of the books go on.
# - One small rule per kind of noise, each testable and measurable: the Gutenberg header, footer
#   and licence in five styles, credits, transcriber's notes, HTML, illustration tags, footnotes,
#   page numbers, tables of contents, `_italics_`, hard wrapping, Unicode forms and invisible
#   characters; ASCII folding is one option away.
# - The body starts at the book's own title page and ends with its last printed words; the test
#   suite checks that for all 87 shared books, and that cleaning twice changes nothing.
# - For books, a document is the whole book: stubs and exact copies go, paragraphs stay.
#
# `data/clean/` now holds one clean UTF-8 file per book and a manifest. Next, **02_tokenization**
# turns this text into token ids: GPT-2's BPE, a BPE trained on these very books, and characters.

# %%
print(f"notebook ran in {time.time() - t_start:.0f} s (build_clean: {build_seconds:.1f} s) on profile {PROFILE.name!r}")
