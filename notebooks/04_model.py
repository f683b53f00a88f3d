# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/04_model.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 04 · The model: token ids in, next-token scores out
#
# You build a GPT, the decoder-only transformer behind GPT-2 and the open models since, one
# piece at a time: embeddings, attention with its causal mask, many heads at once, the MLP,
# residual blocks and the head that scores every token. Each piece is a few lines of PyTorch,
# and the main ones get a picture first. Then you import the package's `GPT`, give it your weights and
# check that both give the same scores. Next you build the *modern* block this course trains
# (rotary positions, RMSNorm, an untied head), and last you run the checks that catch a broken
# model before you spend an hour training it.
#
# **Reads** `data/tokenizer/` (the vocabulary size), `data/clean/` (real sentences) and
# `data/tokens/` (batches for short training runs), rebuilding them if they are missing.
# **Writes** nothing: the model is code (`minigpt_helpers/model.py`); 05_training saves the
# first weights.
#
# Expected runtime, with the data stages already built:
#
# - `ci` (the test suite): about 30 seconds
# - `cpu` (a 2-core laptop CPU): about 3 minutes
# - `gpu` (Colab or a local GPU): about 2 minutes
#
# Sections marked *(optional)* can be skipped; the core path runs without them.

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

# %% [markdown]
# ## The inputs: a tokenizer and some real text
#
# The model never sees text, only token ids, so all it needs from the tokenizer is how many
# different ids there are. A few thousand tokens of the first book make a batch for the checks.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
from IPython.display import Markdown, display

from minigpt_helpers import dataset, lessons, model, stages, tokenization
from minigpt_helpers.checks import check, check_between, check_close, exercise
from minigpt_helpers.notebook import figure
from minigpt_helpers.profiles import pick_device

stages.ensure("tokenizer", PROFILE)
tok = tokenization.load_tokenizer()
text = tokenization.clean_texts()[0]
print(f"{tok}; first book: {len(text):,} characters")

# %% [markdown]
# ## The whole picture first
#
# Token ids go in; each becomes a vector of `n_embd` numbers (C); a stack of identical blocks
# refines those vectors, each position reading the positions before it; a last norm and a head
# turn each vector into one score (a *logit*) per token of the vocabulary. The score of the
# token that really comes next should be high. Every section below builds one box of this
# picture, bottom to top.

# %%
figure("gpt_stack")

# %% [markdown]
# The sizes come from the profile: its model preset, the tokenizer's vocabulary and the profile's
# context length. `GPTConfig` is a dataclass that checks itself when it is made. The profile
# trains the *modern* block (section 9); sections 1 to 8 first build GPT-2's, the design every
# later change starts from, at the same size.

# %%
profile_config = model.config_for_profile(PROFILE, vocab_size=tok.vocab_size)  # what 05 trains
config = profile_config.replace(**model.ARCHITECTURES["gpt2"])  # GPT-2's block, the same size
print(f"this profile trains the {profile_config.architecture!r} block; sections 1 to 8 build GPT-2's:")
config

# %%
torch.manual_seed(0)
device = pick_device()  # cuda, then mps, then cpu
B, T = 4, config.context_length
ids = torch.tensor(tok.encode(text[:60_000])[: B * T + 1], device=device)
x = ids[:-1].view(B, T)  # (B, T) inputs
y = ids[1:].view(B, T)  # (B, T) targets: the token that comes next, at every position
check(x.shape == (B, T) and torch.equal(x[0, 1:], y[0, :-1]),
      f"a batch of {B} x {T} real tokens; the targets are the inputs shifted by one")

# %% [markdown]
# ## 1. Embeddings: what the token is, and where it is
#
# A token id is a row number in a table of learned vectors, `n_embd` numbers each. Attention
# (next) cannot tell where a token is: apart from what the causal mask implies, it mixes its
# inputs the same way whatever their order. So the order has to be put into the vectors
# themselves: a second table holds one learned vector per position, added to the token's.

# %%
C = config.n_embd
wte = nn.Embedding(config.vocab_size, C, device=device)  # one learned vector per token
wpe = nn.Embedding(config.context_length, C, device=device)  # one learned vector per position
h = wte(x) + wpe(torch.arange(T, device=device))  # (B, T, C): what the token is + where it is
h.shape

# %% [markdown]
# ## 2. One attention head, and the causal mask
#
# Each position asks a question (its *query*), offers a description (its *key*) and a message
# (its *value*), each a vector of `head_size` numbers made from its embedding by a linear layer.
# A query scores every key with a dot product; a softmax turns each row of scores into weights
# that sum to 1; the output is the weighted mean of the values. With the queries, keys and
# values of all T positions as the rows of matrices Q, K and V:
#
# $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}} + M\right) V,
# \qquad M_{ts} = \begin{cases} 0 & s \le t \\ -\infty & s > t \end{cases}$$
#
# where $d$ is `head_size`. Dividing by $\sqrt{d}$ keeps the scores about unit size whatever
# the width, so the softmax does not start out saturated. $M$ is the causal mask, next.

# %%
head_size = 16
key, query, value = (nn.Linear(C, head_size, bias=False, device=device) for _ in range(3))
k, q, v = key(h), query(h), value(h)  # each (B, T, head_size)
scores = q @ k.transpose(-2, -1) / math.sqrt(head_size)  # (B, T, T): query row, key column
scores.shape

# %% [markdown]
# A language model predicts the next token, so position *t* must not read positions after *t*:
# that would be reading the answer. The causal mask sets those scores to −∞ before the softmax,
# and $e^{-\infty} = 0$, so their weights are exactly zero while each row still sums to 1.

# %%
figure("causal_mask")

# %%
mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=device))  # True where looking is allowed
weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)  # (B, T, T); rows sum to 1
out = weights @ v  # (B, T, head_size)
check(weights.triu(diagonal=1).abs().max() == 0, "no weight at all on a future position")
check_close(weights.sum(-1).cpu(), torch.ones(B, T), "every row of weights sums to 1")

# %% [markdown]
# Here is this head's map over a real sentence from the book (grey: hidden by the mask).

# %%
sentence = lessons.prose_sentence(tokenization.clean_texts())
s_ids = torch.tensor(tok.encode(sentence)[:24], device=device)  # at most 24 tokens, to stay readable
s_h = wte(s_ids) + wpe(torch.arange(len(s_ids), device=device))  # (t, C)
s_mask = torch.ones(len(s_ids), len(s_ids), dtype=torch.bool, device=device).tril()
s_weights = (query(s_h) @ key(s_h).T / math.sqrt(head_size)).masked_fill(~s_mask, float("-inf")).softmax(-1)
print(sentence)

# %%
fig, ax = plt.subplots(figsize=(5.5, 5), dpi=90)
lessons.plot_attention(s_weights, [tok.token_piece(int(i)) for i in s_ids], ax=ax, title="one untrained head")
plt.show()

# %% [markdown]
# Untrained, each row spreads its weight over the past in no pattern that means anything (the
# first token can only look at itself, so its row is one bright cell). Training is what makes a
# head pick out the previous word, the matching quote mark or the subject of the sentence;
# 06_evaluation draws the maps of a trained model.
#
# ## 3. Many heads at once
#
# One head can look for one kind of thing. A block runs `n_head` heads side by side, each
# `n_embd / n_head` wide, and mixes their outputs with one more linear layer (`c_proj`). In
# practice one `Linear` makes the queries, keys and values of every head, and a reshape splits
# them into heads: the same arithmetic as separate heads, in a few big matrix products. Follow
# the shapes in the picture, then in the code's comments.

# %%
figure("qkv_heads")

# %%
class MultiHeadAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)  # q, k, v of every head
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)  # mixes the heads
        self.attn_dropout, self.resid_dropout = nn.Dropout(cfg.dropout), nn.Dropout(cfg.dropout)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        att = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))  # (B, nh, T, T)
        att = att.masked_fill(~torch.ones(T, T, dtype=torch.bool, device=x.device).tril(), float("-inf"))
        y = self.attn_dropout(att.softmax(dim=-1)) @ v  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))


# %% [markdown]
# ## 4. The MLP: thinking about what was read
#
# Attention moves information between positions; the MLP then works on each position alone:
# widen to `4 * n_embd`, a GELU (a smooth ReLU), narrow back. About two thirds of a block's
# parameters are here.

# %%
class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, cfg.hidden_dim, bias=cfg.bias)  # widen (4x by default)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU
        self.c_proj = nn.Linear(cfg.hidden_dim, cfg.n_embd, bias=cfg.bias)  # back to n_embd
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


# %% [markdown]
# ## 5. Blocks: pre-norm and residual connections
#
# A block does not replace its input: it *adds* what attention and the MLP compute to it
# (`x + ...`). So a *residual stream* runs straight from the embeddings to the head, and each
# branch reads from it and writes back into it. Backward, the derivative of $x + f(x)$ is the
# identity plus the branch's own, so the gradient that reaches the top of a block also reaches
# its bottom unchanged. Each branch first normalises what it reads (LayerNorm: mean 0,
# variance 1 per position, then a learned gain and bias), "pre-norm" as in GPT-2, which keeps
# the scale of what each branch sees steady as the stream grows. Section 7 tests what the
# residual path buys.

# %%
figure("block_residual")

# %%
class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(cfg.n_embd, bias=cfg.bias), MultiHeadAttention(cfg)
        self.ln_2, self.mlp = nn.LayerNorm(cfg.n_embd, bias=cfg.bias), MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))  # read from earlier positions
        return x + self.mlp(self.ln_2(x))  # then work on each position


# %% [markdown]
# ## 6. Dropout
#
# While training, dropout zeroes a random fraction `p` of the values it sees and scales the rest
# by 1/(1−p), so a model cannot lean on any single feature; in evaluation it does nothing. The
# course's small models on a few books use `dropout=0.0` (the `tinystories` preset uses 0.1);
# the layers are there for the configs that want them.

# %%
drop = nn.Dropout(p=0.1)
z = torch.ones(10_000)
check_between(drop(z).eq(0).float().mean().item(), 0.08, 0.12, "training: the share of values zeroed")
check_close(drop(z).max(), 1 / 0.9, "training: the survivors are scaled by 1/(1-p)")
check(torch.equal(drop.eval()(z), z), "eval mode: dropout passes everything through")

# %% [markdown]
# ## 7. The whole GPT, its output head, and its loss
#
# Embeddings, a stack of blocks, a last LayerNorm, and a head that scores every token of the
# vocabulary at every position: the picture at the top. GPT-2's head multiplies by the *same*
# table as the token embedding (*weight tying*): a token's vector is used both to read it and to
# predict it. Tying saves `vocab_size × n_embd` (V × C) weights, a large share of a small model.
# It is a saving, not an improvement: reading a token and predicting the next one are different
# jobs, and the modern block (section 9) unties the head, as Llama does, so that each gets its
# own vectors. In this course's side-by-side runs the difference between the two was within the
# noise of a short run (benchmarks/README.md).
#
# The loss is the *cross-entropy*: the mean over all B × T positions of minus the log of the
# probability that the model gave to the token that really came next. With $z_{b,t}$ the logits
# at position $t$ of sequence $b$ and $y_{b,t}$ the next token:
#
# $$\mathcal{L} = -\frac{1}{BT}\sum_{b=1}^{B}\sum_{t=1}^{T}\log \operatorname{softmax}(z_{b,t})_{y_{b,t}}$$
#
# It is 0 for a model that is sure and right, and $\ln V$ for one that spreads its bets evenly
# over all $V$ tokens.

# %%
class MyGPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg.vocab_size, cfg.n_embd), wpe=nn.Embedding(cfg.context_length, cfg.n_embd),
            drop=nn.Dropout(cfg.dropout), h=nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer)),
            ln_f=nn.LayerNorm(cfg.n_embd, bias=cfg.bias)))

    def forward(self, idx, targets=None):
        t = self.transformer
        x = t.drop(t.wte(idx) + t.wpe(torch.arange(idx.size(1), device=idx.device)))  # (B, T, C)
        for block in t.h:
            x = block(x)
        logits = t.ln_f(x) @ t.wte.weight.T  # tied head: (B, T, vocab_size)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


torch.manual_seed(0)
mine = MyGPT(config).to(device).eval()
my_logits, my_loss = mine(x, y)
my_logits.shape

# %% [markdown]
# `F.cross_entropy` is the formula above; check it by hand: pick, at every position, the
# log-probability of the true next token.

# %%
log_probs = my_logits.log_softmax(dim=-1)  # (B, T, V)
by_hand = -log_probs.gather(-1, y.unsqueeze(-1)).mean()  # the true next token's log-probability
check_close(by_hand.cpu(), my_loss.cpu(), "cross-entropy by hand vs F.cross_entropy", atol=1e-4, rtol=1e-5)

# %% [markdown]
# ### What the residual path buys: a deep stack with and without it
#
# Section 5 said the residual stream carries the gradient to the first block. Test it: an
# 8-block GPT built from this notebook's pieces, and a copy whose blocks drop the `x +` (each
# branch's output *replaces* the stream). Both start from the same weights (the package's
# initialisation, section 10) and train on the same batches. At each step, record the length of
# the gradient of each block's weights, and compare the blocks over the second half of the run.

# %%
class NoResidualBlock(Block):
    def forward(self, x):  # the same two branches, without the `x +`
        x = self.attn(self.ln_1(x))
        return self.mlp(self.ln_2(x))


stages.ensure("tokens", PROFILE, quiet=True)
train_tokens = dataset.load_tokens("train", tokenizer=tok)
deep_config = config.replace(n_layer=8, n_embd=64, n_head=4, context_length=64)
torch.manual_seed(0)
start_weights = model.GPT(deep_config).state_dict()  # shared by both stacks

# %%
def train_deep(block_class, steps=100 if PROFILE.name == "ci" else 250):
    """Train MyGPT with these blocks from start_weights: the losses, and each block's gradient norm per step."""
    net = MyGPT(deep_config)
    net.transformer.h = nn.ModuleList(block_class(deep_config) for _ in range(deep_config.n_layer))
    net.load_state_dict(start_weights)
    net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    batches = dataset.RandomBatches(train_tokens, 8, deep_config.context_length, seed=0, device=device)
    losses, grad_norms = [], []
    for _ in range(steps):
        _, loss = net(*next(batches))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norms.append([torch.cat([p.grad.flatten() for p in b.parameters()]).norm().item() for b in net.transformer.h])
        opt.step()
        losses.append(loss.item())
    return losses, torch.tensor(grad_norms)  # (steps,) and (steps, n_layer)


# %%
deep = {"with the residual path": train_deep(Block), "without it": train_deep(NoResidualBlock)}
late = {name: norms[len(norms) // 2 :].mean(0) for name, (_, norms) in deep.items()}  # (n_layer,): second half
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), dpi=90)
for name, (losses, _) in deep.items():
    axes[0].plot(losses, label=name)
    axes[1].plot(range(1, deep_config.n_layer + 1), late[name], "o-", label=name)
axes[0].set(xlabel="step", ylabel="training loss", title=f"{deep_config.n_layer} blocks, the same start")
axes[1].set(xlabel="block (1: next to the embeddings)", ylabel="gradient norm (log scale)", yscale="log",
            title="each block's gradient, second half of the run")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Expected: at the very first steps the two differ little (each branch's norm rescales whatever
# it reads). Then they part. With the residual path, the first block's gradient stays at least as
# large as the last block's (it collects what every later block sends back down the stream), and
# the loss keeps falling. Without it, the gradient has to pass through every later branch in
# turn and shrinks by about the same factor at each one: on the log scale a straight line, and
# the first block gets orders of magnitude less than the last (the check asks for less than a
# tenth). Those blocks stop learning, and the loss stalls near what counting single tokens
# gives (the unigram loss of 05_training).

# %%
first_to_last = {name: (norms[0] / norms[-1]).item() for name, norms in late.items()}
end_loss = {name: sum(losses[-20:]) / 20 for name, (losses, _) in deep.items()}
check(first_to_last["with the residual path"] >= 1.0,
      f"with the residual path, block 1 gets {first_to_last['with the residual path']:.1f}x the last block's gradient")
check(first_to_last["without it"] <= 0.1, f"without it, block 1 gets {first_to_last['without it']:.1e}x: dimmed")
check(end_loss["without it"] - end_loss["with the residual path"] >= 0.15,
      f"the residual stack ends lower: {end_loss['with the residual path']:.2f} vs {end_loss['without it']:.2f}")

# %% [markdown]
# ## 8. The package's GPT gives the same scores
#
# `minigpt_helpers.model.GPT` is the same network with the same parameter names, so it loads
# these weights as they are. Its attention goes through PyTorch's
# `scaled_dot_product_attention` (flash attention on GPUs that have it); asked for the attention
# weights, it takes the written-out path above instead. Both must agree with the notebook's model.

# %%
gpt = model.GPT(config).to(device).eval()
gpt.load_state_dict(mine.state_dict())  # strict: every name and shape must match
logits, loss = gpt(x, y)
check_close(logits.cpu(), my_logits.cpu(), "package GPT vs the notebook's GPT: same logits", atol=1e-4, rtol=1e-4)
logits2, _, attentions = gpt(x, return_attention=True)
check_close(logits2.cpu(), logits.cpu(), "flash (SDPA) path vs written-out attention path", atol=1e-4, rtol=1e-4)
check(len(attentions) == config.n_layer and attentions[0].shape == (B, config.n_head, T, T),
      f"one (B, n_head, T, T) map of attention weights per layer ({config.n_layer})")

# %% [markdown]
# On a GPU, training runs the matrix products in 16 bits (`torch.autocast`: bfloat16, or float16
# on older GPUs such as Colab's T4) while the weights stay float32; the package computes the loss
# in float32 either way. Expected: the same loss to within 1% (this untrained model's loss is
# large, so its rounding is too). `hardware.choose_precision` makes the same choice as training.
# (On a CPU training stays in float32, and this cell only says so.)

# %%
from minigpt_helpers import hardware

precision = hardware.choose_precision(device)
if precision.name != "fp32":
    with precision.autocast():
        low_logits, low_loss = gpt(x, y)
    check(low_logits.dtype == precision.dtype and low_loss.dtype == torch.float32,
          f"{precision.name} logits, float32 loss")
    check_close(low_loss.cpu(), loss.cpu(), f"loss under {precision.name} autocast vs float32", atol=0.05, rtol=1e-2)
else:
    print(f"device {device}: {precision.reason}; nothing to compare")

# %% [markdown]
# ## 9. Since GPT-2: the block this course trains
#
# GPT-2 dates from 2019. The open models since (Llama, Qwen3) and the small-model codebases
# this course learns from (nanochat, modded-nanogpt) changed a handful of things in the block,
# each a few lines. Together they make the *modern* block, which this profile trains
# (`PROFILE.arch`). Here is each change, built by hand and checked against the package.
#
# ### Rotary positions instead of a position table
#
# GPT-2 *adds* a learned vector per position to the token's. Rotary embeddings instead *turn*
# each head's queries and keys: split a head's numbers into pairs, and rotate each pair by an
# angle proportional to the position, every pair at its own speed (the first pairs fast, the last
# slowly). The dot product of two rotated vectors depends only on the *difference* of their
# angles, so a query scores a key by how far back it is, wherever the two sit. There is no table
# to learn.

# %%
figure("rotary")

# %% [markdown]
# In symbols: for the pair $i$ of a head's $d$ numbers, at position $m$, the rotation angle is
# $m\,\theta_i$ with $\theta_i = 10000^{-2i/d}$:
#
# $$\begin{pmatrix} x'_i \\ x'_{i+d/2} \end{pmatrix} =
# \begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\ \sin m\theta_i & \cos m\theta_i \end{pmatrix}
# \begin{pmatrix} x_i \\ x_{i+d/2} \end{pmatrix}$$
#
# Writing $R_m$ for the rotation at position $m$: $(R_m q) \cdot (R_n k) = q \cdot (R_{n-m} k)$,
# a function of the distance $n - m$ alone.

# %%
def my_rotary(x, pos, theta=10000.0):
    """Turn the pairs (x[..., i], x[..., i + d/2]) of x (..., T, d) by pos * theta ** (-2i / d)."""
    d = x.size(-1)
    speeds = 1.0 / theta ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)  # (d/2,): one per pair
    angles = torch.outer(pos.float(), speeds)  # (T, d/2): position times speed
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([x1 * angles.cos() - x2 * angles.sin(), x2 * angles.cos() + x1 * angles.sin()], dim=-1)


hs = profile_config.head_dim
cos, sin = model.rotary_tables(T, hs)  # the package's tables, float32, (T, hs/2)
qh = torch.randn(2, profile_config.n_head, T, hs, device=device, generator=torch.Generator(device).manual_seed(0))
# Same formula, yet on some CPUs float32 cosines of the same angles differ from one process to the
# next in the last bits (about 1e-4 relative); a wrong pairing or sign would differ by about 1.
check_close(my_rotary(qh, torch.arange(T, device=device)).cpu(), model.apply_rotary(qh, cos.to(device), sin.to(device)).cpu(),
            "your rotation vs model.apply_rotary", atol=1e-3)

# %%
q1, k1 = torch.randn(2, hs).unbind(0)
score = lambda m, n: (my_rotary(q1, torch.tensor([m])) * my_rotary(k1, torch.tensor([n]))).sum().item()
print(f"query at 10, key at 3: {score(10, 3):.4f}; at 40 and 33: {score(40, 33):.4f}; at 10 and 9: {score(10, 9):.4f}")
check_close(score(10, 3), score(40, 33), "7 positions apart scores the same anywhere", atol=1e-4)

# %%
fig, ax = plt.subplots(figsize=(8, 2.6), dpi=90)
ax.imshow(cos.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
ax.set(xlabel="position", ylabel="pair of numbers", title="cos of each pair's angle: fast pairs on top, slow below")
plt.show()

# %% [markdown]
# ### RMSNorm, and QK-norm
#
# LayerNorm subtracts each position's mean, divides by its standard deviation, then applies a
# learned gain and bias. RMSNorm only divides by the root mean square, with no weights at all
# here: simpler and as good. For a position's vector $x$ of $C$ numbers:
#
# $$\operatorname{LayerNorm}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,
# \qquad \operatorname{RMSNorm}(x) = \frac{x}{\sqrt{\frac{1}{C}\sum_{i} x_i^2 + \epsilon}}$$
#
# The modern block also normalises each head's queries and keys
# before they meet (QK-norm). Then every query and key has length √head_dim, so no score can
# exceed √head_dim: attention cannot blow up into a one-hot softmax early in training, whatever
# the learning rate does to the weights.

# %%
def my_rms_norm(x, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


check_close(my_rms_norm(h).cpu(), model.rms_norm(h).cpu(), "your RMSNorm vs model.rms_norm", atol=1e-5)
qn, kn = my_rms_norm(torch.randn(1, 1, T, hs) * 50), my_rms_norm(torch.randn(1, 1, T, hs) * 50)
largest = (qn @ kn.transpose(-2, -1) / math.sqrt(hs)).abs().max().item()
check(largest <= math.sqrt(hs) + 1e-4, f"after QK-norm no score exceeds sqrt(head_dim) = {math.sqrt(hs):.1f} "
      f"(largest here {largest:.2f}, from inputs 50 times too large)")

# %% [markdown]
# ### The MLP's non-linearity: ReLU squared
#
# GPT-2's GELU is a smooth ReLU. `relu(a)²` is cheaper, exactly zero for every negative input,
# and grows faster for positive ones; nanochat and modded-nanogpt use it. Llama and Qwen3 use a
# *gated* MLP instead, SwiGLU: `silu(gate) * up`, from two inputs, with two thirds of the width so
# that it weighs the same. The package has all three (`GPTConfig.mlp`); the measurement below
# picked the one this profile uses.

# %%
a = torch.linspace(-3, 3, 200)
fig, ax = plt.subplots(figsize=(5, 3), dpi=90)
for name, f in {"GELU (GPT-2)": F.gelu(a, approximate="tanh"), "ReLU squared": F.relu(a) ** 2, "SiLU (SwiGLU's gate)": F.silu(a)}.items():
    ax.plot(a, f, label=name)
ax.set(xlabel="input", ylim=(-1, 4), title="the MLP's non-linearity")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### No biases; an untied head; blocks that start as the identity
#
# - **No biases**: on the scale of these models they cost time and buy nothing measurable.
# - **An untied head**: the head gets its own matrix instead of reusing the token table, so
#   reading a token and predicting one need not share vectors. It starts near zero, so the
#   untrained model gives every token the same probability: its first loss is ln(vocab_size)
#   exactly, not about.
# - **Output projections start at zero**: every block's `c_proj` (attention's and the MLP's)
#   starts at 0, so each block adds nothing at first and the residual stream carries the
#   embeddings straight to the head. Training then grows each block's contribution from zero.

# %%
fresh = model.GPT(profile_config).to(device).eval()
_, first_loss = fresh(x, y)
check_close(first_loss.item(), math.log(profile_config.vocab_size), "the modern block's first loss is ln(vocab_size)", atol=0.01)
check(all(b.attn.c_proj.weight.abs().max() == 0 and b.mlp.c_proj.weight.abs().max() == 0 for b in fresh.transformer.h),
      "every block's output projections start at zero")

# %% [markdown]
# ### The modern GPT by hand, and the package's
#
# Put together, attention changes in two lines (QK-norm, then the rotation) and loses its
# position table; the norms lose their weights; the MLP changes its non-linearity. The package's
# `GPT(profile_config)` is the same network under the same names, so it loads these weights.

# %%
class ModernAttention(MultiHeadAttention):
    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        pos = torch.arange(T, device=x.device)
        q, k = my_rotary(my_rms_norm(q), pos), my_rotary(my_rms_norm(k), pos)  # QK-norm, then rotate
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class ModernMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.swiglu = cfg.mlp == "swiglu"
        self.c_fc = nn.Linear(cfg.n_embd, cfg.hidden_dim * (2 if self.swiglu else 1), bias=False)
        self.c_proj = nn.Linear(cfg.hidden_dim, cfg.n_embd, bias=False)

    def forward(self, x):
        a = self.c_fc(x)
        if self.swiglu:
            gate, up = a.chunk(2, dim=-1)
            return self.c_proj(F.silu(gate) * up)
        return self.c_proj(F.relu(a) ** 2)


class ModernGPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        blocks = nn.ModuleList(nn.ModuleDict(dict(attn=ModernAttention(cfg), mlp=ModernMLP(cfg))) for _ in range(cfg.n_layer))
        self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(cfg.vocab_size, cfg.n_embd), h=blocks))
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)  # untied

    def forward(self, idx):
        x = self.transformer.wte(idx)  # no position table: the rotation carries the positions
        for block in self.transformer.h:
            x = x + block.attn(my_rms_norm(x))
            x = x + block.mlp(my_rms_norm(x))
        return self.lm_head(my_rms_norm(x))


torch.manual_seed(0)
modern_mine = ModernGPT(profile_config).to(device).eval()  # PyTorch's default init: every weight non-zero
modern_gpt = model.GPT(profile_config).to(device).eval()
modern_gpt.load_state_dict(modern_mine.state_dict())  # strict: the same names and shapes
check_close(modern_gpt(x)[0].cpu(), modern_mine(x).cpu(), "package GPT (modern block) vs yours: same logits", atol=1e-4, rtol=1e-4)

# %% [markdown]
# ### Which changes matter? (optional)
#
# *Optional: skip to section 10 for the core path.*
#
# Each change above is a few lines; whether it helps is an experiment.
# `benchmarks/recipe_compare.py --ablation` trains the old recipe (GPT-2's block, AdamW,
# float32), then adds one change at a time, every row for the same minutes on the same CPU, and
# scores each with 06's evaluation in bits per byte (lower is better). The Muon row is the
# optimizer 05 teaches; bf16 and `torch.compile` change only the speed, so they buy more steps
# in the same minutes. The last row is this profile's own recipe.
#
# How to read the chart: each bar is the bar above it plus one change, so the step from one bar
# to the next is what that change bought. Look for the large steps, and for where the bars pass
# the dashed line, the bigram baseline (counting which token follows which): a model behind it
# has not yet learned to use more than the last token. Each row ran once, so a step of a few
# hundredths is within the noise. The figures are in benchmarks/README.md.

# %%
import json
from pathlib import Path

ablation_file = Path("..") / "benchmarks" / "ablation.json"  # in the course's repository
ablation = json.loads(ablation_file.read_text()) if ablation_file.is_file() else None
if ablation is None:
    print(f"{ablation_file} is not here (on Colab the repository is not cloned); the live rows below still run")
else:
    rows = ablation["rows"]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1), dpi=90)
    bpb = [r["bits_per_byte"] for r in rows]
    ax.barh(range(len(rows)), bpb, color=["tab:grey"] + ["tab:blue"] * (len(rows) - 2) + ["tab:green"])
    ax.set_yticks(range(len(rows)), [f"+ {r['change']}" if i else r["change"] for i, r in enumerate(rows)], fontsize=8)
    ax.axvline(rows[0]["bigram_bits_per_byte"], ls="--", c="grey", label="bigram counts")
    for i, (v, r) in enumerate(zip(bpb, rows)):
        ax.text(v, i, f" {v:.3f} ({r['steps']:,} steps)", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="held-out bits per byte (lower is better)", xlim=(min(bpb) - 0.2, max(bpb) + 0.25),
           title=f"{ablation['minutes']:g} minutes of training per row (benchmarks/ablation.json)")
    ax.legend(fontsize=8, loc="lower right")
    plt.show()
    check(len(rows) == len(ablation["changes"]) + 2 and all(math.isfinite(r["bits_per_byte"]) for r in rows),
          f"the table has the old recipe, {len(ablation['changes'])} changes and the profile's recipe, every figure finite")

# %% [markdown]
# Two of those rows, live, on this machine: GPT-2's block with AdamW against the modern block
# with Muon, the same seconds each on this profile's tokens, in the number format this machine
# trains in and without compiling, so that only the block and the optimizer differ. Each is
# scored on the same fixed validation batches. Expected in the `cpu` profile: the modern block
# ends clearly lower after a minute, by 0.1 to 1.5 nats per token.

# %%
from minigpt_helpers import training

LIVE_SECONDS = {"ci": 4, "cpu": 60, "gpu": 60}[PROFILE.name]
stages.ensure("tokens", PROFILE, quiet=True)
live = {}
for name, changes in {"GPT-2 block, AdamW": dict(model_overrides={"arch": "gpt2"}, optimizer="adamw", embedding_lr=None),
                      "modern block, Muon": dict(model_overrides={"arch": PROFILE.arch})}.items():
    run = training.TrainConfig.from_profile(PROFILE, run=f"04-live-{changes['model_overrides']['arch']}", max_steps=10**6,
                                           time_budget_s=LIVE_SECONDS, eval_interval=10**6, sample_interval=0, patience=None,
                                           compile=False, **changes)
    result = training.train(run, resume=False, progress=False)
    live[name] = (result.step, result.best_val_loss)
    print(f"{name}: {result.step} steps in {LIVE_SECONDS} s, validation loss {result.best_val_loss:.3f}")

# %%
check(all(math.isfinite(loss) and steps > 0 for steps, loss in live.values()), "both live runs trained and scored")
if PROFILE.name == "cpu":
    gap = live["GPT-2 block, AdamW"][1] - live["modern block, Muon"][1]
    check_between(gap, 0.1, 1.5, "the modern block's lead after a minute (nats per token)")

# %% [markdown]
# ## 10. Initialisation: the first loss says whether the model starts sane
#
# An untrained model should not prefer any token: it gives each about 1/vocab_size, so its loss
# is about ln(vocab_size). The notebook's model used PyTorch's default initialisation, whose
# embedding vectors are far too long for a tied head: it starts out confidently wrong. The
# package initialises like GPT-2 (normal with std 0.02, the projections into the residual stream
# scaled down by √(2·n_layer)). Expected: within 0.5 of ln(vocab_size).
#
# The same figure reads more easily as a *perplexity*, $e^{\mathcal{L}}$: a model with perplexity
# $P$ is as unsure of the next token as if it picked evenly among $P$ of them. An untrained model
# should be near $V$, the size of the vocabulary; 05 and 06 watch it fall.

# %%
gpt = model.GPT(config).to(device).eval()  # fresh, GPT-2 initialisation
_, loss = gpt(x, y)
print(f"ln(vocab_size) = {math.log(config.vocab_size):.2f}; default init: {my_loss.item():.1f}; GPT-2 init: {loss.item():.2f}")
print(f"perplexity {math.exp(loss.item()):,.0f} for a vocabulary of {config.vocab_size:,} tokens")
check_between(loss.item(), math.log(config.vocab_size) - 0.5, math.log(config.vocab_size) + 0.5,
              "untrained loss with GPT-2 initialisation", hint="check the init: logits should start near 0")

# %% [markdown]
# ## 11. The causal mask really blocks the future
#
# Change one token in the middle of a sequence: the scores at every earlier position must stay
# bit for bit the same, and those at that position must change. A mask applied the wrong way
# round, or a shift by one, fails this.

# %%
t = T // 2
changed = x.clone()
changed[:, t] = (changed[:, t] + 1) % config.vocab_size
before, _ = gpt(x)
after, _ = gpt(changed)
check(torch.equal(after[:, :t], before[:, :t]), f"changing token {t} leaves the logits of positions 0..{t - 1} unchanged")
check(not torch.allclose(after[:, t], before[:, t]), f"it does change the logits at position {t}")

# %% [markdown]
# ## 12. A tiny model can memorise one batch
#
# If the model, the loss and the optimiser are wired together right, a small model learns one
# fixed batch by heart in a hundred steps. This is the cheapest test of the whole training
# path; the same tiny model (2 layers, 64 wide) is used in every profile. Expected: the loss falls
# from about ln(vocab_size) to below 0.5.

# %%
torch.manual_seed(0)
tiny = model.GPT(model.preset("ci", vocab_size=tok.vocab_size, context_length=32)).to(device).train()
xb, yb = x[:, :32], y[:, :32]
# lr 3e-3: at 1e-2 the loss falls faster but spikes, and may be in a spike at the last step
opt = torch.optim.AdamW(tiny.parameters(), lr=3e-3)
losses, t0 = [], time.time()
for step in range(100):
    _, l = tiny(xb, yb)
    opt.zero_grad(set_to_none=True)
    l.backward()
    opt.step()
    losses.append(l.item())
print(f"{len(losses)} steps in {time.time() - t0:.1f} s: loss {losses[0]:.2f} -> {losses[-1]:.3f}")

# %%
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.plot(losses)
ax.axhline(math.log(tok.vocab_size), ls="--", c="grey", label="ln(vocab_size)")
ax.set(xlabel="step", ylabel="loss on the same batch", yscale="log", title="memorising one batch")
ax.legend()
plt.show()
check_between(losses[-1], 0.0, 0.5, "loss after 100 steps on one batch",
              hint="a loss stuck near ln(vocab_size) means nothing is learned: check backward and the optimizer")

# %% [markdown]
# ## 13. Counting parameters
#
# Where the numbers live: the token table grows with the vocabulary, the blocks with
# `n_layer × 12 × n_embd²`. The package can count a config without building it, which is how the
# next table covers models too big for this machine.

# %%
parts = gpt.num_parameters(breakdown=True)
for part, count in parts.items():
    print(f"{part:>20}: {count:>12,}  ({count / sum(parts.values()):.0%})")
check(parts == model.count_parameters(config), f"the count by formula equals the built model's: {sum(parts.values()):,}")

# %% [markdown]
# The presets: GPT-2 small, nanoGPT's Shakespeare model, the profiles' models and a few others.
# "source says" is the total the source states, where it states one. Count for yourself where
# the parameters of a GPT-2-vocabulary model sit: most of a small model is its token table.

# %%
display(Markdown(lessons.format_table(lessons.preset_table())))

# %%
counted = {row["preset"]: row["total (M)"] for row in lessons.preset_table()}
check_between(counted["mini-gpt2"], 123.5, 124.5, "mini-gpt2 (M), GPT-2 small's 124M")
check_between(counted["shakespeare-char"], 0.79, 0.81, "shakespeare-char (M), nanoGPT's 0.80M")

# %% [markdown]
# ## 14. What a model costs to train (optional)
#
# *Optional: skip to section 15 for the core path.*
#
# Training in float32 with AdamW keeps, per parameter, the weight (4 bytes), its gradient (4) and
# AdamW's two running averages (8): 16 bytes. On top come the activations that backward needs,
# which grow with batch × context and, for small models, are most of the memory. The table is at
# a batch of 16 sequences of each preset's own context; activations assume flash attention (no
# T × T matrices stored) and float32 (mixed precision roughly halves them). "Fits" leaves room for
# the CUDA context or, on a 16 GB laptop, for everything else that runs (`lessons.MACHINES`).
# A training step costs about 6 FLOPs per parameter per token (2 forward, 4 backward), plus the
# attention scores.

# %%
display(Markdown(lessons.format_table(lessons.memory_table(batch_size=16))))

# %% [markdown]
# The activation estimate is arithmetic; check it against what autograd really keeps for this
# profile's model (a batch of 2). Expected: a ratio between 0.85 and 1.2.

# %%
probe = model.GPT(config).to(device).train()
measured = lessons.saved_activation_bytes(probe, x[:2], y[:2])
estimate = lessons.activation_bytes(config, 2, flash=config.dropout == 0)
print(f"measured {measured / 2**20:.1f} MiB, estimated {estimate / 2**20:.1f} MiB")
check_between(measured / estimate, 0.85, 1.2, "measured / estimated activation memory")
del probe

# %% [markdown]
# ## 15. The KV cache, for generating fast
#
# To generate, a model scores the next token, appends it, and runs again. Without help it would
# recompute the keys and values of the whole prefix at every step. A KV cache keeps them:
# each new token then costs one position of work. 07_inference builds on this; here, check that
# it changes nothing: a prefill followed by one token at a time gives the same logits as one
# full forward.

# %%
cache = gpt.new_kv_cache(batch_size=B)
pieces = [gpt(x[:, : T // 2], kv_cache=cache)[0]]  # prefill half the context
for i in range(T // 2, T):
    pieces.append(gpt(x[:, i : i + 1], kv_cache=cache)[0])  # then one token at a time
check_close(torch.cat(pieces, dim=1).cpu(), before.cpu(), f"cached forwards ({cache.length} positions) vs one full forward", atol=1e-4, rtol=1e-4)

# %% [markdown]
# ## 16. Errors that say what to change
#
# Three mistakes everyone makes once: a width that the heads cannot split, a sequence longer than
# the position table, and a model whose vocabulary differs from its tokenizer's. Each stops with
# an error that names the field and the fix.

# %%
def error_of(action):
    try:
        action()
    except ValueError as err:
        return str(err)
    return ""


msg = error_of(lambda: model.GPTConfig(n_embd=500, n_head=8))
print(msg)
check("n_embd=500" in msg and "n_head=8" in msg, "width not divisible by heads: named, with a fix")

# %%
msg = error_of(lambda: gpt(torch.zeros(1, config.context_length + 1, dtype=torch.long, device=device)))
print(msg)
check("context_length" in msg, "a sequence longer than the position table: named, with a fix")

# %%
other_vocab = 50257 if tok.vocab_size != 50257 else 8000  # GPT-2's, or (in the gpu profile, whose tokenizer is GPT-2's) an 8k BPE's
other = model.GPT(model.preset("ci", vocab_size=other_vocab))  # a model built for another tokenizer
msg = error_of(lambda: other.check_vocab(tok))
print(msg)
check("vocab_size" in msg and str(tok.vocab_size) in msg, "vocabulary differs from the tokenizer's: named, with a fix")

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer and a check. Until you fill it in, the check says
# "not attempted yet" and the notebook goes on.
#
# ### Exercise 1: attention, written out
#
# Write `my_attention(q, k, v)` for tensors of shape (B, n_head, T, head_size): the scaled
# dot-product scores, the causal mask, the softmax, the weighted sum of the values (the equation
# of section 2). It is checked against PyTorch's
# `scaled_dot_product_attention(q, k, v, is_causal=True)`, the call the package makes.

# %%
my_attention = None  # your answer: a function (q, k, v) -> output of shape (B, n_head, T, head_size)


def test_attention(fn):
    q, k, v = torch.randn(3, 2, 4, 10, 8, generator=torch.Generator().manual_seed(1)).unbind(0)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    check_close(fn(q, k, v), expected, "your attention vs F.scaled_dot_product_attention", atol=1e-5)


exercise("attention, written out", my_attention, test_attention)

# %% [markdown]
# *Solution:* [solutions/04_model.ipynb](../solutions/04_model.ipynb), exercise 1.
#
# ### Exercise 2: count a block's parameters
#
# Write `block_params(n_embd, hidden, bias)`: the number of parameters in one GPT-2 block (two
# LayerNorms, the attention's two linear layers, the MLP's two). A LayerNorm has a weight and,
# with `bias`, a bias of `n_embd` numbers each; a linear layer from `a` to `b` numbers has an
# (a, b) weight and, with `bias`, `b` biases. Checked against the package's count for several
# shapes.

# %%
block_params = None  # your answer: a function (n_embd, hidden, bias) -> int


def test_block_params(fn):
    for n_embd, hidden, bias in [(64, 256, True), (256, 1024, False), (384, 1536, True)]:
        cfg = model.GPTConfig(vocab_size=100, n_layer=1, n_head=4, n_embd=n_embd, ffn_hidden=hidden, bias=bias)
        expected = model.count_parameters(cfg)["transformer blocks"]
        check(fn(n_embd, hidden, bias) == expected, f"n_embd={n_embd}, hidden={hidden}, bias={bias}: {expected:,}")


exercise("count a block's parameters", block_params, test_block_params)

# %% [markdown]
# *Solution:* [solutions/04_model.ipynb](../solutions/04_model.ipynb), exercise 2.
#
# ### Exercise 3: the mask when a cache holds the past
#
# With a KV cache (section 15), `t_new` new positions attend to `t_cached` cached ones plus
# themselves. Write `cache_mask(t_new, t_cached)`: a boolean (t_new, t_cached + t_new) tensor,
# True where a new position may look. (Hint: new position i sits at absolute position
# t_cached + i.) Checked against the mask the package builds for this case.

# %%
cache_mask = None  # your answer: a function (t_new, t_cached) -> bool tensor of shape (t_new, t_cached + t_new)


def test_cache_mask(fn):
    for t_new, t_cached in [(1, 5), (3, 4), (4, 0)]:
        check(torch.equal(fn(t_new, t_cached), model.causal_mask(t_new, t_cached + t_new)),
              f"{t_new} new positions after {t_cached} cached ones")


exercise("the mask with a cache", cache_mask, test_cache_mask)

# %% [markdown]
# *Solution:* [solutions/04_model.ipynb](../solutions/04_model.ipynb), exercise 3.
#
# ## Summary
#
# - A GPT is embeddings, a stack of pre-norm residual blocks (causal multi-head attention, then
#   an MLP), a final norm and a head that gives one score per token; its loss is the
#   cross-entropy of those scores against the next token, $\ln V$ for a model that knows nothing.
# - Attention is $\operatorname{softmax}(QK^\top/\sqrt{d} + M)\,V$: the mask $M$ keeps every
#   position from reading the future, and a reshape runs all heads in one matrix product.
# - The residual stream carries the gradient to the first block: without it, a deep stack's
#   first blocks get a fraction of the gradient and the stack stalls.
# - The modern block keeps the skeleton and changes a few lines: rotary positions, RMSNorm with
#   QK-norm, ReLU squared, no biases, an untied head (tying only saves V × C weights) and
#   blocks that start as the identity.
# - The package's `GPT` loads your weights and gives the same logits; three checks catch most
#   wiring bugs before training: a first loss near $\ln V$, a mask that hides the future, and a
#   tiny model that memorises one batch.
#
# **Next:** 05_training picks up this profile's model (the modern block) and trains it on
# `data/tokens/`, with Muon and AdamW, a learning-rate schedule and checkpoints.
