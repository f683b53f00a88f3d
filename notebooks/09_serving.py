# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/09_serving.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 09 · Serving: a trained checkpoint becomes a model anyone can call
#
# So far the model lived inside notebooks. To be *used* it has to leave them: as a folder you
# can copy to another machine, in the formats other tools read, and behind an HTTP API that
# any program (and a web page) can call. This notebook:
#
# 1. **exports** the best checkpoint as a self-contained folder: weights in safetensors, a JSON
#    config with generation defaults, the tokenizer files. It loads with the package alone, and
#    loading it runs no code from the file (unlike a pickle);
# 2. writes the same weights in **Hugging Face `transformers`' format** (Qwen3 for the modern
#    block, GPT-2 for GPT-2's) and checks that it gives our logits; optionally also as **ONNX**;
# 3. starts an **HTTP server** in the background (`python -m minigpt_helpers serve`) with an
#    OpenAI-compatible API, calls it with plain HTTP (plain and streamed) and with the official
#    `openai` client, and shows what it refuses and why;
# 4. links a **web page** served by the same server: prompt, settings, streamed text, a chat.
#
# **Reads** the best checkpoint of the profile's training run (`data/checkpoints/<run>/best/`,
# 05), training it first if it is missing. **Writes** `data/exports/<run>/` (the model folder),
# `data/exports/<run>-hf/` (Hugging Face), `data/exports/<run>.onnx` and the stage manifest.
#
# Expected time once 05's checkpoint exists (if it is missing, training it first adds 05's time):
#
# - `ci` (the test suite's tiny model): about a minute
# - `cpu` (a 2-core laptop CPU): about a minute
# - `gpu` (Colab's T4 or a local GPU): about a minute
#
# The core path is sections 1, 2, 4, 6, 7 and the exercises; section 3 (ONNX) and section 5 (many
# clients at once, speed, clients that leave) are optional.

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

# %% [markdown]
# ## The input: a trained checkpoint
#
# The best checkpoint of 05's run, loaded on the CPU: exporting and the comparisons below are
# CPU work (the server picks the best device for itself).

# %%
import json
import pickle
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import requests
import torch
from IPython.display import HTML, Markdown, display

from minigpt_helpers import artifacts, checkpoint, export, generation, serving, stages
from minigpt_helpers.chat import ChatTemplate
from minigpt_helpers.checks import check, check_close, check_speed, exercise
from minigpt_helpers.generation import SamplingConfig
from minigpt_helpers.lessons import format_table
from minigpt_helpers.notebook import figure

stages.ensure("checkpoints", PROFILE)
ckpt = checkpoint.load_checkpoint(checkpoint.find_checkpoint(), "cpu")
gpt, tok = ckpt.model, ckpt.tokenizer
C = gpt.config.context_length
print(f"{ckpt.path.relative_to(artifacts.data_dir())}: {gpt.num_parameters() / 1e6:.2f}M parameters, context {C} tokens, {tok}")

# %% [markdown]
# ## 1. A model folder that stands on its own
#
# A training checkpoint holds more than a served model needs. Next to the weights sits the
# training state (the optimizer keeps running averages for the weights, as large as the weights
# or larger), and the config names data folders on the machine that trained it. What serving
# needs is smaller: the weights, the model's shape, the tokenizer, and sensible sampling
# defaults. The model folder holds just that, and the other formats are made from it:

# %%
figure("export_formats")

# %% [markdown]
# Here is a periodic checkpoint of the run, file by file:

# %%
latest = checkpoint.find_checkpoint(which="latest")
sizes = {p.name + ("/" if p.is_dir() else ""): export.folder_size(p) / 1e6 for p in sorted(latest.iterdir())}
needed = {"config.json", "model.safetensors", "tokenizer/"}
fig, ax = plt.subplots(figsize=(8, 2.6), dpi=90)
ax.barh(list(sizes), list(sizes.values()), color=["C0" if n in needed else "lightgrey" for n in sizes])
ax.set(xlabel="MB", title=f"{latest.name}: blue = what serving needs, grey = only for resuming training")
plt.show()
check(sizes["training_state.pt"] > sizes["model.safetensors"], "the training state is larger than the weights")

# %% [markdown]
# ### Why safetensors and not a pickle
#
# `torch.save` writes a *pickle*, and a pickle is a small program: loading it may call any
# function it names. Loaded with `torch.load(..., weights_only=False)` (the default before torch
# 2.6), a model file downloaded from the internet could run anything on your machine. Here is a
# harmless demonstration, a "checkpoint" that prints a line when it is loaded:

# %%
class Surprise:
    def __reduce__(self):  # pickle stores "call print(...)" and runs it when loading
        return (print, ("this line was printed by loading a file: a pickle can run any code",))


demo = Path(tempfile.mkdtemp()) / "downloaded.pt"
torch.save({"weights": torch.zeros(2), "extra": Surprise()}, demo)
data = torch.load(demo, weights_only=False)  # runs the print
print("what it loaded:", data)

# %% [markdown]
# `torch.load(..., weights_only=True)` (the default since torch 2.6) refuses anything but tensors
# and plain containers, and a safetensors file holds nothing but a JSON header and raw numbers,
# so loading it runs no code at all. The course loads weights only from safetensors, and training
# state only with `weights_only=True`.

# %%
try:
    torch.load(demo, weights_only=True)
    refused = False
except pickle.UnpicklingError as err:
    refused = True
    reason = next((line for line in str(err).splitlines() if "Unsupported global" in line), str(err)[:120])
    print("weights_only=True refused it:", reason.strip())
check(refused, "weights_only=True does not run the file's code")
shutil.rmtree(demo.parent)  # the demonstration file is not needed again

# %% [markdown]
# ### The folder, by hand
#
# Three things: the weights (with the tied head the state dict holds the embedding table once, so
# safetensors takes it as it is), the tokenizer's files, and a config.json that says the shape,
# which tokenizer (with its fingerprint) and the generation defaults a server should start from.
# (The package's export, below, adds a fourth for people: a README.)

# %%
from safetensors.torch import save_file

by_hand = Path(tempfile.mkdtemp(prefix="by-hand-"))
save_file(gpt.state_dict(), str(by_hand / "model.safetensors"))
tok.save(by_hand / "tokenizer")
defaults = {"temperature": 0.8, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.1,
            "max_new_tokens": PROFILE.max_new_tokens}
config = {"format": "minigpt-export/1", "name": "by-hand", "model": gpt.config.to_dict(),
          "tokenizer": tok.config(), "generation": defaults}
(by_hand / "config.json").write_text(json.dumps(config, indent=2))
print(json.dumps({k: v for k, v in config.items() if k != "tokenizer"}, indent=1)[:600])

# %% [markdown]
# The package's `load_exported` reads such a folder with safetensors, JSON and the tokenizer's
# own files, nothing else. Same logits as the model in memory:

# %%
ids = torch.tensor([tok.encode("It was a dark and stormy night; the rain fell in torrents")[:C]])
mine = export.load_exported(by_hand)
with torch.no_grad():
    check(torch.equal(mine.model(ids)[0], gpt(ids)[0]), "the hand-made folder loads with identical logits")
check(mine.defaults.temperature == 0.8 and mine.name == "by-hand", "generation defaults and name read back")
shutil.rmtree(by_hand)  # the package's export below is the one the server uses

# %% [markdown]
# ### The stage, with the package
#
# `export.build_exports` does the same for the run's best checkpoint (plus the weights'
# SHA-256, where it came from, and a README), builds the folder beside its target and renames
# it into place, then writes the Hugging Face and ONNX forms beside it and, last, the manifest.

# %%
t0 = time.perf_counter()
exports_dir = stages.build_exports(PROFILE)
seconds = time.perf_counter() - t0
manifest = artifacts.read_manifest("exports")
name = manifest["default"]
folder = exports_dir / name
rows = [{"path": str(p.relative_to(exports_dir)), "MB": round(export.folder_size(p) / 1e6, 2)}
        for p in sorted(exports_dir.iterdir()) if p.name != "manifest.json"]
display(Markdown(format_table(rows)))
print(f"exported in {seconds:.1f} s; the folder holds: {sorted(p.name for p in folder.iterdir())}")

# %%
exported = export.load_exported(folder)
with torch.no_grad():
    check(torch.equal(exported.model(ids)[0], gpt(ids)[0]), f"data/exports/{name} loads with identical logits")
check(not [p for p in folder.rglob("*") if p.suffix in (".pt", ".pth", ".bin", ".pkl")], "no pickle in the export")
check(manifest["exports"][name]["source"].endswith("best"), "the manifest names the checkpoint it came from")
print(exported.defaults)

# %% [markdown]
# ## 2. Hugging Face `transformers`: the architecture that computes the same function
#
# `transformers` has a class for every well-known architecture, and each of our two blocks
# matches one exactly. GPT-2's block is `GPT2LMHeadModel`, down to the weight names; its layers
# are `Conv1D`s that store their weight as (in, out), where `nn.Linear` stores (out, in), so every
# matrix goes in transposed. The modern block (rotary positions, RMSNorm with QK-norm, no
# biases, an untied head) is **Qwen3**'s: our fused `c_attn` splits into its `q_proj`, `k_proj`
# and `v_proj`; its norms have weights, which we set to ones; its MLP is gated,
# `act(gate) * up`, so ReLU squared maps exactly as `relu(a) * a` with the gate and the up
# projection both set to our `c_fc` (SwiGLU maps directly). `export.hf_family` says which.

# %%
family = export.hf_family(gpt.config)
hf_weights = export.hf_state_dict(gpt)
ours_w = gpt.state_dict()["transformer.h.0.attn.c_attn.weight"]  # (3C, C): q, k, v stacked
print(f"the {gpt.config.architecture!r} block maps onto {export.HF_CLASSES[family]}")
if family == "gpt2":
    theirs_w = hf_weights["transformer.h.0.attn.c_attn.weight"]
    check(torch.equal(theirs_w, ours_w.T), "GPT-2's Conv1D weight = our Linear weight transposed")
else:
    theirs_w = hf_weights["model.layers.0.self_attn.q_proj.weight"]
    check(torch.equal(theirs_w, ours_w[: gpt.config.n_embd]), "Qwen3's q_proj = the first C rows of our c_attn")
print("ours:", tuple(ours_w.shape), "->", tuple(theirs_w.shape))
check(export.hf_problems(gpt) == [], f"nothing in this model lacks a {export.HF_CLASSES[family]} counterpart")

# %% [markdown]
# `build_exports` wrote that layout to `data/exports/<run>-hf/` with a `config.json` in that
# architecture's terms. `AutoModelForCausalLM.from_pretrained` reads the config, picks the class
# and loads it offline; the logits agree with ours to within 1e-4 (the two compute in a different
# order, so not to the last bit):

# %%
from transformers import AutoModelForCausalLM, AutoTokenizer

hf_folder = exports_dir / manifest["exports"][name]["hf"]
hf = AutoModelForCausalLM.from_pretrained(hf_folder).eval()
print(type(hf).__name__)
with torch.no_grad():
    check_close(hf(ids).logits, gpt(ids)[0], f"{type(hf).__name__}'s logits = ours", atol=export.HF_TOLERANCE, rtol=0)

# %% [markdown]
# The tokenizer travels too: a trained BPE is already a Hugging Face `tokenizer.json`; GPT-2's
# own files come from tiktoken's copy; a character tokenizer has no counterpart (the README in
# the folder says so). And greedy decoding with `transformers`' `generate` picks the same tokens
# as ours:

# %%
text = "The old man looked at the sea and said"
if (hf_folder / "tokenizer_config.json").is_file():
    hf_tok = AutoTokenizer.from_pretrained(hf_folder)
    check(hf_tok.encode(text) == tok.encode(text), "the Hugging Face tokenizer gives our ids")
prompt_ids = tok.encode(text)
n_new = min(20, C - len(prompt_ids))
ours = generation.generate(gpt, prompt_ids, SamplingConfig(temperature=0, max_new_tokens=n_new))
with torch.no_grad():
    theirs = hf.generate(torch.tensor([prompt_ids]), max_new_tokens=n_new, do_sample=False, repetition_penalty=1.0,
                         eos_token_id=None, pad_token_id=tok.eot_id)[0, len(prompt_ids):].tolist()
print(repr(tok.decode(ours)))
check(theirs == ours, f"transformers' greedy generate = ours ({n_new} tokens)")

# %% [markdown]
# The folder also carries a **chat template** (in `tokenizer_config.json`): `apply_chat_template`
# writes 08's play script exactly as our chat does. And a **model card**, its `README.md`: the
# books and their licence, the tokenizer, 06's metrics and the limitations, for whoever gets the
# folder without this course.

# %%
if (hf_folder / "tokenizer_config.json").is_file():
    messages = [{"role": "system", "content": "A conversation between a reader and a librarian."},
                {"role": "user", "content": "Good morning!"}]
    rendered = hf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    print(rendered)
    course = ChatTemplate(persona=messages[0]["content"]).render([("user", "Good morning!")])
    check(rendered == course, "transformers' chat template writes our chat's prompt")
print((hf_folder / "README.md").read_text()[:700])

# %% [markdown]
# ## 3. ONNX: a graph any runtime can execute (optional)
#
# *Optional: skip to section 4 for the core path.*
#
# ONNX stores the computation itself, as a graph of standard operators, with the weights inside.
# onnxruntime (and browsers, phones, other languages) can run it without PyTorch. The export
# traces `input_ids -> logits` once and keeps the batch and sequence sizes symbolic, so the graph
# accepts any batch and any length up to the context. Its operators:

# %%
import onnx

onnx_path = exports_dir / manifest["exports"][name]["onnx"]
ops = dict(Counter(node.op_type for node in onnx.load(str(onnx_path)).graph.node).most_common())
fig, ax = plt.subplots(figsize=(9, 3), dpi=90)
ax.bar(list(ops), list(ops.values()), color="C2")
ax.set(ylabel="nodes", title=f"{onnx_path.name}: {sum(ops.values())} operators")
ax.tick_params(axis="x", rotation=60, labelsize=8)
plt.show()

# %% [markdown]
# onnxruntime on the same input gives our logits within 1e-4, for shapes it was not traced with:

# %%
g = torch.Generator().manual_seed(0)
for shape in [(1, 1), (3, C), (2, 7)]:
    x = torch.randint(0, tok.vocab_size, shape, generator=g)
    with torch.no_grad():
        check_close(export.onnx_logits(onnx_path, x), gpt(x)[0], f"onnxruntime = torch for input {shape}",
                    atol=export.ONNX_TOLERANCE, rtol=0)

# %% [markdown]
# ## 4. An HTTP API
#
# A server turns the model into something any program can call. The one in the package follows
# OpenAI's API, so the many clients written for it work unchanged:
#
# | route | what |
# |---|---|
# | `POST /v1/completions` | continue a prompt (`"stream": true` sends the text as it comes) |
# | `POST /v1/chat/completions` | reply to a conversation (08's template and stops) |
# | `GET /v1/models` | the model's name, context, defaults and limits |
# | `GET /health` | is it up; the queue; counters (needs no key) |
# | `GET /` | the web page |
#
# Inside, requests wait in a short queue and one worker thread runs the model, so the server keeps
# answering while it computes:

# %%
figure("serving_path")

# %% [markdown]
# The worker runs one request at a time, for simplicity. 07 showed that a batch of prompts costs
# less per prompt; real servers (vLLM or Hugging Face's TGI, for example) batch the requests that
# are running at the same moment, letting each join or leave the batch at any step (continuous
# batching). Each request has a timeout, and a client that leaves stops its generation. The
# server listens on 127.0.0.1, this machine only, unless told otherwise (`--host 0.0.0.0`, best
# with `--api-key`).
#
# Start it in the background, exactly as you would in a terminal. `ServerProcess` runs the
# command with `--port 0` (the system picks a free port; the server prints it), waits until
# `/health` answers, and makes sure the server stops with this notebook, even if a cell fails.

# %%
server = serving.ServerProcess(folder).start()
print(" ".join(Path(a).name if a == sys.executable else a for a in server.command))
print("listening on", server.url)
check(server.url.startswith("http://127.0.0.1:"), "the server listens on this machine only")

# %%
health = requests.get(f"{server.url}/health", timeout=10).json()
card = requests.get(f"{server.url}/v1/models", timeout=10).json()["data"][0]
print("/health:", {k: health[k] for k in ("status", "model", "auth", "queue")})
print("/v1/models:", json.dumps(card, indent=1))
check(health["status"] == "ok" and card["id"] == name, f"the server serves {name!r}")

# %% [markdown]
# ### A completion, in plain HTTP
#
# A JSON body in, a JSON body out: the text, why it stopped (`"length"`: it reached
# `max_tokens`; `"stop"`: a stop string or the end of a text), and the token counts.

# %%
body = {"model": name, "prompt": "It was a dark and stormy night;", "max_tokens": 30, "temperature": 0}
r = requests.post(f"{server.url}/v1/completions", json=body, timeout=60)
completion = r.json()
print(json.dumps(completion, indent=1, ensure_ascii=False))
local = generation.complete(exported.model, tok, body["prompt"], exported.defaults.replace(temperature=0.0, max_new_tokens=30))
check(r.status_code == 200 and completion["choices"][0]["text"] == local, "the server's text = the package's (greedy)")

# %% [markdown]
# ### Streamed: server-sent events
#
# With `"stream": true` the answer comes as it is generated: each piece of text is one event, a
# line `data: {json}` and a blank line; the last says `data: [DONE]`. That is how a chat window
# shows words as they come. The first few lines, raw:

# %%
with requests.post(f"{server.url}/v1/completions", json={**body, "stream": True}, stream=True, timeout=60) as r:
    lines = [line for line in r.iter_lines(decode_unicode=True)]
for line in lines[:6]:
    print(line[:150])
events = [json.loads(line[6:]) for line in lines if line.startswith("data: ") and line != "data: [DONE]"]
streamed = "".join(e["choices"][0]["text"] for e in events)
check(lines[-2:] == ["data: [DONE]", ""] or lines[-1] == "data: [DONE]", "the stream ends with data: [DONE]")
check(streamed == completion["choices"][0]["text"], f"{len(events)} events add up to the plain answer")

# %% [markdown]
# ### A chat
#
# `/v1/chat/completions` takes the conversation as a list of messages. The server renders it
# with 08's template (the system message becomes the persona line), drops the oldest turns that
# do not fit, and stops the reply where the next speaker's turn would begin: at the end of its
# line, or at another speaker's tag inside it.

# %%
chat = {"model": name, "max_tokens": 40, "seed": 0, "messages": [
    {"role": "system", "content": "A conversation between a curious reader and a wise old librarian."},
    {"role": "user", "content": "Good morning! What should I read today?"}]}
reply = requests.post(f"{server.url}/v1/chat/completions", json=chat, timeout=60).json()
print("LIBRARIAN:", reply["choices"][0]["message"]["content"])
print(reply["choices"][0]["finish_reason"], reply["usage"])
check(reply["choices"][0]["message"]["role"] == "assistant", "an assistant message came back")

# %% [markdown]
# ### What it refuses, and how it says so
#
# A server checks every request before it spends time on it. The answer to a bad one is a 4xx
# status with OpenAI's error body: a message that says what to change, and the parameter at
# fault. Unknown fields are refused like OpenAI's API does; harmless ones OpenAI clients send
# (`user`, `n: 1`, zero penalties) are accepted; values this server cannot honour (`n: 2`) are
# refused rather than ignored.

# %%
bad = {"temperature above 2": {"prompt": "Hi", "temperature": 3},
       "top_p of 0": {"prompt": "Hi", "top_p": 0},
       "two choices": {"prompt": "Hi", "n": 2},
       "a misspelt field": {"prompt": "Hi", "max_token": 5},
       "too many tokens asked": {"prompt": "Hi", "max_tokens": 100_000},
       "a prompt longer than the context": {"prompt": "word " * (2 * C)}}
rows = []
for what, request in bad.items():
    r = requests.post(f"{server.url}/v1/completions", json=request, timeout=30)
    rows.append({"request": what, "status": r.status_code, "param": r.json()["error"]["param"],
                 "message": r.json()["error"]["message"][:90]})
display(Markdown(format_table(rows)))
check(all(400 <= row["status"] < 500 for row in rows), "every bad request got a 4xx answer with a message")

# %% [markdown]
# ### The `openai` client
#
# Because the shapes are OpenAI's, the official client (`pip install openai`; the `serve` extra
# installs it) talks to this server once it is given the address. Any key works unless the server
# was started with `--api-key`. The same greedy completion as above, then a streamed chat whose
# last chunk carries the token counts (`include_usage`):

# %%
from openai import OpenAI

client = OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0)
answer = client.completions.create(model=name, prompt=body["prompt"], max_tokens=30, temperature=0)
print(answer.choices[0].text)
check(answer.choices[0].text == completion["choices"][0]["text"], "the openai client gets the same text")
*chunks, last = client.chat.completions.create(model=name, messages=chat["messages"], max_tokens=40, seed=0,
                                               stream=True, stream_options={"include_usage": True})
print("LIBRARIAN:", "".join(c.choices[0].delta.content or "" for c in chunks))
check(last.usage is not None and last.usage.total_tokens == reply["usage"]["total_tokens"],
      "the streamed chat's last chunk carries the usage")

# %% [markdown]
# ## 5. Many clients, and clients that leave (optional)
#
# *Optional: skip to section 6 for the core path.*
#
# A server is shared: requests arrive together, some are long, and some clients leave before the
# answer is done. Three short experiments show what this one does.
#
# ### Several clients at once
#
# Four clients send a streamed request at the same moment. The queue serves them one after
# another: each waits (grey) until the one before is done, then streams (blue). With several
# workers (`--max-concurrency`) they would share the processor instead, and each would take
# longer; a server that batches would run the four in one batch, in much less than the time of
# four (07 batches prompts the same way).

# %%
def timed_stream(i, results, errors):
    try:
        t0 = time.perf_counter()
        request = {"prompt": "The ship sailed", "max_tokens": 40, "seed": i, "ignore_eos": True, "stream": True}
        with requests.post(f"{server.url}/v1/completions", json=request, stream=True, timeout=120) as r:
            times = [time.perf_counter() - t0 for line in r.iter_lines() if line.startswith(b"data: {")]
        results[i] = {"status": r.status_code, "first": times[0], "done": times[-1]}
    except Exception as err:  # an exception in a thread is only printed; keep it for the check below
        errors[i] = f"{type(err).__name__}: {err}"


results, errors = {}, {}
threads = [threading.Thread(target=timed_stream, args=(i, results, errors)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(len(results) == 4 and all(res["status"] == 200 for res in results.values()), "all four clients were answered",
      hint=f"statuses: { {i: res['status'] for i, res in results.items()} }; errors: {errors}")
fig, ax = plt.subplots(figsize=(8, 2.4), dpi=90)
for i, res in sorted(results.items()):
    ax.barh(i, res["first"], color="lightgrey")
    ax.barh(i, res["done"] - res["first"], left=res["first"], color="C0")
ax.set(xlabel="seconds since the four requests were sent", ylabel="client", title="one worker: a queue")
plt.show()
waits = sorted(res["first"] for res in results.values())
generating = min(res["done"] - res["first"] for res in results.values())
check(waits[-1] >= 0.5 * 3 * generating, "the last client waited for the three before it (one at a time)")

# %% [markdown]
# ### How fast, over HTTP
#
# Tokens per second for one request, timed from the client's side. `ignore_eos` (an extension
# of this server) makes it generate exactly `max_tokens`. What a request costs besides the
# tokens (the HTTP round trip, JSON, the queue, reading the prompt) is about the time $t_1$ of a
# request for a single token (the quickest of three). Next to the time $t_n$ of an answer of $n$
# tokens,
#
# $$\text{fixed share} = \frac{t_1}{t_n},$$
#
# expect it to be a small part of a long answer, under half (in the `ci` profile, run by the test
# suite on shared machines, it is shown rather than checked).

# %%
def timed(max_tokens):
    t0 = time.perf_counter()
    r = requests.post(f"{server.url}/v1/completions", timeout=300,
                      json={"prompt": "It was", "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True})
    return r.json()["usage"]["completion_tokens"], time.perf_counter() - t0


n = PROFILE.max_new_tokens
(one, t_one), (tokens, t_all) = min((timed(1) for _ in range(3)), key=lambda r: r[1]), timed(n)  # quickest of three
print(f"{tokens} tokens in {t_all:.2f} s: {tokens / t_all:.0f} tokens/s over HTTP; a 1-token request takes {t_one * 1000:.0f} ms")
check(tokens == n and one == 1, "ignore_eos gave exactly max_tokens")
check_speed(t_one / t_all, 0, 0.5, f"the fixed cost of a request, as a part of a {n}-token answer",
            enforce=PROFILE.name != "ci")

# %% [markdown]
# ### A client that leaves stops its generation
#
# A reader closes the tab halfway through a long answer: the server notices the closed
# connection, and the worker stops after the token it is on, instead of generating for nobody.
# Ask for the longest answer allowed, read three events, hang up, and look at the counters:

# %%
before = requests.get(f"{server.url}/health", timeout=10).json()["stats"]
long = {"prompt": "Chapter I.", "max_tokens": card["limits"]["max_tokens"], "ignore_eos": True, "stream": True}
with requests.post(f"{server.url}/v1/completions", json=long, stream=True, timeout=60) as r:
    got = [line for _, line in zip(range(6), r.iter_lines())]  # three events and their blank lines
deadline = time.time() + 15
while (after := requests.get(f"{server.url}/health", timeout=10).json()["stats"])["cancelled"] == before["cancelled"]:
    check(time.time() < deadline, "the server noticed the disconnect within 15 s")
    time.sleep(0.1)
spent = after["tokens"] - before["tokens"]
print(f"asked for {long['max_tokens']} tokens, read 3 events, hung up: the server generated {spent} and stopped")
check(spent < long["max_tokens"], "the generation stopped early")

# %% [markdown]
# ## 6. The web page
#
# The same server serves a page at `/`: a prompt box, the sampling settings, a **Generate**
# button, the text streamed as it comes (it reads the same server-sent events with `fetch`), and
# a chat mode. It is plain HTML, CSS and JavaScript in `minigpt_helpers/web/`, nothing loaded
# from elsewhere. Open it while the server runs (the last section stops it):
#
# - locally: the link below;
# - on Colab: the next cell opens it through Colab's proxy;
# - later, in a terminal: `python -m minigpt_helpers serve --model data/exports/<run>` and open
#   http://127.0.0.1:8000/.

# %%
page = requests.get(f"{server.url}/", timeout=10)
check(page.status_code == 200 and 'id="generate"' in page.text, "the server serves the page")
if "google.colab" in sys.modules:
    from google.colab import output

    output.serve_kernel_port_as_window(int(server.url.rsplit(":", 1)[1]), path="/")
else:
    display(HTML(f'<a href="{server.url}/" target="_blank">Open the page: {server.url}/</a>'))

# %% [markdown]
# ## 7. Stopping the server
#
# On Linux and macOS, `stop()` sends the server SIGTERM: uvicorn finishes what it is doing, closes
# the port and exits with code 0. (Had this notebook crashed instead, the server would have
# noticed its parent was gone and stopped by itself.) Windows has no SIGTERM: there `stop()` ends
# the process at once (TerminateProcess), with no graceful shutdown and exit code 1, and the
# server does not watch its parent. `serving.STOPPED_EXIT_CODE` is the code to expect.

# %%
code = server.stop()
print(server.log().splitlines()[-1])
check(code == serving.STOPPED_EXIT_CODE and not server.running, f"the server stopped as asked (exit code {code})")
try:
    requests.get(f"{server.url}/health", timeout=2)
    closed = False
except requests.ConnectionError:
    closed = True
check(closed, "nothing listens on its port any more")

# %% [markdown]
# ## 8. Exercises
#
# Each exercise has a cell to fill in and a test that runs when you run the cell. Until you fill
# it in, the cell says "not attempted yet". The solutions are in a notebook of their own; try
# first.
#
# ### Exercise 1: is this the file that was exported?
#
# A model folder travels: it is copied, downloaded, synced. Its `config.json` records the SHA-256
# of the weights (`config["files"]["model.safetensors"]`), a fingerprint that changes when a single
# bit of the file does. Write `weights_intact(folder)`: compute the SHA-256 of
# `folder / "model.safetensors"` with `hashlib.sha256`, reading the file in chunks of a megabyte
# (a large model should not have to fit in memory a second time), and return `True` when it
# equals the recorded one, else `False`. The test tries the export, a copy with one byte changed
# in the middle of the weights, and a copy cut short.

# %%
def damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "one byte changed":
        data[len(data) // 2] ^= 0xFF  # the middle of the file: inside the numbers, past the header
    else:
        del data[-1000:]
    path.write_bytes(bytes(data))


def test_weights_intact(fn):
    check(fn(folder) is True, f"data/exports/{name} is intact")
    with tempfile.TemporaryDirectory() as tmp:
        for how in ("one byte changed", "cut short"):
            copy = Path(tmp) / how.replace(" ", "-")
            shutil.copytree(folder, copy)
            damage(copy / "model.safetensors", how)
            check(fn(copy) is False, f"a copy with its weights {how} is not")


weights_intact = None  # your answer: a function (folder) -> True or False
exercise("is this the file that was exported?", weights_intact, test_weights_intact)

# %% [markdown]
# *Solution:* [solutions/09_serving.ipynb](../solutions/09_serving.ipynb), exercise 1.
#
# ### Exercise 2: add a route to the API, and test it
#
# Programs that call a server often need to count tokens before they send a prompt (will it
# fit the context?). Add `POST /v1/tokenize` to the app: it takes `{"text": "..."}` and answers
# `{"tokens": [ids], "count": n}`. Write `add_tokenize(app, tokenizer)`; a pydantic model for the
# body makes FastAPI refuse a body without `text` (the app turns that into a 400 with OpenAI's
# error body). The test drives the app in-process with FastAPI's `TestClient`, no port needed.

# %%
import logging

from fastapi.testclient import TestClient
from pydantic import BaseModel

logging.getLogger("httpx2").setLevel(logging.WARNING)  # TestClient would log every request


def test_tokenize(add_route):
    app = serving.create_app(exported, web=False)
    add_route(app, tok)
    sentence = "It was the best of times"
    with TestClient(app) as client:
        r = client.post("/v1/tokenize", json={"text": sentence})
        check(r.status_code == 200, "POST /v1/tokenize answers 200", r.text[:200])
        check(r.json() == {"tokens": tok.encode(sentence), "count": len(tok.encode(sentence))},
              "it returns the ids and their count")
        bad = client.post("/v1/tokenize", json={"txt": "oops"})
        check(bad.status_code == 400 and "text" in bad.json()["error"]["message"], "a body without text gets a 400 naming it")


add_tokenize = None  # your answer: a function (app, tokenizer) -> None that adds the route
exercise("add POST /v1/tokenize", add_tokenize, test_tokenize)

# %% [markdown]
# *Solution:* [solutions/09_serving.ipynb](../solutions/09_serving.ipynb), exercise 2.
#
# ### Exercise 3: read a stream
#
# Write `parse_sse(lines)`: given the lines of a streamed completion (as `lines` holds them, from
# section 4), return `(text, finish_reason)`. Keep only the lines that start with `data: `, stop
# at `data: [DONE]`, parse the JSON, join each event's `choices[0]["text"]` and keep the last
# `finish_reason` that is not `None`. Other lines (blank ones, and comments that start with `:`)
# carry no data. The test reads the server's stream from section 4 and a made-up one.

# %%
def test_parse(fn):
    text, reason = fn(lines)
    check(text == completion["choices"][0]["text"], "the pieces join into the plain answer's text")
    check(reason == completion["choices"][0]["finish_reason"], f"the finish reason is {reason!r}")
    made_up = ['data: {"choices": [{"text": "Hel", "finish_reason": null}]}', "", ": a comment, no data",
               'data: {"choices": [{"text": "lo", "finish_reason": "stop"}]}', "",
               'data: {"choices": [{"text": "", "finish_reason": null}]}', "", "data: [DONE]", "",
               'data: {"choices": [{"text": " again", "finish_reason": null}]}']
    check(tuple(fn(made_up)) == ("Hello", "stop"), "a made-up stream: comments skipped, nothing read after [DONE]")


parse_sse = None  # your answer: a function (lines) -> (text, finish_reason)
exercise("read a stream", parse_sse, test_parse)

# %% [markdown]
# *Solution:* [solutions/09_serving.ipynb](../solutions/09_serving.ipynb), exercise 3.

# %% [markdown]
# ## Summary
#
# - An **export** is the model and nothing else: safetensors weights, a JSON config with the
#   generation defaults and the weights' SHA-256, the tokenizer files. It loads with the package
#   alone and runs no code from the files; a pickle can, when loaded with `weights_only=False`.
# - Each of our blocks is a well-known architecture, so the weights go to **Hugging Face**
#   (Qwen3 for the modern block, GPT-2 for GPT-2's) and give the same logits; **ONNX** stores the
#   whole computation for runtimes without PyTorch. Both are checked against our logits, not
#   assumed.
# - The **server** speaks OpenAI's API (plain JSON or server-sent events), so the official
#   `openai` client works unchanged; it checks every request and says what to fix, queues
#   requests in front of one worker, times them out, stops a generation whose client left, and
#   listens on 127.0.0.1 unless told otherwise.
# - The **web page** is a client of that same API.
#
# That completes the course: from books to a tokenizer, a dataset, a GPT, its training, its
# evaluation, sampling and chat, and now a model that other programs can call.
#
# **Next:** beyond the course, train on your own books (`MINIGPT_PROFILE=cpu` and a folder of
# `.txt` files in 01), train a larger model with the `gpu` profile, open the Hugging Face export
# with other tools, or serve it with a server that batches requests (vLLM or Hugging Face's TGI)
# and compare it with this one.
