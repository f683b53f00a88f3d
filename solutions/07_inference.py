# %% [markdown]
# # Solutions · 07 Inference
#
# Read these after trying the exercises in [notebooks/07_inference.ipynb](../notebooks/07_inference.ipynb).
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

PROFILE = start("07_inference", drive=DRIVE)

# %%
# %run ../notebooks/07_inference.py

# %% [markdown]
# ## Exercise 1: min-p sampling
#
# Turn the logits into probabilities, compare each with `min_p` times the largest, and put
# $-\infty$ where a token falls short. `masked_fill` leaves the kept logits untouched. The bar
# moves with the model's confidence: after "I beg your" it is high and few tokens pass; after
# "The" it is low and many do.

# %%
def min_p_filter(logits, min_p):
    probs_ = logits.softmax(-1)
    return logits.masked_fill(probs_ < min_p * probs_.max(), float("-inf"))


exercise("min-p sampling", min_p_filter, test_min_p)
test_min_p(min_p_filter)  # raises if wrong
for text in ("The", confident):
    print(f"min-p 0.1 keeps {int(min_p_filter(next_logits(text), 0.1).isfinite().sum()):,} tokens after {text!r}")

# %% [markdown]
# ## Exercise 2: the work the cache saves
#
# Without the cache, step $i$ (from 0) reads the prompt and the $i$ tokens made so far:
# $\sum_{i=0}^{n-1} (P + i) = nP + n(n-1)/2$ positions, quadratic in $n$. With the cache the
# prefill reads the $P$ prompt positions once, and each of the $n - 1$ later steps reads one:
# $P + n - 1$, linear in $n$.

# %%
def positions_computed(prompt_len, n_new, use_cache):
    if use_cache:
        return prompt_len + n_new - 1
    return n_new * prompt_len + n_new * (n_new - 1) // 2


exercise("the work the cache saves", positions_computed, test_positions)
test_positions(positions_computed)  # raises if wrong
P, N = 8, C - 8
print(f"prompt {P}, {N} new tokens: {positions_computed(P, N, False):,} positions without the cache, "
      f"{positions_computed(P, N, True):,} with it ({positions_computed(P, N, False) / positions_computed(P, N, True):.0f}x fewer; "
      "the time saved is smaller, as section 10 shows)")

# %% [markdown]
# ## Exercise 3: how big is a KV cache?
#
# Keys and values (2), for every layer, batch row and position, one vector per head of
# `head_size` numbers; `n_head × head_size = n_embd`, so per position and layer that is
# `n_embd` numbers for the keys and as many for the values, 4 bytes each in float32.

# %%
def cache_bytes(config, batch_size, positions):
    return 2 * config.n_layer * batch_size * positions * config.n_embd * 4


exercise("KV cache size", cache_bytes, test_cache_bytes)
test_cache_bytes(cache_bytes)  # raises if wrong
from minigpt_helpers.model import preset

print(f"ultra-mini, batch 8, 512 positions: {cache_bytes(preset('ultra-mini'), 8, 512) / 2**20:.0f} MiB")
