# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/07_inference.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 07 · Inference: from next-token scores to text
#
# The trained model does one thing: given a sequence of tokens, it scores every token of the
# vocabulary as the next one. Writing is a loop around it: pick a token, append it, ask again.
# In this notebook you build that loop, the rules that pick, and the cache that makes it fast:
#
# 1. greedy decoding, temperature, top-k, top-p and a repetition penalty, each drawn as the
#    next-token distribution before and after it;
# 2. seeds, stop sequences and a maximum length;
# 3. a key/value cache that gives exactly the same tokens for a fraction of the work, and what
#    keeps it from being faster still on a CPU;
# 4. streaming text as it comes, and a sampling widget.
#
# The package's engine (`minigpt_helpers/generation.py`) works on token ids and knows nothing
# about tokenizers: the widget here, the chat of 08 and the server of 09 all run on it.
#
# **Reads** the best checkpoint of 05's run (`data/checkpoints/<run>/best/`), training it first if
# it is missing. **Writes** nothing.
#
# Expected time, with the checkpoint already trained:
#
# - `ci` (the test suite): about 30 seconds
# - `cpu` (a 2-core laptop CPU): under a minute
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

PROFILE = start("07_inference", drive=DRIVE)

# %% [markdown]
# ## The input: a trained checkpoint
#
# `find_checkpoint()` returns the best checkpoint of the run that 05_training recorded;
# `load_checkpoint` gives back the model (in eval mode) and the tokenizer it was trained with.

# %%
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from minigpt_helpers import artifacts, checkpoint, generation, lessons, stages
from minigpt_helpers.checks import check, check_close, check_speed, exercise
from minigpt_helpers.generation import SamplingConfig
from minigpt_helpers.notebook import figure
from minigpt_helpers.profiles import pick_device

stages.ensure("checkpoints", PROFILE)
ckpt = checkpoint.load_checkpoint(checkpoint.find_checkpoint(), pick_device())
gpt, tok = ckpt.model, ckpt.tokenizer
device, C = next(gpt.parameters()).device, gpt.config.context_length
print(f"{ckpt.path.relative_to(artifacts.data_dir())}: {gpt.num_parameters() / 1e6:.2f}M parameters, context {C}, {tok}, on {device}")

# %% [markdown]
# ## 1. One step: the next-token distribution
#
# Give the model a prompt. The scores (logits) $z$ at its last position are its opinion about the
# next token, one number per token of the vocabulary; a softmax turns them into probabilities:
#
# $$P(x_{t+1} = i \mid x_1, \dots, x_t) = \frac{e^{z_i}}{\sum_j e^{z_j}}$$

# %%
def next_logits(text):
    """The model's scores for the token after ``text``: (vocab,), on the CPU."""
    with torch.inference_mode():
        return gpt(torch.tensor([tok.encode(text)], device=device))[0][0, -1].float().cpu()


prompt = "It was a dark and stormy night, and the"
ids = tok.encode(prompt)
logits = next_logits(prompt)
probs = logits.softmax(-1)
print(f"{len(ids)} prompt tokens; the likeliest next token: {tok.token_piece(int(probs.argmax()))!r} "
      f"with p = {probs.max():.2f}")


# %% [markdown]
# One small plotting function draws the "before and after" pictures below: the 15 likeliest
# tokens before, in both panels; a token the rule cuts off is grey (a `·` is a space).

# %%
def label(i):
    return tok.token_piece(int(i)).replace(" ", "·").replace("\n", "\\n")


def before_after(before, after, title, k=15, log=False):
    top = before.topk(k).indices
    fig, axes = plt.subplots(1, 2, figsize=(10, 3), dpi=90, sharey=True)
    for ax, p, name in zip(axes, (before, after), ("before: the model's distribution", f"after: {title}")):
        ax.bar(range(k), p[top], color=["C0" if q > 0 else "lightgrey" for q in after[top]])
        ax.set_xticks(range(k), [label(i) for i in top], rotation=90, fontsize=8)
        ax.set_title(name, fontsize=10)
    if log:
        axes[0].set_yscale("log")
    axes[0].set_ylabel("probability" + (" (log scale)" if log else ""))
    plt.tight_layout()
    plt.show()


# %% [markdown]
# ## 2. Greedy decoding
#
# The simplest rule: always take the likeliest token. The loop below is the whole of generation:
# crop the sequence to the last `context_length` tokens (the model has no position beyond that),
# ask for the scores, append the argmax, repeat.

# %%
figure("generation_loop")


# %%
def greedy_by_hand(ids, n):
    seq = list(ids)
    for _ in range(n):
        window = seq[-C:]  # the model reads at most C tokens
        with torch.inference_mode():
            logits_, _ = gpt(torch.tensor([window], device=device))
        seq.append(int(logits_[0, -1].argmax()))  # the likeliest next token
    return seq[len(ids):]


mine = greedy_by_hand(ids, 40)
print(prompt + tok.decode(mine))

# %% [markdown]
# The package's `generate` runs the same loop. `SamplingConfig(temperature=0)` means greedy;
# `slide=1` asks for this exact window rule (section 10 explains windows). Greedy is
# deterministic, and its weakness shows quickly: small models fall into loops, repeating the
# likeliest phrase. "After" puts all the probability on one token.

# %%
greedy = SamplingConfig(temperature=0.0, max_new_tokens=40, slide=1)
check(generation.generate(gpt, ids, greedy, use_cache=False) == mine, "package greedy = the hand-written loop, token for token")
before_after(probs, generation.next_token_probs(logits, greedy), "greedy (argmax)")

# %% [markdown]
# One waste in that loop: the model scores *every* position of the window, and we keep only the
# last row. The output layer is a (width × vocabulary) product per position, so for a full window
# that is `C` times the work we need. `gpt(x, last_only=True)` skips the other rows; the package's
# generation asks for it at every step.

# %%
window = torch.tensor([ids[-C:]], device=device)
with torch.inference_mode():
    every, _ = gpt(window)
    last, _ = gpt(window, last_only=True)
print(f"all positions: {tuple(every.shape)}; last_only: {tuple(last.shape)}")
# On a GPU the library picks other kernels for one row than for C rows, and TF32 ones once training
# has switched them on: then the scores can differ by about 1e-3, hence the looser GPU tolerance.
tol = 1e-4 if device.type == "cpu" else 1e-2
check_close(last[:, -1], every[:, -1], "last_only gives the same scores for the last position", atol=tol, rtol=tol)
check(torch.equal(last[:, -1].argmax(-1), every[:, -1].argmax(-1)), "... and the same most likely next token")

# %% [markdown]
# ## 3. Temperature
#
# Sampling draws the next token from the distribution instead, so a token with p = 0.1 comes up
# one time in ten. Before the draw, up to four steps reshape the distribution; this section and
# the next three build them one at a time:

# %%
figure("sampling_pipeline")

# %% [markdown]
# Temperature divides the logits by $T$ before the softmax:
#
# $$P_T(i) = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}$$
#
# $T < 1$ stretches the gaps between scores and sharpens the distribution (towards greedy, its
# limit as $T \to 0$); $T > 1$ shrinks them and flattens it (towards uniform noise); $T = 1$ is the
# model's own distribution. Expected: the top token's probability falls as $T$ rises.

# %%
tops = {}
for T in (0.5, 1.0, 1.5):
    mine = (logits / T).softmax(-1)
    check_close(mine, generation.apply_temperature(logits, T).softmax(-1), f"T = {T}: by hand = package")
    tops[T] = mine.max().item()
print("top-token probability at T = 0.5, 1, 1.5:", ", ".join(f"{p:.3f}" for p in tops.values()))
check(tops[0.5] > tops[1.0] > tops[1.5], "the top token's probability falls as T rises")
before_after(probs, (logits / 0.5).softmax(-1), "temperature 0.5")

# %% [markdown]
# ## 4. Top-k
#
# Even a good distribution has a long tail of unlikely tokens; together they are likely enough
# to be drawn now and then, and one bad token can derail the text. Top-k keeps only the $k$
# likeliest tokens: with $z_{(k)}$ the $k$-th highest score, every $z_i < z_{(k)}$ becomes
# $-\infty$ (probability 0 after the softmax), and the softmax renormalises the rest.

# %%
k = 10
kth = logits.topk(k).values[-1]  # the k-th highest score
mine = logits.masked_fill(logits < kth, float("-inf"))
check(torch.equal(mine.isfinite(), generation.top_k_filter(logits, k).isfinite()), f"top-{k}: by hand = package, same {k} tokens")
before_after(probs, mine.softmax(-1), f"top-k, k = {k}")

# %% [markdown]
# ## 5. Top-p (nucleus sampling)
#
# A fixed $k$ is too many when the model is sure and too few when it is not. Top-p keeps the
# **nucleus**: the smallest set of likeliest tokens whose probabilities add up to at least $p$,
#
# $$V^{(p)} = \text{the smallest } V' \subseteq V \text{ with } \sum_{x \in V'} P(x \mid x_{\le t}) \ge p,$$
#
# and draws from it with the probabilities renormalised, $P(x) / \sum_{x' \in V^{(p)}} P(x')$. So
# the size of the set follows the model's confidence. By hand: sort, add up, cut.

# %%
p = 0.9
sorted_probs, order = probs.sort(descending=True)
n_keep = int((sorted_probs.cumsum(0) < p).sum()) + 1  # the shortest prefix whose sum reaches p
nucleus = order[:n_keep]
package = generation.top_p_filter(logits, p).isfinite().nonzero().flatten()
check(set(nucleus.tolist()) == set(package.tolist()), f"top-p {p}: by hand = package, the same {n_keep} tokens")

# %% [markdown]
# Where does the nucleus end? Left: the 50 likeliest tokens on a log scale (blue: inside the
# nucleus) with the running sum of their probabilities. Right: that running sum over the whole
# vocabulary, ranks on a log scale, and the rank where it crosses $p$. After this prompt the model
# is unsure (expect its likeliest token to get well under a tenth of the probability), so the
# nucleus holds many hundreds of tokens and ends far right of the top 50.

# %%
lessons.plot_nucleus(probs, p, label, title=f"after {prompt!r}")
plt.show()

# %% [markdown]
# Now several prompts. After "The" almost any word can follow; after "I beg your", "as soon as" or
# "for the first" a model that read novels narrows its choice, after some more than others, and
# the nucleus shrinks with it: top-p adapts to how sure the model is, where top-k keeps the same
# number of tokens every time. The cell picks the prompt the model is surest after. Expected
# (`cpu` and `gpu`): under a tenth as many tokens kept after it as after "The". (The `ci` model
# learned little more than how common each token is, so it keeps about as many after any prompt.)

# %%
candidates = ("I beg your", "as soon as", "for the first", "How do you", "I do not know what", "Thank you very")
kept = {}
for text in ("The", prompt, *candidates):
    scores = next_logits(text)
    kept[text] = int(generation.top_p_filter(scores, p).isfinite().sum())
    print(f"{kept[text]:6,} of {tok.vocab_size:,} tokens kept after {text!r} "
          f"(the likeliest: {label(scores.argmax())!r}, p = {scores.softmax(-1).max():.2f})")
confident = min(candidates, key=kept.get)
print(f"the model is surest after {confident!r}")
if PROFILE.name != "ci":
    check(kept[confident] < kept["The"] / 10,
          "after a confident prompt, top-p keeps under a tenth of what it keeps after 'The'")

# %% [markdown]
# After that prompt the nucleus is short: the cut comes early in the ranking, and the log scale
# shows the long tail that top-p removes even though each of those tokens is unlikely on its own.

# %%
lessons.plot_nucleus(next_logits(confident).softmax(-1), p, label, title=f"after {confident!r}")
plt.show()

# %% [markdown]
# ## 6. Repetition penalty
#
# To break loops, make tokens that already appeared less likely. The package uses CTRL's
# penalty $\theta$, made sign-aware as in Hugging Face transformers, so a seen token always loses:
#
# $$z_i' = \begin{cases} z_i / \theta & \text{if } z_i > 0 \\ z_i \cdot \theta & \text{otherwise} \end{cases}
# \qquad \text{for every token } i \text{ already in the sequence}$$
#
# (CTRL divides every score, which makes a token with a negative score *more* likely.) Here every
# token of the prompt is penalised with $\theta = 1.5$, a strong setting to make it visible.

# %%
penalty = 1.5
seen = torch.tensor(sorted(set(ids)))
mine = logits.clone()
mine[seen] = torch.where(mine[seen] > 0, mine[seen] / penalty, mine[seen] * penalty)
check_close(mine, generation.apply_repetition_penalty(logits, ids, penalty), "repetition penalty: by hand = package")
before_after(probs, mine.softmax(-1), f"repetition penalty {penalty}")

# %% [markdown]
# Greedy decoding with a mild penalty (1.3) against the loop of section 2. Expected: at least as
# many different tokens in the continuation.

# %%
plain = generation.generate(gpt, ids, greedy.replace(max_new_tokens=60))
penalised = generation.generate(gpt, ids, greedy.replace(max_new_tokens=60, repetition_penalty=1.3))
print("without:", tok.decode(plain)[:300], "\nwith:   ", tok.decode(penalised)[:300])
check(len(set(penalised)) >= len(set(plain)), f"different tokens in 60: {len(set(plain))} without, {len(set(penalised))} with the penalty")

# %% [markdown]
# ## 7. All together, and seeds
#
# `process_logits` applies the steps in the order of the picture in section 3: repetition
# penalty, temperature, top-k, top-p; `next_token_probs` gives the distribution the token is
# drawn from. Each call gets its own `torch.Generator` seeded from `seed`, so the same seed gives
# the same text whatever else used the global random generator in between.

# %%
config = SamplingConfig(temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.1,
                        max_new_tokens=PROFILE.max_new_tokens, seed=42)
before_after(probs, generation.next_token_probs(logits, config, ids), "T 0.8, top-k 50, top-p 0.95, penalty 1.1")
first = generation.complete(gpt, tok, prompt, config)
torch.manual_seed(1234), torch.rand(1000)  # disturb the global generator
check(generation.complete(gpt, tok, prompt, config) == first, "the same seed gives the same text")
others = {generation.complete(gpt, tok, prompt, config.replace(seed=s)) for s in range(3)}
check(len(others) > 1, "different seeds give different texts")
print(prompt + first)

# %% [markdown]
# The same prompt at three temperatures (seed 0). Low temperatures repeat; high ones wander off.
# What the text *can* be (its words, its period style, what it knows of the books) comes from
# the model; the decoding rule only chooses among what the model offers, trading safety (low
# $T$, small nucleus) against variety (high $T$, large nucleus).

# %%
for T in (0.3, 0.8, 1.3):
    text = generation.complete(gpt, tok, prompt, config.replace(temperature=T, seed=0, max_new_tokens=60))
    print(f"--- T = {T}\n{prompt}{text}\n")

# %% [markdown]
# ## 8. Does it read your prompt? (optional)
#
# *Optional: skip to section 9 for the core path.*
#
# A model that only learned the books' texture writes the same kind of sentence whatever you
# give it; one that reads its context picks up what you said. Twenty fixed prompts
# (`evaluation.NAMED_PROMPTS`) each name characters or places of one of the books, and two
# measures look at their greedy 50-token continuations (`evaluation.prompt_use`):
#
# - **repeats**: the share that repeat one of the prompt's capitalised names or one of its words
#   of 6 letters or more: copying from the prompt;
# - **same book**: the share that use another name of the prompt's book (Bingley after Darcy,
#   the Lion after the Emerald City): it recognised where the prompt comes from.
#
# Expect little from a model of this size trained for minutes: in the `cpu` profile a few of the
# 20 continuations pick up a name or their book, and the others carry on in the books' manner
# without them (06 shows why: its repeated-tokens probe finds no copying).

# %%
from minigpt_helpers import evaluation

use = evaluation.prompt_use(gpt, tok)
print(f"repeats a word of the prompt: {use['share']:.0%}; uses another name of the prompt's book: "
      f"{use['same_book']:.0%} (of {use['prompts']} prompts)")
for row in use["rows"]:
    shown = row["continuation"].replace("\n", " ")[:110]
    for word in row["repeats"] + row["same_book"]:  # what it picked up, in capitals
        shown = shown.replace(word, word.upper())
    print(f"- ...{row['prompt'][-40:]}|{shown}")

# %%
picked = sum(bool(r["repeats"] or r["same_book"]) for r in use["rows"])
check(picked >= {"ci": 0, "cpu": 2, "gpu": 2}[PROFILE.name],
      f"{picked} of {use['prompts']} continuations pick up their prompt's names or book",
      hint="none at all: the model writes the same text whatever it is given")

# %% [markdown]
# ## 9. Stop sequences and the maximum length
#
# Generation ends after `max_new_tokens`, or earlier when the output ends with a stop sequence
# (a list of token ids), which is left out. By default the text layer also stops at the
# end-of-text token: the model's way of saying "this document is over". Stop *strings* are
# checked on the decoded text, since one string can be split over tokens in many ways. Here:
# stop at the end of the first sentence.

# %%
s = generation.stream_text(gpt, tok, prompt, config, stop=["."])
text = "".join(s)
print(f"{prompt}{text}\n(finish reason: {s.finish_reason}, {len(s.token_ids)} tokens)")
check("." not in text, "the stop string is not in the output")
free = generation.stream_text(gpt, tok, prompt, config)  # the same seed, no stop string: the same tokens
free_text = "".join(free)
expected = "stop" if "." in free_text else free.finish_reason  # "length" if neither a "." nor the end of text came
check(text == free_text.split(".")[0] and s.finish_reason == expected,
      f"the output is the free text up to its first '.' (finish reason {expected!r})")
n = len(generation.generate(gpt, ids, config.replace(max_new_tokens=7)))
check(n == 7, "without a stop sequence, exactly max_new_tokens (7) new tokens")

# %% [markdown]
# ## 10. The KV cache
#
# The loop of section 2 recomputes the whole window at every step, although only one position is
# new. In attention, each position's query reads the *keys* and *values* of the positions before
# it, and those never change once computed (the causal mask stops them from seeing later tokens).
# So keep them: a **KV cache** stores every layer's keys and values. The prompt goes through once
# (the *prefill*), then each step feeds one token, which appends one position to every layer.
# Same arithmetic, a fraction of the work (04_model checked that the logits agree).

# %%
figure("kv_cache")


# %%
def greedy_cached_by_hand(ids, n):
    cache = gpt.new_kv_cache(batch_size=1)
    with torch.inference_mode():
        logits_, _ = gpt(torch.tensor([ids], device=device), kv_cache=cache)  # prefill: the prompt, once
        out = []
        for _ in range(n):
            out.append(int(logits_[0, -1].argmax()))
            logits_, _ = gpt(torch.tensor([[out[-1]]], device=device), kv_cache=cache)  # one new position
    return out, cache


n = C - len(ids)  # up to a full context
cached, cache = greedy_cached_by_hand(ids, n)
check(cached == greedy_by_hand(ids, n), f"{n} greedy tokens: with the cache = without, exactly")
print(cache, "keys of every layer:", tuple(cache.k.shape), "(layer, batch, head, position, head size)")

# %% [markdown]
# **Past the context.** The cache has room for `C` positions. When the sequence outgrows it, the
# window must slide: drop the oldest tokens, empty the cache, and prefill it again from what is
# kept. Dropping only the oldest entries of the cache would not do: from the second layer on,
# each kept token's keys and values were computed attending to the tokens being dropped (and with
# learned absolute positions every kept token would also move). Sliding by one token each step
# would mean a full prefill every step and no gain from the cache; so the package's window jumps
# `slide` tokens at a time (a quarter of the context by default), keeping between `C − slide + 1`
# and `C` tokens. The uncached path reads exactly the same windows, so both give the same tokens.

# %%
L = torch.arange(1, 3 * C + 1)
slide = generation.default_slide(C)
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
for s_, style in ((1, ":"), (slide, "-")):
    ax.plot(L, [generation.window_start(int(l), C, s_) for l in L], style, label=f"window start, slide = {s_}")
ax.plot(L, L, "k", lw=0.8, label="sequence length")
ax.set(xlabel="tokens in the sequence", ylabel="token index", title="the window the model reads")
ax.legend(fontsize=8)
plt.show()

# %%
long = SamplingConfig(temperature=0.0, max_new_tokens=2 * C)
with_cache = generation.generate(gpt, ids, long, use_cache=True)
without = generation.generate(gpt, ids, long, use_cache=False)
jumps = generation.window_start(len(ids) + 2 * C - 1, C, slide) // slide  # the window's start before the last token
check(with_cache == without and len(with_cache) == 2 * C, f"{2 * C} greedy tokens, the window jumping {jumps} times: with the cache = without")

# %% [markdown]
# A prompt longer than the context is cropped from the left (its start is dropped) and the
# package says so in a warning, instead of failing or silently reading garbage.

# %%
long_prompt = tok.encode("Once upon a time there was a little house in a wood. " * (2 * C // 10 + 1))
out = generation.generate(gpt, long_prompt, SamplingConfig(temperature=0.0, max_new_tokens=5))
check(len(long_prompt) > C and out == generation.generate(gpt, long_prompt[-C:], SamplingConfig(temperature=0.0, max_new_tokens=5)),
      f"a {len(long_prompt)}-token prompt reads as its last {C} tokens")

# %% [markdown]
# **How much faster?** Count the work first. Without the cache, step $t$ pushes the whole window,
# $t$ positions, through every layer, so $n$ new tokens cost about $n^2/2$ positions (until the
# window is full, then $C$ per step); with the cache each step pushes one position, and its query
# reads the $t$ cached keys. The arithmetic saved grows with the length.
#
# The time saved grows less, because a step costs more than its arithmetic. A one-token step still
# reads every weight of the model from memory once, and it runs a few hundred small tensor
# operations (norms, rotations, reshapes, the attention over the cache), each with a fixed cost
# of some microseconds on a CPU however little it computes. For a model of a few million
# parameters those fixed costs are most of a one-token step, so the speed-up stays far below the
# ratio of the arithmetic. Expect the `cpu` model to generate about 3 times faster with the cache
# over 512 tokens on a 2-core CPU (benchmarks/README.md keeps the measurements). The tiny `ci` model is
# nearly all fixed costs, so there the figure is shown, not checked; on a GPU, where one
# position and a whole window each cost about one round of kernel launches, expect little gain
# for a model this small.

# %%
n_new = 512 if PROFILE.name != "ci" else 2 * C
runs = lessons.compare_cache_speed(gpt, ids[:8], n_new, repeats=2)  # best of two runs of each path
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
for use_cache, run in runs.items():
    speed = [(i + 1) / t for i, t in enumerate(run["times"])]
    ax.plot(range(1, n_new + 1), speed, label=f"{'with' if use_cache else 'without'} cache: {run['tokens_per_s']:.0f} tokens/s")
ax.axvline(C - 8, ls="--", c="grey", lw=0.8, label="the context is full")
ax.set(xlabel="tokens generated", ylabel="tokens per second (so far)",
       title=f"greedy generation on {device}" + (f", {torch.get_num_threads()} thread(s)" if device.type == "cpu" else ""))
ax.legend(fontsize=8)
plt.show()

# %%
speedup = runs[True]["tokens_per_s"] / runs[False]["tokens_per_s"]
check(runs[True]["tokens"] == runs[False]["tokens"], "the timed runs made the same tokens")
at_least = 1.5 if device.type == "cpu" and PROFILE.name != "ci" else 0.5  # why: the text above
check_speed(speedup, at_least, 1000, f"speed-up with the cache for {n_new} tokens on {device.type}",
            enforce=PROFILE.name != "ci")

# %% [markdown]
# One more lever on a CPU: a one-token step is little work to share between threads, so when
# other programs keep the cores busy, `torch.set_num_threads(1)` can make generation faster.
#
# ### Where the time goes (optional)
#
# *Optional: skip to section 11 for the core path.*
#
# Why not 100 times faster, when a one-token step does about a hundredth of a full window's
# arithmetic? `lessons.time_decode_parts` times four things: reading every weight once (a floor:
# each weight takes part in one multiplication, so a one-token step can never be faster), the
# one-token step's weight products alone, the whole one-token step with the cache, and the
# average window the uncached path reads. The window's time divided by the floor bounds what any
# cache could gain on this machine; the gap between the products and the whole step is the
# per-operation cost. Expect the products to take under a third of a `cpu` model's one-token step.

# %%
parts = lessons.time_decode_parts(gpt)
bars = {"read every weight once": parts["read_weights_ms"],
        f"one token's {parts['products']} weight products": parts["products_ms"],
        "one token, with the cache": parts["one_token_ms"],
        f"{parts['window']}-token window, no cache": parts["window_ms"]}
fig, ax = plt.subplots(figsize=(8, 2.6), dpi=90)
ax.barh(list(bars), list(bars.values()), color=["grey", "tab:cyan", "tab:blue", "tab:orange"])
for i, ms in enumerate(bars.values()):
    ax.text(ms, i, f" {ms:.2f} ms", va="center", fontsize=8)
ax.set(xlabel="milliseconds", xlim=(0, max(bars.values()) * 1.15),
       title=f"one generation step on {device}, {parts['weights_mb']:.0f} MB of weights")
ax.invert_yaxis()
plt.show()

# %%
rest = parts["one_token_ms"] - parts["products_ms"]
print(f"a one-token step runs {parts['ops']} tensor operations; {100 * rest / parts['one_token_ms']:.0f}% of its time "
      f"is not the weight products; no cache can beat {parts['window_ms'] / parts['read_weights_ms']:.1f}x here "
      f"(this one reached {speedup:.1f}x above)")
check(parts["ops"] > 10 * gpt.config.n_layer, "a one-token step is many small operations (more than ten per block)")

# %% [markdown]
# ## 11. Streaming
#
# Nobody wants to wait for the whole text before seeing any of it. `generation.stream` is a
# Python generator: it yields an event per token as soon as it is chosen, then a last event with
# the finish reason ("stop" or "length"). The widget below, the chat of 08 and the server of 09
# all consume this stream.

# %%
events = list(generation.stream(gpt, ids, config.replace(max_new_tokens=12)))
print(" | ".join(label(e.token_id) for e in events if e.token_id is not None), "| end:", events[-1].finish_reason)
check(len(events) == 13 and all(e.token_id is not None for e in events[:-1])
      and events[-1].token_id is None and events[-1].finish_reason == "length",
      f"{len(events)} events: 12 tokens, then the end with its reason")

# %% [markdown]
# Text needs one more care: a byte-level BPE can split one character over several tokens (é is
# two bytes in UTF-8; an emoji four). Decoded alone, half a character is "�". `stream_text` hands
# each new token to a `TextDecoder`, which holds a piece back while it ends inside a character
# (or could be the start of a stop string), so what it yields is always clean text. The model
# rarely writes accents or emoji, so feed the decoder the tokens of a known text, one at a time,
# as if the model had chosen them. Expected: clean pieces that add up to the text and, where a
# character was split, fewer pieces than tokens (a "" below: that token released nothing yet).

# %%
word = "naïve café 😀"
word_ids = tok.encode(word)
decoder = generation.TextDecoder(tok)  # the decoding half of stream_text
released = [decoder.push(i) for i in word_ids] + [decoder.flush()]  # flush: the end, release what is held back
print("each token decoded alone:", [tok.decode([i]) for i in word_ids])
print("what the decoder released:", released)
streamed = [piece for piece in released if piece]
check("".join(streamed) == word and all("\ufffd" not in piece for piece in streamed),
      f"{len(streamed)} clean pieces add up to {word!r}")
if any(tok.decode(word_ids[:n]).endswith("\ufffd") for n in range(1, len(word_ids))):  # a character split over tokens
    check(len(streamed) < len(word_ids),
          f"{len(word_ids)} tokens, {len(streamed)} pieces: a split character waits for its last token")
else:
    print("this tokenizer splits none of these characters over tokens: nothing had to wait")

# %% [markdown]
# ## 12. Several prompts at once (optional)
#
# *Optional: skip to section 13 for the core path.*
#
# A batch fills the hardware better than one sequence at a time. Prompts have different
# lengths; `generate_batch` avoids padding altogether: all rows advance in step from position 0,
# and a row whose prompt is longer keeps feeding its own prompt tokens until it reaches its end.
# So each row reads exactly what it would read alone. Expected: the same tokens as one at a time.

# %%
prompts = ["The old man", "She opened the door and", "Chapter I\n\n"]
batch_ids = [tok.encode(t) for t in prompts]
greedy20 = SamplingConfig(temperature=0.0, max_new_tokens=20)
t0 = time.perf_counter()
batched = generation.generate_batch(gpt, batch_ids, greedy20)
t_batch = time.perf_counter() - t0
t0 = time.perf_counter()
single = [generation.generate(gpt, p, greedy20) for p in batch_ids]
t_single = time.perf_counter() - t0
check(batched == single, f"batch of {len(prompts)} = one by one ({t_batch:.2f} s vs {t_single:.2f} s)")
for t, out in zip(prompts, batched):
    print(repr(t + tok.decode(out)))

# %% [markdown]
# ## 13. The sampling widget
#
# Type a prompt, move the sliders, press **Generate** and watch the text stream in. The button
# calls `widget.generate()`, an ordinary method, so the next cell runs it without a browser and
# checks it against `complete` with the same settings.

# %%
from minigpt_helpers.sampling_widgets import SamplingWidget

widget = SamplingWidget(gpt, tok, prompt="The old house stood", config=config.replace(max_new_tokens=PROFILE.max_new_tokens))
display(widget)

# %%
widget.temperature.value, widget.top_k.value, widget.seed.value = 0.7, 20, 3
settings = widget.config()
check((settings.temperature, settings.top_k, settings.seed) == (0.7, 20, 3),
      "the sliders' values reach the widget's config")
text = widget.generate()  # what the button does
check(text == generation.complete(gpt, tok, widget.prompt.value, settings),
      "the widget's callback = complete() with its settings")

# %% [markdown]
# ## 14. The command line (optional)
#
# *Optional: skip to the exercises for the core path.*
#
# The same engine from a terminal: `python -m minigpt_helpers generate` loads a checkpoint (a
# folder, or a run name; by default the run 05 recorded), streams the text, and takes the same
# sampling options (`--help` lists them).

# %%
cmd = [sys.executable, "-m", "minigpt_helpers", "generate", "--checkpoint", ckpt.path.parent.name,
       "--prompt", "The ship", "--max-new-tokens", "30", "--temperature", "0.8", "--top-k", "50", "--seed", "1"]
run = subprocess.run(cmd, capture_output=True, text=True)
print("python", " ".join(cmd[1:]), "\n" + run.stdout)
check(run.returncode == 0 and run.stdout.startswith("The ship"), "the command printed the prompt and its continuation",
      hint=run.stderr[-500:])

# %% [markdown]
# ## Exercises
#
# ### Exercise 1: min-p sampling
#
# Another filter: keep every token whose probability is at least `min_p` times the probability
# of the likeliest token, $P(i) \ge \text{min\_p} \cdot \max_j P(j)$; set the others' logits to
# $-\infty$ (the kept logits stay as they are). Like top-p it adapts: when the model is sure, the
# bar is high. Write `min_p_filter(logits, min_p)` for a 1-D tensor of logits.

# %%
min_p_filter = None  # your answer: a function (logits, min_p) -> logits


def test_min_p(fn):
    x = torch.tensor([3.0, 2.5, 1.0, 0.0, -1.0, 2.9])
    q = x.softmax(-1)
    for m in (0.05, 0.3, 0.9):
        out = fn(x.clone(), m)
        keep = q >= m * q.max()
        check(torch.equal(out.isfinite(), keep) and torch.equal(out[keep], x[keep]), f"min_p = {m}: keeps {int(keep.sum())} tokens")
    out = fn(logits.clone(), 0.1)  # the model's scores after the prompt of section 1
    check(out.isfinite().sum() == (probs >= 0.1 * probs.max()).sum(), "on the model's own scores too")


exercise("min-p sampling", min_p_filter, test_min_p)

# %% [markdown]
# *Solution:* [solutions/07_inference.ipynb](../solutions/07_inference.ipynb), exercise 1.
#
# ### Exercise 2: the work the cache saves
#
# Count the positions that go through the model to generate `n_new` tokens after a prompt of
# `prompt_len` tokens, when the whole sequence fits in the context (no sliding): every forward
# pass costs as many positions as it is given, and the last new token needs no forward pass after
# it. Write `positions_computed(prompt_len, n_new, use_cache)`. It is checked by counting what
# really goes into the model during `generation.generate`.

# %%
positions_computed = None  # your answer: a function (prompt_len, n_new, use_cache) -> int


def test_positions(fn):
    seen_lengths = []
    hook = gpt.register_forward_pre_hook(lambda module, args, kwargs: seen_lengths.append(args[0].shape[1]),
                                         with_kwargs=True)
    try:
        for P, N in ((5, 10), (1, C // 2), (C // 4, C // 2)):
            for use_cache in (False, True):
                seen_lengths.clear()
                generation.generate(gpt, ids[:1] * P, SamplingConfig(temperature=0.0, max_new_tokens=N), use_cache=use_cache)
                check(fn(P, N, use_cache) == sum(seen_lengths),
                      f"prompt {P}, {N} new tokens, {'with' if use_cache else 'without'} the cache: {sum(seen_lengths)} positions")
    finally:
        hook.remove()


exercise("the work the cache saves", positions_computed, test_positions)

# %% [markdown]
# *Solution:* [solutions/07_inference.ipynb](../solutions/07_inference.ipynb), exercise 2.
#
# ### Exercise 3: how big is a KV cache?
#
# The cache holds a key and a value vector for every layer, head and position. Write
# `cache_bytes(config, batch_size, positions)` for float32 (4 bytes per number), then use it for
# the ultra-mini (the `gpu` profile's model) at a batch of 8 and its full context of 512. It is
# checked against the buffers the package really allocates.

# %%
cache_bytes = None  # your answer: a function (config, batch_size, positions) -> int


def test_cache_bytes(fn):
    from minigpt_helpers.model import GPT, preset

    for cfg, B in ((gpt.config, 1), (preset("ci", vocab_size=50, context_length=16, n_layer=3), 2)):
        m = gpt if cfg is gpt.config else GPT(cfg).to(device)
        cache_ = m.new_kv_cache(B)
        with torch.inference_mode():
            m(torch.zeros(B, 1, dtype=torch.long, device=device), kv_cache=cache_)
        real = (cache_.k.numel() + cache_.v.numel()) * 4
        check(fn(cfg, B, cfg.context_length) == real, f"{cfg.n_layer} layers x {cfg.n_embd} wide, batch {B}: {real:,} bytes")


exercise("KV cache size", cache_bytes, test_cache_bytes)

# %% [markdown]
# *Solution:* [solutions/07_inference.ipynb](../solutions/07_inference.ipynb), exercise 3.
#
# ## Summary
#
# - Generation is a loop around the model: crop to the window, score, pick, append. The model
#   never changes and holds everything the text can be; the decoding rule chooses among what it
#   offers.
# - Greedy is deterministic and loops; temperature reshapes the distribution ($z / T$); top-k and
#   top-p cut its tail (a fixed count, or the nucleus: the smallest set with probability $\ge p$);
#   a repetition penalty breaks loops. A seed makes sampling repeatable.
# - A KV cache keeps every layer's keys and values: the prompt goes through once, then each token
#   costs one position, with exactly the same tokens. On a CPU its gain is capped by reading the
#   weights and by the fixed cost of many small operations per step.
# - `stream` yields tokens as they come and `stream_text` clean pieces of text; the widget, the
#   command line, the chat and the server all sit on the same engine.
#
# **Next:** 08_chat picks up this engine and turns it into a conversation: a prompt template that
# makes a chat look like a text the model has read, stopping at the next speaker's turn, and
# keeping the conversation inside the context window.
