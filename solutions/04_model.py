# %% [markdown]
# # Solutions · 04 The model
#
# Read these after trying the exercises in [notebooks/04_model.ipynb](../notebooks/04_model.ipynb).
# Running this notebook first re-runs the lesson, so every solution is checked on the same data
# and by the same test as there.

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

PROFILE = start("04_model", drive=DRIVE)


# %%
# %run ../notebooks/04_model.py

# %% [markdown]
# ## Exercise 1: attention, written out
#
# The equation of section 2, for every head at once: the (B, nh) dimensions ride along as a
# batch, so the code is the one-head code with `transpose(-2, -1)` for the keys. The mask is
# built once for T positions and broadcast over batch and heads.

# %%
def my_attention(q, k, v):
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, nh, T, T)
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=q.device).tril(), float("-inf"))
    return scores.softmax(dim=-1) @ v  # (B, nh, T, hs)


exercise("attention, written out", my_attention, test_attention)
test_attention(my_attention)  # raises if wrong

# %% [markdown]
# ## Exercise 2: count a block's parameters
#
# Add the pieces up: two norms of `n_embd` weights (and as many biases); the attention's
# `c_attn` (C → 3C) and `c_proj` (C → C); the MLP's `c_fc` (C → hidden) and `c_proj`
# (hidden → C). Each linear layer has in × out weights and, with `bias`, one bias per output.

# %%
def block_params(n_embd, hidden, bias):
    b = int(bias)
    norms = 2 * (n_embd + b * n_embd)
    attention = n_embd * 3 * n_embd + b * 3 * n_embd + n_embd * n_embd + b * n_embd
    mlp = n_embd * hidden + b * hidden + hidden * n_embd + b * n_embd
    return norms + attention + mlp


exercise("count a block's parameters", block_params, test_block_params)
test_block_params(block_params)  # raises if wrong

# %% [markdown]
# ## Exercise 3: the mask when a cache holds the past
#
# New position i sits at absolute position `t_cached + i`, so it may read every key up to and
# including that one: the lower triangle shifted right by `t_cached`, which is what `tril`'s
# `diagonal` argument does. With `t_cached = 0` it is the ordinary causal mask.

# %%
def cache_mask(t_new, t_cached):
    return torch.ones(t_new, t_cached + t_new, dtype=torch.bool).tril(diagonal=t_cached)


exercise("the mask with a cache", cache_mask, test_cache_mask)
test_cache_mask(cache_mask)  # raises if wrong
