# %% [markdown]
# # Solutions · 01 Cleaning
#
# Read these after trying the exercises in [notebooks/01_cleaning.ipynb](../notebooks/01_cleaning.ipynb).
# Running this notebook first re-runs the lesson, so every solution is checked on the same data.

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

# %%
# %run ../notebooks/01_cleaning.py

# %% [markdown]
# ## Exercise 1: where the book is
#
# Two regular expressions, both anchored at the start of a line with `re.M`. The START pattern
# allows `THE` or `THIS` and an optional space after `***`; the marker closes with the next
# `***`, on the same line or, for a wrapped title, the next one, so the book starts after it.
# The footer starts at the first line, from there on, that begins an END marker or an
# "End of (the) Project Gutenberg" line; indentation is allowed, case is ignored.

# %%
import re

START_MARKER = re.compile(r"^\*\*\* ?START OF TH(?:E|IS) PROJECT GUTENBERG", re.M)
FOOTER_LINE = re.compile(r"^[ \t]*(?:\*\*\* ?END OF TH(?:E|IS) PROJECT GUTENBERG|End of (?:the )?Project Gutenberg)",
                         re.M | re.IGNORECASE)


def book_bounds(text):
    marker = START_MARKER.search(text)
    if marker is None:  # no START marker: keep everything (the package knows the 1990s styles)
        return 0, len(text)
    start = text.index("***", marker.end()) + 3  # the marker's closing ***, maybe on the next line
    footer = FOOTER_LINE.search(text, start)
    return start, footer.start() if footer else len(text)


exercise("where the book is", book_bounds, test_book_bounds)
test_book_bounds(book_bounds)  # raises if wrong

# %% [markdown]
# With your rule in place of the package's, section 5's comparison holds too:

# %%
find_book = book_bounds
differ = [book_id for book_id, text in raw_texts.items() if cleaning.clean_text(text).text != clean_by_hand(text)]
check(not differ, f"book_bounds + the other rules equal clean_text on all {len(raw_texts)} books", f"they differ on {differ}")

# %% [markdown]
# ## Exercise 2: a rule of your own, chapter headings
#
# One regular expression per line (`re.M`), case ignored (`re.I`): optional indentation, the
# word, at least one space, then Roman numerals or digits as a whole word (`\b`, so "Chapters"
# and "chapter one" do not match), and the rest of the line.

# %%
CHAPTER_LINE = re.compile(r"^[ \t]*(?:chapter|stave)[ \t]+(?:[ivxlcdm]+|\d+)\b.*$", re.I | re.M)


def remove_chapter_headings(text):
    return CHAPTER_LINE.sub("", text)


exercise("a chapter-heading rule", remove_chapter_headings, test_headings)
test_headings(remove_chapter_headings)  # raises if wrong
headings = sum(len(CHAPTER_LINE.findall(t)) for t in texts.values())
print(f"the rule removes {headings:,} heading lines from {len(texts)} books")

# %% [markdown]
# ## Exercise 3: what would ASCII folding change?
#
# A `Counter` over every character of every book that is not ASCII, sorted by count (highest
# first) and then by the character.

# %%
counts = Counter(c for t in texts.values() for c in t if not c.isascii())
top_non_ascii = "".join(sorted(counts, key=lambda c: (-counts[c], c))[:5])

exercise("the most common non-ASCII characters", top_non_ascii, test_top_non_ascii)
test_top_non_ascii(top_non_ascii)  # raises if wrong
print("folded: " + ", ".join(f"{c!r} -> {cleaning.fold_ascii(c)!r} ({counts[c]:,}x)" for c in top_non_ascii))
