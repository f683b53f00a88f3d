# %% [markdown]
# # Solutions · 09 Serving
#
# Read these after you have tried the exercises in [09_serving](../notebooks/09_serving.ipynb).
# Running this notebook first re-runs the lesson, so that every solution is checked on the same
# data (it starts and stops the server as the lesson does; the exercises need no server).

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
    print(f"installing minigpt-helpers[serve,export] from {url} ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"minigpt-helpers[serve,export] @ git+{url}"],
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

PROFILE = start("09_serving", drive=DRIVE)

# %%
# %run ../notebooks/09_serving.py

# %% [markdown]
# ## Exercise 1: is this the file that was exported?
#
# `hashlib.sha256()` takes the bytes in as many `update` calls as you like, so reading the file
# a megabyte at a time gives the same digest as reading it whole. Compare the hex digest with the
# one `config.json` recorded; a missing record counts as not intact.

# %%
import hashlib


def weights_intact(folder):
    folder = Path(folder)
    recorded = json.loads((folder / "config.json").read_text()).get("files", {}).get("model.safetensors")
    digest = hashlib.sha256()
    with open(folder / "model.safetensors", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return recorded is not None and digest.hexdigest() == recorded


exercise("is this the file that was exported?", weights_intact, test_weights_intact)
test_weights_intact(weights_intact)  # raises if the solution is wrong

# %% [markdown]
# The package's `load_exported` makes the same check before it reads a weight, and refuses a
# damaged folder with a message that says what to do.
#
# ## Exercise 2: add a route to the API, and test it
#
# A pydantic model declares the body; FastAPI validates each request against it before the
# function runs, so a body without `text` never reaches your code. The function returns a dict,
# which FastAPI sends as JSON.

# %%
class TokenizeRequest(BaseModel):
    text: str


def add_tokenize(app, tokenizer):
    @app.post("/v1/tokenize")
    def tokenize(body: TokenizeRequest):
        ids = tokenizer.encode(body.text)
        return {"tokens": ids, "count": len(ids)}


exercise("add POST /v1/tokenize", add_tokenize, test_tokenize)
test_tokenize(add_tokenize)  # raises if the solution is wrong

# %% [markdown]
# ## Exercise 3: read a stream
#
# One pass over the lines: skip what is not a `data: ` line, stop at `[DONE]`, and keep a running
# text and the last finish reason that was set.

# %%
def parse_sse(lines):
    text, reason = "", None
    for line in lines:
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            break
        choice = json.loads(line[len("data: "):])["choices"][0]
        text += choice["text"]
        reason = choice["finish_reason"] or reason
    return text, reason


exercise("read a stream", parse_sse, test_parse)
test_parse(parse_sse)  # raises if the solution is wrong
