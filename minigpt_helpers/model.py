"""The model: a decoder-only transformer (GPT) in two architectures, and its presets.

``GPTConfig`` says how big the model is; ``GPT(config)`` is the network, laid out like GPT-2 and
nanoGPT (``transformer.wte``, ``transformer.h.<i>.{ln_1,attn,ln_2,mlp}``, ``transformer.ln_f``,
``lm_head`` when the head is untied), so GPT-2's block maps name for name onto GPT-2's weights.
``forward(idx, targets=None, *, kv_cache=None, return_attention=False)`` returns
``(logits, loss)``; attention runs through ``F.scaled_dot_product_attention``. A ``KVCache``
(``new_kv_cache``) lets each new token attend to everything cached. ``preset(name)`` gives the
named models' configs; ``count_parameters(config)`` counts weights without building them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

INIT_SCHEMES = ("gpt2", "xavier", "normal", "modern")
POSITIONS = ("learned", "rotary")
NORMS = ("layernorm", "rmsnorm")
MLPS = ("gelu", "relu2", "swiglu")

#: The two named architectures: GPT-2's block, and a modern one (as in nanochat, modded-nanogpt,
#: Llama and Qwen3). ``preset(name, arch="modern")`` or ``config.replace(**ARCHITECTURES[...])``.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "gpt2": dict(position="learned", norm="layernorm", mlp="gelu", bias=True, tie_weights=True, init="gpt2"),
    "modern": dict(position="rotary", norm="rmsnorm", mlp="relu2", bias=False, tie_weights=False, init="modern"),
}


# --------------------------------------------------------------------------- config


@dataclass
class GPTConfig:
    """How big the model is. Validated on creation: every problem is named with its fix."""

    vocab_size: int = 50257  # must equal the tokenizer's vocabulary size
    context_length: int = 128  # rows of the position table: the longest input it reads
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256  # width of the residual stream; n_embd // n_head per head
    ffn_hidden: int | None = None  # width inside the MLP; None means 4 * n_embd
    dropout: float = 0.0
    bias: bool = True  # biases in Linear layers and LayerNorms (GPT-2 has them)
    tie_weights: bool = True  # the output head reuses the token embedding table
    # "gpt2": normal(init_std), residual projections scaled; "xavier"; "normal"; "modern": output
    # projections zero, the head near zero, embeddings normal(1), other matrices 1/sqrt(fan-in)
    init: str = "gpt2"
    init_std: float = 0.02
    position: str = "learned"  # "learned": a table of positions (GPT-2); "rotary": q and k rotated
    norm: str = "layernorm"  # "layernorm" (GPT-2) or "rmsnorm" (no gain; also normalises q and k)
    mlp: str = "gelu"  # "gelu" (GPT-2), "relu2" (ReLU squared) or "swiglu" (a gated MLP)
    rope_theta: float = 10000.0  # rotary's base: the slowest pair turns once in ~2 pi theta positions
    activation_checkpointing: bool = False  # recompute blocks in backward to save memory

    def __post_init__(self) -> None:
        problems = []

        def positive_int(name: str, low: int = 1) -> bool:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                problems.append(f"{name}={value!r}: use a whole number of at least {low}")
                return False
            return True

        ok = [positive_int(n) for n in ("vocab_size", "context_length", "n_layer", "n_head", "n_embd")]
        if ok[3] and ok[4] and self.n_embd % self.n_head:
            low = self.n_embd - self.n_embd % self.n_head
            divisors = [h for h in range(1, min(self.n_embd, 64) + 1) if self.n_embd % h == 0]
            problems.append(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}; pick n_embd a "
                f"multiple of {self.n_head} (e.g. {low or self.n_head} or {low + self.n_head}) or an "
                f"n_head that divides {self.n_embd} (e.g. {', '.join(map(str, divisors[-3:]))})"
            )
        if self.ffn_hidden is not None:
            positive_int("ffn_hidden")
        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool)

        if not (number(self.dropout) and 0.0 <= self.dropout < 1.0):
            problems.append(f"dropout={self.dropout!r}: use a probability in [0, 1), e.g. 0.0 or 0.1")
        for name in ("bias", "tie_weights", "activation_checkpointing"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name}={getattr(self, name)!r}: use True or False")
        for name, choices in (("init", INIT_SCHEMES), ("position", POSITIONS), ("norm", NORMS), ("mlp", MLPS)):
            if getattr(self, name) not in choices:
                problems.append(f"{name}={getattr(self, name)!r}: use one of {', '.join(map(repr, choices))}")
        if self.position == "rotary" and ok[3] and ok[4] and not self.n_embd % self.n_head and self.head_dim % 2:
            problems.append(f"position='rotary' turns pairs of numbers, but head_dim={self.head_dim} is odd; "
                            "pick n_embd / n_head even")
        if not (number(self.rope_theta) and self.rope_theta > 1):
            problems.append(f"rope_theta={self.rope_theta!r}: use a number above 1, e.g. 10000.0")
        if self.init == "modern" and self.tie_weights:
            problems.append("init='modern' starts the output head near zero, which a tied head (the token "
                            "table) cannot do; set tie_weights=False, or use init='gpt2'")
        if not (number(self.init_std) and 0.0 < self.init_std < 1.0):
            problems.append(f"init_std={self.init_std!r}: use a small positive number, e.g. 0.02")
        if problems:
            raise ValueError("GPTConfig is invalid:\n- " + "\n- ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def hidden_dim(self) -> int:
        """The MLP's inner width: ``ffn_hidden``, else 4 * n_embd (SwiGLU: two thirds of that,
        rounded up to a multiple of 64, so its three matrices hold about as many weights as two)."""
        if self.ffn_hidden is not None:
            return self.ffn_hidden
        return 64 * math.ceil(8 * self.n_embd / 3 / 64) if self.mlp == "swiglu" else 4 * self.n_embd

    @property
    def architecture(self) -> str:
        """"gpt2" or "modern" when every field of ``ARCHITECTURES`` matches one, else "custom"."""
        for name, fields in ARCHITECTURES.items():
            if all(getattr(self, k) == v for k, v in fields.items()):
                return name
        return "custom"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``GPTConfig.from_dict`` reads it back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GPTConfig:
        """Build from ``to_dict()`` output (e.g. a checkpoint's config.json); unknown keys are refused."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"GPTConfig.from_dict: unknown keys {unknown}; the fields are {sorted(known)}. "
                "Was this config written by another version or another model? Remove those keys."
            )
        return cls(**data)

    def replace(self, **changes: Any) -> GPTConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------- attention


def causal_mask(t_query: int, t_key: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """A (t_query, t_key) bool mask, True where a query may look.

    The queries are the last ``t_query`` of ``t_key`` positions (the first ``t_key - t_query``
    sit in a KV cache), so query i may see keys 0 .. t_key - t_query + i.
    """
    t_key = t_query if t_key is None else t_key
    if t_key < t_query:
        raise ValueError(f"causal_mask: t_key={t_key} must be at least t_query={t_query}")
    return torch.ones(t_query, t_key, dtype=torch.bool, device=device).tril(diagonal=t_key - t_query)


def causal_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention written out: softmax(q k^T / sqrt(d), future masked) v. Returns (output, weights).

    q: (..., T, d); k, v: (..., T_keys, d) with the queries the last T of the T_keys positions.
    The weights (..., T, T_keys) are what the heatmaps show (before dropout).
    """
    t_q, t_k = q.size(-2), k.size(-2)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))  # (..., T, T_keys)
    scores = scores.masked_fill(~causal_mask(t_q, t_k, q.device), float("-inf"))
    weights = F.softmax(scores.float(), dim=-1).to(q.dtype)  # softmax in float32 for bf16 safety
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights


def rotary_tables(context_length: int, head_dim: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every (position, pair) angle, (context_length, head_dim // 2), in float32.

    Pair i turns by ``position * theta ** (-2i / head_dim)``: the first pairs fast, the last slowly.
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))  # (hs/2,)
    angles = torch.outer(torch.arange(context_length, dtype=torch.float32), inv_freq)  # (T, hs/2)
    # cos and sin of these float32 angles taken in float64, then rounded: torch's float32 cos on a
    # CPU has been seen to return values 1e-4 off for the same angles in some processes
    return angles.double().cos().float(), angles.double().sin().float()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x[..., i], x[..., i + hs/2]) of x (B, nh, T, hs) by its position's angle.

    The "half-split" layout of Llama and Qwen3. A query at position m and a key at position n then
    meet at an angle that depends only on m - n: attention sees relative positions.
    """
    x1, x2 = x.float().chunk(2, dim=-1)  # (B, nh, T, hs/2) each, rotated in float32
    out = torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)
    return out.type_as(x)


RMS_EPS = 1e-6


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) over the last dimension: LayerNorm without the mean and the gain."""
    return F.rms_norm(x, (x.size(-1),), eps=RMS_EPS)


class RMSNorm(nn.Module):
    """``rms_norm`` as a module, so both architectures have ``ln_1``, ``ln_2`` and ``ln_f``. No weights."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x)


def make_norm(config: GPTConfig) -> nn.Module:
    return nn.LayerNorm(config.n_embd, bias=config.bias) if config.norm == "layernorm" else RMSNorm()


class CausalSelfAttention(nn.Module):
    """All heads at once: one Linear makes q, k, v for every head; another mixes the heads.

    With ``norm="rmsnorm"`` each head's q and k are RMS-normalised (QK-norm: the scores cannot
    blow up); with ``position="rotary"`` they are then rotated by their positions.
    """

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        self.layer_idx = layer_idx
        self.qk_norm, self.rotary = config.norm == "rmsnorm", config.position == "rotary"
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, kv_cache: KVCache | None = None, need_weights: bool = False,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, C = x.shape  # (batch, time, channels)
        q, k, v = self.c_attn(x).split(C, dim=2)  # each (B, T, C)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if self.qk_norm:
            q, k = rms_norm(q), rms_norm(k)
        if self.rotary:
            assert rope is not None, "rotary attention needs the (cos, sin) of these positions"
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer_idx, k, v)  # (B, nh, T_cached + T, hs)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            y, weights = causal_attention(q, k, v, dropout_p=p)
        elif k.size(2) == T:  # no cache before these positions: plain causal attention
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        elif T == 1:  # one new token sees every cached position
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:  # a chunk after a cache: see the cache plus its own causal part
            mask = causal_mask(T, k.size(2), x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again: (B, T, C)
        return self.resid_dropout(self.c_proj(y)), weights


class MLP(nn.Module):
    """Per position: widen, a non-linearity, narrow back. Where most of a block's parameters are.

    "gelu": GPT-2's. "relu2": relu(a)^2, cheap and sparse. "swiglu": silu(gate) * up, with
    ``c_fc`` making gate and up side by side (2 x hidden_dim outputs).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.kind = config.mlp
        width = 2 * config.hidden_dim if config.mlp == "swiglu" else config.hidden_dim
        self.c_fc = nn.Linear(config.n_embd, width, bias=config.bias)
        self.c_proj = nn.Linear(config.hidden_dim, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.c_fc(x)  # (B, T, hidden) or (B, T, 2 * hidden)
        if self.kind == "gelu":
            h = F.gelu(a, approximate="tanh")  # GPT-2's GELU ("gelu_new" in Hugging Face)
        elif self.kind == "relu2":
            h = F.relu(a).square()
        else:
            gate, up = a.chunk(2, dim=-1)
            h = F.silu(gate) * up
        return self.dropout(self.c_proj(h))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig, layer_idx: int = 0) -> None:
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config, layer_idx)
        self.ln_2 = make_norm(config)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, kv_cache: KVCache | None = None, need_weights: bool = False,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, weights = self.attn(self.ln_1(x), kv_cache, need_weights, rope)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, weights


# --------------------------------------------------------------------------- KV cache


class KVCache:
    """Keys and values of the positions seen so far, for every layer, so that generating one
    more token costs one position of work instead of the whole sequence.

    ``length`` counts the cached positions; ``model(idx_new, kv_cache=cache)`` appends
    ``idx_new.size(1)`` of them. Buffers are allocated on the first use (dtype and device of the
    keys, unless given). ``reset()`` empties it (generation re-prefills to slide the window).
    Meant for inference (``torch.no_grad()``): the buffers are written in place.
    """

    def __init__(
        self,
        n_layer: int,
        batch_size: int,
        n_head: int,
        head_dim: int,
        max_len: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.n_layer, self.batch_size, self.n_head, self.head_dim = n_layer, batch_size, n_head, head_dim
        self.max_len, self.device, self.dtype = max_len, device, dtype
        self.length = 0
        self._pending = 0  # positions written by the current forward, committed by advance()
        self.k: torch.Tensor | None = None  # (n_layer, B, nh, max_len, hs)
        self.v: torch.Tensor | None = None

    def __repr__(self) -> str:
        return (f"KVCache(length={self.length}, max_len={self.max_len}, "
                f"batch_size={self.batch_size}, n_layer={self.n_layer})")

    def reset(self) -> None:
        self.length = 0
        self._pending = 0

    def check_room(self, batch_size: int, n_new: int) -> None:
        """Raise a clear error when ``n_new`` positions would not fit, or the batch differs."""
        if batch_size != self.batch_size:
            raise ValueError(
                f"the KV cache was made for batch_size={self.batch_size} but the input has "
                f"{batch_size} rows; make one with model.new_kv_cache({batch_size})"
            )
        if self.length + n_new > self.max_len:
            raise ValueError(
                f"the KV cache holds {self.length} of at most {self.max_len} positions (the "
                f"model's context_length or the max_len asked for); {n_new} more would not fit. "
                "Slide the window: cache.reset(), then prefill the last tokens that fit."
            )

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write this layer's new keys and values (B, nh, T, hs); return all so far (B, nh, L+T, hs)."""
        if self.k is None:
            shape = (self.n_layer, self.batch_size, self.n_head, self.max_len, self.head_dim)
            device = self.device if self.device is not None else k.device
            dtype = self.dtype if self.dtype is not None else k.dtype
            self.k = torch.zeros(shape, device=device, dtype=dtype)
            self.v = torch.zeros(shape, device=device, dtype=dtype)
        assert self.v is not None
        n = k.size(2)
        # narrow() is one view op where [layer, :, :, a:b] is four: this runs once per layer per token
        k_all, v_all = self.k[layer].narrow(2, 0, self.length + n), self.v[layer].narrow(2, 0, self.length + n)
        k_all.narrow(2, self.length, n).copy_(k)
        v_all.narrow(2, self.length, n).copy_(v)
        self._pending = n
        if k_all.dtype != k.dtype:  # a cache kept in another dtype than the model computes in
            k_all, v_all = k_all.to(k.dtype), v_all.to(v.dtype)
        return k_all, v_all

    def advance(self) -> None:
        """Commit the positions every layer wrote in this forward (the model calls it)."""
        self.length += self._pending
        self._pending = 0


# --------------------------------------------------------------------------- the GPT


class GPT(nn.Module):
    """Token ids (B, T) in, next-token logits (B, T, vocab_size) out."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        parts = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))  # token embeddings
        if config.position == "learned":
            parts["wpe"] = nn.Embedding(config.context_length, config.n_embd)  # position embeddings
        self.transformer = nn.ModuleDict(
            dict(
                **parts,
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config, i) for i in range(config.n_layer)]),
                ln_f=make_norm(config),
            )
        )
        # Tied: the head reads transformer.wte.weight (no lm_head key). Untied: its own Linear.
        self.lm_head = None if config.tie_weights else nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.position == "rotary":  # not saved: recomputed from the config
            cos, sin = rotary_tables(config.context_length, config.head_dim, config.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise every weight by ``config.init`` (see GPTConfig)."""
        c = self.config
        residual_std = c.init_std / math.sqrt(2 * c.n_layer)  # GPT-2: one per residual add
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                if c.init == "xavier":
                    nn.init.xavier_uniform_(module.weight)
                elif c.init == "modern" and name == "lm_head":
                    nn.init.normal_(module.weight, mean=0.0, std=0.001)  # start near ln(vocab)
                elif c.init == "modern" and name.endswith("c_proj"):
                    nn.init.zeros_(module.weight)  # each block starts as the identity
                elif c.init == "modern":  # uniform with std 1/sqrt(fan-in): inputs keep their scale
                    bound = math.sqrt(3.0 / module.in_features)
                    nn.init.uniform_(module.weight, -bound, bound)
                elif c.init == "gpt2" and name.endswith("c_proj"):
                    nn.init.normal_(module.weight, mean=0.0, std=residual_std)
                else:
                    nn.init.normal_(module.weight, mean=0.0, std=c.init_std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=1.0 if c.init == "modern" else c.init_std)
            elif isinstance(module, nn.LayerNorm):
                module.reset_parameters()

    # ----------------------------------------------------------------- forward

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        kv_cache: KVCache | None = None,
        return_attention: bool = False,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None] | tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        """Logits (B, T, vocab) and, with targets (B, T), the mean cross-entropy (-1 = ignore).

        With ``kv_cache`` the inputs continue the cached positions. With ``return_attention``
        also returns a list of attention weights, one (B, n_head, T, T_keys) tensor per layer.
        With ``last_only`` the logits are (B, 1, vocab), the last position's: all that generation
        needs, and the head's T x vocab products are the biggest single cost of a short window.
        """
        B, T = idx.shape
        if last_only and targets is not None:
            raise ValueError("last_only=True gives one position's logits, but the loss needs all of them: "
                             "leave last_only off when passing targets")
        start = 0
        if kv_cache is not None:
            kv_cache.check_room(B, T)
            start = kv_cache.length
        if start + T > self.config.context_length:
            raise ValueError(
                f"an input of {start + T} positions is longer than context_length="
                f"{self.config.context_length} (the position table); crop it to the last "
                f"{self.config.context_length} tokens, e.g. idx[:, -{self.config.context_length}:], "
                "or build the model with a larger context_length"
            )
        x = self.transformer.wte(idx)  # (B, T, C)
        rope = None
        if self.config.position == "learned":
            x = x + self.transformer.wpe(torch.arange(start, start + T, device=idx.device))  # + (T, C)
        else:  # rotary: the angles of positions start .. start + T - 1, for q and k in every layer
            rope = self.rope_cos[start:start + T], self.rope_sin[start:start + T]  # (T, hs/2) each
        x = self.transformer.drop(x)
        use_checkpoint = self.config.activation_checkpointing and self.training and torch.is_grad_enabled()
        attentions: list[torch.Tensor] = []
        for block in self.transformer.h:
            if use_checkpoint and kv_cache is None and not return_attention:
                x, _ = checkpoint(block, x, None, False, rope, use_reentrant=False)
            else:
                x, weights = block(x, kv_cache, return_attention, rope)
                if weights is not None:
                    attentions.append(weights)
        if kv_cache is not None:
            kv_cache.advance()
        if last_only:
            x = x[:, -1:]  # (B, 1, C)
        x = self.transformer.ln_f(x)  # (B, T, C)
        head = self.transformer.wte.weight if self.lm_head is None else self.lm_head.weight
        logits = F.linear(x, head)  # (B, T, vocab)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        if return_attention:
            return logits, loss, attentions
        return logits, loss

    # ----------------------------------------------------------------- helpers

    def new_kv_cache(
        self,
        batch_size: int,
        max_len: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> KVCache:
        """An empty cache for ``batch_size`` sequences of at most ``max_len`` (default: context) positions."""
        c = self.config
        max_len = c.context_length if max_len is None else max_len
        if not 1 <= max_len <= c.context_length:
            raise ValueError(f"max_len={max_len}: a KV cache holds 1 to context_length={c.context_length} positions")
        return KVCache(c.n_layer, batch_size, c.n_head, c.head_dim, max_len, device, dtype)

    def num_parameters(self, breakdown: bool = False) -> int | dict[str, int]:
        """How many numbers the model learns (the tied head counted once), or where they are."""
        t = self.transformer
        parts = {
            "token embeddings": t.wte.weight.numel(),
            "position embeddings": t.wpe.weight.numel() if "wpe" in t else 0,
            "transformer blocks": sum(p.numel() for p in t.h.parameters()),
            "final norm": sum(p.numel() for p in t.ln_f.parameters()),
        }
        if self.lm_head is not None:
            parts["output head"] = self.lm_head.weight.numel()
        return parts if breakdown else sum(parts.values())

    def check_vocab(self, tokenizer_vocab_size: int | Any) -> None:
        """Raise ValueError unless the tokenizer (or its vocab size) matches ``config.vocab_size``."""
        n = getattr(tokenizer_vocab_size, "vocab_size", tokenizer_vocab_size)
        if n != self.config.vocab_size:
            raise ValueError(
                f"vocab_size={self.config.vocab_size} in the model's config differs from the "
                f"tokenizer's {n} tokens; build the model with vocab_size={n} (e.g. "
                f"preset(name, vocab_size=tokenizer.vocab_size)), or load the tokenizer this model "
                "was trained with"
            )

    def check_context(self, context_length: int) -> None:
        """Raise ValueError when sequences of ``context_length`` would not fit the position table."""
        if context_length > self.config.context_length:
            raise ValueError(
                f"sequences of {context_length} tokens are longer than the model's context_length="
                f"{self.config.context_length}; build the model with context_length={context_length} "
                f"or make the batches at most {self.config.context_length} long"
            )

    def optimizer_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW parameter groups: matrices and embeddings decay, biases and norms do not."""
        params = [p for p in self.parameters() if p.requires_grad]
        return [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]

    def hidden_matrices(self) -> list[nn.Parameter]:
        """The blocks' weight matrices: what Muon trains (embeddings, head, gains and biases are AdamW's)."""
        return [p for p in self.transformer.h.parameters() if p.dim() == 2 and p.requires_grad]


# --------------------------------------------------------------------------- sizes without building


def count_parameters(config: GPTConfig) -> dict[str, int]:
    """The same breakdown as ``GPT.num_parameters(breakdown=True)``, by arithmetic."""
    C, F_, V, b = config.n_embd, config.hidden_dim, config.vocab_size, int(config.bias)
    norm = 0 if config.norm == "rmsnorm" else (2 * C if config.bias else C)
    attention = C * 3 * C + b * 3 * C + C * C + b * C
    fc = 2 * F_ if config.mlp == "swiglu" else F_  # SwiGLU's c_fc makes gate and up
    mlp = C * fc + b * fc + F_ * C + b * C
    parts = {
        "token embeddings": V * C,
        "position embeddings": config.context_length * C if config.position == "learned" else 0,
        "transformer blocks": config.n_layer * (2 * norm + attention + mlp),
        "final norm": norm,
    }
    if not config.tie_weights:
        parts["output head"] = V * C
    return parts


# --------------------------------------------------------------------------- presets

#: Named models, with the vocabulary and context their source assumed (``preset`` changes them).
PRESETS: dict[str, GPTConfig] = {
    # GPT-2 BPE models of the course's first plan: the gpu profile's, GPT-2 small, a TinyStories one
    "ultra-mini": GPTConfig(vocab_size=50257, context_length=512, n_layer=6, n_head=8, n_embd=512),
    "mini-gpt2": GPTConfig(vocab_size=50257, context_length=1024, n_layer=12, n_head=12, n_embd=768),
    "tinystories": GPTConfig(vocab_size=50257, context_length=128, n_layer=6, n_head=6, n_embd=384, dropout=0.1),
    # the wikitext recipe's model: a BPE of 16,000 tokens, Xavier-uniform initialisation
    "wikitext": GPTConfig(vocab_size=16000, context_length=512, n_layer=6, n_head=6, n_embd=384, ffn_hidden=1536,
                          init="xavier"),
    # nanoGPT's shakespeare_char "on a MacBook" shape (65 characters; our CharTokenizer has 67)
    "shakespeare-char": GPTConfig(vocab_size=65, context_length=64, n_layer=4, n_head=4, n_embd=128, bias=False),
    # the profiles' models: seconds-long test runs, and the cpu profile's (chosen by benchmarks/recipe_compare.py)
    "ci": GPTConfig(vocab_size=512, context_length=64, n_layer=2, n_head=4, n_embd=64),
    "cpu": GPTConfig(vocab_size=8000, context_length=128, n_layer=4, n_head=3, n_embd=192),
}


def preset(name: str, vocab_size: int | None = None, context_length: int | None = None, *,
           arch: str | None = None, **changes: Any) -> GPTConfig:
    """The config of preset ``name``, with the tokenizer's vocab size, a context, an architecture
    of ``ARCHITECTURES`` ("gpt2" or "modern") or other fields changed."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; pick one of {', '.join(PRESETS)}")
    if arch is not None:
        if arch not in ARCHITECTURES:
            raise ValueError(f"arch={arch!r}: use one of {', '.join(map(repr, ARCHITECTURES))}")
        changes = {**ARCHITECTURES[arch], **changes}
    if vocab_size is not None:
        changes["vocab_size"] = vocab_size
    if context_length is not None:
        changes["context_length"] = context_length
    return PRESETS[name].replace(**changes)


def config_for_profile(profile: Any, vocab_size: int) -> GPTConfig:
    """The model a profile trains: its preset and architecture, the tokenizer's vocab size, its context."""
    return preset(profile.model_preset, vocab_size=vocab_size, context_length=profile.context_length,
                  arch=profile.arch)


__all__ = [
    "GPTConfig", "GPT", "KVCache", "Block", "MLP", "CausalSelfAttention", "causal_mask",
    "causal_attention", "count_parameters", "PRESETS", "preset",
    "config_for_profile",
]
