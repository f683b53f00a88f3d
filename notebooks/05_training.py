# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/05_training.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 05 · Training: from random weights to a model that writes
#
# You build the training loop one piece at a time: the optimizers (AdamW, and Muon for the
# blocks' matrices), a learning rate that warms up and then decays, gradient accumulation,
# gradient clipping, and the number format the hardware computes in. Then you check that your
# loop and the package's take exactly the same steps, and train this profile's model with a live
# dashboard: curves that update in place, sampled text, and a Stop button. The run pauses part
# way, and a second session resumes it as if nothing had happened.
#
# **Reads** `data/tokens/` and `data/tokenizer/` (rebuilt if missing). **Writes**
# `data/checkpoints/<profile>/`: the best checkpoint, the last 3 periodic ones with everything a
# resume needs, `metrics.jsonl`, `samples.jsonl` and `run.json`, plus the stage's
# `manifest.json` that 06 to 09 read.
#
# Expected runtime, with the data stages already built:
#
# - `ci` (the test suite): about 30 seconds
# - `cpu` (a 2-core laptop CPU): about 13 minutes, 11 of them training
# - `gpu` (Colab or a local GPU): a few minutes
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

PROFILE = start("05_training", drive=DRIVE)

# %% [markdown]
# ## The inputs: token files and this profile's run
#
# Training reads the token files of 03_dataset. Everything about the run (model, batch, steps,
# learning rate, how often to evaluate) comes from the profile, through `TrainConfig`, a dataclass
# that checks itself and is saved, resolved, next to every checkpoint.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from minigpt_helpers import (artifacts, checkpoint, dataset, hardware, model, runs, schedule, stages,
                             tokenization, training)
from minigpt_helpers.checks import check, check_between, check_close, exercise
from minigpt_helpers.dashboard import Dashboard
from minigpt_helpers.notebook import figure

stages.ensure("tokens", PROFILE)
tok = tokenization.load_tokenizer()
train_data = dataset.load_tokens("train", tokenizer=tok)
val_data = dataset.load_tokens("val", tokenizer=tok)
config = training.TrainConfig.from_profile(PROFILE)
print(f"{tok}; {len(train_data):,} training and {len(val_data):,} validation tokens")

# %%
tokens_per_step = config.batch_size * config.grad_accum_steps * config.context_length
print(f"run {config.run!r}: model {config.model_preset!r}, {config.max_steps:,} steps of {config.batch_size} x "
      f"{config.grad_accum_steps} sequences x {config.context_length} tokens = {tokens_per_step:,} tokens per step")
print(f"that is {config.max_steps * tokens_per_step / len(train_data):.2f} passes over the training tokens; "
      f"peak learning rate {config.learning_rate:g}, evaluation every {config.eval_interval} steps")

# %% [markdown]
# ## The training step, in one picture
#
# Training repeats one step: draw a batch, run the model forward, measure the loss, run
# backward for the gradients, clip them, let the optimizers move the weights, and set the
# learning rate of the next step. Every section below builds one box; section 6 puts them
# together.

# %%
figure("training_step")

# %% [markdown]
# ## 1. The optimizers: AdamW, and Muon for the matrices
#
# AdamW keeps, for every weight, a running mean of its gradient (momentum, `beta1 = 0.9`) and of
# its squared gradient (`beta2 = 0.95`), and steps by their ratio: each weight moves about one
# learning rate per step, whatever the scale of its gradient. `beta2 = 0.95` instead of Adam's
# default 0.999 lets the squared-gradient average catch up within about 20 steps when gradients
# suddenly grow, which keeps transformer training steadier. Weight decay (0.1) pulls every
# decayed weight a little toward zero at each step; biases and norm gains (GPT-2's block has
# them) are not decayed, since pulling them to zero would switch features off. For a weight $w$
# with gradient $g_t$ at step $t$ (counting from 1), learning rate $\eta$ and weight decay
# $\lambda$:
#
# $$m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2$$
#
# $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
# w_t = w_{t-1} - \eta \left( \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon} + \lambda\, w_{t-1} \right)$$
#
# The averages start at zero, so at first they are too small; dividing by $1 - \beta^t$
# corrects that (the *bias correction*), and matters only in the first few dozen steps.
# Exercise 1 asks you to write this step.

# %% [markdown]
# AdamW treats every number on its own. But most of a transformer's weights are matrices, and a
# matrix's gradient is usually dominated by a few directions: a few large singular values and
# many tiny ones. A step along it changes the matrix mostly in those few directions. **Muon**
# ("momentum, orthogonalised") takes the momentum of the gradient and replaces it by the nearest
# matrix whose singular values are all about 1: every direction of the matrix moves at the same
# rate. Five Newton–Schulz iterations do that with matrix products only (no SVD). The modern
# block trains its blocks' matrices with Muon and everything else (the token table, the head)
# with AdamW, as nanochat and modded-nanogpt do; `torch.optim.Muon` is PyTorch's. For a matrix
# $W$ with momentum $M = U \Sigma V^\top$ (its singular value decomposition):
#
# $$W \leftarrow W - \eta \sqrt{\max\left(1, \tfrac{\text{rows}}{\text{columns}}\right)}\; U V^\top$$

# %%
figure("muon_adamw")

# %% [markdown]
# Take a real gradient: the modern model's first MLP matrix, after one batch.

# %%
net = model.GPT(config.model_config(tok.vocab_size))
with torch.no_grad():  # a model a little way into training: the zero-initialised projections are not zero any more
    for p in net.parameters():
        p.add_(torch.randn_like(p) * 0.02)
xb, yb = dataset.get_batch(train_data, 8, config.context_length, seed=0)
net(xb, yb)[1].backward()
grad = net.transformer.h[0].mlp.c_fc.weight.grad.clone()
print(f"gradient of transformer.h.0.mlp.c_fc.weight: {tuple(grad.shape)}")

# %%
def newton_schulz(G, steps=5):
    """A matrix with G's singular vectors and singular values pushed towards 1 (about 0.7 to 1.2)."""
    a, b, c = 3.4445, -4.7750, 2.0315  # coefficients tuned to push small values up fast
    X = G.bfloat16()  # cheap, and precise enough for a direction
    wide = X.size(0) <= X.size(1)
    X = X if wide else X.T  # work on the wide side: X @ X.T is the small product
    X = X / X.norm().clamp(min=1e-7)  # now every singular value is at most 1
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X  # an odd polynomial of X: acts on each singular value alone
    return X if wide else X.T


before = torch.linalg.svdvals(grad)
after = torch.linalg.svdvals(newton_schulz(grad).float())
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.plot(before / before.max(), label="gradient (scaled to its largest)")
ax.plot(after, label="after Newton-Schulz")
ax.set(xlabel="singular value, largest first", ylabel="size", title="a few directions dominate; Muon evens them out")
ax.legend(fontsize=8)
plt.show()
check_between(after.min().item(), 0.5, 1.3, "smallest singular value after orthogonalising")
check_between(after.max().item(), 0.5, 1.3, "largest singular value after orthogonalising")

# %% [markdown]
# A Muon step is then a few lines: a running average of the gradients (momentum 0.95, read a
# little ahead: Nesterov), orthogonalised, times the learning rate, larger for tall matrices
# (√(rows / columns), so that every matrix's update has about the same size per number).
# Check yours against `torch.optim.Muon` for three steps.

# %%
def my_muon_step(W, grad, buf, lr, momentum=0.95):
    buf.lerp_(grad, 1 - momentum)  # buf = momentum * buf + (1 - momentum) * grad
    update = grad.lerp(buf, momentum)  # Nesterov: the gradient pulled towards the average
    scale = max(1.0, W.size(0) / W.size(1)) ** 0.5
    W.sub_(lr * scale * newton_schulz(update).float())


W = torch.randn(64, 32) * 0.1
theirs = torch.nn.Parameter(W.clone())
muon = torch.optim.Muon([theirs], lr=0.02, momentum=0.95, weight_decay=0.0)
buf = torch.zeros_like(W)
for step in range(3):
    g = torch.randn(64, 32, generator=torch.Generator().manual_seed(step))
    my_muon_step(W, g, buf, lr=0.02)
    theirs.grad = g.clone()
    muon.step()
check_close(W, theirs.detach(), "your Muon vs torch.optim.Muon after 3 steps", atol=2e-3, rtol=1e-2)

# %% [markdown]
# The package splits the weights between the two (`training.build_optimizers`): the blocks'
# matrices go to Muon with its learning rate (`matrix_lr`), the token table to AdamW with
# `embedding_lr`, the head (and any gains and biases) to AdamW with `learning_rate`. With GPT-2's
# block and `optimizer="adamw"`, AdamW takes everything and decays only the matrices.

# %%
optimizers = training.build_optimizers(net, config)
names = {id(p): n for n, p in net.named_parameters()}
for opt in optimizers:
    for group in opt.param_groups:
        count = sum(p.numel() for p in group["params"])
        print(f"{type(opt).__name__:>6}, peak lr {group['peak_lr']:<7g}: {len(group['params']):>2} tensors, "
              f"{count:>9,} weights, e.g. {names[id(group['params'][0])]}")

# %%
placed = [id(p) for opt in optimizers for g in opt.param_groups for p in g["params"]]
check(len(placed) == len(set(placed)) == len(list(net.parameters())), "every parameter is in exactly one group")
if config.optimizer == "muon":
    in_muon = {id(p) for g in optimizers[0].param_groups for p in g["params"]}
    check(in_muon == {id(p) for p in net.transformer.h.parameters() if p.dim() == 2},
          "Muon trains exactly the blocks' matrices")

# %% [markdown]
# ## 2. The learning rate: warm up, then decay
#
# At the first steps Adam's running averages rest on a handful of gradients, and the weights are
# random: large steps now would go in arbitrary directions. So the learning rate rises linearly
# over `warmup_steps`. Then it follows half a cosine down to a floor of 0.1 × the peak: large
# steps while the loss falls fast, small ones at the end to settle into a good spot. With peak
# $\eta_{\max}$, floor $\eta_{\min} = 0.1\,\eta_{\max}$, $w$ warmup steps and $S$ steps in all,
# the rate at step $s$ (counting from 0) is
#
# $$\eta(s) = \begin{cases} \eta_{\max}\,\dfrac{s + 1}{w} & s < w \\[2mm]
# \eta_{\min} + \tfrac{1}{2}\left(\eta_{\max} - \eta_{\min}\right)\left(1 + \cos\left(\pi \, \dfrac{s - w}{S - w}\right)\right) & w \le s \le S \end{cases}$$
#
# Write it by hand first.

# %%
def my_lr(step, peak=config.learning_rate, warmup=config.warmup_steps, total=config.max_steps, floor_ratio=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup  # linear warmup
    progress = min(1.0, (step - warmup) / (total - warmup))  # 0 -> 1 over the decay
    floor = floor_ratio * peak
    return floor + 0.5 * (1 + math.cos(math.pi * progress)) * (peak - floor)


sched = config.schedule()
check_close([my_lr(s) for s in range(config.max_steps)], sched.values(), "your schedule vs schedule.LRSchedule")

# %% [markdown]
# The cosine is not the only shape. nanochat and modded-nanogpt use **warmup-stable-decay**
# (WSD): warm up, hold the peak for most of the run (`plateau_fraction`), then go down in a
# straight line (`lr_decay="linear"`) over the last part. A run held at the peak can be
# extended for as long as you like and cooled down when you stop. The profiles keep the cosine;
# benchmarks/README.md compares the two. Past `decay_steps` the rate stays at the floor, so a finished run that you resume for
# more steps continues gently instead of jumping back to the peak.
#
# A run with a time budget (the `cpu` profile has one, so that this notebook fits in a quarter
# of an hour) reads the schedule at whichever is further along, the steps or the clock. On a
# slower laptop the run makes fewer steps, but it still ends at the floor instead of being cut
# off at a high learning rate.

# %%
n = config.max_steps
variants = {
    "warmup + cosine (this run)": sched,
    "warmup-stable-decay: stable 60%, then linear": config.replace(plateau_fraction=0.6, lr_decay="linear").schedule(),
    "extended 50% at the floor": config.replace(max_steps=n + n // 2, decay_steps=n).schedule(),
}
fig, ax = plt.subplots(figsize=(9, 3), dpi=90)
schedule.plot_schedules(variants, ax=ax)
ax.axhline(config.min_lr_ratio * config.learning_rate, ls=":", c="grey")
plt.show()

# %% [markdown]
# ## 3. Gradient accumulation: a big batch in small pieces
#
# A batch that does not fit in memory can be split into `k` micro-batches: run forward and
# backward on each and let the gradients add up before the optimizer step. The loss of each
# micro-batch is a mean over its own tokens, so each must be divided by `k`: then the sum of the
# gradients is the gradient of the big batch's mean loss:
#
# $$\nabla \left( \frac{1}{k} \sum_{i=1}^{k} \mathcal{L}_i \right) = \sum_{i=1}^{k} \nabla \frac{\mathcal{L}_i}{k}$$
#
# Forget the division and the gradient is `k` times too large. Check it on a tiny model: one batch of 8 sequences against 4 micro-batches
# of 2.

# %%
torch.manual_seed(0)
tiny = model.GPT(model.preset("ci", vocab_size=tok.vocab_size, context_length=32))
x, y = dataset.get_batch(train_data, 8, 32, seed=1)
grads = lambda: torch.cat([p.grad.flatten() for p in tiny.parameters()])

tiny.zero_grad()
tiny(x, y)[1].backward()  # one big batch
big = grads()
tiny.zero_grad()
for xb, yb in zip(x.chunk(4), y.chunk(4)):  # four micro-batches, each loss divided by 4
    (tiny(xb, yb)[1] / 4).backward()
accumulated = grads()
check_close(accumulated, big, "4 micro-batches (loss / 4) vs one batch of 8", atol=1e-6, rtol=1e-4)

# %%
fig, ax = plt.subplots(figsize=(5.5, 4), dpi=90)
ax.scatter(big[::40], accumulated[::40], s=4, label="loss / k: on the diagonal")
ax.scatter(big[::40], 4 * accumulated[::40], s=4, label="forgot to divide: k times too steep")
lim = big.abs().max().item()
ax.plot([-lim, lim], [-lim, lim], c="grey", lw=0.8)
ax.set(xlabel="gradient, one batch of 8", ylabel="gradient, 4 accumulated micro-batches")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 4. Gradient clipping
#
# Now and then a batch produces a gradient many times larger than usual, and one step along it
# can undo many good ones. Clipping measures the norm of the whole gradient (all weights as one
# vector) and, when it is above `grad_clip = 1.0`, scales the gradient down to that length: the
# direction is kept, only the step is shorter. With $c$ = `grad_clip`:
#
# $$g \leftarrow g \cdot \min\left(1, \frac{c}{\lVert g \rVert}\right)$$
# The norm before clipping is worth logging: a
# rising trend says the learning rate is too high. Watch it on a few steps of the tiny model at a
# deliberately high learning rate.

# %%
opt = torch.optim.AdamW(tiny.parameters(), lr=2e-2)
batches = dataset.RandomBatches(train_data, 8, 32, seed=0)
before, after = [], []
for _ in range(30):
    xb, yb = next(batches)
    tiny.zero_grad()
    tiny(xb, yb)[1].backward()
    before.append(torch.nn.utils.clip_grad_norm_(tiny.parameters(), max_norm=1.0).item())  # returns the norm before
    after.append(grads().norm().item())
    opt.step()

# %%
fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
ax.plot(before, "o-", ms=3, label="gradient norm before clipping")
ax.plot(after, "s-", ms=3, label="after clipping")
ax.axhline(1.0, ls="--", c="grey", label="grad_clip = 1.0")
ax.set(xlabel="step", ylabel="gradient norm", yscale="log")
ax.legend(fontsize=8)
plt.show()
check(max(after) <= 1.0 + 1e-4, f"after clipping no norm exceeds 1.0 (largest before: {max(before):.2f})")

# %%
g = torch.randn(1000) * 5  # a gradient of norm about 158
p = torch.nn.Parameter(torch.zeros(1000))
p.grad = g.clone()
torch.nn.utils.clip_grad_norm_([p], max_norm=1.0)
check_close(p.grad.norm(), 1.0, "clipped to length 1.0")
check_close(F.cosine_similarity(p.grad, g, dim=0), 1.0, "same direction as before")

# %% [markdown]
# ## 5. The number format, chosen by the hardware
#
# A GPU multiplies 16-bit numbers several times faster than 32-bit ones. Training runs the
# forward pass under `torch.autocast` in bfloat16 where the hardware has it while the weights stay
# float32: GPUs of compute capability 8.0 and up (A100, RTX 30xx and 40xx, H100, L4), and CPUs
# whose vector units compute in bfloat16 (AVX512-BF16 or AMX, on recent Intel and AMD
# server chips). Elsewhere bfloat16 would be emulated, slower than float32, so other CPUs (most laptops)
# and Apple's MPS train in float32. Older GPUs such as Colab's T4 only have float16, whose
# smallest numbers are far bigger than bfloat16's: small gradients would round to zero. A
# gradient scaler multiplies the loss by a large factor before backward and divides the
# gradients back before the step (skipping steps that overflowed).
#
# `torch.compile` turns the model's many small operations (norms, rotations, activations) into a
# few fused kernels. It runs on CUDA under Linux, and on CPUs where the profile asks for it (the
# `cpu` profile does: its compile of about half a minute pays back within the run). On Windows
# and MPS it is skipped; where compiling fails, training goes on without it.

# %%
tiny_grad = torch.tensor(1e-8)
check(tiny_grad.half().item() == 0.0, "a gradient of 1e-8 rounds to zero in float16")
check((tiny_grad * 65536).half().item() != 0.0, "scaled by 65,536 first, it survives")
check(tiny_grad.bfloat16().item() != 0.0, "bfloat16 keeps it (float32's range, fewer digits)")

# %%
from minigpt_helpers.profiles import pick_device

device = pick_device()
precision = hardware.choose_precision(device, config.precision)
compiled, why = hardware.choose_compile(device, config.compile)
print(f"device {hardware.describe(device)}: {precision.name} ({precision.reason}); torch.compile: {compiled} ({why})")

# %% [markdown]
# ## 6. The loop, by hand, and the package's
#
# One optimizer step: set the learning rate; draw this step's batch; for each micro-batch,
# forward, divide the loss by the number of micro-batches, backward; clip; step; clear the
# gradients. Seeding first makes the run repeatable: the same initial weights and the same
# batches. Here it is in a dozen lines, the picture at the top in code, for a few steps of a
# small model in float32 on the CPU.

# %%
small = config.replace(run="by-hand-check", model_preset="ci", context_length=32, batch_size=4, grad_accum_steps=2,
                       max_steps=8, warmup_steps=2, eval_interval=8, sample_interval=0, log_interval=1,
                       patience=None, time_budget_s=None, device="cpu", precision="fp32", compile=False,
                       tensorboard=False)
A, lr_at = small.grad_accum_steps, small.schedule()
training.seed_everything(small.seed)
net = model.GPT(small.model_config(tok.vocab_size))
opts = training.build_optimizers(net, small)  # section 1's groups: Muon and AdamW (or AdamW alone)
batches = dataset.RandomBatches(train_data, small.batch_size * A, small.context_length, seed=small.seed)

# %%
my_losses = []
for step in range(small.max_steps):
    for opt in opts:  # each group follows the schedule from its own peak
        for group in opt.param_groups:
            group["lr"] = group["peak_lr"] * lr_at(step) / small.learning_rate
    x, y = next(batches)  # every micro-batch of this step
    total = 0.0
    for xb, yb in zip(x.chunk(A), y.chunk(A)):
        loss = net(xb, yb)[1] / A
        loss.backward()
        total += loss.item()
    torch.nn.utils.clip_grad_norm_(net.parameters(), small.grad_clip)
    for opt in opts:
        opt.step()
        opt.zero_grad(set_to_none=True)
    my_losses.append(total)
print([round(v, 3) for v in my_losses])

# %% [markdown]
# The package's `training.train` runs the same step, and around it everything a real run needs:
# evaluation, checkpoints, logging, resuming, several processes. Given the same config it must
# take the same steps: the same losses, step for step.

# %%
result = training.train(small, resume=False, progress=False)
package_losses = [r["train_loss"] for r in runs.read_metrics(result.run_dir) if r["train_loss"] is not None]
check_close(package_losses, my_losses, "package's losses vs your loop's, step for step", atol=1e-5)

# %% [markdown]
# ## 7. Train, live
#
# The dashboard shows the training and validation loss, the learning rate with the gradient norm,
# and the tokens per second, updating in place; the latest sampled text appears under the plot.
# Training runs in a background thread; the next cell waits for it with `await`, which leaves the
# kernel free to handle your clicks meanwhile (a cell that blocks in plain code makes Jupyter hold
# a click until the cell ends). So **Stop** ends training after the current step and saves a
# checkpoint, even under "Run All". The kernel's interrupt button does the same, and is the way
# on kernels older than ipykernel 7, which hold the click even while a cell awaits.
# Every `eval_interval` steps the validation loss is measured on the same fixed batches,
# the best model is saved to `best/`, and a periodic checkpoint with the full training state goes
# to `step-NNNNNN/` (the last 3 are kept).
#
# To show a resume, this first session pauses by itself a third of the way through `max_steps`
# (`stop_at_step`), as if you had pressed Stop; the second session then runs to the end, or
# until the profile's time budget runs out. What to expect: the loss starts near
# ln(vocab_size) and falls fastest in the first few hundred steps; the validation loss follows the
# training loss from a little above, since the validation books are ones the model never reads.

# %% [markdown]
# **If the kernel dies mid-run** (a restart, Colab's "Restart session", a laptop that slept): the
# checkpoints on disk are safe, but running this notebook again from the top starts the run over,
# because the first session below asks for `resume=False`. To continue it instead, run the setup
# cell (the first one), then a new cell with `!python -m minigpt_helpers train`: it trains the same
# profile's run and picks it up from its latest checkpoint, and when it ends, 06 can use it.

# %% [markdown]
# Two dashed lines on the loss plot give it a scale. They are the validation loss of two
# models made by counting the training tokens: the *unigram* (how often each token occurs: no
# context at all) and the *bigram* (which token follows which: one token of context). A
# transformer passes the unigram within a few dozen steps. Passing the bigram, and staying
# clearly below it, is the sign that it reads more than the last token.

# %%
from minigpt_helpers import baselines

levels = baselines.loss_levels(train_data[:], val_data[:], tok.vocab_size)
print({name: round(value, 3) for name, value in levels.items()})

# %%
pause = config.max_steps // 3
first = Dashboard(f"{config.run}: first session", levels=levels).start(config.replace(stop_at_step=pause), resume=False)

# %%
first_result = await first.wait_async()  # Stop works while this waits
check(first_result.stop_reason == "stopped" and 0 < first_result.step <= pause,
      f"the first session stopped at step {first_result.step} with a checkpoint")

# %% [markdown]
# ## 8. Resume: the same run, continued
#
# A periodic checkpoint holds more than the weights. `training_state.pt` has the optimizer's two
# running averages for every weight, the gradient scaler, the step (which fixes the learning
# rate), the random generators and the batch sampler's position. Loaded, training continues
# exactly as if it had never stopped: the unit tests check that a run stopped at step k and resumed
# repeats the losses of an uninterrupted run bit for bit. (With a time budget the learning rate
# also follows the clock, which no two runs share.)

# %%
latest = checkpoint.find_checkpoint(config.run, which="latest")
state = checkpoint.load_training_state(latest)
print(f"{latest.name}: {sorted(p.name for p in latest.iterdir())}")
print(f"training state: {sorted(state)}; step {state['step']}; per optimizer, the state of "
      f"{[len(o['state']) for o in state['optimizers']]} weights")

# %% [markdown]
# The resumed session reads the first one's curves back from `metrics.jsonl`, so its dashboard
# shows the whole run; when it ends, the static copy below is the run from step 0 to the end.
# Pressing Stop here is fine too (a workshop short of time, say): the rest of the notebook, and
# 06 to 09 after it, then work with the model as far as it got.

# %%
second = Dashboard(f"{config.run}: resumed", levels=levels).start(config, resume=True)

# %%
final = await second.wait_async()
records = runs.read_metrics(final.run_dir)
steps = [r["step"] for r in records]
check(final.start_step == first_result.step, f"the second session started at step {final.start_step}")
check(steps == sorted(set(steps)), "metrics.jsonl holds each step once, in order, across both sessions")
if final.stop_reason == "stopped":  # you pressed Stop: the rest of the notebook uses the model as it is
    print(f"you stopped the run at step {final.step} of {config.max_steps:,}; its checkpoint is saved. The next "
          "cells use the model as it is; `!python -m minigpt_helpers train` finishes the run later.")
else:
    check(final.finished, f"the run finished: {final.stop_reason} at step {final.step} ({final.elapsed_s / 60:.1f} min of training)")

# %% [markdown]
# ## 9. How good is it? What to look at
#
# A run is judged by a few curves and numbers, each answering its own question. Look at the
# dashboard above with these in mind.
#
# - **Validation loss against the dashed lines.** Below the unigram line the model knows which
#   tokens are common; below the bigram line it uses more than the previous token. A run that
#   stays near the bigram line has learned little that counting pairs would not give.
# - **Training loss against validation loss.** The validation books are ones the model never
#   reads. While both fall together, the model is learning what carries over to new text. If
#   training keeps falling while validation flattens or rises, it is memorising its books: more
#   text or a smaller model would help, more steps would not.
# - **Gradient norm and learning rate.** A gradient norm that keeps climbing, or spikes that grow,
#   says the learning rate is too high; a loss that flattens while the rate is still near its
#   peak says the run is waiting for its decay.
# - **Bits per byte, and perplexity.** The loss $\mathcal{L}$ is in nats per token, and a token
#   is a different amount of text for every tokenizer. Bits per byte divides that out, so models
#   with different tokenizers can be compared; perplexity says how many tokens the model is, on
#   average, choosing among:
#
# $$\text{bits per byte} = \frac{\mathcal{L}}{\ln 2} \cdot \frac{\text{tokens}}{\text{bytes}},
# \qquad \text{perplexity} = e^{\mathcal{L}}$$
#
# Expect a `cpu` run to end near 1.9 bits per byte. The figure here is an estimate on fixed
# validation batches; 06_evaluation measures the whole held-out split. The checks below allow a
# wide range, since a slower laptop makes fewer steps in the same time; if you pressed Stop,
# they only say where your model stands.

# %%
def expect_between(value: float, low: float, high: float, what: str) -> None:
    """check_between for a finished run on the profile's books; for one you stopped, or on your own
    books (whose ranges nobody measured), the value and what a whole run on the profile's books reaches."""
    if final.finished and PROFILE.books_folder is None:
        check_between(value, low, high, what)
    else:
        print(f"{what}: {value:.4g} after {final.step:,} steps (a whole run on the profile's books: {low:g} to {high:g})")


expected = {"ci": (4.8, 6.0, 2.9, 3.9), "cpu": (3.5, 6.2, 1.3, 2.4), "gpu": (2.5, 5.5, 0.8, 2.1)}[PROFILE.name]
counts, nbytes = val_data.meta["counts"], val_data.meta["bytes"]
bits_per_byte = final.best_val_loss / math.log(2) * counts["val"] / nbytes["val"]
expect_between(final.best_val_loss, expected[0], expected[1], "best validation loss (nats/token)")
expect_between(bits_per_byte, expected[2], expected[3], "validation bits per byte")
print(f"perplexity {math.exp(final.best_val_loss):,.0f} (the vocabulary has {tok.vocab_size:,} tokens)")

# %% [markdown]
# **The samples.** Numbers say how much better; samples say what that means. Here are the last
# two taken while training (every `sample_interval` steps; the last one is from the finished
# model, at temperature 0.8 from the 50 likeliest tokens). Over a run, first the spelling of
# words settles, then short phrases, then sentences that run on for a while. The check after
# them counts how many sampled words are words of the books.

# %%
for s in final.samples[-2:]:
    print(f"--- step {s['step']}\n{s['text']}\n")

# %%
vocab = {w.strip(".,;:!?\"'()_").lower() for text in tokenization.clean_texts() for w in text.split()}
words = [w.strip(".,;:!?\"'()_").lower() for w in final.samples[-1]["text"].split()]
real = sum(w in vocab for w in words if w) / max(1, len(words))
expect_between(real, {"ci": 0.0, "cpu": 0.6, "gpu": 0.7}[PROFILE.name], 1.0, "share of sampled words that are English words seen in the books")

# %% [markdown]
# ## 10. Hand the run on to the next notebooks
#
# Recording this run as the stage's run writes `data/checkpoints/manifest.json`; from then on
# `checkpoint.find_checkpoint()` finds its best checkpoint, which 06 to 09 load.

# %%
runs.write_stage_manifest(PROFILE, config.run)
best = checkpoint.load_checkpoint(checkpoint.find_checkpoint())
check(best.meta["step"] == final.best_step and artifacts.staleness("checkpoints", PROFILE) is None,
      f"the stage manifest names run {config.run!r}; its best checkpoint is from step {best.meta['step']}")
print(training.sample_text(best.model, best.tokenizer, "It was", 60, seed=0))

# %% [markdown]
# ## 11. What the run leaves on disk (optional)
#
# *Optional: skip to the exercises for the core path.*
#
# The run folder is what the next notebooks read. `run.json` records the resolved config, the git
# commit of the code, the hardware and each session; `metrics.jsonl` has one line per logged step
# with the same keys every time.

# %%
for item in sorted(final.run_dir.iterdir()):
    print(f"{item.name}{'/' if item.is_dir() else ''}")
run = runs.read_run(config.run)
print(f"\ngit commit {run['git_commit']}; {run['hardware']}; sessions start at {[s['start_step'] for s in run['sessions']]}")
print(f"metrics.jsonl keys: {list(records[-1])}")

# %% [markdown]
# **TensorBoard.** When the `tensorboard` package is installed (Colab has it; locally
# `pip install 'minigpt-helpers[track]'`, which also brings Weights & Biases), every run also
# writes TensorBoard event files to its `tensorboard/` folder. Set `OPEN_TENSORBOARD = True` to
# see every run's curves inside the notebook; `wandb=True` in the config logs to W&B (offline
# unless `wandb_mode="online"`), and a resumed run continues the same W&B run.

# %%
OPEN_TENSORBOARD = False
if OPEN_TENSORBOARD:
    ipython = get_ipython()  # noqa: F821 - the notebook's own shell
    ipython.run_line_magic("load_ext", "tensorboard")
    ipython.run_line_magic("tensorboard", f"--logdir {artifacts.stage_dir('checkpoints')}")

# %% [markdown]
# ## 12. From the command line, and on several GPUs (optional)
#
# *Optional: skip to the exercises for the core path.*
#
# A long run does not need a notebook. The same loop runs from the command line, with the same
# config, and any field can be changed there:
#
# ```bash
# python -m minigpt_helpers train --profile cpu                 # this run (continues it if it was stopped)
# python -m minigpt_helpers train --profile cpu --run-name lr3e-3 --lr 3e-3 --fresh
# python -m minigpt_helpers train --profile gpu --set patience=8 --wandb   # any field; W&B offline
# torchrun --nproc_per_node=4 -m minigpt_helpers train --profile gpu    # 4 GPUs (DDP, NCCL)
# python -m minigpt_helpers train --recipe shakespeare-char     # nanoGPT's shakespeare_char, to compare
# ```
#
# On several GPUs, `torchrun` starts one process per GPU. Each process holds a whole copy of the
# model and trains on its own share of every global batch; after backward, DDP averages the
# gradients across the processes, so every copy takes the same step. That is gradient
# accumulation (section 3) spread over machines: 4 processes with a batch of 8 take the same
# steps as one with a batch of 32, which a unit test checks with 2 CPU processes.
#
# `--recipe shakespeare-char` trains the shape of nanoGPT's well-known "shakespeare_char on a
# MacBook" run (4 layers, 128 wide, context 64) on TinyShakespeare, with this course's modern
# block and AdamW alone (at this size Muon's step costs more time than it saves). A known
# reference is how you tell whether your own training code is any good: benchmarks/README.md
# has the comparison.
#
# Whatever starts the run, the config is the same: check that the command line resolves exactly
# the config this notebook trained.

# %%
from contextlib import redirect_stdout
from io import StringIO
import json

from minigpt_helpers import cli

out = StringIO()
with redirect_stdout(out):
    cli.main(["train", "--profile", PROFILE.name, "--print-config"])
check(json.loads(out.getvalue()) == config.to_dict(), "the command line resolves the same config as this notebook")

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell for your answer and a check. Until you fill it in, the check says
# "not attempted yet" and the notebook goes on.
#
# ### Exercise 1: one AdamW step, by hand
#
# Write `adamw_step(w, g, m, v, t, lr, beta1, beta2, eps, weight_decay)`: one AdamW step for
# the weights `w` with gradient `g`, running averages `m` and `v`, at step `t` (counting from
# 1), following the equations of section 1. It returns the new `(w, m, v)`. Checked against
# `torch.optim.AdamW` over three steps, with a learning rate large enough that a missing bias
# correction or weight decay shows.

# %%
adamw_step = None  # your answer: a function (w, g, m, v, t, lr, beta1, beta2, eps, weight_decay) -> (w, m, v)


def test_adamw(fn):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, generator=gen)
    theirs = torch.nn.Parameter(w.clone())
    opt = torch.optim.AdamW([theirs], lr=0.1, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    for t in range(1, 4):
        g = torch.randn(4, 3, generator=gen)
        w, m, v = fn(w, g, m, v, t, lr=0.1, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)
        theirs.grad = g.clone()
        opt.step()
    check_close(w, theirs.detach(), "your AdamW vs torch.optim.AdamW after 3 steps", atol=1e-5)


exercise("one AdamW step", adamw_step, test_adamw)

# %% [markdown]
# *Solution:* [solutions/05_training.ipynb](../solutions/05_training.ipynb), exercise 1.
#
# ### Exercise 2: warmup-stable-decay
#
# Write `wsd_lr(step, peak, warmup, stable_fraction, total)`: linear warmup as in section 2, then
# the peak held for `stable_fraction` of the steps after warmup (rounded to whole steps), then a
# straight line down to 0.1 x peak at `total`, and the floor after it. Checked against
# `schedule.LRSchedule(..., plateau_fraction=stable_fraction, decay="linear")`.

# %%
wsd_lr = None  # your answer: a function (step, peak, warmup, stable_fraction, total) -> learning rate


def test_wsd(fn):
    for peak, warmup, frac, total in [(1e-3, 10, 0.3, 100), (6e-4, 0, 0.5, 40), (3e-3, 5, 0.0, 50)]:
        ref = schedule.LRSchedule(peak, total, warmup, 0.1, frac, decay="linear")
        check_close([fn(s, peak, warmup, frac, total) for s in range(total + 5)], ref.values(total + 5),
                    f"peak {peak}, warmup {warmup}, stable {frac}, {total} steps")


exercise("warmup-stable-decay", wsd_lr, test_wsd)

# %% [markdown]
# *Solution:* [solutions/05_training.ipynb](../solutions/05_training.ipynb), exercise 2.
#
# ### Exercise 3: find the best step in the metrics file
#
# 06_evaluation draws its curves from `metrics.jsonl`. Write `best_step(records)`: the step with the
# lowest validation loss (records without one have `val_loss` None). Checked against the step of
# the checkpoint in `best/`.

# %%
best_step = None  # your answer: a function (records) -> step


def test_best_step(fn):
    made_up = [{"step": 10, "val_loss": None}, {"step": 20, "val_loss": 3.2}, {"step": 30, "val_loss": 2.9},
               {"step": 40, "val_loss": None}, {"step": 50, "val_loss": 3.0}]
    check(fn(made_up) == 30, "made-up records: the best is step 30, neither the first nor the last")
    check(fn(records) == best.meta["step"], f"this run: best step {best.meta['step']}, as recorded in best/config.json")


exercise("find the best step", best_step, test_best_step)

# %% [markdown]
# *Solution:* [solutions/05_training.ipynb](../solutions/05_training.ipynb), exercise 3.
#
# ## Summary
#
# - One training step: a batch, forward, the cross-entropy loss, backward, clipping (the
#   gradient scaled down to norm 1.0, its direction kept), the optimizer step, and the learning
#   rate of the next step, which warms up and then follows a cosine to 0.1 × the peak.
# - Muon moves each of the blocks' matrices with every singular value evened out (momentum,
#   orthogonalised by Newton–Schulz); AdamW moves the token table and the head, each number by
#   about one learning rate, with bias-corrected running averages and decoupled weight decay.
# - Gradient accumulation divides each micro-batch's loss by their number, so k micro-batches
#   make exactly one big batch; DDP does the same across GPUs.
# - The hardware picks the number format (bfloat16 where it computes in it, float16 with a
#   gradient scaler on older GPUs, float32 elsewhere), and your loop and the package's take
#   the same steps.
# - A run folder holds the best checkpoint and periodic ones with the full training state, so a
#   resumed run continues exactly; judge a run by validation loss against the baselines, the
#   gap to the training loss, bits per byte, and its samples.
#
# **Next:** 06_evaluation picks up the best checkpoint (`checkpoint.find_checkpoint()`) and
# measures loss, perplexity and bits per byte on the whole held-out split, against the bigram
# baseline you build there.
