"""Helpers only the notebooks use: tables, plots, timings and extra batchers that a lesson shows
but the pipeline never runs. The pipeline's own code is in the stage modules.

- 01: ``short_title`` (a book's title on a plot's axis; 03 uses it too).
- 03: ``WindowDataset`` / ``make_loader`` (fixed windows through a DataLoader), ``EpochBatches``
  (every window once per epoch), ``ngram_overlap`` (leakage between splits).
- 04: ``preset_table``, ``memory_table`` and ``activation_bytes`` (what fits where), ``plot_attention``,
  ``prose_sentence`` (a real sentence to draw attention over).
- 05's solutions: ``run_lesson`` (re-runs a lesson that awaits, which ``%run`` cannot).
- 07: ``compare_cache_speed`` and ``time_decode_parts`` (what the KV cache saves, and why not more),
  ``plot_nucleus`` (where top-p's nucleus ends).
"""

from __future__ import annotations

import ast
import inspect
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .dataset import check_length, windows
from .generation import SamplingConfig, default_slide, stream
from .hardware import model_device, synchronize
from .model import PRESETS, GPTConfig, count_parameters
from .tokenization import Tokenizer

# --------------------------------------------------------------------------- 03: batches


class WindowDataset(torch.utils.data.Dataset):
    """Fixed windows: item ``i`` is the (x, y) pair starting at ``i * stride``, for a DataLoader.

    ``stride`` < ``context_length`` gives overlapping windows (more, correlated, examples per
    epoch); the default ``stride = context_length`` tiles the tokens without overlap.
    """

    def __init__(self, data: Any, context_length: int, stride: int | None = None) -> None:
        n = check_length(data, context_length)
        self.stride = int(stride or context_length)
        if self.stride < 1:
            raise ValueError(f"stride={stride}: use at least 1 (context_length={context_length} tiles without overlap)")
        self.data, self.context_length = data, context_length
        self.num_windows = (n - context_length - 1) // self.stride + 1

    def __len__(self) -> int:
        return self.num_windows

    def start(self, index: int) -> int:
        if not 0 <= index < self.num_windows:
            raise IndexError(f"window {index} out of range (0..{self.num_windows - 1})")
        return index * self.stride

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = windows(self.data, [self.start(index)], self.context_length)
        return x[0], y[0]


def make_loader(
    data: Any,
    batch_size: int,
    context_length: int,
    *,
    stride: int | None = None,
    seed: int = 0,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
) -> torch.utils.data.DataLoader:
    """A shuffled torch DataLoader over fixed windows (pinned memory when training on CUDA)."""
    return torch.utils.data.DataLoader(
        WindowDataset(data, context_length, stride),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=torch.device(device).type == "cuda",
    )


class EpochBatches:
    """Every fixed window once per epoch, in an order shuffled with (seed, epoch); resumable.

    Iterates forever (epoch after epoch); ``epoch`` and ``position`` say where it is. The last
    incomplete batch of an epoch is dropped so every batch has the same shape.
    """

    def __init__(
        self,
        data: Any,
        batch_size: int,
        context_length: int,
        *,
        stride: int | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        self.dataset = WindowDataset(data, context_length, stride)
        if len(self.dataset) < batch_size:
            raise ValueError(
                f"{len(self.dataset)} windows of context_length={context_length} with stride "
                f"{self.dataset.stride} are fewer than batch_size={batch_size}; use a smaller batch_size, "
                "a smaller stride or a smaller context_length"
            )
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.epoch, self.position = 0, 0
        self._order: torch.Tensor | None = None

    @property
    def batches_per_epoch(self) -> int:
        return len(self.dataset) // self.batch_size

    def order(self, epoch: int) -> torch.Tensor:
        """The window indices of ``epoch``, a permutation fixed by (seed, epoch)."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.dataset), generator=g)

    def __iter__(self) -> EpochBatches:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position, self._order = self.epoch + 1, 0, None
        if self._order is None:
            self._order = self.order(self.epoch)
        picked = self._order[self.position * self.batch_size:(self.position + 1) * self.batch_size]
        self.position += 1
        starts = (picked * self.dataset.stride).tolist()
        return windows(self.dataset.data, starts, self.dataset.context_length, self.device)

    def state_dict(self) -> dict[str, Any]:
        """Plain ints: the epoch, the batch within it, and what fixes the order."""
        return {"kind": "epoch", "seed": self.seed, "epoch": self.epoch, "position": self.position,
                "batch_size": self.batch_size, "context_length": self.dataset.context_length,
                "stride": self.dataset.stride, "num_windows": len(self.dataset)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "epoch":
            raise ValueError(f"this state is from a {state.get('kind')!r} sampler, not EpochBatches")
        mine = self.state_dict()
        differ = [f"{k}={state[k]} (now {mine[k]})" for k in ("batch_size", "context_length", "stride", "num_windows") if int(state[k]) != mine[k]]
        if differ:
            raise ValueError(
                "the saved data position does not fit this sampler: " + ", ".join(differ)
                + "; resume with the same token files, batch_size, context_length and stride"
            )
        self.seed, self.epoch, self.position, self._order = int(state["seed"]), int(state["epoch"]), int(state["position"]), None


def ngram_overlap(held_out: Any, seen: Any, n: int = 16) -> float:
    """Share of the ``n``-token sequences of ``held_out`` that occur verbatim in ``seen``.

    A fair validation set scores low: what a model memorised from ``seen`` cannot help it.
    """
    def hashes(ids: Any) -> np.ndarray:
        a = np.asarray(ids, dtype=np.uint64)
        if a.size < n:
            return np.zeros(0, dtype=np.uint64)
        h = np.zeros(a.size - n + 1, dtype=np.uint64)
        for k in range(n):  # polynomial rolling hash, wrapping mod 2**64
            h = h * np.uint64(1_000_003) + a[k:k + h.size] + np.uint64(1)
        return h

    mine = hashes(held_out)
    if mine.size == 0:
        raise ValueError(f"held_out has fewer than n={n} tokens")
    return float(np.isin(mine, hashes(seen)).mean())


# --------------------------------------------------------------------------- 04: presets, memory and attention

GiB = 1024**3

#: Memory a training run may use on each machine (GiB), after the CUDA context, the OS and
#: other programs: an 8 GB card shows ~7.6 GiB; a Colab T4 shows ~14.7 GiB; a 16 GB laptop
#: keeps about half for the OS, a browser and the notebook.
MACHINES: dict[str, float] = {"8 GB GPU": 7.0, "Colab T4 (16 GB)": 14.0, "laptop (16 GB RAM)": 8.0}


#: Where each preset comes from, and the total its source states (None: none stated).
PRESET_SOURCES: dict[str, tuple[str, float | None]] = {
    "ultra-mini": ("course plan", 40e6), "mini-gpt2": ("GPT-2 small", 124e6), "tinystories": ("course plan", None),
    "wikitext": ("course plan", 46e6), "shakespeare-char": ("nanoGPT", 0.80e6), "ci": ("profile ci", None),
    "cpu": ("profile cpu", None),
}


def preset_table(names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per preset: shape, parameter breakdown (millions) and the source's stated total."""
    rows = []
    for name in names or PRESETS:
        (source, stated), c = PRESET_SOURCES[name], PRESETS[name]
        parts = count_parameters(c)
        total = sum(parts.values())
        rows.append({
            "preset": name,
            "source": source,
            "layers x width / heads": f"{c.n_layer} x {c.n_embd} / {c.n_head}",
            "context": c.context_length,
            "vocab": c.vocab_size,
            "token emb (M)": round(parts["token embeddings"] / 1e6, 2),
            "position emb (M)": round(parts["position embeddings"] / 1e6, 2),
            "blocks (M)": round(parts["transformer blocks"] / 1e6, 2),
            "head (M)": "tied" if c.tie_weights else round(parts["output head"] / 1e6, 2),
            "total (M)": round(total / 1e6, 2),
            "source says (M)": None if stated is None else round(stated / 1e6, 2),
        })
    return rows


def activation_bytes(
    config: GPTConfig, batch_size: int, context_length: int | None = None, *,
    bytes_per_value: int = 4, flash: bool = True,
) -> int:
    """Estimate what backward keeps from one forward, in bytes.

    Per layer and token 8*C + 2*hidden values (norm inputs and outputs, q/k/v, attention output,
    MLP input and GELU in and out); the attention matrices too unless ``flash``; 1-byte masks per
    dropout; the final norm; the head's log-softmax (vocab_size float32 values per token). With
    ``activation_checkpointing`` only each block's input is kept, plus one block recomputed.
    """
    c = config
    T = c.context_length if context_length is None else context_length
    tokens = batch_size * T
    per_layer = tokens * (8 * c.n_embd + 2 * c.hidden_dim) * bytes_per_value
    if c.dropout > 0:  # masks of the two residual dropouts
        per_layer += tokens * 2 * c.n_embd
    if not flash:  # softmax output, plus its dropout mask and the dropped copy
        scores = batch_size * c.n_head * T * T
        per_layer += scores * (2 * bytes_per_value + 1 if c.dropout > 0 else bytes_per_value)
    if c.activation_checkpointing:
        layers = c.n_layer * tokens * c.n_embd * bytes_per_value + per_layer
    else:
        layers = c.n_layer * per_layer
    embedding_dropout = tokens * c.n_embd if c.dropout > 0 else 0
    final_norm = 2 * tokens * c.n_embd * bytes_per_value
    head = tokens * c.vocab_size * 4
    return layers + embedding_dropout + final_norm + head


def saved_activation_bytes(model: nn.Module, idx: torch.Tensor, targets: torch.Tensor) -> int:
    """Measure what autograd keeps for backward from one forward (weights not counted)."""
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            seen.setdefault(storage.data_ptr(), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(idx, targets)
    return sum(seen.values())


def memory_row(
    config: GPTConfig, batch_size: int, *, name: str = "", context_length: int | None = None,
    bytes_per_value: int = 4, flash: bool = True, machines: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Training memory for one config (float32 weights, AdamW) in GiB, FLOPs per token, and fits."""
    n = sum(count_parameters(config).values())
    T = config.context_length if context_length is None else context_length
    weights, grads, adam = 4 * n, 4 * n, 8 * n  # float32 weights and gradients; AdamW: 2 moments
    acts = activation_bytes(config, batch_size, T, bytes_per_value=bytes_per_value, flash=flash)
    total = weights + grads + adam + acts
    row: dict[str, Any] = {
        "preset": name,
        "params (M)": round(n / 1e6, 2),
        "batch x context": f"{batch_size} x {T}",
        "weights (GiB)": round(weights / GiB, 3),
        "grads (GiB)": round(grads / GiB, 3),
        "AdamW (GiB)": round(adam / GiB, 3),
        "activations (GiB)": round(acts / GiB, 3),
        "total (GiB)": round(total / GiB, 3),
        "train MFLOP/token (6N)": round(6 * n / 1e6, 1),
        "+ attention MFLOP/token": round(6 * config.n_layer * T * config.n_embd / 1e6, 1),
    }
    for machine, capacity in (machines or MACHINES).items():
        row[f"fits {machine}"] = "yes" if total <= capacity * GiB else "no"
    return row


def memory_table(
    names: Iterable[str] | None = None, batch_size: int = 16, **kwargs: Any
) -> list[dict[str, Any]]:
    """``memory_row`` for every preset (or ``names``) at ``batch_size`` and its own context."""
    return [memory_row(PRESETS[name], batch_size, name=name, **kwargs) for name in (names or PRESETS)]


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of dicts as a Markdown table (for ``IPython.display.Markdown`` or a terminal)."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [_cell(row.get(k)) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def plot_attention(weights: torch.Tensor, labels: Sequence[str] | None = None, ax: Any = None, title: str = "") -> Any:
    """Heatmap of one (T, T_keys) attention matrix: rows are queries, columns the keys they read.

    Weights that are exactly 0 (the positions the causal mask hides) are drawn light grey, so
    they do not look like the small weights of positions that could be read."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4), dpi=90)
    w = weights.detach().float().cpu()
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("#e8e8e8")
    ax.imshow(np.ma.masked_where(w.numpy() == 0.0, w.numpy()), cmap=cmap, vmin=0.0)
    if labels is not None:
        ax.set_xticks(range(w.size(1)), labels[-w.size(1):], rotation=90, fontsize=7)
        ax.set_yticks(range(w.size(0)), labels[-w.size(0):], fontsize=7)
    ax.set_xlabel("key (what is read)")
    ax.set_ylabel("query (who reads)")
    ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- 07: the KV cache's speed


def time_generation(
    model: torch.nn.Module, prompt_ids: Sequence[int], new_tokens: int, *, use_cache: bool, seed: int = 0
) -> dict[str, Any]:
    """Greedy-generate exactly ``new_tokens`` tokens and time each one; returns tokens/s and per-token times."""
    config = SamplingConfig(temperature=0.0, max_new_tokens=new_tokens, seed=seed)
    sync = synchronize(model_device(model))  # CUDA and MPS run behind Python: wait before reading the clock
    sync()
    times, tokens = [], []
    t0 = time.perf_counter()
    for event in stream(model, prompt_ids, config, use_cache=use_cache):
        if event.token_id is not None:
            times.append(time.perf_counter() - t0)
            tokens.append(event.token_id)
    sync()
    seconds = time.perf_counter() - t0
    return {"use_cache": use_cache, "new_tokens": len(tokens), "seconds": seconds,
            "tokens_per_s": len(tokens) / seconds, "times": times, "tokens": tokens}


def compare_cache_speed(
    model: torch.nn.Module, prompt_ids: Sequence[int], new_tokens: int, *, repeats: int = 2
) -> dict[bool, dict[str, Any]]:
    """``time_generation`` with and without the cache, the best of ``repeats`` runs of each.

    The runs alternate (with, without, with, ...) after an untimed warm-up, so a moment when the
    machine is busy slows one run, not one path. Keys: True (with the cache) and False.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats}: time each path at least once (repeats=1)")
    time_generation(model, prompt_ids, min(8, new_tokens), use_cache=True)  # warm up (first-call costs)
    best: dict[bool, dict[str, Any]] = {}
    for _ in range(repeats):
        for use_cache in (True, False):
            run = time_generation(model, prompt_ids, new_tokens, use_cache=use_cache)
            if use_cache not in best or run["tokens_per_s"] > best[use_cache]["tokens_per_s"]:
                best[use_cache] = run
    return best


def _best_ms(fn: Any, repeats: int, inner: int, sync: Any) -> float:
    """Best-of-``repeats`` mean time of ``fn()`` over ``inner`` calls, in milliseconds."""
    fn()  # warm up
    best = float("inf")
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()  # a GPU runs behind Python: wait for it before reading the clock
        best = min(best, (time.perf_counter() - t0) / inner * 1e3)
    return best


def count_ops(fn: Any) -> int:
    """How many tensor operations (ATen calls, views included) ``fn()`` runs."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Counter(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            Counter.n += 1
            return func(*args, **(kwargs or {}))

    with Counter():
        fn()
    return Counter.n


@torch.inference_mode()
def time_decode_parts(model: torch.nn.Module, *, slide: int | None = None, repeats: int = 3) -> dict[str, float]:
    """Where a generation step's time goes, in milliseconds (best of ``repeats``).

    ``one_token_ms``: one new position with the cache; ``window_ms``: the uncached path's average
    window past the context (``window`` tokens); ``read_weights_ms``: reading every weight once
    (``weights_mb``). A one-token step must read every weight, so ``window_ms / read_weights_ms``
    bounds what the cache can gain. ``products_ms``: the step's ``products`` weight-matrix times
    vector products alone (every Linear and the output head, on one position), the arithmetic that
    reads the weights; ``ops`` counts all the tensor operations of a one-token step.
    """
    c = model.config
    slide = slide or default_slide(c.context_length)
    window = c.context_length - slide // 2  # past the context it holds context - slide + 1 to context tokens
    ids = torch.randint(0, c.vocab_size, (1, window), generator=torch.Generator().manual_seed(2))
    ids = ids.to(model_device(model))
    cache = model.new_kv_cache(1)
    model(ids[:, :-1], kv_cache=cache, last_only=True)

    def one_token() -> None:
        model(ids[:, -1:], kv_cache=cache, last_only=True)
        cache.length -= 1  # the same position again next time

    params = list(model.parameters())
    device, dtype = model_device(model), params[0].dtype
    matrices = [(m.weight, m.bias) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if model.lm_head is None:  # a tied head is the token table, not a Linear
        matrices.append((model.transformer.wte.weight, None))
    vectors = [torch.randn(1, 1, w.size(1), device=device, dtype=dtype) for w, _ in matrices]

    def products() -> None:
        for (w, b), x in zip(matrices, vectors):
            F.linear(x, w, b)

    sync = synchronize(device)  # CUDA and MPS run behind Python: wait before reading the clock
    return {
        "one_token_ms": _best_ms(one_token, repeats, 20, sync),
        "window_ms": _best_ms(lambda: model(ids, last_only=True), repeats, 5, sync),
        "window": window,
        "read_weights_ms": _best_ms(lambda: [p.sum() for p in params], repeats, 20, sync),
        "weights_mb": sum(p.numel() * p.element_size() for p in params) / 1e6,
        "products_ms": _best_ms(products, repeats, 20, sync),
        "products": len(matrices),
        "ops": count_ops(one_token),
    }


# --------------------------------------------------------------------------- 02: how well a tokenizer compresses


@dataclass(frozen=True)
class TokenStats:
    """How well (and how fast) a tokenizer compresses some text."""

    name: str
    vocab_size: int
    texts: int
    bytes: int
    words: int  # whitespace-separated
    tokens: int
    seconds: float

    @property
    def bytes_per_token(self) -> float:
        return self.bytes / max(self.tokens, 1)

    @property
    def tokens_per_word(self) -> float:
        return self.tokens / max(self.words, 1)

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / max(self.seconds, 1e-9)

    def __str__(self) -> str:
        return (
            f"{self.name:>10}: {self.tokens:>11,} tokens, {self.bytes_per_token:5.2f} bytes/token, "
            f"{self.tokens_per_word:5.2f} tokens/word, {self.mb_per_s:6.1f} MB/s"
        )


def measure(tok: Tokenizer, texts: Sequence[str], num_threads: int | None = None) -> tuple[TokenStats, list[list[int]]]:
    """Encode ``texts`` with ``encode_batch`` and time it; returns the stats and the ids."""
    start = time.perf_counter()
    ids = tok.encode_batch(texts, num_threads=num_threads)
    seconds = time.perf_counter() - start
    stats = TokenStats(
        name=tok.name,
        vocab_size=tok.vocab_size,
        texts=len(texts),
        bytes=sum(len(t.encode("utf-8")) for t in texts),
        words=sum(len(t.split()) for t in texts),
        tokens=sum(len(x) for x in ids),
        seconds=seconds,
    )
    return stats, ids


# --------------------------------------------------------------------------- 01: book titles on a plot's axis


def short_title(title: str, width: int = 32) -> str:
    """A book's title short enough for a plot's axis: no subtitle after ";" or ":", cut at a word."""
    title = title.split(";")[0].split(":")[0].strip() or title.strip()
    if len(title) <= width:
        return title
    cut = title[: width - 1].rsplit(" ", 1)[0].rstrip(",.-")
    return (cut or title[: width - 1]) + "…"


# --------------------------------------------------------------------------- 07: top-p as a picture


def plot_nucleus(probs: torch.Tensor, p: float, label: Any = str, top: int = 50, title: str = "") -> Any:
    """Top-p drawn: the ``top`` likeliest tokens (log scale; blue inside the nucleus) with the running
    sum of their probabilities, and that running sum over the whole vocabulary with the rank where
    it reaches ``p``. ``label(token_id)`` names a bar. Returns the figure."""
    import matplotlib.pyplot as plt  # deferred: plotting only

    sorted_p, order = probs.detach().double().cpu().sort(descending=True)
    running = sorted_p.cumsum(0).numpy()
    n_keep = int((running < p).sum()) + 1  # the shortest prefix whose sum reaches p
    top = min(top, len(sorted_p))
    ranks = np.arange(1, top + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4), dpi=90, gridspec_kw={"width_ratios": [3, 2]})
    left.bar(ranks, sorted_p[:top].numpy(), color=["C0" if r <= n_keep else "lightgrey" for r in ranks])
    left.set_yscale("log")
    left.set_xticks(ranks, [label(int(i)) for i in order[:top]], rotation=90, fontsize=7)
    left.set_ylabel("probability (log scale)")
    twin = left.twinx()
    twin.plot(ranks, running[:top], color="C1", marker=".", ms=3)
    twin.axhline(p, color="C1", ls="--", lw=0.8)
    twin.set_ylim(0, 1.02)
    twin.set_ylabel(f"running sum (dashed: p = {p})", color="C1")
    if n_keep < top:
        left.axvline(n_keep + 0.5, color="k", ls=":", lw=1)
    where = f"the nucleus ends at rank {n_keep}" if n_keep <= top else f"all {top} inside the nucleus"
    left.set_title(f"the {top} likeliest tokens: {where}", fontsize=10)
    all_ranks = np.arange(1, len(running) + 1)
    right.plot(all_ranks, running, color="C1")
    right.fill_between(all_ranks[:n_keep], 0, running[:n_keep], color="C0", alpha=0.25, label="the nucleus")
    right.axhline(p, color="C1", ls="--", lw=0.8)
    right.axvline(n_keep, color="k", ls=":", lw=1)
    right.set(xscale="log", ylim=(0, 1.02), xlabel="rank of the token (log scale)", ylabel="running sum",
              title=f"p = {p}: {n_keep:,} of {len(running):,} tokens kept")
    right.title.set_fontsize(10)
    right.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- 04 and 05: prose to look at, lessons re-run by their solutions


def prose_sentence(texts: Iterable[str], min_words: int = 8, max_words: int = 12, skip_chars: int = 10_000) -> str:
    """The first plain sentence of ``min_words`` to ``max_words`` words (letters and simple punctuation
    only), read past each book's first ``skip_chars`` characters (its title page and contents)."""
    for text in texts:
        for piece in re.split(r"(?<=[.!?])\s+", text[skip_chars:]):
            sentence = " ".join(piece.split())
            if min_words <= len(sentence.split()) <= max_words and re.fullmatch(r"[A-Z][A-Za-z ,;'’]+[.!?]", sentence):
                return sentence
    raise ValueError(f"no sentence of {min_words} to {max_words} plain words in these texts; lower min_words")


async def run_lesson(path: str | Path, namespace: dict[str, Any]) -> None:
    """Run a lesson's py:percent file in ``namespace`` (a solutions notebook's globals), awaiting where
    the lesson awaits: ``%run`` cannot, and 05 awaits its training runs so that its Stop button works."""
    source = Path(path).read_text(encoding="utf-8")
    code = compile(source, str(path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # a coroutine when the lesson awaits somewhere, else None
    if inspect.iscoroutine(result):
        await result
