"""Baselines that give a model's loss a scale: uniform, unigram, bigram, and an untrained GPT.

Each is scored on exactly the tokens the model was scored on (each held-out document after an
end-of-text id, the same share under a cap), so bits per byte share the model's denominators.
The bigram's interpolation weight is chosen on the last tenth of the training split, never on
validation; an untrained GPT should score close to ln(vocab_size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .evaluation import score_tokens, summarize
from .model import GPT

LAMBDAS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def uniform_nll(n_tokens: int, vocab_size: int) -> float:
    """Total NLL (nats) of ``n_tokens`` under the uniform model: n ln(vocab_size)."""
    return n_tokens * math.log(vocab_size)


def _prev_next(docs: Sequence[np.ndarray], eot_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(previous, next) pairs of every document token, the first one after an end-of-text id."""
    pieces = [a for a in (np.asarray(ids, dtype=np.int64) for ids in docs) if a.size]
    if not pieces:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate([np.concatenate([[eot_id], a[:-1]]) for a in pieces]), np.concatenate(pieces)


class UnigramModel:
    """p(token) = (count + alpha) / (N + alpha V): frequencies of the training tokens."""

    def __init__(self, train_ids: Any, vocab_size: int, alpha: float = 1.0) -> None:
        counts = np.bincount(np.asarray(train_ids, dtype=np.int64), minlength=vocab_size).astype(np.float64)
        self.vocab_size = vocab_size
        self.log_probs = np.log(counts + alpha) - np.log(counts.sum() + alpha * vocab_size)

    def nll(self, targets: np.ndarray) -> np.ndarray:
        """-ln p(target) for each target."""
        return -self.log_probs[targets]


class BigramModel:
    """p(b | a) = lam c(a, b) / c(a) + (1 - lam) p_unigram(b), from training-split counts (the
    unigram alone after a token never seen in training)."""

    def __init__(self, train_ids: Any, vocab_size: int, lam: float | None = None) -> None:
        ids = np.asarray(train_ids, dtype=np.int64)
        if ids.size < 2:
            raise ValueError("a bigram model needs at least two training tokens")
        self.vocab_size = vocab_size
        if lam is None:  # pick the weight on the last tenth of the training tokens
            cut = int(ids.size * 0.9)
            held = BigramModel(ids[:cut], vocab_size, lam=0.5)
            scores = {c: held.nll(ids[cut:-1], ids[cut + 1:], c).mean() for c in LAMBDAS}
            lam = min(scores, key=scores.get)
        self.lam = float(lam)
        self.unigram = UnigramModel(ids, vocab_size)
        keys = ids[:-1] * vocab_size + ids[1:]
        self.keys, self.pair_counts = np.unique(keys, return_counts=True)
        self.context_counts = np.bincount(ids[:-1], minlength=vocab_size)

    def nll(self, prev: np.ndarray, nxt: np.ndarray, lam: float | None = None) -> np.ndarray:
        """-ln p(next | previous) for each pair (with weight ``lam``, default the chosen one)."""
        prev, nxt = np.asarray(prev, np.int64), np.asarray(nxt, np.int64)
        lam = self.lam if lam is None else lam
        q = prev * self.vocab_size + nxt
        pos = np.clip(np.searchsorted(self.keys, q), 0, len(self.keys) - 1)
        pair = np.where(self.keys[pos] == q, self.pair_counts[pos], 0).astype(np.float64)
        ctx = self.context_counts[prev].astype(np.float64)
        cond = np.divide(pair, ctx, out=np.zeros_like(pair), where=ctx > 0)
        weight = np.where(ctx > 0, lam, 0.0)  # a context never seen in training: the unigram alone
        return -np.log(weight * cond + (1 - weight) * np.exp(self.unigram.log_probs[nxt]))


def loss_levels(train_ids: Any, val_ids: Any, vocab_size: int) -> dict[str, float]:
    """The validation loss (nats per token) of the unigram and bigram counts: the levels a training
    curve should pass, first the one that ignores context, then the one that reads one token back."""
    train, val = np.asarray(train_ids, np.int64), np.asarray(val_ids, np.int64)
    return {"unigram": float(UnigramModel(train, vocab_size).nll(val[1:]).mean()),
            "bigram": float(BigramModel(train, vocab_size).nll(val[:-1], val[1:]).mean())}


@torch.inference_mode()
def untrained_nll(model_config: Any, ids: np.ndarray, eot_id: int, seed: int = 0) -> tuple[float, int]:
    """Total NLL and token count of ``ids`` (after an end-of-text id) under a freshly initialised GPT."""
    torch.manual_seed(seed)
    model = GPT(model_config.replace(dropout=0.0, activation_checkpointing=False))
    scores = score_tokens(model, np.concatenate([[eot_id], np.asarray(ids, np.int64)]), progress=False)
    return scores.total, len(ids)


def evaluate_baselines(train_data: Any, docs: Sequence[dict[str, Any]], scored: Sequence[dict[str, Any]],
                       tokenizer: Any, *, model_config: Any = None, untrained_tokens: int = 4096) -> dict[str, Any]:
    """Uniform, unigram and bigram on the same tokens the model scored (``scored[i]["tokens"]`` of
    ``docs[i]["ids"]``), and an untrained GPT on the first ``untrained_tokens`` of them:
    ``{name: {nll_nats, tokens, bytes, loss, perplexity, bits_per_byte, ...}}``."""
    V, eot = tokenizer.vocab_size, tokenizer.eot_id
    pieces = [np.asarray(d["ids"][:s["tokens"]], dtype=np.int64) for d, s in zip(docs, scored)]
    n_tokens, n_bytes = sum(s["tokens"] for s in scored), sum(s["bytes"] for s in scored)
    train_ids = np.asarray(train_data[:], dtype=np.int64)
    prev, nxt = _prev_next(pieces, eot)
    unigram, bigram = UnigramModel(train_ids, V), BigramModel(train_ids, V)
    out = {
        "uniform": {**summarize(uniform_nll(n_tokens, V), n_tokens, n_bytes), "what": "every token 1 / vocab_size"},
        "unigram": {**summarize(float(unigram.nll(nxt).sum()), n_tokens, n_bytes),
                    "what": "training-split token frequencies, add-one smoothed"},
        "bigram": {**summarize(float(bigram.nll(prev, nxt).sum()), n_tokens, n_bytes),
                   "what": f"training-split pair counts, interpolated with the unigram (weight {bigram.lam})",
                   "weight": bigram.lam},
    }
    if model_config is not None:
        first = np.concatenate(pieces)[:untrained_tokens]
        nll, n = untrained_nll(model_config, first, eot)
        first_bytes = int(np.asarray([len(tokenizer.token_bytes(int(i))) for i in first]).sum())
        out["untrained_model"] = {**summarize(nll, n, first_bytes), "ln_vocab": math.log(V),
                                  "what": f"a freshly initialised GPT of the same shape, first {n:,} scored tokens"}
    return out
