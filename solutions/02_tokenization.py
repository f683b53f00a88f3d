# %% [markdown]
# # Solutions · 02 Tokenization
#
# Read these after trying the exercises in [notebooks/02_tokenization.ipynb](../notebooks/02_tokenization.ipynb).
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

PROFILE = start("02_tokenization", drive=DRIVE)

# %%
# %run ../notebooks/02_tokenization.py

# %% [markdown]
# ## Exercise 1: more tokens than characters
#
# Characters GPT-2 rarely saw have no token of their own: they fall back to their UTF-8 bytes,
# up to 4 tokens for one emoji. Three rare emoji make 3 characters and many more tokens.

# %%
more_tokens_than_chars = "🦜🦩🦚"

exercise("more tokens than characters", more_tokens_than_chars, test_more_tokens)
test_more_tokens(more_tokens_than_chars)  # raises if wrong
print(f"{more_tokens_than_chars!r}: {len(more_tokens_than_chars)} characters, "
      f"{len(gpt2.encode(more_tokens_than_chars))} GPT-2 tokens")

# %% [markdown]
# ## Exercise 2: a word only our BPE knows
#
# Walk through our vocabulary for tokens of the form " word" (a space, then letters) that GPT-2
# splits into two or more. Names from the books are typical: frequent here, rare on the web.
# With the `ci` profile's tiny vocabulary there are few such words; with 8,000 tokens, many.

# %%
ours_only = [p[1:] for p in map(bpe.token_piece, range(bpe.vocab_size))
             if p.startswith(" ") and p[1:].isalpha() and len(gpt2.encode(p)) >= 2]
print(f"{len(ours_only)} such words, e.g. {sorted(ours_only, key=len)[-8:]}")
bpe_only_word = max(ours_only, key=len)

exercise("a word only our BPE knows", bpe_only_word, test_bpe_only_word)
test_bpe_only_word(bpe_only_word)  # raises if wrong
print(f"' {bpe_only_word}': 1 token for {bpe.name}, {len(gpt2.encode(' ' + bpe_only_word))} for GPT-2")

# %% [markdown]
# ## Exercise 3: parameters saved
#
# The token table holds $V \times d$ numbers, so the saving is $(V_\text{GPT-2} - V_\text{ours})
# \times d$.

# %%
params_saved = (gpt2.vocab_size - bpe.vocab_size) * ultra.n_embd

exercise("parameters saved", params_saved, test_params_saved)
test_params_saved(params_saved)  # raises if wrong
print(f"{params_saved / 1e6:.1f}M parameters fewer with {bpe.name}")
