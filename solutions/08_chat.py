# %% [markdown]
# # Solutions · 08 Chat
#
# Read these after you have tried the exercises in [08_chat](../notebooks/08_chat.ipynb). Running
# this notebook first re-runs the lesson, so that every solution is checked on the same data.

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

PROFILE = start("08_chat", drive=DRIVE)

# %%
# %run ../notebooks/08_chat.py

# %% [markdown]
# ## Exercise 1: a template for any two speakers
#
# Make every text one line first (`" ".join(text.split())` turns any run of whitespace into one
# space and trims both ends), then write the header only when the persona has words in it. The
# last line is the bot's tag with no space after the colon.

# %%
def render_play(persona, turns, user_name, bot_name):
    def one_line(text):
        return " ".join(text.split())

    header = f"{one_line(persona)}\n\n" if persona.strip() else ""
    lines = "".join(f"{user_name if role == 'user' else bot_name}: {one_line(text)}\n" for role, text in turns)
    return header + lines + f"{bot_name}:"


exercise("a template for any two speakers", render_play, test_render_play)
test_render_play(render_play)  # raises if the solution is wrong

# %% [markdown]
# ## Exercise 2: stop strings in a stream
#
# Keep the text so far and, after each piece, look for every stop string in all of it (not in the
# piece alone: a stop may have started in the piece before). The earliest stop found wins. Return
# at once, so the loop never asks the stream for another piece.

# %%
def cut_at_stops(pieces, stops):
    text = ""
    for piece in pieces:
        text += piece
        found = [i for i in (text.find(stop) for stop in stops) if i >= 0]
        if found:
            return text[:min(found)], "stop"
    return text, "length"


exercise("stop strings in a stream", cut_at_stops, test_cut_at_stops)
test_cut_at_stops(cut_at_stops)  # raises if the solution is wrong

# %% [markdown]
# ## Exercise 3: fit a conversation into a budget
#
# Try the longest tail first (all the turns), then shorter ones: the first tail that fits is the
# answer. When none fits, keep the last turn alone. This counts up to one prompt per turn; the
# package's `fit_turns` gets the same answer with a number of counts that grows only with the
# logarithm of the length, because fewer turns never take more tokens.

# %%
def fit(turns, count, budget):
    for start in range(len(turns)):
        if count(template.render(turns[start:])) <= budget:
            return list(turns[start:])
    return list(turns[-1:])


exercise("fit a conversation into a budget", fit, test_fit)
test_fit(fit)  # raises if the solution is wrong
