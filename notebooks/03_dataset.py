# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/03_dataset.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 03 · Dataset: token ids into training batches
#
# A GPT learns one thing: given some tokens, predict the next one. This notebook turns the
# cleaned books into exactly that exercise. You will
#
# 1. encode every book once and store the ids as a flat file of 16-bit numbers, with an
#    end-of-text token between books;
# 2. hold some text out for validation, and see why *how* you hold it out decides whether the
#    validation loss means anything;
# 3. cut batches of next-token pairs out of those files: random windows (nanoGPT's way) and
#    epochs of fixed, overlapping windows, both repeatable from a seed and resumable;
# 4. read the files memory-mapped, so a corpus larger than your RAM trains just as well;
# 5. weigh the corpus against the model sizes of the course (tokens per parameter).
#
# **Reads** `data/clean/` (01) and `data/tokenizer/` (02); rebuilds them if they are missing.
# **Writes** `data/tokens/train.bin`, `val.bin` and `meta.json` (dtype, vocabulary size,
# tokenizer and its SHA-256, how validation was split, token and byte counts, and where every
# book lies in the files), which training (05) and evaluation (06) read.
#
# Expected runtime:
# - `ci` (3 short books, a 512-token BPE): about 15 seconds
# - `cpu` (33 books, an 8,000-token BPE, on a 2-core laptop CPU): under a minute
# - `gpu` (33 books, GPT-2's tokenizer): under a minute
#
# **Core path:** sections 1 to 6, 8 and the exercises (10). The DataLoader part of section 6,
# section 7 (memory-mapped files) and section 9 (what the dataset refuses) are optional.

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

# %% [markdown]
# ## 1. The inputs
#
# The cleaned books from 01 and the tokenizer from 02. `ensure` rebuilds them for this profile
# if they are missing (a fresh Colab, say), so the notebook also runs on its own.

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from minigpt_helpers import artifacts, dataset, lessons, stages, tokenization
from minigpt_helpers.checks import check, check_between, exercise
from minigpt_helpers.notebook import figure
from minigpt_helpers.profiles import pick_device

stages.ensure("tokenizer", PROFILE)
tok = tokenization.load_tokenizer()
books = artifacts.read_manifest("clean")["books"]
print(f"{len(books)} books, {sum(b['bytes'] for b in books) / 1e6:.2f} MB of clean text; "
      f"tokenizer {tok.name}: {tok.vocab_size:,} ids, end-of-text id {tok.eot_id}")

# %% [markdown]
# ## 2. A token file is just numbers on disk
#
# Training reads the same ids again and again, so we encode once and store the result. The
# simplest store is the one nanoGPT uses: every id, one after the other, as raw binary numbers.
# No header, no separators but the ids themselves, so position *i* in the file is token *i*.
#
# How many bits per id? The largest id is `vocab_size - 1`. Any vocabulary up to 65,536 entries
# (GPT-2 has 50,257, our BPE 8,000) fits in an unsigned 16-bit integer: 2 bytes per token
# instead of the 8 of an int64. Larger vocabularies need `uint32`.
#
# Between two books goes the tokenizer's end-of-text id. Without it, the last sentence of one
# book would run straight into the first of the next, and the model would learn that *Emma*
# continues *Moby Dick*. With it, the model learns that after end-of-text anything can start.

# %%
first = books[0]
text = (artifacts.stage_dir("clean") / first["file"]).read_text(encoding="utf-8")
dtype = np.uint16 if tok.vocab_size <= 2**16 else np.uint32
ids = np.array(tok.encode(text) + [tok.eot_id], dtype=dtype)
print(f"{first['title']!r}: {len(text):,} characters -> {len(ids):,} tokens "
      f"({len(text.encode()) / len(ids):.2f} bytes per token), {ids.nbytes:,} bytes as {ids.dtype}")
print("first ids:", ids[:12].tolist())

# %%
scratch = artifacts.data_dir() / "scratch-03"
scratch.mkdir(exist_ok=True)
ids.tofile(scratch / "one_book.bin")
back = np.fromfile(scratch / "one_book.bin", dtype=dtype)
check(np.array_equal(back, ids), "the file reads back as the same ids")
check((scratch / "one_book.bin").stat().st_size == ids.itemsize * len(ids), f"{ids.itemsize} bytes per token, nothing else")
check(dataset.token_dtype(tok.vocab_size) == dtype, f"the package picks {np.dtype(dtype).name} for {tok.vocab_size:,} ids too")

# %% [markdown]
# ## 3. Holding text out: three ways, one of them wrong
#
# The validation loss is our only honest measure of whether the model learned *language* or
# memorised *these pages*. It is honest only if the validation text was never trained on. Three
# common ways to split:
#
# - **Random windows.** Cut the corpus into (often overlapping) windows and send a random 10% to
#   validation. Easy, and wrong: a validation window's text also sits in its neighbours, which
#   are in training. The model can score well on it by memory. We measure this below.
# - **The tail of every book** (`split_mode="tail"`): train on the first 90% of each book,
#   validate on the last 10%. No text is shared, but the characters, names and style are, so it
#   measures "can you continue books you know", which is easier than what we want.
# - **Whole held-out books** (`split_mode="books"`, the course's default): some books are never
#   trained on. This is the honest test of generalisation, and evaluation (06) scores each
#   held-out book separately.
#
# %%
figure("validation_splits")

# %% [markdown]
# Which books? A fixed seed shuffles them (so every run, on any machine, holds out the same books
# for the same book list); walking in that order, a book goes to validation when it brings the
# held-out share of bytes closer to `val_fraction`. At least one book is held out and at least
# one kept. By hand:

# %%
import random

sizes = {b["book_id"]: b["bytes"] for b in books}
order = list(sizes)
random.Random(dataset.SPLIT_SEED).shuffle(order)
target, held, val_books = PROFILE.val_fraction * sum(sizes.values()), 0, []
for book_id in order:
    if len(val_books) < len(books) - 1 and abs(held + sizes[book_id] - target) < abs(held - target):
        val_books.append(book_id)
        held += sizes[book_id]
print(f"held out {len(val_books)} of {len(books)} books, {held / sum(sizes.values()):.1%} of the bytes "
      f"(target {PROFILE.val_fraction:.0%}):", [b["title"] for b in books if b["book_id"] in val_books])

# %%
package_choice = dataset.choose_val_books(books, PROFILE.val_fraction, seed=dataset.SPLIT_SEED)
check(sorted(package_choice, key=str) == sorted(val_books, key=str), "the package holds out the same books")

# %% [markdown]
# The tail split cuts each book at `1 - val_fraction` of its characters, moved back to the start
# of a line so no word is cut in half. Here is the seam in the first book:

# %%
cut = dataset.tail_cut(text, PROFILE.val_fraction)
print(f"cut at character {cut:,} of {len(text):,} ({cut / len(text):.1%})")
print("... end of train part:", repr(text[max(0, cut - 80):cut]))
print("start of val part:    ", repr(text[cut:cut + 80]), "...")

# %% [markdown]
# ## 4. Build the token files
#
# `stages.build_tokens(PROFILE)` does all of the above for every book: split (mode and
# fraction from the profile, seed 42), encode in large batches (the tokenizer spreads a batch
# over all cores), and stream the ids into `train.bin` and `val.bin`. Files are written to a
# temporary name and renamed when complete, so a crash never leaves half a file behind;
# `meta.json` and the stage manifest come last.

# %%
t0 = time.perf_counter()
folder = stages.build_tokens(PROFILE)
build_seconds = time.perf_counter() - t0
meta = dataset.read_meta()
print(f"built {folder} in {build_seconds:.1f} s")
print({k: meta[k] for k in ("dtype", "vocab_size", "counts", "bytes")})
print("tokenizer:", meta["tokenizer"]["name"], meta["tokenizer"]["sha256"][:16] + "...", "| split:", meta["split"])

# %% [markdown]
# `meta.json` also lists every book (or, in tail mode, every part of a book) with the split it
# went to and its `start` and `end` offsets in that split's file. The offsets must be exact:
# decoding `val.bin[start:end]` gives back the book's clean text, character for character, and
# our by-hand encoding of the first book is exactly its stretch of the file.

# %%
print(json.dumps(meta["books"][0], ensure_ascii=False))
val = dataset.load_tokens("val", tokenizer=tok)
train = dataset.load_tokens("train", tokenizer=tok)
piece = val.books[0]
clean_text = (artifacts.stage_dir("clean") / next(b["file"] for b in books if b["book_id"] == piece["book_id"])).read_text(encoding="utf-8")
check(tok.decode(val[piece["start"]:piece["end"]].tolist()) == clean_text[piece["char_start"]:piece["char_end"]],
      f"val.bin[{piece['start']}:{piece['end']}] decodes to exactly {piece['title']!r}")
mine = next(b for b in meta["books"] if b["book_id"] == first["book_id"])
part = text[mine["char_start"]:mine["char_end"]]  # the whole book, unless split_mode="tail"
by_hand = ids if part == text else np.array(tok.encode(part) + [tok.eot_id], dtype=dtype)
split_data = train if mine["split"] == "train" else val
check(np.array_equal(split_data[mine["start"]:mine["end"] + 1], by_hand), "the package's file holds our by-hand ids of the first book, end-of-text included")

# %% [markdown]
# The counts should add up: every file is exactly its token count times 2 (or 4) bytes, and with
# whole held-out books the validation share of tokens lands near `val_fraction` (we accept half
# to twice it: books come in lumps, and some books take more tokens per byte than others).

# %%
for split in ("train", "val"):
    size = (folder / f"{split}.bin").stat().st_size
    check(size == meta["counts"][split] * np.dtype(meta["dtype"]).itemsize, f"{split}.bin: {meta['counts'][split]:,} tokens, {size:,} bytes")
share = meta["counts"]["val"] / (meta["counts"]["train"] + meta["counts"]["val"])
check_between(share, PROFILE.val_fraction / 2, PROFILE.val_fraction * 2, "validation share of the tokens")

# %%
fig, ax = plt.subplots(figsize=(10, 4), dpi=90)
rows = sorted(meta["books"], key=lambda b: -b["tokens"])
labels = [lessons.short_title(b["title"], 28) + (" (val)" if b["split"] == "val" and meta["split"]["mode"] == "tail" else "") for b in rows]
ax.bar(range(len(rows)), [b["tokens"] for b in rows], color=["tab:orange" if b["split"] == "val" else "tab:blue" for b in rows])
ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=7)
ax.set_ylabel("tokens")
ax.set_title(f"Tokens per book: blue trains, orange is held out ({meta['split']['mode']} split)")
fig.tight_layout()

# %% [markdown]
# ## 5. Why a random-window split leaks
#
# Let us measure it. For each of the three ways to split these same tokens, take every run of
# 16 consecutive tokens in the validation text and ask whether exactly that run also occurs in
# the training text (`lessons.ngram_overlap`). Sixteen tokens is a dozen words: a repeat is
# almost never chance. Whatever the model can recall verbatim from training helps it on those.
#
# The random-window split below uses windows of the profile's context length, overlapping by
# half (twice the training examples from the same text), and sends a random 10% of them to validation.

# %%
T = PROFILE.context_length
per_book = [(train if b["split"] == "train" else val)[b["start"]:b["end"]] for b in meta["books"]]
everything = np.concatenate(per_book)
window_starts = np.arange(0, len(everything) - T, T // 2)
is_val = np.random.default_rng(0).random(len(window_starts)) < PROFILE.val_fraction

def windows_at(starts):
    return np.concatenate([everything[s:s + T] for s in starts])

cuts = [int(len(b) * (1 - PROFILE.val_fraction)) for b in per_book]
splits = {  # name: (validation tokens, training tokens)
    "random windows": (windows_at(window_starts[is_val]), windows_at(window_starts[~is_val])),
    "tail of every book": (np.concatenate([b[c:] for b, c in zip(per_book, cuts)]),
                           np.concatenate([b[:c] for b, c in zip(per_book, cuts)])),
    "whole held-out books": (np.asarray(val), np.asarray(train)),
}
leak = {name: lessons.ngram_overlap(held_out, seen, n=16) for name, (held_out, seen) in splits.items()}
print({name: f"{share:.1%}" for name, share in leak.items()})

# %%
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.barh(list(leak), [100 * v for v in leak.values()], color=["tab:red", "tab:orange", "tab:green"])
for i, v in enumerate(leak.values()):
    ax.text(100 * v + 1, i, f"{v:.1%}", va="center")
ax.set_xlim(0, 105)
ax.set_xlabel("% of validation 16-token runs also found in training")
ax.invert_yaxis()
fig.tight_layout()

# %% [markdown]
# Half or more of a random-window validation set (we expect 40% to 100%; more for longer
# windows) has been trained on, word for word: a low validation
# loss there says little. Held-out books share only the stock phrases of English. The tail split
# shares almost no text either, but the same characters and places run on into the tail, which
# is why we prefer whole books. (If you split by random windows, split *before* cutting windows
# and never let windows overlap across the boundary; whole books is the simplest way to do that.)

# %%
check_between(leak["random windows"], 0.4, 1.0, "random-window split: share of validation runs found in training",
              "the windows overlap by half: each validation window's halves sit in its neighbours")
check(leak["whole held-out books"] < 0.2 and leak["whole held-out books"] < leak["random windows"] / 3,
      "held-out books share little verbatim text with training")

# %% [markdown]
# ## 6. Batches: next-token pairs
#
# A training example is a window of `T` tokens, the input `x`, and the same window moved one
# token to the right, the target `y`. From a window that starts at position $s$ of the file
# (token ids $u_0, u_1, \dots$):
#
# $$x_t = u_{s+t}, \qquad y_t = u_{s+t+1} = x_{t+1}, \qquad t = 0, \dots, T-1.$$
#
# At every position `t` the model sees `x[:t+1]` and must predict `y[t]`. One window of `T + 1`
# tokens gives `T` predictions at once.
#
# nanoGPT picks random start positions for every batch. That is fast and needs no bookkeeping.
# Any start from 0 to `len - T - 1` is allowed: the last target is then the file's last token,
# and no window ever reads past the end. Train and validation are separate files, so no window
# can start in training and run into validation. By hand, with a seeded generator:

# %%
B = 4
g = torch.Generator().manual_seed(0)
starts = torch.randint(len(train) - T, (B,), generator=g).tolist()
x = torch.stack([torch.from_numpy(train[s:s + T].astype(np.int64)) for s in starts])
y = torch.stack([torch.from_numpy(train[s + 1:s + 1 + T].astype(np.int64)) for s in starts])
print("x", tuple(x.shape), x.dtype, "| starts", starts)

# %%
xb, yb = dataset.get_batch(train, B, T, seed=0)
check(torch.equal(xb, x) and torch.equal(yb, y), "dataset.get_batch gives the same batch from the same seed")
check(torch.equal(xb[:, 1:], yb[:, :-1]), "the targets are the inputs shifted by one")
check(xb.dtype == torch.int64, "int64 ids, what an embedding table and cross-entropy expect")

# %% [markdown]
# The same batch as text: each input token, and under it the token the model must predict there.

# %%
def show_pairs(x_row, y_row, n=14):
    """Draw n input tokens with their targets under them."""
    piece = lambda i: tok.token_piece(int(i)).replace("\n", "↵").replace(" ", "·") or "∅"  # noqa: E731
    fig, ax = plt.subplots(figsize=(10, 2.2), dpi=90)
    for t in range(n):
        for row, ids_, colour in ((1, x_row, "#dbe9f6"), (0, y_row, "#fde2c8")):
            ax.text(t, row, piece(ids_[t]), ha="center", va="center", fontsize=8, family="monospace",
                    bbox=dict(boxstyle="round", fc=colour, ec="grey"))
        ax.annotate("", xy=(t, 0.25), xytext=(t, 0.75), arrowprops=dict(arrowstyle="->", color="grey"))
    ax.set_xlim(-0.6, n - 0.4), ax.set_ylim(-0.5, 1.5), ax.axis("off")
    ax.text(-0.6, 1.45, "input x  (·space ↵newline)", fontsize=8), ax.text(-0.6, -0.5, "target y = next token", fontsize=8)

show_pairs(xb[0], yb[0])

# %% [markdown]
# ### Epochs of fixed windows, and a stride
#
# Random windows visit some text twice before other text once. The alternative is an **epoch**:
# cut the file into fixed windows, one starting every `stride` tokens, shuffle their order with a
# seed, and visit each once. With `stride = T` the windows tile the text; with `stride = T/2`
# (the course's choice) they overlap by half, giving twice the examples per epoch, each text
# position seen at two different distances from the window start. The picture shows the first
# windows of both:

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3), dpi=90, sharex=True)
for ax, stride, colour in zip(axes, (T, T // 2), ("tab:blue", "tab:purple")):
    ds = lessons.WindowDataset(train, T, stride=stride)
    for i in range(4 * T // stride):  # the windows that start in the first 4T tokens, one per row
        ax.barh(i, T + 1, left=ds.start(i), height=0.6, color=colour, alpha=0.8)
    ax.invert_yaxis(), ax.set_ylabel("window"), ax.set_xlabel("token position in train.bin")
    ax.set_title(f"stride {stride}: {len(ds):,} windows per epoch", fontsize=10)
fig.tight_layout()

# %% [markdown]
# `lessons.EpochBatches` serves those windows in batches, epoch after epoch, with a new shuffle
# each epoch fixed by `(seed, epoch)`. A training run that stops and resumes must see exactly the
# batches it would have seen, so the sampler's position is part of a checkpoint: `state_dict()`
# returns a few integers (`RandomBatches` returns its generator's state), `load_state_dict()`
# puts them back. Training (05) saves it with the model.

# %%
sampler = lessons.EpochBatches(train, B, T, stride=T // 2, seed=0)
for _ in range(5):
    next(sampler)
saved = sampler.state_dict()
expected = [next(sampler) for _ in range(3)]
resumed = lessons.EpochBatches(train, B, T, stride=T // 2, seed=0)
resumed.load_state_dict(saved)
check(all(torch.equal(next(resumed)[0], ex) for ex, _ in expected), "a resumed epoch sampler gives the same next batches")
print(saved)

# %% [markdown]
# ### The PyTorch way: `Dataset` and `DataLoader` (optional)
#
# *Optional: skip to section 8 for the core path.*
#
# PyTorch has its own classes for feeding training, and many courses use them.
# `lessons.WindowDataset` is a `Dataset` of the same fixed windows (item *i* starts at
# `i * stride`), and `lessons.make_loader` wraps it in a shuffled `DataLoader` with a seeded
# generator. On a GPU the loader puts batches in **pinned** (page-locked) memory, from which
# `x.to("cuda", non_blocking=True)` copies while the GPU is still busy with the previous step;
# `get_batch` and the samplers do the same when given `device="cuda"`.

# %%
loader = lessons.make_loader(train, B, T, stride=T // 2, seed=0)
xl, yl = next(iter(loader))
check(xl.shape == (B, T) and torch.equal(xl[:, 1:], yl[:, :-1]), f"the DataLoader gives ({B}, {T}) batches of shifted pairs")
device = pick_device()
xd, yd = dataset.get_batch(train, B, T, seed=0, device=device)  # pinned + non_blocking on CUDA
print(f"{len(loader):,} batches per epoch; a get_batch batch on {xd.device}")

# %% [markdown]
# ## 7. Memory-mapped: corpora larger than RAM (optional)
#
# *Optional: skip to section 8 for the core path.*
#
# `load_tokens` does not read the file. It memory-maps it (`np.memmap`): the operating system
# loads the pages a slice touches, when it touches them, and may drop them again. A window of
# 129 tokens is 258 bytes; the system reads a little around it (tens of KB), whatever the file's
# size. To see it, we make a 1 GiB token file (half a billion zeros, written as a *sparse* file,
# so it costs no disk) and draw batches from it, watching how much memory this process holds.

# %%
import psutil

big = scratch / "big.bin"
with open(big, "wb") as f:
    f.truncate(2**30)  # 1 GiB of uint16 zeros; no data written
proc = psutil.Process()
rss_before = proc.memory_info().rss
huge = np.memmap(big, dtype=np.uint16, mode="r")
for _ in range(20):
    hx, hy = dataset.get_batch(huge, 16, 128)
grew = (proc.memory_info().rss - rss_before) / 2**20
print(f"{len(huge):,} tokens in a {big.stat().st_size / 2**30:.0f} GiB file; after 20 batches this process holds {grew:.1f} MiB more")

# %%
check(isinstance(train.tokens, np.memmap), "load_tokens memory-maps the split")
check(grew < 100, f"20 batches from a 1024 MiB file added {grew:.1f} MiB of memory (expected under 100), not the file")
del huge
big.unlink()

# %% [markdown]
# ## 8. Is the corpus big enough? Tokens per parameter
#
# How much text should a model of a given size see? The Chinchilla study (Hoffmann et al., 2022)
# trained over 400 models of many sizes on different amounts of text and found that, for a given
# compute budget, the lowest loss comes from about **20 training tokens per parameter**:
#
# $$D \approx 20\,N \qquad (D \text{ training tokens}, N \text{ parameters}).$$
#
# It is a rule of thumb for spending compute, not a law, and it is about a single pass over fresh text: far below 20 the
# model could have learned more from more text (it is *compute-limited* if it stops before one
# pass, as the `cpu` run does); a model that reads the same small corpus many times can also start
# to memorise it, which shows as a widening gap between training and validation loss (05, 06);
# far above 20 it keeps improving, only more slowly per step (small models meant to run cheaply
# are often trained at hundreds of tokens per parameter).
#
# Here are the course's model presets, built on PyTorch's `meta` device (shapes only, no memory)
# with this notebook's vocabulary, against the training tokens we just wrote:

# %%
from minigpt_helpers import model as gpt

params = {}
for name in gpt.PRESETS:
    with torch.device("meta"):  # count parameters without allocating them
        params[name] = gpt.GPT(gpt.preset(name, vocab_size=meta["vocab_size"], arch=PROFILE.arch)).num_parameters()
ratio = {name: meta["counts"]["train"] / n for name, n in params.items()}
for name in params:
    print(f"{name:>16}: {params[name] / 1e6:7.2f}M parameters, {ratio[name]:8.2f} training tokens per parameter")

# %%
fig, ax = plt.subplots(figsize=(9, 3.5), dpi=90)
names = sorted(ratio, key=ratio.get)
ax.barh(names, [ratio[n] for n in names], color=["tab:green" if n == PROFILE.model_preset else "tab:blue" for n in names])
ax.axvline(20, color="tab:red", ls="--", label="about 20 tokens per parameter (Chinchilla)")
ax.set_xscale("log"), ax.set_xlabel(f"training tokens per parameter ({meta['counts']['train']:,} tokens)")
ax.legend(loc="lower right", fontsize=8), ax.set_title(f"This corpus against each model preset (green: the {PROFILE.name} profile's)")
fig.tight_layout()

# %% [markdown]
# Our corpus is small for every preset: a few books hold millions of tokens, not hundreds of
# millions. Two ways out: train a smaller model, or read the data several times (epochs).
# Repeated text is worth less than fresh text, but a few epochs still help. This profile's
# training run (05) will show the model this many tokens:

# %%
seen = PROFILE.max_steps * PROFILE.batch_size * PROFILE.grad_accum_steps * PROFILE.context_length
print(f"{PROFILE.name} profile: at most {PROFILE.max_steps:,} steps x {PROFILE.batch_size} x {PROFILE.context_length} tokens = {seen:,} tokens, "
      f"{seen / meta['counts']['train']:.2f} epochs, {seen / params[PROFILE.model_preset]:.2f} tokens per parameter "
      f"(20 per parameter would need {20 * params[PROFILE.model_preset]:,} tokens)")
real = gpt.GPT(gpt.config_for_profile(PROFILE, vocab_size=meta["vocab_size"])).num_parameters()
check(real == params[PROFILE.model_preset],
      f"counting on the meta device gives the real {PROFILE.model_preset!r} model's {real:,} parameters")

# %% [markdown]
# ## 9. What the dataset refuses (optional)
#
# *Optional: skip to section 10 for the core path.*
#
# Two mistakes that would otherwise fail late, or silently. A context window longer than the
# text cannot give even one training example; the error says how long it may be. And token ids
# are meaningless without their tokenizer: ids made by one vocabulary and read with another
# produce a model that trains fine and speaks garbage. `load_tokens` compares the tokenizer's
# SHA-256 and vocabulary size with `meta.json` and refuses a mismatch.

# %%
def error_of(call):
    """The message of the ValueError that call() raises (None if it raises none)."""
    try:
        call()
    except ValueError as err:
        return str(err)

too_long = error_of(lambda: dataset.get_batch(val, B, len(val) + 100))
print(too_long)
check(too_long is not None and "smaller context_length" in too_long, "a context longer than the split is refused, naming a smaller one")

# %%
wrong_vocab = error_of(lambda: dataset.load_tokens("train", vocab_size=tok.vocab_size + 1))
print(wrong_vocab)
other_tok = tokenization.CharTokenizer.train([text[:5000]])
wrong_tok = error_of(lambda: dataset.load_tokens("train", tokenizer=other_tok))
print(wrong_tok)
check(wrong_vocab is not None and wrong_tok is not None and "sha256" in wrong_tok, "a different vocabulary or tokenizer is refused")

# %% [markdown]
# ## 10. Exercises
#
# **Exercise 1: windows per epoch.** With `stride = T // 4`, how many fixed windows does the
# training split hold? Work it out from `len(train)`, `T` and the stride (the last window needs
# `T + 1` tokens), without building a `WindowDataset`.

# %%
n_windows = None  # your answer: an int


def test_windows(answer):
    expected = len(lessons.WindowDataset(train, T, stride=T // 4))
    assert answer == expected, f"{answer} is not {expected}: a window may start at 0, s, 2s, ... up to len(train) - T - 1"


exercise("windows per epoch", n_windows, test_windows)

# %% [markdown]
# *Solution:* [solutions/03_dataset.ipynb](../solutions/03_dataset.ipynb), exercise 1.
#
# **Exercise 2: which book is this?** Evaluation reports a score per held-out book. Write
# `book_at(books, position)` that returns the `book_id` of the entry of `books` that covers a
# position in the split's file. `books` is a list like `val.books`: each entry has `book_id`,
# `start` and `end`, and the end-of-text token at `end` counts as the book's own (the next book
# starts at `end + 1`). The check tries a made-up list of three books, then `val.books`.

# %%
book_at = None  # your answer: a function, def book_at(books, position): ...

MADE_UP_BOOKS = [{"book_id": "a", "start": 0, "end": 9}, {"book_id": "b", "start": 10, "end": 24},
                 {"book_id": "c", "start": 25, "end": 65}]


def test_book_at(f):
    for books in (MADE_UP_BOOKS, val.books):
        assert books, "no book to test on"
        for b in books:
            for pos in (b["start"], (b["start"] + b["end"]) // 2, b["end"]):
                try:
                    found = f(books, pos)
                except Exception as err:  # a crash in your function fails the check, it does not stop the notebook
                    raise AssertionError(f"book_at(books, {pos}) raised {err!r}") from err
                assert found == b["book_id"], f"position {pos} lies in book {b['book_id']!r}, not {found!r}"


exercise("book at a position", book_at, test_book_at)

# %% [markdown]
# *Solution:* [solutions/03_dataset.ipynb](../solutions/03_dataset.ipynb), exercise 2.
#
# **Exercise 3: a compute-optimal model for this corpus.** Using $D \approx 20N$, how many
# parameters would a model have that is "just right" for our training tokens? (Answer within 1%.)

# %%
right_size = None  # your answer: a number of parameters


def test_right_size(answer):
    expected = meta["counts"]["train"] / 20
    assert abs(answer - expected) <= 0.01 * expected, f"{answer:,.0f} is not about {expected:,.0f}: tokens / 20"


exercise("a model sized for this corpus", right_size, test_right_size)

# %% [markdown]
# *Solution:* [solutions/03_dataset.ipynb](../solutions/03_dataset.ipynb), exercise 3.

# %%
import shutil

shutil.rmtree(scratch, ignore_errors=True)  # the by-hand files of this notebook are not needed again

# %% [markdown]
# ## Summary
#
# - The books are now two flat files of token ids (`uint16` here), one end-of-text id after each
#   book, and `meta.json` says how they were made: tokenizer and its SHA-256, split, counts, and
#   the exact offsets of every book.
# - Validation holds out whole books. A random-window split would have put most validation text
#   in training; the tail split shares characters and style.
# - A batch is `(x, y)` with `y` = `x` shifted by one. Random windows (`get_batch`,
#   `RandomBatches`) or epochs of fixed, overlapping windows (`EpochBatches`, or a `DataLoader`
#   over `WindowDataset`), all seeded and resumable.
# - The files are memory-mapped: a batch reads only its windows, so the corpus may exceed RAM.
# - Our corpus is small next to the "about 20 tokens per parameter" rule. The `cpu` run reads
#   less than one pass of it (compute-limited); the `gpu` profile reads it several times, so
#   there watch the gap between training and validation loss for memorisation (05, 06).
#
# **Next:** 04_model builds the GPT itself, piece by piece, that turns a batch `x` into a
# prediction for every position of `y`.
