# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/02_tokenization.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 02 · Tokenization: clean text to token ids
#
# A GPT never sees letters. It sees a sequence of integers, each one an index into a fixed
# vocabulary, and it learns to predict the next integer. This notebook decides what those
# integers stand for. You will
#
# 1. see why neither characters nor words make a good vocabulary, and why bytes are the floor;
# 2. write byte-pair encoding (BPE) yourself on a toy text, watch the merges happen, and check
#    that your merges are exactly the ones Hugging Face's `tokenizers` learns;
# 3. use three real tokenizers behind one interface: GPT-2's 50,257-token BPE (tiktoken), a BPE
#    trained on *our* books, and plain characters;
# 4. look at token boundaries in colour (and type your own text into a live viewer);
# 5. measure how much text each token carries, and what a big vocabulary costs in parameters;
# 6. write the profile's tokenizer to `data/tokenizer/`.
#
# **Reads** `data/clean/` (01; rebuilt for this profile if missing). **Writes**
# `data/tokenizer/`: `tokenizer_config.json` (kind, vocabulary size, end-of-text id, SHA-256),
# the tokenizer's own file (`tokenizer.json` for a trained BPE) and `manifest.json`, which
# records the SHA-256 so that 03_dataset and every later stage can tell if it changed.
#
# Expected runtime:
# - `ci` (3 short books, a 512-token BPE): about 10 seconds
# - `cpu` (33 books, an 8,000-token BPE, on a 2-core laptop CPU): about a minute
# - `gpu` (33 books, GPT-2's tokenizer): under a minute
#
# **Core path:** sections 1 to 6, 9, 10 and the exercises (11). Sections 7 (speed on every
# core) and 8 (compression against vocabulary size) are optional.

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

PROFILE = start("02_tokenization", drive=DRIVE)

# %% [markdown]
# ## 1. The input: clean books
#
# The cleaned books from 01. `ensure` rebuilds them for this profile if they are missing (a
# fresh Colab, say), so this notebook also runs on its own.

# %%
import json
import time
from collections import Counter

import matplotlib.pyplot as plt
import regex  # like `re`, but knows Unicode classes such as \p{L} (any letter)
import torch
from IPython.display import HTML, display

from minigpt_helpers import artifacts, lessons, model, stages, tokenization, widgets
from minigpt_helpers.checks import check, check_between, exercise
from minigpt_helpers.notebook import figure

stages.ensure("clean", PROFILE)
texts = tokenization.clean_texts()
n_bytes = sum(len(t.encode("utf-8")) for t in texts)
print(f"{len(texts)} clean books, {n_bytes / 1e6:.2f} MB of UTF-8 text")

# %% [markdown]
# ## 2. Characters, words or bytes?
#
# A vocabulary has to cover *any* text the model may meet, and every token should carry as
# much text as possible, because the model reads a fixed number of tokens at a time (its
# context) and pays for every one.
#
# - **Characters**: a small vocabulary (about a hundred in English books), but a sentence
#   becomes a long sequence, so a context of 128 tokens holds a couple of lines.
# - **Words**: short sequences, but hundreds of thousands of entries, and still a word the model
#   never saw ("Gutenbergian") has no id at all.
# - **Bytes**: UTF-8 turns any text into bytes, so 256 ids cover everything, from English to
#   emoji. But that is even longer than characters.
#
# Byte-pair encoding starts from bytes (so nothing is ever unknown) and then *adds* tokens for
# the byte sequences that occur most often, until the vocabulary has the size we chose.

# %%
sample = "Tea for two: café, naïve, 😀."
raw = sample.encode("utf-8")
print(f"{len(sample)} characters -> {len(raw)} bytes")
print(list(raw))

# %% [markdown]
# `é` and `ï` take two bytes each and the emoji four: a byte vocabulary needs no special
# cases for them, it just spends more ids.
#
# ## 3. BPE by hand
#
# The whole algorithm fits in a few lines:
#
# 1. split the text into words (so tokens never cross a word boundary);
# 2. write each word as bytes;
# 3. count every pair of neighbouring tokens, over all words;
# 4. make the most frequent pair a new token, replace it everywhere, and go back to 3.
#
# Each merge adds one token to the vocabulary and makes the text shorter:

# %%
figure("bpe_merges")

# %% [markdown]
# We do it on a toy text, small enough to watch. The word split is GPT-2's rule: a word keeps
# the space in front of it (" cat"), and punctuation, digits and runs of spaces are pieces of
# their own.

# %%
toy = (
    "the cat sat on the mat, and the rat sat on the hat.\n"
    "then the cat saw the rat, and the rat ran at the cat.\n"
    "that is the tale of the cat, the rat, the mat and the hat.\n"
)
SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
words = Counter(regex.findall(SPLIT, toy))
print(f"{sum(words.values())} words, {len(words)} distinct; the commonest:", words.most_common(6))

# %% [markdown]
# Each byte gets an id. GPT-2 (and Hugging Face, which we compare with below) store each byte as
# a printable character, the space as `Ġ` and a newline as `Ċ`, and number the 256 bytes in the
# order of those characters. We number ours the same way: when two pairs are equally frequent,
# both implementations then break the tie alike (lowest ids first).

# %%
print("the space is stored as", repr(tokenization.BYTE_TO_CHAR[ord(" ")]), "and a newline as", repr(tokenization.BYTE_TO_CHAR[ord("\n")]))
byte_order = sorted(range(256), key=lambda b: tokenization.BYTE_TO_CHAR[b])
vocab = {i: bytes([b]) for i, b in enumerate(byte_order)}  # id -> the bytes it stands for
id_of_byte = {b: i for i, b in enumerate(byte_order)}
corpus = {tuple(id_of_byte[b] for b in w.encode("utf-8")): n for w, n in words.items()}  # word -> count

# %%
def count_pairs(corpus):
    """How often each pair of neighbouring ids occurs, over all words."""
    counts = Counter()
    for word, n in corpus.items():
        for pair in zip(word, word[1:]):
            counts[pair] += n
    return counts


def merge(word, pair, new_id):
    """``word`` with every occurrence of ``pair`` (left to right) replaced by ``new_id``."""
    out, i = [], 0
    while i < len(word):
        if word[i:i + 2] == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)

# %% [markdown]
# Now the loop. Each merge adds one token; watch frequent words assemble themselves.

# %%
N_MERGES = 40
merges, toy_tokens = [], [sum(len(w) * n for w, n in corpus.items())]
for step in range(N_MERGES):
    counts = count_pairs(corpus)
    if not counts:  # every word is a single token already
        break
    pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))  # most frequent; ties: lowest ids
    new_id = 256 + step
    vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
    merges.append(pair)
    corpus = {merge(w, pair, new_id): n for w, n in corpus.items()}
    toy_tokens.append(sum(len(w) * n for w, n in corpus.items()))
    if step < 10 or step == N_MERGES - 1:
        print(f"merge {step + 1:2d}: {vocab[pair[0]]!r:8} + {vocab[pair[1]]!r:8} -> {vocab[new_id]!r:10} ({counts[pair]} times)")

# %%
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.plot(range(len(toy_tokens)), toy_tokens, marker=".")
ax.set(xlabel="merges learned", ylabel="tokens in the toy text", title="Every merge makes the text shorter")
ax.axhline(len(toy.encode()), color="grey", lw=0.8, ls="--")
ax.text(len(toy_tokens) - 1, len(toy.encode()), "bytes in the text ", va="top", ha="right", color="grey")
plt.tight_layout()
plt.show()

# %% [markdown]
# Encoding new text replays the merges in the order they were learned: split into words, write
# each as bytes, then keep applying the earliest-learned merge that fits until none does.
# Decoding is the easy direction: look up each id's bytes and join them.

# %%
rank = {pair: 256 + k for k, pair in enumerate(merges)}  # pair -> the id it became


def toy_encode(text):
    ids = []
    for w in regex.findall(SPLIT, text):
        word = tuple(id_of_byte[b] for b in w.encode("utf-8"))
        while len(word) > 1:
            pair = min(zip(word, word[1:]), key=lambda p: rank.get(p, float("inf")))
            if pair not in rank:
                break
            word = merge(word, pair, rank[pair])
        ids.extend(word)
    return ids


def toy_decode(ids):
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")

# %%
new = "the rat and the cat sat at the mat; a bat sat on that hat 🦇."
ids = toy_encode(new)
check(toy_decode(ids) == new, "toy_decode(toy_encode(text)) gives the text back, emoji included")
check(len(ids) < len(new.encode()), f"{len(ids)} tokens for {len(new.encode())} bytes: fewer tokens than bytes")

# %% [markdown]
# ### Check: is that what a real library learns?
#
# Hugging Face's `tokenizers` trains the byte-level BPE that this course uses (the package
# wraps it as `tokenization.BPETokenizer`). Train it on the same toy text with room for exactly
# as many merges (3 special tokens + 256 bytes + ours) and compare, merge by merge, and then
# token by token on the new sentence.

# %%
hf = tokenization.BPETokenizer.train([toy], vocab_size=3 + 256 + len(merges), min_frequency=1)
mine = [(vocab[a], vocab[b]) for a, b in merges]
check(hf.merges() == mine, f"your {len(mine)} merges are Hugging Face's, in the same order",
      hint="same word split, same counts, ties broken by the lowest ids")
check([vocab[i] for i in toy_encode(new)] == [hf.token_bytes(i) for i in hf.encode(new)],
      "and your encoder cuts the new sentence into the same tokens")
display(HTML(widgets.render_tokens(hf, new)))

# %% [markdown]
# Real training differs only in scale: millions of words and thousands of merges, in Rust.
#
# ## 4. Three real tokenizers, one interface
#
# - **GPT-2** through `tiktoken`: 50,257 tokens learned by OpenAI on web text (256 bytes, 50,000
#   merges and one end-of-text token). The `gpu` profile's choice.
# - **A BPE trained on our books** (`tokenizers`), sized by the profile, with three special
#   tokens: `<bos>`, `<eos>` (our end of text) and `<pad>`.
# - **Characters**: every distinct character of the books, plus `<eot>` and `<unk>`.
#
# All three offer `encode`, `encode_batch`, `decode`, `vocab_size`, `eot_id` and `save`.
# `encode` never produces a special token, even for text that spells one: the dataset (03)
# places the end-of-text id between books itself.

# %%
gpt2 = tokenization.GPT2Tokenizer()
t0 = time.perf_counter()
bpe = tokenization.BPETokenizer.train(texts, vocab_size=PROFILE.bpe_vocab_size)
print(f"trained {bpe.name} on {len(texts)} books in {time.perf_counter() - t0:.1f} s")
chars = tokenization.CharTokenizer.train(texts)
tokenizers = {"GPT-2": gpt2, bpe.name: bpe, "characters": chars}
for label, tok in tokenizers.items():
    print(f"{label:>10}: {tok.vocab_size:>6,} tokens, end of text = {tok.eot_id}, specials {tok.special_tokens}")

# %% [markdown]
# What did our BPE learn first, and what are its longest tokens? (A `\x..` is a byte that is
# only part of a character, such as the first two of the three bytes of a curly quote.)

# %%
first = [(a + b).decode("utf-8", errors="backslashreplace") for a, b in bpe.merges()[:16]]
longest = sorted(range(bpe.vocab_size), key=lambda i: len(bpe.token_bytes(i)))[-8:]
print("first merges:  ", first)
print("longest tokens:", [bpe.token_piece(i) for i in longest])

# %% [markdown]
# The ids of a fixed sentence under GPT-2 never change, whatever the profile (nbval compares
# this output):

# %%
# NBVAL_CHECK_OUTPUT
ids = gpt2.encode("Hello, world! Books become numbers.")
print(ids)
print([gpt2.token_piece(i) for i in ids])
print(gpt2.decode(ids))

# %% [markdown]
# ## 5. Seeing tokens
#
# Each coloured box is one token; hover over one to see its id. Look at where words break,
# what happens to names, and how the emoji falls apart into byte tokens for GPT-2.

# %%
book = texts[0]
at = book.find("\n\n", len(book) // 3) + 2
passage = book[at:at + 360] + "\nNaïve café owners 😀 ate 1,234.5 crêpes."
display(HTML(widgets.render_comparison(tokenizers, passage)))

# %% [markdown]
# The character tokenizer knows only the characters of its books: anything else (here perhaps
# the emoji, or a digit the `ci` books lack) becomes `<unk>` and is lost, the warning above
# says which. Byte-level BPEs never have that problem.
#
# Your turn: type into the box and watch the boundaries move (it needs a live notebook).

# %%
widgets.token_viewer(tokenizers, "Type here: unbelievable, Gutenberg, Scrooge, 3.14159, naïve 😀")

# %% [markdown]
# ## 6. How much text does a token carry?
#
# Encode every book with each tokenizer. **Bytes per token** is the compression,
#
# $$\text{bytes per token} = \frac{\text{UTF-8 bytes of the text}}{\text{tokens}},$$
#
# and the higher it is, the more text fits into the model's context and the fewer steps an
# epoch takes. **Tokens per word** is the same from the other side. We also time it.

# %%
stats, encoded = {}, {}
for label, tok in tokenizers.items():
    stats[label], encoded[label] = lessons.measure(tok, texts)
    print(stats[label])

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3), dpi=90)
labels = list(stats)
colours = ["#4c72b0", "#dd8452", "#55a868"]
for ax, what, key in zip(axes, ["bytes per token", "tokens per word"], ["bytes_per_token", "tokens_per_word"]):
    values = [getattr(stats[k], key) for k in labels]
    ax.bar(labels, values, color=colours)
    ax.bar_label(ax.containers[0], fmt="%.2f")
    ax.set(title=what, ylim=(0, max(values) * 1.2))
fig.suptitle(f"{len(texts)} books, {n_bytes / 1e6:.1f} MB")
plt.tight_layout()
plt.show()

# %% [markdown]
# On English books expect GPT-2 to carry about 4 bytes per token (3.7 to 4.4). Our BPE depends
# on its size: close to GPT-2 with 8,000 tokens, nearer 2 with the `ci` profile's 512 (2.0 to
# 4.6 across the profiles). Characters are 1 byte each, a little more for the odd accented letter.

# %%
if PROFILE.books_folder is None:  # the ranges hold for the profile's books; yours may be older English
    check_between(stats["GPT-2"].bytes_per_token, 3.7, 4.4, "GPT-2: bytes per token")
check_between(stats[bpe.name].bytes_per_token, 2.0, 4.6, f"{bpe.name}: bytes per token")
check_between(stats["characters"].bytes_per_token, 1.0, 1.05, "characters: bytes per token")
check(stats["GPT-2"].tokens < stats["characters"].tokens and stats[bpe.name].tokens < stats["characters"].tokens,
      "both BPEs need far fewer tokens than characters")

# %% [markdown]
# A tokenizer must give back *exactly* the text it was given: not a normalised copy, not one
# with the line endings changed. Check every book, and that no text became a special token.

# %%
for label, tok in tokenizers.items():
    same = all(tok.decode(ids) == text for ids, text in zip(encoded[label], texts))
    check(same, f"{label}: decode(encode(book)) == book for all {len(texts)} books")
    specials = set(tok.special_tokens.values())
    check(not any(specials & set(ids) for ids in encoded[label]), f"{label}: no special token inside the books")

# %% [markdown]
# ## 7. Speed: every core at once (optional)
#
# *Optional: skip to section 9 for the core path.*
#
# Encoding runs once per corpus, so it should be fast. `encode_batch` cuts long books at
# newlines where the tokenizer would split anyway (so the ids are exactly those of encoding
# each book whole) and encodes the pieces on every core. Compare GPT-2 on one thread with all
# of them, on this profile's books:

# %%
gpt2.encode_batch([t[:20_000] for t in texts])  # warm up: each thread makes its own copy of the rules
one, ids_one = lessons.measure(gpt2, texts, num_threads=1)
every, ids_every = lessons.measure(gpt2, texts)
check(ids_one == ids_every, "one thread and all threads give exactly the same ids")
whole = [gpt2.encode(t) for t in texts[:3]]  # plain encode: each book in one piece, one thread
check(whole == ids_every[:3], "cutting books at newlines changes no id (the first 3 books encoded whole)")
print(f"GPT-2 on 1 thread: {one.mb_per_s:.1f} MB/s; on {os.cpu_count()} threads: {every.mb_per_s:.1f} MB/s "
      f"({every.mb_per_s / one.mb_per_s:.1f}x)")
for label in (bpe.name, "characters"):
    print(f"{label} on all threads: {stats[label].mb_per_s:.1f} MB/s")

# %% [markdown]
# Expect GPT-2's tokenizer to be a few times faster than a trained 8,000-token BPE (Hugging Face's
# regular-expression word split is its slow part), characters faster still, and a second thread to
# nearly double GPT-2's speed. `benchmarks/tokenize_speed.py` measures all the offline books on your
# machine (benchmarks/README.md has its figures).
#
# ## 8. Compression against vocabulary size (optional)
#
# *Optional: skip to section 9 for the core path.*
#
# How big should the vocabulary be? BPE learns greedily, so the first *k* merges of a big BPE
# are exactly the BPE of size *k*: train one BPE twice the profile's size, then shrink it to
# each smaller size instead of training again.

# %%
big = tokenization.BPETokenizer.train(texts, vocab_size=2 * PROFILE.bpe_vocab_size)
check(big.shrink(bpe.vocab_size).sha256 == bpe.sha256,
      f"the first merges of {big.name} are exactly {bpe.name}, down to the last byte of tokenizer.json")
sizes = [v for v in (300, 500, 1000, 2000, 4000, 8000, 16000, 32000) if v < 0.9 * big.vocab_size] + [big.vocab_size]
some = [t[: 1_000_000 // len(texts)] for t in texts]  # about 1 MB: enough to compare
compression = {v: lessons.measure(big.shrink(v), some)[0].bytes_per_token for v in sizes}
for label in ("GPT-2", "characters"):
    compression[label] = lessons.measure(tokenizers[label], some)[0].bytes_per_token

# %%
fig, ax = plt.subplots(figsize=(8, 3.2), dpi=90)
ax.plot(sizes, [compression[v] for v in sizes], marker="o", label="BPE trained on these books")
ax.scatter([gpt2.vocab_size], [compression["GPT-2"]], marker="*", s=150, color="#dd8452", label="GPT-2 (trained on web text)", zorder=3)
ax.scatter([chars.vocab_size], [compression["characters"]], marker="s", color="#55a868", label="characters", zorder=3)
ax.set(xscale="log", xlabel="vocabulary size (tokens)", ylabel="bytes per token", title="Bigger vocabularies compress more, with diminishing returns")
ax.legend(loc="lower right")
plt.tight_layout()
plt.show()

# %%
ordered = [compression[v] for v in sizes]
check(all(a < b for a, b in zip(ordered, ordered[1:])), "every bigger vocabulary compresses the books more")
check(compression["characters"] < ordered[0], "even the smallest BPE beats characters")

# %% [markdown]
# Each doubling of the vocabulary buys less. A BPE trained on the very books it encodes gets
# close to GPT-2 with a fraction of its vocabulary: with 8,000 tokens, expect only a few percent
# more tokens than GPT-2's 50,257 on these books. That flatters our BPE a little, as it is
# scored on its own training text; on books it never saw the gap grows a little.
#
# ## 9. What a vocabulary costs in parameters
#
# Why not simply take a big vocabulary? The model's first layer is a table with one row of
# `n_embd` numbers per token, and its last layer maps back to one score per token. With a
# vocabulary of $V$ tokens and width $d$ the table holds
#
# $$\text{parameters} = V \times d,$$
#
# and an untied output layer as many again (GPT-2 ties the two, so they share one table). The
# `gpu` profile's model, the "ultra-mini", is 512 wide: with GPT-2's vocabulary its token table
# alone is 50,257 x 512, about 26M parameters.

# %%
ultra = model.preset("ultra-mini")  # the gpu profile's model: 6 layers, 512 wide, GPT-2's vocabulary
table = torch.nn.Embedding(gpt2.vocab_size, ultra.n_embd)
n_table = sum(p.numel() for p in table.parameters())
check(n_table == gpt2.vocab_size * ultra.n_embd, f"the token table is vocab x width = {gpt2.vocab_size:,} x {ultra.n_embd}")
check_between(n_table / 1e6, 25, 27, "millions of parameters in it (about 26M)")

# %%
vocab_sizes = {}
for label, v in [("characters", chars.vocab_size), (bpe.name, bpe.vocab_size), ("bpe-8000", 8000), ("bpe-16000", 16000), ("GPT-2", gpt2.vocab_size)]:
    if v not in vocab_sizes.values():
        vocab_sizes[label] = v
counts = [model.count_parameters(ultra.replace(vocab_size=v)) for v in vocab_sizes.values()]
embed = [c["token embeddings"] / 1e6 for c in counts]
others = [(sum(c.values()) - c["token embeddings"]) / 1e6 for c in counts]
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.barh(list(vocab_sizes), embed, color="#dd8452", label=f"token table (vocab x {ultra.n_embd})")
ax.barh(list(vocab_sizes), others, left=embed, color="#4c72b0", label="everything else")
ax.bar_label(ax.containers[1], labels=[f" table {e:.1f}M of {e + o:.1f}M" for e, o in zip(embed, others)])
ax.set(xlabel="parameters (millions)", xlim=(0, max(e + o for e, o in zip(embed, others)) * 1.45),
       title="The gpu profile's ultra-mini model, by vocabulary")
ax.legend(loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# With GPT-2's vocabulary more than half of that small model is the token table, and on a CPU
# the output layer (one score per token, per position) dominates the step time: expect a step
# with GPT-2's 50,257 tokens to take about three times as long as with 8,000
# (`benchmarks/train_speed.py --vocab-size N` measures it on your machine). That is why the `cpu`
# profile trains its own 8,000-token BPE, and the `gpu` profile, with compute to spare, uses
# GPT-2's.
#
# ## 10. Write the stage
#
# The package builds the profile's tokenizer from `data/clean/` and saves it to
# `data/tokenizer/`, with its SHA-256 in the manifest. Training is deterministic, so it must be
# exactly the one we trained above.

# %%
folder = stages.build_tokenizer(PROFILE)
manifest = artifacts.read_manifest("tokenizer")
print(json.dumps({k: manifest[k] for k in ("kind", "name", "vocab_size", "eot_id", "special_tokens", "files", "sha256")}, indent=1))

# %%
ours = {"bpe": bpe, "gpt2": gpt2, "char": chars}[PROFILE.tokenizer]
saved = tokenization.load_tokenizer()
check(saved.sha256 == manifest["sha256"] == ours.sha256, f"{saved.name} reloads with the manifest's SHA-256, the one trained above")
check(saved.encode(passage) == ours.encode(passage), "the saved tokenizer encodes like the one in memory")
if PROFILE.tokenizer == "bpe":
    check(artifacts.sha256_file(folder / "tokenizer.json") == manifest["sha256"], "tokenizer.json on disk has the manifest's SHA-256")
check(artifacts.staleness("tokenizer", PROFILE) is None, "data/tokenizer is current for this profile")

# %% [markdown]
# ## 11. Exercises
#
# **Exercise 1: more tokens than characters.** Find a string of at most 12 characters that GPT-2
# needs *more tokens than characters* to encode. (Think about what happens to characters it
# rarely saw.)

# %%
more_tokens_than_chars = None  # your answer: a string


def test_more_tokens(s):
    assert isinstance(s, str) and 0 < len(s) <= 12, "give a non-empty string of at most 12 characters"
    n = len(gpt2.encode(s))
    assert n > len(s), f"{s!r} is {len(s)} characters and {n} GPT-2 tokens: not more yet"


exercise("more tokens than characters", more_tokens_than_chars, test_more_tokens)

# %% [markdown]
# *Solution:* [solutions/02_tokenization.ipynb](../solutions/02_tokenization.ipynb), exercise 1.
#
# **Exercise 2: a word only our BPE knows.** Find a word from the books that our BPE keeps as
# one token (with its leading space, as in running text) but GPT-2 splits into two or more.
# Hint: `bpe.token_piece(i)` for `i` in `range(bpe.vocab_size)` lists our vocabulary.

# %%
bpe_only_word = None  # your answer: a word, without the leading space


def test_bpe_only_word(word):
    assert isinstance(word, str) and word.isalpha(), "give one word made of letters"
    assert any(word in t for t in texts), f"{word!r} is not in the books"
    assert len(bpe.encode(" " + word)) == 1, f"our BPE needs {len(bpe.encode(' ' + word))} tokens for ' {word}'"
    assert len(gpt2.encode(" " + word)) >= 2, f"GPT-2 keeps ' {word}' whole too"


exercise("a word only our BPE knows", bpe_only_word, test_bpe_only_word)

# %% [markdown]
# *Solution:* [solutions/02_tokenization.ipynb](../solutions/02_tokenization.ipynb), exercise 2.
#
# **Exercise 3: parameters saved.** The ultra-mini model (512 wide, tied head) with our BPE
# instead of GPT-2's vocabulary: how many parameters does its token table save? Give a number.

# %%
params_saved = None  # your answer: an integer


def test_params_saved(saved):
    ours_table = torch.nn.Embedding(bpe.vocab_size, ultra.n_embd).weight.numel()
    assert saved == n_table - ours_table, "count vocab x width for both vocabularies and subtract"


exercise("parameters saved", params_saved, test_params_saved)

# %% [markdown]
# *Solution:* [solutions/02_tokenization.ipynb](../solutions/02_tokenization.ipynb), exercise 3.
#
# ## Summary
#
# - A tokenizer maps text to ids and back, *exactly*: every book round-trips byte for byte.
# - BPE starts from the 256 bytes (nothing is ever unknown) and adds the most frequent pairs as
#   new tokens, one merge at a time; your dozen lines learn the same merges as `tokenizers`.
# - Bigger vocabularies carry more text per token, with diminishing returns, and cost
#   $V \times d$ parameters in the model (about 26M for GPT-2's at width 512).
# - `data/tokenizer/` now holds the profile's tokenizer and its SHA-256.
#
# **Next:** 03_dataset encodes every book with this tokenizer into `train.bin` and `val.bin`,
# with an end-of-text id between books, and cuts them into training batches.
