# %% [markdown]
# # Solutions · 06 Evaluation
#
# Read these after trying the exercises in [notebooks/06_evaluation.ipynb](../notebooks/06_evaluation.ipynb).
# Running this notebook first re-runs the lesson, so every solution is checked on the same model and data.

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

# %%
# %run ../notebooks/06_evaluation.py

# %% [markdown]
# ## Exercise 1: the bigram baseline
#
# Encode each pair $(a, b)$ as the single number $aV + b$: `np.unique` then gives the pairs that
# occur, sorted, with their counts, and `np.searchsorted` finds a queried pair among them (a
# pair that never occurred gets count 0). `np.bincount` of the first tokens gives $c(a)$. Add-one
# smoothing is then one line.

# %%
def my_bigram(train_ids, prev, nxt, vocab_size):
    t = np.asarray(train_ids, dtype=np.int64)
    prev, nxt = np.asarray(prev, dtype=np.int64), np.asarray(nxt, dtype=np.int64)
    pairs, pair_counts = np.unique(t[:-1] * vocab_size + t[1:], return_counts=True)  # the pairs that occur
    context_counts = np.bincount(t[:-1], minlength=vocab_size)  # c(a): pairs that start with a
    query = prev * vocab_size + nxt
    at = np.clip(np.searchsorted(pairs, query), 0, len(pairs) - 1)
    c_ab = np.where(pairs[at] == query, pair_counts[at], 0)  # c(a, b), 0 for a pair never seen
    return -np.log((c_ab + 1) / (context_counts[prev] + vocab_size))  # add-one


exercise("the bigram baseline", my_bigram, test_bigram)
test_bigram(my_bigram)  # raises if wrong

# %% [markdown]
# Add-one gives every one of the $V$ possible next tokens a whole extra count. With 8,000 tokens
# and a few hundred pairs per context, that invented mass swamps what was counted. Interpolation
# keeps the counted distribution and mixes in the unigram, which already knows which tokens are
# common, so it scores clearly better; the package chooses $\lambda$ on held-back training tokens.

# %%
def my_bigram_interpolated(train_ids, prev, nxt, vocab_size, lam=0.8):
    t = np.asarray(train_ids, dtype=np.int64)
    prev, nxt = np.asarray(prev, dtype=np.int64), np.asarray(nxt, dtype=np.int64)
    pairs, pair_counts = np.unique(t[:-1] * vocab_size + t[1:], return_counts=True)
    context_counts = np.bincount(t[:-1], minlength=vocab_size)
    unigram = (np.bincount(t, minlength=vocab_size) + 1) / (len(t) + vocab_size)  # add-one unigram
    query = prev * vocab_size + nxt
    at = np.clip(np.searchsorted(pairs, query), 0, len(pairs) - 1)
    c_ab = np.where(pairs[at] == query, pair_counts[at], 0)
    c_a = context_counts[prev]
    weight = np.where(c_a > 0, lam, 0.0)  # a context never seen in training: the unigram alone
    return -np.log(weight * c_ab / np.maximum(c_a, 1) + (1 - weight) * unigram[nxt])


test_bigram(my_bigram_interpolated)  # raises if wrong
for name, fn in (("add-one", my_bigram), ("interpolated, lambda 0.8", my_bigram_interpolated)):
    print(f"{name:>25}: {bits_per_byte_of(fn(train_ids, sample[:-1], sample[1:], V)):.3f} bits per byte")
print(f"{'the package':>25}: {package_bpb:.3f} (lambda {package_bigram.lam})")

# %% [markdown]
# ## Exercise 2: plan the windows
#
# Walk as `my_sliding_nll` of section 2 does: `done` is the last target scored so far. Each
# window ends `context` tokens after its nominal start (or at the last target), starts `context`
# tokens before its end (so the last window moves back and stays full), and scores from the first
# target that no earlier window scored.

# %%
def my_plan(n, context, stride):
    plan, done, a = [], 0, 0  # done: targets 1..done are scored
    while done < n - 1:
        end = min(a + context, n - 1)  # the last target this window scores
        start = max(0, end - context)  # the last window moves back to be full
        plan.append((start, done - start))  # targets up to `done` were scored before
        done, a = end, a + stride
    return plan


exercise("plan the windows", my_plan, test_plan)
test_plan(my_plan)  # raises if wrong

# %% [markdown]
# ## Exercise 3: which model is better?
#
# Perplexity per token is $2^{\text{bits per token}}$, and bits per byte is bits per token divided
# by bytes per token. A: $\log_2 3.2 / 1.0 = 1.68$ bits per byte. B: $\log_2 60 / 3.9 = 5.91 / 3.9
# = 1.51$ bits per byte. B's perplexity per token is 19 times larger, yet B is the better model:
# each of its tokens carries 3.9 bytes of text.

# %%
better = "B"

exercise("which model is better", better, test_better)
test_better(better)  # raises if wrong
print(f"A: {math.log2(3.2) / 1.0:.3f} bits per byte, B: {math.log2(60) / 3.9:.3f}")
