# %% [markdown]
# # Solutions · 05 Training
#
# Read these after trying the exercises in [notebooks/05_training.ipynb](../notebooks/05_training.ipynb).
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

PROFILE = start("05_training", drive=DRIVE)


# %% [markdown]
# The lesson awaits its two training sessions (so that its Stop button works while they run),
# and `%run` cannot run a file that awaits; `lessons.run_lesson` runs the lesson's code the same
# way, in this notebook, awaiting where it awaits.

# %%
from minigpt_helpers import lessons

await lessons.run_lesson("../notebooks/05_training.py", globals())

# %% [markdown]
# ## Exercise 1: one AdamW step, by hand
#
# Section 1's equations, line by line: update both running averages, divide each by
# $1 - \beta^t$ (the bias correction: both start at zero), then step by the ratio and pull the
# old weight towards zero by `lr × weight_decay`. The decay uses the weight from before the step,
# as PyTorch's AdamW does.

# %%
def adamw_step(w, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    w = w - lr * (m_hat / (v_hat.sqrt() + eps) + weight_decay * w)
    return w, m, v


exercise("one AdamW step", adamw_step, test_adamw)
test_adamw(adamw_step)  # raises if wrong

# %% [markdown]
# ## Exercise 2: warmup-stable-decay
#
# Three pieces, one after the other: the warmup of section 2, the plateau at the peak, and a
# straight line from the peak to the floor. The decay starts after warmup plus the plateau's
# share of the remaining steps; past `total` the progress is capped at 1, so the rate stays at
# the floor.

# %%
def wsd_lr(step, peak, warmup, stable_fraction, total):
    if step < warmup:
        return peak * (step + 1) / warmup
    start = warmup + round(stable_fraction * (total - warmup))  # the decay starts here
    if step < start:
        return peak
    progress = min(1.0, (step - start) / max(1, total - start))
    return 0.1 * peak + (1 - progress) * 0.9 * peak


exercise("warmup-stable-decay", wsd_lr, test_wsd)
test_wsd(wsd_lr)  # raises if wrong

# %% [markdown]
# ## Exercise 3: find the best step in the metrics file
#
# Keep the records that have a validation loss (the others are training-only lines) and take
# the one with the smallest. `best/` was saved at exactly that evaluation.

# %%
def best_step(records):
    evaluated = [r for r in records if r["val_loss"] is not None]
    return min(evaluated, key=lambda r: r["val_loss"])["step"]


exercise("find the best step", best_step, test_best_step)
test_best_step(best_step)  # raises if wrong
