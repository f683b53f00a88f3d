# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/06_evaluation.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 06 · Evaluation: honest numbers for a trained model
#
# Training printed a validation loss every few hundred steps. How good is the model, really?
# In this notebook you measure it so that the numbers mean something and compare with others:
#
# 1. loss, perplexity and bits per byte from one list of probabilities, and why only bits per
#    byte compares models with different tokenizers;
# 2. an exact evaluation of the held-out books with a sliding window, against training's quick
#    estimate;
# 3. baselines for scale: you build a bigram model from counts, then compare the model with it
#    and with the package's other baselines;
# 4. what the model does with its context, and which held-out books it finds hardest;
# 5. the text it writes, and its loss curves with overfitting made visible;
# 6. (optional) WikiText-2, a standard benchmark from outside the books.
#
# **Reads** the best checkpoint of 05's run (`data/checkpoints/<run>/best/`) with its
# `metrics.jsonl`, and the token files of 03; rebuilt if missing. **Writes** `data/eval/`:
# `metrics.json` (every number below, with the checkpoint and data it came from), `curves.png`,
# `per_book.png`, `quality.png`, `samples.json` and `samples.md`, and the stage's `manifest.json`.
#
# Expected time, with the checkpoint already trained:
#
# - `ci` (the test suite): about 30 seconds
# - `cpu` (a 2-core laptop CPU): about 2 minutes
# - `gpu` (Colab T4 or a local GPU): not yet measured

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

PROFILE = start("06_evaluation", drive=DRIVE)

# %% [markdown]
# ## The inputs: the best checkpoint and the held-out books
#
# `find_checkpoint()` returns the best checkpoint of the run 05_training recorded (lowest
# validation loss). The validation split holds whole books the model never trained on.

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from minigpt_helpers import artifacts, checkpoint, dataset, eval_report, evaluation, lessons, runs, stages, text_quality
from minigpt_helpers.checks import check, check_between, check_close, exercise
from minigpt_helpers.notebook import figure
from minigpt_helpers.profiles import pick_device

stages.ensure("checkpoints", PROFILE)
ckpt = checkpoint.load_checkpoint(checkpoint.find_checkpoint(), pick_device())
gpt, tok = ckpt.model, ckpt.tokenizer
tokens_dir = evaluation.tokens_folder(ckpt.config)
val = dataset.load_tokens("val", tokenizer=tok, folder=tokens_dir)
train_data = dataset.load_tokens("train", tokenizer=tok, folder=tokens_dir)
W = gpt.config.context_length
wiki = None  # WikiText-2's results, if you run the optional section 9
if PROFILE.name == "ci":
    torch.set_num_threads(1)  # a model this small runs fastest on one thread
print(f"{ckpt.path.relative_to(artifacts.data_dir())}: step {ckpt.meta['step']}, {gpt.num_parameters() / 1e6:.2f}M "
      f"parameters, context {W}, {tok}")
print(f"held-out books: {[b['title'] for b in val.books]}; {len(val):,} tokens, {val.meta['bytes']['val']:,} bytes")

# %% [markdown]
# ## 1. Three numbers from one list of probabilities
#
# For every position the model gives a probability to the token that really came next. Every
# number of this notebook follows from these probabilities:

# %%
figure("eval_metrics")

# %% [markdown]
# Over $N$ scored tokens $x_1, \dots, x_N$ that make up $B$ bytes of UTF-8 text:
#
# $$\mathcal{L} = \frac{1}{N} \sum_{i=1}^{N} -\ln p(x_i \mid x_{<i}), \qquad
# \text{PPL} = e^{\mathcal{L}}, \qquad
# \text{bpb} = \frac{\sum_{i=1}^{N} -\ln p(x_i \mid x_{<i})}{B \, \ln 2}$$
#
# - the **loss** $\mathcal{L}$ is in nats per token: 0 would be certainty;
# - the **perplexity** is as unsure as a uniform pick among that many tokens at every step;
# - **bits per byte** is how many bits a compressor driven by this model would need for each
#   byte of the text.
#
# By hand, on the first window of a held-out book:

# %%
passage = np.asarray(val.book(val.books[0]["book_id"])[:W])
ids = torch.tensor(np.concatenate([[tok.eot_id], passage[:-1]]))[None].to(gpt.transformer.wte.weight.device)
with torch.no_grad():
    logits, _ = gpt(ids)  # (1, W, vocab): a prediction at every position
logp = logits[0].float().cpu().log_softmax(-1)  # (W, vocab)
nll = -logp[torch.arange(W), torch.from_numpy(passage.astype(np.int64))].double()  # -ln p of each real next token
n_bytes = len(tok.decode(passage.tolist()).encode("utf-8"))
print(f"{W} tokens, {n_bytes} bytes of text:\n{tok.decode(passage.tolist())[:300]!r}...")

# %%
my_loss = nll.mean().item()
my_ppl = math.exp(my_loss)
my_bpb = nll.sum().item() / (math.log(2) * n_bytes)
print(f"loss {my_loss:.3f} nats/token, perplexity {my_ppl:.1f}, {my_bpb:.3f} bits per byte")
summary = evaluation.summarize(nll.sum().item(), W, n_bytes)
check_close([summary["loss"], summary["perplexity"], summary["bits_per_byte"]], [my_loss, my_ppl, my_bpb],
            "your three numbers vs evaluation.summarize")

# %% [markdown]
# Where is the model surprised? Each bar is one token's $-\log_2 p$: its cost in bits. Tokens that
# continue a word cost little; the first token of a new word, a name, or a line break costs most.

# %%
n_show = min(48, W)
fig, ax = plt.subplots(figsize=(10, 3), dpi=90)
bits = (nll[:n_show] / math.log(2)).numpy()
ax.bar(range(n_show), bits, color=plt.cm.viridis(np.clip(bits / 12, 0, 1)))
ax.set_xticks(range(n_show), [tok.token_piece(int(t)).replace("\n", "⏎").replace(" ", "·") for t in passage[:n_show]],
              rotation=90, fontsize=7)
ax.set(ylabel="bits (−log₂ p)", title="what each token of the passage costs")
plt.show()

# %% [markdown]
# ### Why perplexity per token does not compare across tokenizers, and bits per byte does
#
# A token is a different amount of text for every tokenizer: one character, one byte, or a piece
# of a word. The same model quality, measured per token, gives wildly different perplexities: a
# model that spends $b$ bits per byte on a text where each token covers $k$ bytes has a per-token
# perplexity of $2^{b k}$. Bits per byte divides the token count out, so two models with different
# tokenizers are compared on the one thing they share: the text. (Word-level perplexity does the
# same with words instead of bytes: the last row.)

# %%
from minigpt_helpers.tokenization import CharTokenizer

text = tok.decode(np.asarray(val.book(val.books[0]["book_id"])[:2000]).tolist())
n_text_bytes = len(text.encode("utf-8"))
tokenizers = {"characters": CharTokenizer.train([text]), f"this model's ({tok.name})": tok}
try:
    from minigpt_helpers.tokenization import GPT2Tokenizer

    tokenizers["GPT-2 (50,257)"] = GPT2Tokenizer()
except FileNotFoundError as err:  # GPT-2's files are downloaded once; offline without a cache, skip it
    print(f"(GPT-2 left out: {str(err)[:80]}...)")
per_token = {name: n_text_bytes / len(t.encode(text)) for name, t in tokenizers.items()}
per_token["words (not a tokenizer)"] = n_text_bytes / len(text.split())
for name, k in per_token.items():
    print(f"{name:>28}: {k:.2f} bytes per token -> perplexity per token {2 ** (my_bpb * k):>14,.1f} at {my_bpb:.2f} bits per byte")

# %%
ks = np.linspace(1, 5, 50)
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.plot(ks, 2 ** (my_bpb * ks))
for name, k in per_token.items():
    ax.plot(k, 2 ** (my_bpb * k), "o")
    ax.annotate(name, (k, 2 ** (my_bpb * k)), fontsize=8, xytext=(5, -10), textcoords="offset points")
ax.set(xlabel="bytes per token", ylabel="perplexity per token", yscale="log",
       title=f"one model quality ({my_bpb:.2f} bits per byte), many perplexities")
plt.show()
print(f"the same text, cut into tokens {max(per_token.values()) / min(per_token.values()):.1f} times longer or shorter: "
      "per-token perplexities of different tokenizers cannot be compared")

# %% [markdown]
# ## 2. The exact evaluation: a sliding window over the whole split
#
# 05_training estimated the validation loss on a few random windows. Two things make that
# estimate rough. It is a sample (a different seed gives a different number). And inside a
# window, the first target is predicted from one token, the second from two, and so on: on
# average a token sees only half the context the model can use. How much does context matter
# to *this* model? Score non-overlapping windows and average the loss by position in the window:

# %%
probe = np.asarray(val[:min(len(val), 100 * W + 1)])
tiled = evaluation.score_tokens(gpt, probe, stride=W, progress=False)  # stride = window: no overlap
by_context = np.array([tiled.nll[tiled.context == c].mean() for c in range(1, W + 1)])
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
k = max(1, W // 16)
ax.plot(range(1, W + 1), by_context, lw=0.7, alpha=0.5, label="mean loss at each position (100 windows)")
ax.plot(range(k, W + 1), np.convolve(by_context, np.ones(k) / k, mode="valid"), label=f"smoothed over {k} positions")
ax.set(xlabel="tokens of context the prediction reads", ylabel="mean loss (nats)", title="how much this model uses context")
ax.legend(fontsize=8)
plt.show()
early, late = by_context[: W // 8].mean(), by_context[-W // 4:].mean()
gain = {"ci": -0.1, "cpu": 0.1, "gpu": 0.2}[PROFILE.name]  # ci's 30 steps: only not the wrong way round
check(early - late > gain, f"tokens early in a window cost {early - late:+.2f} nats more than late ones (expected > {gain})")

# %% [markdown]
# What the curve says depends on how far training got. The `ci` model (30 steps) has learned
# almost nothing beyond token frequencies, and its curve is flat. Expect the `cpu` model's to fall
# over the first few tens of tokens and then flatten: it uses a sentence or two of context
# (section 5 measures this more closely). So the random-window estimate, which gives early tokens
# little context, is pessimistic.
#
# An exact evaluation slides the window: it moves `stride` tokens at a time. The first window
# scores all its tokens; every later one scores only its last `stride` tokens, which no window
# scored before, each reading at least `W − stride + 1` tokens of context. Every token is scored
# exactly once. A smaller stride gives more context and costs more forward passes (`W / stride`
# per token). Here it is by hand, one window at a time:

# %%
def my_sliding_nll(model, ids, W, stride):
    """-ln p of ids[1:], each scored once, by windows that move `stride` tokens at a time."""
    out, done, start = [], 0, 0  # done: targets 1..done are scored
    while done < len(ids) - 1:
        end = min(start + W, len(ids) - 1)  # this window predicts targets start+1 .. end
        lo = max(0, end - W)  # the last window moves back so it is full
        x = torch.tensor(ids[lo:end])[None]
        with torch.no_grad():
            logp = model(x.to(model.transformer.wte.weight.device))[0][0].float().log_softmax(-1).cpu()
        targets = torch.tensor(ids[lo + 1:end + 1])
        nll = -logp[torch.arange(end - lo), targets]
        out.append(nll[done - lo:])  # only the targets no window scored before
        done, start = end, start + stride
    return torch.cat(out).double().numpy()


stream = np.concatenate([[tok.eot_id], np.asarray(val[:min(len(val), 3 * W)])])
mine = my_sliding_nll(gpt, stream, W, W // 2)
package = evaluation.score_tokens(gpt, stream, stride=W // 2, progress=False)
check_close(mine, package.nll, "your sliding window vs evaluation.score_tokens (batched)", atol=1e-4)
check(len(mine) == len(stream) - 1 and (package.times_scored == 1).all(), "every token scored exactly once")

# %% [markdown]
# The windows of that stream, drawn: the pale part of each window is context it reads but does
# not score again; the dark part is what it scores.

# %%
fig, ax = plt.subplots(figsize=(9, 2.6), dpi=90)
for row, w in enumerate(evaluation.plan_windows(len(stream), W, W // 2)):
    ax.barh(row, w.first, left=w.start, color="tab:blue", alpha=0.2)
    ax.barh(row, w.length - w.first, left=w.start + w.first, color="tab:blue")
ax.invert_yaxis()
ax.set(xlabel="token position", ylabel="window", title=f"context {W}, stride {W // 2}: each token scored once")
plt.show()

# %% [markdown]
# The stride trades time for context. For a model that uses its context, stride `W` (no overlap)
# scores worst: the first tokens of every window read almost nothing. Halving it gives every
# scored token at least half a window of context, past the point where the curve above
# flattened; halving it again changes the loss by little more than the noise of scoring 16
# windows of text, and doubles the work:

# %%
sample_ids = np.concatenate([[tok.eot_id], np.asarray(val[:min(len(val), 16 * W)])])
rows = []
for stride in (W, W // 2, W // 4, W // 8):
    t0 = time.perf_counter()
    s = evaluation.score_tokens(gpt, sample_ids, stride=stride, progress=False)
    rows.append((stride, s.nll.mean(), s.forward_positions / len(s.nll), time.perf_counter() - t0))
for stride, loss, cost, secs in rows:
    print(f"stride {stride:>4}: loss {loss:.4f}, {cost:4.1f} positions computed per token scored, {secs:.2f} s")
print(f"the four losses span {max(r[1] for r in rows) - min(r[1] for r in rows):.3f} nats")
costs = [cost for _, _, cost, _ in rows]
check(all(later > 1.5 * earlier for earlier, later in zip(costs, costs[1:])),
      "each halving of the stride nearly doubles the positions computed per token scored")

# %% [markdown]
# The package scores the whole validation split this way, with the default stride of half the
# window, in batches of windows, with a progress bar. Each held-out book is scored on its own,
# starting after an end-of-text token (as every book starts in training). Bits per byte divides by
# the bytes of exactly the tokens scored (each token's byte length is known), so it stays exact
# when a profile caps the tokens (`eval_max_tokens`: 20,000 tokens in `ci`; 400,000 in `cpu`,
# about three quarters of its held-out books, shared out by book length; no cap in `gpu`).

# %%
print(f"eval_max_tokens in profile {PROFILE.name!r}: {PROFILE.eval_max_tokens}")
exact = evaluation.evaluate_split(gpt, tok, val, max_tokens=PROFILE.eval_max_tokens)
total = exact["total"]
print(f"{total['tokens']:,} of {total['tokens_total']:,} tokens, {total['bytes']:,} bytes, "
      f"{total['seconds']:.1f} s ({total['tokens_per_s']:,.0f} tokens/s)")
print(f"loss {total['loss']:.4f}, perplexity {total['perplexity']:.1f}, {total['bits_per_byte']:.4f} bits per byte")

# %% [markdown]
# Expect about 1.8 bits per byte in the `cpu` profile (a slower machine makes fewer steps in
# 05's 11-minute budget and ends a little higher); the checks allow a loss of 4.0 to 5.2 nats and
# 1.5 to 2.0 bits per byte. The `ci` model, trained for 30 steps, scores near 3.6 bits per byte.

# %%
expected = {"ci": (4.8, 6.0, 3.0, 4.2), "cpu": (4.0, 5.2, 1.5, 2.0), "gpu": (2.5, 5.0, 0.8, 1.9)}[PROFILE.name]
check_between(total["loss"], expected[0], expected[1], "validation loss (nats per token), exact")
check_between(total["bits_per_byte"], expected[2], expected[3], "validation bits per byte, exact")
lengths = evaluation.token_byte_lengths(tok)
check(all(int(lengths[np.asarray(val.book(b["book_id"]))].sum()) == b["bytes"] for b in val.books),
      "each book's token byte lengths add up to its bytes in meta.json (so byte counts of any scored part are exact)")

# %% [markdown]
# ## 3. The exact number against training's quick estimate
#
# Training's `val_loss` is the mean over `eval_batches` random windows, drawn with a fixed seed.
# Repeat it with other seeds and see how much it moves, next to the exact value. Besides the noise,
# it differs for three reasons: its tokens read half a window of context on average, its windows
# cross from one book into the next, and its targets include the end-of-text tokens.

# %%
settings = evaluation.eval_settings(PROFILE)
quick = eval_report.quick_section(gpt, val, ckpt.config["train"], seeds=settings["quick_seeds"],
                                 exact_loss=total["loss"])
print(f"training's estimate (seed {quick['seed']}): {quick['loss']:.4f}; over {len(quick['estimates'])} seeds "
      f"{quick['mean']:.4f} ± {quick['std']:.4f}; exact: {total['loss']:.4f}")
# In float32 the same batches give the same number to 1e-4; in bf16 or fp16 (a GPU) the rounding
# differs a little between training's compiled model and this plain one.
check_close(quick["loss"], ckpt.meta["val_loss"], f"the same batches give the value training logged ({quick['precision']})",
            atol=1e-4 if quick["precision"] == "fp32" else 2e-2)

# %%
fig, ax = plt.subplots(figsize=(8, 2.8), dpi=90)
ax.scatter(quick["estimates"], np.zeros(len(quick["estimates"])), marker="|", s=900, color="tab:grey",
           label=f"quick estimates, one per seed ({quick['batches']} batches of {quick['batch_size']})")
ax.axvline(total["loss"], color="tab:red", label=f"exact, sliding window (stride {exact['settings']['stride']})")
ax.axvline(quick["loss"], color="tab:blue", ls="--", label="the estimate training logged")
ax.set(xlabel="validation loss (nats per token)", yticks=[])
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 4. Baselines: what the numbers are worth
#
# A loss means little without a scale. The simplest models of text are counts. A **unigram**
# model ignores context: $p(b)$ is how often token $b$ occurs in the training split. Smoothed
# with one extra count per token (add-one), a token never seen in training still gets some
# probability; without that, one unseen token in the validation text would cost infinitely many
# bits:
#
# $$p(b) = \frac{c(b) + 1}{N + V}$$
#
# with $c(b)$ the count of $b$ in the $N$ training tokens and $V$ the vocabulary size. Built by
# hand, and scored on the first held-out tokens:

# %%
V = tok.vocab_size
train_ids = np.asarray(train_data[:], dtype=np.int64)
sample = np.asarray(val[:min(len(val), 50_000)], dtype=np.int64)  # the held-out tokens the counts are tried on
sample_bytes = int(lengths[sample[1:]].sum())  # the bytes of the scored targets, sample[1:]


def bits_per_byte_of(nll):
    """Bits per byte of the sample from -ln p of each of its targets, sample[1:]."""
    return float(np.sum(nll)) / (math.log(2) * sample_bytes)


unigram_logp = np.log(np.bincount(train_ids, minlength=V) + 1) - np.log(len(train_ids) + V)  # add-one
my_unigram_bpb = bits_per_byte_of(-unigram_logp[sample[1:]])
print(f"unigram on {len(sample) - 1:,} held-out tokens: {my_unigram_bpb:.3f} bits per byte")

# %% [markdown]
# ### Exercise 1: the bigram baseline
#
# A **bigram** model reads one token back: $p(b \mid a)$ is how often $b$ follows $a$ in the
# training split. Count the pairs, and smooth so that a pair never seen in training still gets
# some probability. Either of:
#
# - add-one: $p(b \mid a) = \dfrac{c(a, b) + 1}{c(a) + V}$;
# - interpolation with the unigram: $p(b \mid a) = \lambda \dfrac{c(a, b)}{c(a)} + (1 - \lambda)\, p(b)$,
#   with $\lambda$ about 0.8, and the unigram alone when $c(a) = 0$;
#
# where $c(a, b)$ counts the pairs and $c(a)$ the pairs that start with $a$. Write
# `my_bigram(train_ids, prev, nxt, vocab_size)`: $-\ln p(\text{nxt}_i \mid \text{prev}_i)$ for each
# pair of the arrays `prev` and `nxt`. Count only the pairs that occur (`np.unique` of `a * V + b`,
# or a `collections.Counter`): a full table would have $V^2$ cells, 64 million for 8,000 tokens.
# The test checks that each $p(\cdot \mid a)$ sums to 1 on a toy text, and that your bigram beats
# the unigram above on the held-out tokens.

# %%
my_bigram = None  # your answer: a function (train_ids, prev, nxt, vocab_size) -> -ln p(nxt | prev), one per pair


def test_bigram(fn):
    toy = np.array([0, 1, 0, 1, 0, 2, 1, 0])  # vocabulary of 4: token 3 never occurs
    for a in range(4):
        nll_ = np.asarray(fn(toy, np.full(4, a), np.arange(4), 4), dtype=np.float64)
        check(np.isfinite(nll_).all(), f"after token {a}: every token has a probability above 0 (smoothing)")
        check_close(np.exp(-nll_).sum(), 1.0, f"p(· | {a}) sums to 1 over the vocabulary", atol=1e-6)
    p = np.exp(-np.asarray(fn(toy, np.array([0, 0, 1, 2]), np.array([1, 2, 0, 0]), 4), dtype=np.float64))
    check(p[0] > p[1] and p[2] > p[3], "more frequent pairs are likelier: p(1|0) > p(2|0), p(0|1) > p(0|2)")
    bpb = bits_per_byte_of(fn(train_ids, sample[:-1], sample[1:], V))
    check(bpb < my_unigram_bpb - 0.1, f"on the held-out tokens: {bpb:.3f} bits per byte, "
                                      f"at least 0.1 below the unigram's {my_unigram_bpb:.3f}")


exercise("the bigram baseline", my_bigram, test_bigram)

# %% [markdown]
# *Solution:* [solutions/06_evaluation.ipynb](../solutions/06_evaluation.ipynb), exercise 1.
#
# ### The package's baselines
#
# `minigpt_helpers.baselines` holds the same counts: its unigram is add-one, and its bigram
# interpolates with the unigram, $\lambda$ chosen on the last tenth of the training split (never
# on validation). Your unigram must agree with it exactly. The comparison below uses your bigram,
# or the package's while yours is still empty.

# %%
from minigpt_helpers import baselines

check_close(-unigram_logp[sample[1:]], baselines.UnigramModel(train_ids, V).nll(sample[1:]), "your unigram = the package's")
package_bigram = baselines.BigramModel(train_ids, V)
bigram = my_bigram or (lambda train_ids_, prev, nxt, vocab_size: package_bigram.nll(prev, nxt))
print(f"bigram: using {'yours' if my_bigram else 'the package version (your exercise is still empty)'}")
bigram_bpb = bits_per_byte_of(bigram(train_ids, sample[:-1], sample[1:], V))
package_bpb = bits_per_byte_of(package_bigram.nll(sample[:-1], sample[1:]))
print(f"bits per byte on {len(sample) - 1:,} held-out tokens: unigram {my_unigram_bpb:.3f}, bigram {bigram_bpb:.3f}, "
      f"the package's bigram (lambda {package_bigram.lam}) {package_bpb:.3f}")
check(package_bpb < my_unigram_bpb, "one token of context is worth something: the bigram beats the unigram")

# %% [markdown]
# Now the model against four reference points, scored on exactly the tokens (and bytes) the
# model was scored on in section 2 (the untrained GPT on the first 4,096 of them: a forward pass
# per window is slow, and a random model's score hardly depends on the text):
#
# - **uniform**: every token equally likely, loss $\ln V$, whatever the text;
# - **unigram** and **bigram**: the package's counts, as above;
# - **untrained**: a freshly initialised GPT of the same shape. Its logits start close to 0, so
#   it should score close to $\ln V$: a check that the initialisation is sane.

# %%
docs = evaluation.split_documents(val)
base = baselines.evaluate_baselines(train_data, docs, exact["documents"], tok, model_config=gpt.config)
for name, r in base.items():
    print(f"{name:>16}: loss {r['loss']:.3f}, perplexity {r['perplexity']:>8.1f}, {r['bits_per_byte']:.3f} bits per byte")
print(f"{'the model':>16}: loss {total['loss']:.3f}, perplexity {total['perplexity']:>8.1f}, {total['bits_per_byte']:.3f} bits per byte")

# %%
names = [*base, "the model"]
bpb = [base[n]["bits_per_byte"] for n in base] + [total["bits_per_byte"]]
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.barh(names, bpb, color=["tab:grey"] * len(base) + ["tab:orange"])
for y, v in enumerate(bpb):
    ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
ax.invert_yaxis()
ax.set(xlabel="bits per byte (lower is better)", title="the model against simple baselines")
plt.show()

# %% [markdown]
# Expected in the `cpu` profile: the model at least 5% below the bigram in bits per byte. The
# bigram counts every training token, while the model has to *learn* what a bigram table simply
# counts, from the tokens its minutes of training reach; the margin says how much it gets from
# reading more than one token back. The `ci` model, trained for 30 steps, only has to beat the
# unigram.

# %%
check_close(base["untrained_model"]["loss"], math.log(tok.vocab_size), "an untrained model scores ln(vocab size)",
            atol=0.1, rtol=0)
check(total["loss"] < base["uniform"]["loss"] - 0.3, "the trained model beats the uniform guess")
if PROFILE.name == "ci":  # 30 steps: far from the bigram, which counts every training token
    check(total["loss"] < base["unigram"]["loss"], "the trained model beats the unigram baseline")
else:
    margin = 1 - total["bits_per_byte"] / base["bigram"]["bits_per_byte"]
    check_between(margin, 0.05, 0.6, "how much better than the bigram the model is (share of its bits per byte)",
                  hint="a model stuck at the bigram reads only the last token: train longer, or check the recipe")

# %% [markdown]
# ## 5. Does it read its context?
#
# A bigram reads one token back. A transformer can read its whole window, and the margin above
# says it gets something from that. Three probes show *how*, each on `context_windows` random
# held-out windows (1,024 in `cpu`; `evaluation.context_use`):
#
# - **loss by position**: the first prediction of a window reads one token, the last reads the
#   whole window. A model that uses its context predicts better further in, so the curve falls.
# - **shuffled context**: shuffle the tokens before the last one (keep the last, so the bigram's
#   information stays) and score the last prediction again. What it loses is what the longer
#   context was worth.
# - **repeated random tokens**: random tokens, then the same ones again. Nothing in the books
#   predicts random tokens, so the first copy costs about $\ln V$ per token or more. The second copy
#   can be *copied*: find the current token earlier in the window, and predict what came after it
#   there. Heads that do this are called induction heads; they are how a model picks up a name from
#   your prompt and uses it again.
#
# These probes measure what this checkpoint learned, not what a model of its size could learn:
# induction heads form even in two-layer models trained long enough, and a model trained for
# minutes on a CPU has not got there yet. Expect the `cpu` model's loss to fall by a few tenths
# of a nat along the window and to suffer when its context is shuffled, but not yet to copy.

# %%
context = evaluation.context_use(gpt, val[:], windows=settings["context_windows"],
                                 special_ids=list(tok.special_tokens.values()))
n = context["length"]
print(f"loss at positions 1-8: {context['early']:.3f}; positions {n // 2 + 1}-{n}: {context['late']:.3f} "
      f"(gain {context['gain']:+.3f})")
print(f"last position: {context['last_loss']:.3f} as written, {context['last_loss_shuffled']:.3f} with the context "
      f"shuffled ({context['shuffle_gain']:+.3f})")
print(f"{n // 2} random tokens, repeated: first copy {context['induction_first']:.2f}, second copy "
      f"{context['induction_second']:.2f} nats per token (ln vocab = {math.log(tok.vocab_size):.2f})")

# %%
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.plot(range(1, len(context["by_position"]) + 1), context["by_position"], label="the model")
ax.axhline(base["bigram"]["loss"], ls="--", c="grey", label="bigram (reads one token back)")
ax.set(xlabel="position in the window (tokens it can read)", ylabel="mean loss (nats)", xscale="log",
       title="the more it has read, the better it predicts")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The repeated-tokens probe by hand, on a few windows, position by position: a drop where the
# second copy starts would be copying.

# %%
g = torch.Generator().manual_seed(0)
ordinary = torch.tensor(sorted(set(range(tok.vocab_size)) - set(tok.special_tokens.values())))
block = ordinary[torch.randint(len(ordinary), (16, n // 2), generator=g)]  # random tokens, none of them special
repeated = torch.cat([block, block], dim=1).to(gpt.transformer.wte.weight.device)  # (16, n)
with torch.no_grad():
    logits, _ = gpt(repeated[:, :-1])
per_position = F.cross_entropy(logits.float().transpose(1, 2), repeated[:, 1:], reduction="none").mean(0).cpu()
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.plot(range(2, n + 1), per_position)
ax.axvline(n // 2 + 1, ls=":", c="grey", label="the second copy starts")
ax.axhline(math.log(tok.vocab_size), ls="--", c="grey", label="ln(vocab size): a blind guess")
ax.set(xlabel="position", ylabel="loss (nats)", title=f"{n // 2} random tokens, then the same {n // 2} again")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Where does it look? The attention weights of every head on a passage of a held-out book: each
# row is a token reading, each column a token read. Heads that keep to the diagonal's neighbour
# read the previous token; a column lit up far back is a head finding an earlier word.

# %%
book = max(val.books, key=lambda b: b["tokens"])
start = book["tokens"] // 2
passage_ids = torch.tensor(np.asarray(val.book(book["book_id"])[start:start + 24], dtype=np.int64))[None]
with torch.no_grad():
    _, _, attention = gpt(passage_ids.to(gpt.transformer.wte.weight.device), return_attention=True)
words = [tok.token_piece(int(i)).replace("\n", "\\n") for i in passage_ids[0]]
print(f"{book['title']}: {tok.decode(passage_ids[0].tolist())!r}")
L, H = len(attention), attention[0].size(1)
fig, axes = plt.subplots(L, H, figsize=(2.4 * H, 2.4 * L), dpi=80, squeeze=False)
for layer in range(L):
    for head in range(H):
        ax = axes[layer][head]
        ax.imshow(attention[layer][0, head].float().cpu(), cmap="viridis", vmin=0)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"layer {layer}, head {head}", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# One head up close, with the tokens written out: pick the head that reads the previous token most.

# %%
prev = [[attention[l][0, h].diagonal(-1).mean().item() for h in range(H)] for l in range(L)]
layer, head = max(((l, h) for l in range(L) for h in range(H)), key=lambda lh: prev[lh[0]][lh[1]])
fig, ax = plt.subplots(figsize=(6, 5.5), dpi=90)
lessons.plot_attention(attention[layer][0, head], words, ax=ax,
                       title=f"layer {layer}, head {head}: {prev[layer][head]:.0%} of its weight on the previous token")
plt.show()

# %%
check(len(context["by_position"]) == n and all(math.isfinite(v) for v in context["by_position"]),
      f"a loss for each of {n} positions over {context['windows']:,} windows")
if PROFILE.name != "ci":  # 30 steps are too few to learn much from context
    check_between(context["gain"], 0.3, 5.0, "the window's second half costs less than positions 1-8 (nats)",
                  hint="a flat curve means the model does not use its context: the recipe is not working")
    check_between(context["shuffle_gain"], 0.2, 10.0, "shuffling the context hurts the last prediction (nats)")

# %% [markdown]
# ## 6. Per book: which held-out books are hard?
#
# The total mixes the held-out books by size. Per book, bits per byte shows which kinds of text
# the model learned from its training books and which it did not.

# %%
per_book = sorted(exact["documents"], key=lambda d: d["bits_per_byte"])
print(f"{'book':<42} {'author':<22} {'tokens':>9} {'bytes/token':>11} {'loss':>6} {'bits/byte':>9}")
for d in per_book:
    scored = f"{d['tokens']:,}" + ("" if d["complete"] else "*")
    print(f"{d['title'][:41]:<42} {d['author'][:21]:<22} {scored:>9} {d['bytes_per_token']:>11.2f} "
          f"{d['loss']:>6.3f} {d['bits_per_byte']:>9.3f}")
if not all(d["complete"] for d in per_book):
    print("* the first part of the book only (eval_max_tokens shared out by book length)")

# %%
fig, ax = plt.subplots(figsize=(8, 0.9 + 0.45 * len(per_book)), dpi=90)
evaluation.plot_per_book(per_book, total_bpb=total["bits_per_byte"], baseline_bpb=base["bigram"]["bits_per_byte"], ax=ax)
per_book_fig = fig
plt.show()
hardest = per_book[-1]
print(f"hardest: {hardest['title']} by {hardest['author']} ({hardest['bits_per_byte']:.3f} bits per byte)")

# %% [markdown]
# In the `cpu` profile expect Great Expectations to be the easiest of the four held-out books and
# Leaves of Grass the hardest, by a wide margin. Plausible reasons, from the texts themselves:
#
# - **Leaves of Grass** (Whitman) is the only poetry of the course's library; the training books
#   are prose and plays: short free-verse lines, long catalogues of nouns, unusual line breaks.
#   Its words also split into more pieces (see bytes per token in the table): the BPE, trained on
#   the training books' prose, has fewer tokens for its vocabulary.
# - **The Legend of Sleepy Hollow** (Irving, 1820) is ornate early-19th-century prose full of
#   Dutch names and rare words; it is also short, so a few hard passages weigh more.
# - **Great Expectations** is plain first-person narrative with a lot of dialogue, and two other
#   Dickens books (A Christmas Carol, A Tale of Two Cities) are among the training books.
#
# The `ci` profile holds out a single book, so there the table has one row.
#
# ## 7. The text it writes
#
# Loss says how well the model predicts real text; it says little about how its own text reads.
# The same fixed prompts at several temperatures: 0 always takes the likeliest token (greedy),
# 1 samples the model's own distribution, above 1 flattens it (07 builds these rules).

# %%
eval_dir = artifacts.stage_dir("eval")
samples = text_quality.sample_grid(gpt, tok, max_new_tokens=PROFILE.max_new_tokens)
sample_files = text_quality.write_samples(samples, eval_dir, checkpoint=str(ckpt.path))
for s in samples:
    if s["prompt"] == text_quality.PROMPTS[0]:
        print(f"--- temperature {s['temperature']:g}\n{s['prompt']}{s['text']}\n")

# %% [markdown]
# Two cheap measures catch the commonest failures. **distinct-n** is the share of word n-grams
# that are different from each other, over all samples: low means the model keeps saying the same
# few things. The **repetition rate** is the share of a sample's word 4-grams it already used
# earlier in the same sample: high means loops. Both depend on length, so compare samples of the
# same length, and against real text of that length from the held-out books.

# %%
by_temp = text_quality.quality_by_temperature(samples)
words_per_sample = max(10, int(np.mean([len(s["text"].split()) for s in samples if s["temperature"] > 0])))
reference = text_quality.reference_quality(tok, docs, n_words=words_per_sample)
print(f"{'temperature':>11} {'words':>6} {'distinct-1':>10} {'distinct-2':>10} {'repetition':>10}")
for r in [*by_temp, {"temperature": "real text", **reference}]:
    t = r["temperature"] if isinstance(r["temperature"], str) else f"{r['temperature']:g}"
    print(f"{t:>11} {r['words']:>6} {r['distinct_1']:>10.2f} {r['distinct_2']:>10.2f} {r['repetition_4']:>10.2f}")

# %% [markdown]
# Now the same measures across the run's saved checkpoints (the periodic ones that were kept and
# the best), with fresh samples at temperature 0.8 from the same prompts, and on the samples
# training wrote as it went (`samples.jsonl`: one per `sample_interval` steps).

# %%
run_dir = ckpt.path.parent
per_ckpt = text_quality.quality_over_checkpoints(run_dir, max_new_tokens=PROFILE.max_new_tokens,
                                                 samples_per_prompt=settings["quality_samples"])
during = text_quality.quality_of_training_samples(run_dir) if (run_dir / "samples.jsonl").is_file() else []
for r in per_ckpt:
    print(f"{r['checkpoint']:>22}: distinct-2 {r['distinct_2']:.2f}, repetition {r['repetition_4']:.2f}  {r['example'][:70]!r}")

# %%
quality = eval_report.quality_section(samples, per_ckpt, reference, during or None)
quality_fig = text_quality.plot_quality(quality)
plt.show()

# %%
check(len(per_ckpt) >= 1, f"measured {len(per_ckpt)} saved checkpoint(s) of the run: {[r['checkpoint'] for r in per_ckpt]}")
greedy, hot = by_temp[0], by_temp[-1]
check(greedy["distinct_2"] <= hot["distinct_2"] + 1e-9 or greedy["words"] < 8,
      "greedy decoding is the least varied (it always takes the likeliest token)")

# %% [markdown]
# ### Judging samples by eye
#
# The numbers above catch loops and monotony; only reading catches the rest. Read a handful of
# samples per temperature (they are in `data/eval/samples.md`) and ask, in this order:
#
# 1. **Spelling**: are the words English words? (A young model makes up words from likely pieces.)
# 2. **Local grammar**: do neighbouring words fit ("the old man", not "the of was")? Punctuation
#    and quotes opened and closed?
# 3. **Repetition**: does it loop, especially at temperature 0? Loops are the signature of greedy
#    decoding in small models, not a bug in the sampler.
# 4. **Sense over a sentence, then a paragraph**: does a sentence say something? Does the next one
#    follow from it? Small models usually lose the thread after a sentence or two.
# 5. **Style**: does it sound like the books (dialogue, names, period vocabulary)?
#
# Compare checkpoints on the *same* prompts and seeds, as here, so differences come from the
# model and not from luck. And remember that a low loss is the more reliable number: fluent-looking
# text can hide a poor model, and a good model can produce an unlucky sample.
#
# ## 8. The curves, and overfitting made visible
#
# `metrics.jsonl` has the training loss at every logged step and the validation loss at every
# evaluation. Overfitting shows as the validation loss turning up while the training loss keeps
# falling: the model starts to learn its training books by heart instead of English.

# %%
records = runs.read_metrics(run_dir)
fig, ax = plt.subplots(figsize=(9, 3.5), dpi=90)
evaluation.plot_curves(records, ax=ax, title=f"run {run_dir.name!r}")
evaluation.save_figure(fig, eval_dir / "curves.png")
plt.show()
curves = eval_report.curves_section(records, run_dir)
print(f"best step {curves['best_step']} (val {curves['best_val_loss']:.3f}); last evaluation step {curves['last_step']} "
      f"(val {curves['last_val_loss']:.3f}); gap to training {curves['generalization_gap']:+.3f}\n{curves['verdict']}")

# %% [markdown]
# Expect a `cpu` run's validation loss to be still falling when 05's time budget ends, with the
# best checkpoint the last one, and some tenths of a nat above the training loss. Part of that
# gap is familiarity with text read more than once; most of it is the difference between the
# training books and held-out books by other hands. No overfitting yet: more training would
# still help.
#
# To *see* overfitting, make it happen: a small model trained on only 1,024 tokens of one
# training book learns them by heart. Expect its training loss to fall from about $\ln V$ to
# below 1 within 150 steps, while its validation loss on the held-out books stops falling and
# climbs.

# %%
from minigpt_helpers import model as model_lib

threads = torch.get_num_threads()
torch.set_num_threads(1)  # a model this small trains fastest on one thread
torch.manual_seed(0)
tiny = model_lib.GPT(model_lib.preset("ci", vocab_size=tok.vocab_size, context_length=32, n_embd=128))
opt = torch.optim.AdamW(tiny.parameters(), lr=1e-3)
few = np.asarray(train_data[:1024])
g = torch.Generator().manual_seed(0)
fixed_train = dataset.get_batch(few, 32, 32, seed=1)
fixed_val = dataset.get_batch(val, 32, 32, seed=1)
curve = []
for step in range(1, 151):
    x, y = dataset.get_batch(few, 16, 32, generator=g)
    loss = tiny(x, y)[1]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if step % 10 == 0:
        with torch.no_grad():
            curve.append((step, tiny(*fixed_train)[1].item(), tiny(*fixed_val)[1].item()))
torch.set_num_threads(threads)

# %%
steps_, tr_, va_ = map(np.array, zip(*curve))
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.plot(steps_, tr_, label="training loss (the 1,024 tokens)")
ax.plot(steps_, va_, label="validation loss (held-out books)")
ax.axvline(steps_[va_.argmin()], ls=":", c="grey", label="where early stopping would keep the model")
ax.set(xlabel="step", ylabel="loss (nats per token)", title="overfitting: memorising a tiny corpus")
ax.legend(fontsize=8)
plt.show()
check(tr_[-1] < tr_[0] - 2.0 and va_[-1] > va_.min() + 0.3,
      f"training loss fell to {tr_[-1]:.2f} while validation rose {va_[-1] - va_.min():.2f} above its best")

# %% [markdown]
# ## 9. WikiText-2: a benchmark from outside the books (optional)
#
# *Optional: skip to section 10 for the core path.*
#
# WikiText-2 is a set of good Wikipedia articles with a fixed validation and test split, so
# results from many papers can be compared. Papers report **word-level perplexity**: the total
# negative log-likelihood divided by the number of *words* $W$ of the original text, whatever the
# tokenizer, as the GPT-2 paper did:
#
# $$\text{PPL}_\text{word} = \exp\Big(\frac{1}{W} \sum_{i=1}^{N} -\ln p(x_i \mid x_{<i})\Big)$$
#
# We count words as the whitespace-separated pieces of the raw text (`len(text.split())`):
# WikiText's raw text already has spaces around punctuation (` , `, ` @-@ `), so a comma is a
# word; line ends are not counted (some papers add one per line, which lowers the perplexity).
#
# Expect this books model to score badly there, for plain reasons:
#
# - **Other subjects.** It learned 19th-century fiction; the articles are about species, football
#   seasons, modern people and places, with dates and numbers everywhere. A model can only give
#   high probability to what resembles its training text.
# - **Another format.** The raw files write ` @-@ ` for a hyphen, ` = Title = ` for a heading and a
#   space before every comma and full stop: sequences the model never read, each costing bits.
# - **A tokenizer trained on the books.** Modern words split into more pieces, and each piece is
#   one more prediction to get right.
# - **Word-level perplexity magnifies it.** A WikiText word is about 5.4 bytes with its space, so
#   each extra bit per byte multiplies the word-level perplexity by about $2^{5.4} \approx 42$.
#
# So expect the `cpu` model's bits per byte to rise by more than one, from near 1.8 on the
# held-out books to over 3 on these articles, and word-level perplexities of tens to hundreds of
# thousands, where GPT-2's smallest model, trained on 40 GB of web text, reported about 30. That is not a broken model: it is a
# model asked about text it never saw. Comparing with published results needs a model trained on
# WikiText-2's own training split: the package's `wikitext` recipe
# (`python -m minigpt_helpers train --recipe wikitext`) does that, but it needs network access to
# download that split and, at 6 layers, 384 wide and a context of 512, a GPU to train in
# reasonable time.
#
# By hand on the first lines of the validation split:

# %%
from minigpt_helpers import sources

available = {name: evaluation.wikitext_available(name) for name in ("validation", "test")}
for name, (ok, why) in available.items():
    print(f"WikiText-2 {name:<10}: {'available' if ok else 'NOT available: ' + why[:150]}")
if available["validation"][0]:
    first_lines = "".join(sources.wikitext2("validation").splitlines(keepends=True)[:6])
    print(repr(first_lines[:300]))
    small = evaluation.evaluate_text(gpt, tok, first_lines, progress=False)
    n_words = len(first_lines.split())
    check(small["words"] == n_words, f"{n_words} words: the whitespace-separated pieces")
    check_close(small["word_perplexity"], math.exp(small["nll_nats"] / n_words), "word-level perplexity = exp(NLL / words)")
    print(f"{small['tokens']} tokens, {n_words} words: perplexity per token {small['perplexity']:.1f}, "
          f"per word {small['word_perplexity']:,.1f}")

# %% [markdown]
# Each split is scored as one stream with the sliding window. In the `ci` and `cpu` profiles it
# is cut to its first whole articles (`wikitext_max_tokens` in the profile's evaluation
# settings: a few thousand tokens, enough to see the gap); the `gpu` profile scores the whole
# splits.

# %%
wiki_results = evaluation.evaluate_wikitext(gpt, tok, max_tokens=settings["wikitext_max_tokens"])
wiki = eval_report.wikitext_section(wiki_results)
for name in evaluation.WIKITEXT_SPLITS:
    r = wiki[name]
    if not r["available"]:
        print(f"{name}: not available ({r['reason'][:120]})")
        continue
    part = "whole split" if r["complete"] else f"first {r['articles']} of {r['articles_total']} articles"
    print(f"{name:<10} ({part}): {r['words']:,} words, {r['tokens']:,} tokens; word-level perplexity "
          f"{r['word_perplexity']:,.1f}, per token {r['perplexity']:.1f}, {r['bits_per_byte']:.3f} bits per byte")

# %%
measured = [s for s in evaluation.WIKITEXT_SPLITS if wiki[s]["available"]]
offline = sources.datasets_dir()
if measured or (offline is not None and (offline / "wikitext-2-raw").is_dir()):  # an offline copy must load
    check(bool(measured), f"WikiText-2 measured on {measured}",
          "check the files in $MINIGPT_DATASETS_DIR/wikitext-2-raw (wiki.valid.raw, wiki.test.raw)")
else:
    print("WikiText-2 could not be read (see above): connect to the internet, or set MINIGPT_DATASETS_DIR "
          "to a folder of downloaded copies, and run this section again. The rest of the notebook does not need it.")
for s in measured:
    check(wiki[s]["bits_per_byte"] > total["bits_per_byte"],
          f"{s}: out of domain, so more bits per byte than on held-out books "
          f"({wiki[s]['bits_per_byte']:.2f} vs {total['bits_per_byte']:.2f})")

# %% [markdown]
# ## 10. Write it all down
#
# `data/eval/metrics.json` keeps every number of this notebook with the checkpoint (path, step,
# model, tokenizer) and the data (token files, counts, books) it was computed from, the hardware,
# and the settings (context, stride, cap); WikiText-2's results are `null` if you skipped section 9.
# The stage's manifest goes last. `stages.build_eval` does the same without a notebook
# (`stages.ensure("eval", PROFILE)` calls it), and
# `python -m minigpt_helpers eval --checkpoint <run or folder>` prints a summary from a terminal.

# %%
per_book_fig.savefig(eval_dir / "per_book.png", dpi=90, bbox_inches="tight")
quality_fig.savefig(eval_dir / "quality.png", dpi=90, bbox_inches="tight")
report = eval_report.assemble_report(ckpt, val, exact, quick_estimate=quick, baselines=base, context=context,
                                    wikitext2=wiki, text_quality=quality, curves=curves)
files = ["curves.png", "per_book.png", "quality.png", *(p.name for p in sample_files)]
eval_report.write_eval(report, PROFILE, files)
saved = eval_report.read_eval()
print(f"{eval_dir}: {sorted(p.name for p in eval_dir.iterdir())}")
print(f"metrics.json keys: {list(saved)}")

# %%
check(saved["split"]["total"]["bits_per_byte"] == total["bits_per_byte"] and saved["checkpoint"]["path"] == str(ckpt.path),
      "metrics.json holds the exact numbers and names the checkpoint")
check(all((eval_dir / f).is_file() for f in saved["files"]), f"every file listed is there: {saved['files']}")
check(artifacts.staleness("eval", PROFILE) is None, "the eval stage is current (manifest written last)")

# %%
from contextlib import redirect_stdout
from io import StringIO

from minigpt_helpers import cli

out = StringIO()
with redirect_stdout(out):
    code = cli.main(["eval", "--checkpoint", str(ckpt.path), "--max-tokens", "2000", "--no-progress",
                     "--output", str(artifacts.data_dir() / "eval-cli-check.json")])
print(out.getvalue())
check(code == 0 and "bits per byte" in out.getvalue(), "the command line evaluates the same checkpoint")

# %% [markdown]
# ## More exercises
#
# ### Exercise 2: plan the windows
#
# Write `my_plan(n, context, stride)`: the sliding windows over `n` tokens as a list of
# `(start, first)` pairs, where a window reads tokens `start .. start + length - 1` and scores its
# targets from index `first` on (every window has `length = min(context, n - 1)`). Section 2's
# `my_sliding_nll` walks the same windows. Checked against `evaluation.plan_windows` on several
# sizes, including a stride of 1 and a text shorter than the context.

# %%
my_plan = None  # your answer: a function (n, context, stride) -> [(start, first), ...]


def test_plan(fn):
    for n_, c, s_ in [(10, 8, 4), (50, 8, 3), (64, 16, 16), (100, 16, 1), (5, 8, 2)]:
        want = [(w.start, w.first) for w in evaluation.plan_windows(n_, c, s_)]
        check(list(fn(n_, c, s_)) == want, f"n={n_}, context={c}, stride={s_}: {len(want)} windows")


exercise("plan the windows", my_plan, test_plan)

# %% [markdown]
# *Solution:* [solutions/06_evaluation.ipynb](../solutions/06_evaluation.ipynb), exercise 2.
#
# ### Exercise 3: which model is better?
#
# Two models were evaluated on the same book. Model A reads characters (1.0 bytes per token on this
# ASCII text) and reaches a perplexity per token of 3.2. Model B uses a BPE (3.9 bytes per token)
# and reaches a perplexity per token of 60. Which one predicts the book better? Answer `"A"` or
# `"B"`, from their bits per byte (section 1 has the formula that links the two numbers).

# %%
better = None  # your answer: "A" or "B"


def test_better(answer):
    bpb_a, bpb_b = math.log2(3.2) / 1.0, math.log2(60) / 3.9
    check(answer in ("A", "B"), f"answer 'A' or 'B' (got {answer!r})")
    check(answer == ("A" if bpb_a < bpb_b else "B"), "the one with fewer bits per byte",
          hint="bits per byte = log2(perplexity per token) / bytes per token")


exercise("which model is better", better, test_better)

# %% [markdown]
# *Solution:* [solutions/06_evaluation.ipynb](../solutions/06_evaluation.ipynb), exercise 3.
#
# ## Summary
#
# - Loss (nats per token), perplexity (its exponential) and bits per byte all come from the
#   probabilities of the real next tokens. Only bits per byte (or word-level perplexity) compares
#   models with different tokenizers.
# - The exact evaluation slides a window with a stride over every held-out book: each token scored
#   once with at least `context − stride + 1` tokens of context, deterministic, in batches.
# - Counting gives the scale: $\ln V$ for a blind guess (and an untrained model), then the unigram
#   and the bigram you built; the model earns its keep by how far it gets below the bigram, which
#   is what reading more than one token back is worth.
# - The context probes show what this checkpoint learned to use (a sentence or two, no copying
#   yet); per-book results, samples and the curves say where it falls short and whether it
#   started to overfit.
# - Out-of-domain text such as WikiText-2 scores far worse; only a model trained on it compares
#   with published numbers.
#
# **Next:** 07_inference picks up the same checkpoint and turns its next-token scores into text:
# greedy decoding, temperature, top-k and top-p, a KV cache, streaming.
