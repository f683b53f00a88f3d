# %% [markdown]
# # Solutions · 03 Dataset
#
# Read these after trying the exercises in [notebooks/03_dataset.ipynb](../notebooks/03_dataset.ipynb).
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

PROFILE = start("03_dataset", drive=DRIVE)

# %%
# %run ../notebooks/03_dataset.py

# %% [markdown]
# ## Exercise 1: windows per epoch
#
# A window needs $T + 1$ tokens, so the last one may start at `len(train) - T - 1`. Starts are
# $0, s, 2s, \dots$ up to that, which makes $\lfloor (N - T - 1) / s \rfloor + 1$ windows for a
# split of $N$ tokens and stride $s$.

# %%
stride = T // 4
n_windows = (len(train) - T - 1) // stride + 1

exercise("windows per epoch", n_windows, test_windows)
test_windows(n_windows)  # raises if wrong
print(f"{n_windows:,} windows with stride {stride}")

# %% [markdown]
# ## Exercise 2: which book is this?
#
# Each entry covers `start` to `end` (the end-of-text token at `end` counts as the book's own),
# so return the first book whose range holds the position. With many books, a binary search
# over the starts (`bisect`) would do the same in $O(\log n)$.

# %%
def book_at(books, position):
    return next(b["book_id"] for b in books if b["start"] <= position <= b["end"])


exercise("book at a position", book_at, test_book_at)
test_book_at(book_at)  # raises if wrong
print(f"the first validation token is in {book_at(val.books, 0)!r}")

# %% [markdown]
# ## Exercise 3: a compute-optimal model for this corpus
#
# $D \approx 20N$ gives $N \approx D / 20$.

# %%
right_size = meta["counts"]["train"] / 20

exercise("a model sized for this corpus", right_size, test_right_size)
test_right_size(right_size)  # raises if wrong
print(f"about {right_size / 1e6:.2f}M parameters; the {PROFILE.model_preset} preset has "
      f"{params[PROFILE.model_preset] / 1e6:.2f}M")
