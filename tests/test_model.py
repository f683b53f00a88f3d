"""The GPT: config validation, parameter counts and presets, attention paths, KV cache,
activation checkpointing, safetensors round trips, the learning sanity checks, memory arithmetic."""

from __future__ import annotations

import json
import math

import pytest
import torch

from minigpt_helpers import lessons
from minigpt_helpers import model as M
from minigpt_helpers.model import GPT, GPTConfig, preset
from minigpt_helpers.profiles import PROFILES


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**changes) -> GPTConfig:
    base = dict(vocab_size=97, context_length=32, n_layer=2, n_head=4, n_embd=32)
    return GPTConfig(**{**base, **changes})


def make(config: GPTConfig, seed: int = 0) -> GPT:
    """A model in eval mode. The modern block starts with zero output projections, which would make
    cache and mask checks pass trivially: its weights are all drawn at random instead."""
    torch.manual_seed(seed)
    m = GPT(config).eval()
    if config.init == "modern":
        with torch.no_grad():
            for p in m.parameters():
                p.normal_(0.0, 0.1)
    return m


#: Both named blocks, and the modern one with the gated MLP.
ARCHS = {"gpt2": {}, "modern": M.ARCHITECTURES["modern"], "swiglu": {**M.ARCHITECTURES["modern"], "mlp": "swiglu"}}
each_arch = pytest.mark.parametrize("arch", list(ARCHS))


def ids(config: GPTConfig, B: int = 2, T: int | None = None, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.vocab_size, (B, T or config.context_length), generator=g)


# --------------------------------------------------------------------------- config


def test_config_names_field_and_fix_for_indivisible_width() -> None:
    with pytest.raises(ValueError) as err:
        GPTConfig(n_embd=500, n_head=8)
    msg = str(err.value)
    assert "n_embd=500" in msg and "n_head=8" in msg and "multiple of 8" in msg and "496" in msg


def test_config_collects_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as err:
        GPTConfig(vocab_size=0, dropout=1.5, init="kaiming", init_std=-1.0, bias="yes")
    msg = str(err.value)
    for name in ("vocab_size=0", "dropout=1.5", "init='kaiming'", "init_std=-1.0", "bias='yes'"):
        assert name in msg, f"{name} not reported in:\n{msg}"


def test_config_dict_round_trip_is_json_safe_and_refuses_unknown_keys() -> None:
    c = tiny(ffn_hidden=48, dropout=0.1, tie_weights=False, init="normal", init_std=0.01)
    d = json.loads(json.dumps(c.to_dict()))
    assert GPTConfig.from_dict(d) == c
    with pytest.raises(ValueError, match=r"unknown keys \['block_size'\]"):
        GPTConfig.from_dict({**d, "block_size": 64})
    assert c.hidden_dim == 48 and tiny().hidden_dim == 4 * 32


def test_the_named_architectures_and_their_errors() -> None:
    assert tiny().architecture == "gpt2" and tiny(**ARCHS["modern"]).architecture == "modern"
    assert tiny(**ARCHS["swiglu"]).architecture == "custom"
    c = preset("cpu", vocab_size=500, arch="modern")
    assert (c.position, c.norm, c.mlp, c.bias, c.tie_weights, c.n_layer) == ("rotary", "rmsnorm", "relu2", False, False, 4)
    assert preset("cpu", arch="modern", mlp="swiglu").mlp == "swiglu"  # explicit fields win over the architecture
    with pytest.raises(ValueError, match="arch='llama'"):
        preset("cpu", arch="llama")
    with pytest.raises(ValueError) as err:
        GPTConfig(n_embd=12, n_head=4, position="alibi", norm="batch", mlp="tanh", rope_theta=0)
    msg = str(err.value)
    for name in ("position='alibi'", "norm='batch'", "mlp='tanh'", "rope_theta=0"):
        assert name in msg
    with pytest.raises(ValueError, match="head_dim=3 is odd"):
        GPTConfig(n_embd=12, n_head=4, position="rotary")
    with pytest.raises(ValueError, match="tie_weights=False"):
        GPTConfig(init="modern", tie_weights=True)
    assert GPTConfig(n_embd=256, mlp="swiglu").hidden_dim == 704  # 2/3 of 4 x 256, up to a multiple of 64


def test_modern_block_has_no_position_table_biases_or_norm_weights() -> None:
    m = GPT(tiny(**ARCHS["modern"]))
    names = set(m.state_dict())
    assert "transformer.wpe.weight" not in names and "lm_head.weight" in names
    assert not any(n.endswith(".bias") or ".ln_" in n for n in names)
    assert names == {"transformer.wte.weight", "lm_head.weight"} | {
        f"transformer.h.{i}.{k}" for i in range(2) for k in
        ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")}
    for block in m.transformer.h:  # each block starts as the identity: its output projections are zero
        assert block.attn.c_proj.weight.abs().max() == 0 and block.mlp.c_proj.weight.abs().max() == 0
    assert m.rope_cos.dtype == torch.float32 and m.rope_cos.shape == (32, 4)  # (context, head_dim / 2)


def test_rotary_attention_depends_only_on_relative_position() -> None:
    cos, sin = M.rotary_tables(64, 8)
    q, k = torch.randn(2, 1, 1, 8).unbind(0)  # one head, one position each

    def score(m: int, n: int) -> float:
        qm = M.apply_rotary(q, cos[m:m + 1], sin[m:m + 1])
        kn = M.apply_rotary(k, cos[n:n + 1], sin[n:n + 1])
        return float((qm * kn).sum())

    assert score(10, 3) == pytest.approx(score(40, 33), abs=1e-5)  # both 7 apart
    assert score(10, 3) != pytest.approx(score(10, 9), abs=1e-3)  # another distance, another score
    x = torch.randn(1, 1, 5, 8)
    assert torch.allclose(M.apply_rotary(x, cos[:5], sin[:5]).norm(dim=-1), x.norm(dim=-1), atol=1e-5)  # a rotation
    torch.testing.assert_close(M.apply_rotary(x, cos[:1].expand(5, 4), sin[:1].expand(5, 4)), x)  # position 0: as is


# --------------------------------------------------------------------------- parameters and presets


@pytest.mark.parametrize(
    "changes",
    [{}, {"bias": False}, {"tie_weights": False}, {"ffn_hidden": 40, "bias": False, "tie_weights": False},
     ARCHS["modern"], ARCHS["swiglu"], {"mlp": "swiglu", "norm": "rmsnorm"}],
    ids=["default", "no-bias", "untied", "custom-ffn", "modern", "modern-swiglu", "gpt2-swiglu-rmsnorm"],
)
def test_count_parameters_matches_the_built_model(changes) -> None:
    c = tiny(**changes)
    m = GPT(c)
    parts = m.num_parameters(breakdown=True)
    assert parts == M.count_parameters(c)
    assert m.num_parameters() == sum(p.numel() for p in m.parameters())  # the tied table counted once
    assert ("output head" in parts) == (not c.tie_weights)


def test_every_preset_builds_a_valid_config_with_matching_count() -> None:
    assert set(M.PRESETS) >= {"ultra-mini", "mini-gpt2", "tinystories", "wikitext",
                              "ci", "cpu", "shakespeare-char"}
    for name, c in M.PRESETS.items():
        assert isinstance(c, GPTConfig)
        with torch.device("meta"):  # shapes only: no memory, no time
            built = GPT(c)
        assert built.num_parameters(breakdown=True) == M.count_parameters(c), name


def test_preset_breakdowns_against_the_seeds_figures() -> None:
    um = M.count_parameters(M.PRESETS["ultra-mini"])
    assert um == {"token embeddings": 50257 * 512, "position embeddings": 512 * 512,
                  "transformer blocks": 6 * (12 * 512 * 512 + 13 * 512), "final norm": 1024}
    total = {name: sum(M.count_parameters(c).values()) for name, c in M.PRESETS.items()}
    assert f"{total['ultra-mini']:.0e}" == "4e+07"  # "about 40M", to one significant figure
    assert abs(total["mini-gpt2"] - 124e6) / 124e6 < 0.005  # GPT-2 small: 124,439,808
    assert total["mini-gpt2"] == 124_439_808
    assert round(total["shakespeare-char"] / 1e6, 2) == 0.80
    assert round(total["cpu"] / 1e6, 2) == 3.34  # counted as GPT-2's block; the profile trains the modern one
    assert round(total["tinystories"] / 1e6, 1) == 30.0
    assert round(total["wikitext"] / 1e6, 1) == 17.0
    rows = lessons.preset_table()
    assert [r["preset"] for r in rows] == list(M.PRESETS)
    assert next(r for r in rows if r["preset"] == "ultra-mini")["total (M)"] == 44.91


def test_preset_overrides_and_profiles() -> None:
    c = preset("cpu", vocab_size=512, context_length=64, dropout=0.1)
    assert (c.vocab_size, c.context_length, c.dropout, c.n_layer) == (512, 64, 0.1, 4)
    assert M.PRESETS["cpu"].vocab_size == 8000  # the preset itself is untouched
    with pytest.raises(ValueError, match="unknown model preset 'huge'"):
        preset("huge")
    for profile in PROFILES.values():
        cfg = M.config_for_profile(profile, vocab_size=1234)
        assert cfg.context_length == profile.context_length and cfg.vocab_size == 1234
    assert M.PRESETS["ultra-mini"].context_length == PROFILES["gpu"].context_length
    sc = M.PRESETS["shakespeare-char"]
    assert (sc.n_layer, sc.n_head, sc.n_embd, sc.context_length, sc.dropout) == (4, 4, 128, 64, 0.0)


# --------------------------------------------------------------------------- forward and learning


@each_arch
def test_forward_shapes_and_masked_targets(arch: str) -> None:
    c = tiny(**ARCHS[arch])
    m = make(c)
    x = ids(c)
    logits, loss = m(x)
    assert logits.shape == (2, 32, 97) and loss is None
    y = ids(c, seed=2)
    y_masked = y.clone()
    y_masked[:, :10] = -1
    _, loss_masked = m(x, y_masked)
    expected = torch.nn.functional.cross_entropy(logits[:, 10:].reshape(-1, 97), y[:, 10:].reshape(-1))
    torch.testing.assert_close(loss_masked, expected)


def test_untrained_loss_is_close_to_ln_vocab() -> None:
    for init in M.INIT_SCHEMES:
        c = tiny(vocab_size=500, init=init, tie_weights=init != "modern")
        torch.manual_seed(0)
        _, loss = GPT(c)(ids(c, B=4), ids(c, B=4, seed=3))
        assert abs(loss.item() - math.log(500)) < 0.3, f"init={init}: {loss.item():.3f} vs ln(500)={math.log(500):.3f}"
    c = tiny(vocab_size=500, **ARCHS["modern"])  # its head starts near zero: every token equally likely
    _, loss = GPT(c)(ids(c, B=4), ids(c, B=4, seed=3))
    assert abs(loss.item() - math.log(500)) < 1e-3


@each_arch
def test_tiny_model_overfits_one_batch(arch: str) -> None:
    c = tiny(context_length=16, **ARCHS[arch])
    torch.manual_seed(0)
    m = GPT(c).train()
    x, y = ids(c, B=4), ids(c, B=4, seed=5)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(80):
        _, loss = m(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert len(losses) == 80
    assert losses[0] > 4.0 and losses[-1] < 0.3, f"loss went {losses[0]:.2f} -> {losses[-1]:.2f}"


@each_arch
def test_causal_mask_blocks_the_future(arch: str) -> None:
    c = tiny(**ARCHS[arch])
    m = make(c)
    x = ids(c, B=1)
    base, _ = m(x)
    for t in (0, 5, 31):
        changed = x.clone()
        changed[0, t] = (changed[0, t] + 1) % c.vocab_size
        out, _ = m(changed)
        assert torch.equal(out[0, :t], base[0, :t]), f"changing token {t} changed an earlier logit"
        assert not torch.allclose(out[0, t], base[0, t]), "changing a token must change its own logits"


@each_arch
def test_explicit_attention_path_matches_sdpa_and_returns_weights(arch: str) -> None:
    c = tiny(**ARCHS[arch])
    m = make(c)
    x = ids(c)
    logits, _ = m(x)
    logits2, _, att = m(x, return_attention=True)
    torch.testing.assert_close(logits2, logits, atol=1e-5, rtol=1e-5)
    assert len(att) == c.n_layer and att[0].shape == (2, c.n_head, 32, 32)
    torch.testing.assert_close(att[0].sum(-1), torch.ones(2, c.n_head, 32))
    assert att[1].triu(diagonal=1).abs().max() == 0  # nothing from the future
    q, k, v = torch.randn(3, 2, 4, 7, 8).unbind(0)
    y, _ = M.causal_attention(q, k, v)
    torch.testing.assert_close(y, torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_causal_mask_with_a_cache_offset() -> None:
    assert M.causal_mask(2, 5).tolist() == [[True, True, True, True, False], [True] * 5]
    assert torch.equal(M.causal_mask(4), torch.ones(4, 4, dtype=torch.bool).tril())


# --------------------------------------------------------------------------- KV cache


@each_arch
def test_kv_cache_prefill_then_one_token_at_a_time_equals_full_forward(arch: str) -> None:
    c = tiny(**ARCHS[arch])
    m = make(c)
    x = ids(c, B=2, T=20)
    full, _ = m(x)
    cache = m.new_kv_cache(batch_size=2)
    pieces = [m(x[:, :8], kv_cache=cache)[0]]
    assert cache.length == 8
    pieces.append(m(x[:, 8:11], kv_cache=cache)[0])  # a chunk after the cache: the masked path
    for t in range(11, 20):
        pieces.append(m(x[:, t : t + 1], kv_cache=cache)[0])
    assert cache.length == 20 and len(pieces) == 11
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-4)


@each_arch
def test_kv_cache_with_attention_weights_and_reset(arch: str) -> None:
    c = tiny(**ARCHS[arch])
    m = make(c)
    x = ids(c, B=1, T=6)
    cache = m.new_kv_cache(1)
    m(x[:, :4], kv_cache=cache)
    _, _, att = m(x[:, 4:], kv_cache=cache, return_attention=True)
    assert att[0].shape == (1, c.n_head, 2, 6)
    cache.reset()
    again, _ = m(x, kv_cache=cache)
    torch.testing.assert_close(again, m(x)[0], atol=1e-5, rtol=1e-4)


@each_arch
def test_last_only_gives_the_last_positions_logits_with_and_without_a_cache(arch: str) -> None:
    c = tiny(**{**ARCHS[arch], "tie_weights": False})
    m = make(c)
    x = ids(c, B=2, T=12)
    full, _ = m(x)
    last, loss = m(x, last_only=True)
    assert last.shape == (2, 1, c.vocab_size) and loss is None
    torch.testing.assert_close(last, full[:, -1:], atol=1e-5, rtol=1e-4)
    cache = m.new_kv_cache(2)
    prefill, _ = m(x[:, :9], kv_cache=cache, last_only=True)
    torch.testing.assert_close(prefill, full[:, 8:9], atol=1e-5, rtol=1e-4)
    step, _ = m(x[:, 9:12], kv_cache=cache, last_only=True)  # a chunk after the cache
    torch.testing.assert_close(step, full[:, -1:], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="leave last_only off"):
        m(x, x, last_only=True)


def test_kv_cache_refuses_overflow_and_wrong_batch() -> None:
    c = tiny(context_length=8)
    m = make(c)
    cache = m.new_kv_cache(1)
    m(ids(c, B=1, T=7), kv_cache=cache)
    with pytest.raises(ValueError, match="holds 7 of at most 8 positions"):
        m(ids(c, B=1, T=2), kv_cache=cache)
    assert cache.length == 7  # the refused call changed nothing
    m(ids(c, B=1, T=1), kv_cache=cache)
    assert cache.length == 8
    with pytest.raises(ValueError, match="input has 3 rows"):
        m(ids(c, B=3, T=1), kv_cache=m.new_kv_cache(1))
    with pytest.raises(ValueError, match="context_length=8"):
        m.new_kv_cache(1, max_len=9)


@each_arch
def test_bfloat16_model_with_cache_keeps_a_float32_loss(arch: str) -> None:
    c = tiny(**ARCHS[arch])
    m = make(c).to(torch.bfloat16)
    x = ids(c, B=1, T=6)
    cache = m.new_kv_cache(1)
    logits, _ = m(x[:, :5], kv_cache=cache)
    step, _ = m(x[:, 5:], kv_cache=cache)
    assert logits.dtype == torch.bfloat16 and cache.k.dtype == torch.bfloat16
    _, loss = m(x, x)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


# --------------------------------------------------------------------------- checkpointing, saving


@pytest.mark.parametrize("dropout", [0.0, 0.1])
@each_arch
def test_activation_checkpointing_gives_same_loss_and_grads(dropout: float, arch: str) -> None:
    c = tiny(dropout=dropout, **ARCHS[arch])
    results = []
    for flag in (False, True):
        m = make(c.replace(activation_checkpointing=flag)).train()
        torch.manual_seed(123)  # same dropout masks in both runs
        _, loss = m(ids(c), ids(c, seed=9))
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in m.named_parameters()}))
    (l0, g0), (l1, g1) = results
    torch.testing.assert_close(l1, l0)
    assert g0.keys() == g1.keys() and len(g0) > 0
    for name in g0:
        torch.testing.assert_close(g1[name], g0[name], atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.parametrize("tie", [True, False, "modern"])
def test_state_dict_round_trips_through_safetensors(tmp_path, tie: bool | str) -> None:
    from safetensors.torch import load_file, load_model, save_file, save_model

    c = tiny(**ARCHS["modern"]) if tie == "modern" else tiny(tie_weights=tie)
    tie = c.tie_weights
    m = make(c, seed=0)
    x = ids(c)
    expected, _ = m(x)
    sd = m.state_dict()
    assert ("lm_head.weight" in sd) == (not tie) and "transformer.wte.weight" in sd
    save_file(sd, tmp_path / "a.safetensors")
    other = make(c, seed=1)
    other.load_state_dict(load_file(tmp_path / "a.safetensors"), strict=True)
    torch.testing.assert_close(other(x)[0], expected, atol=0, rtol=0)
    save_model(m, str(tmp_path / "b.safetensors"))
    third = make(c, seed=2)
    missing, unexpected = load_model(third, tmp_path / "b.safetensors")
    assert not missing and not unexpected
    torch.testing.assert_close(third(x)[0], expected, atol=0, rtol=0)


# --------------------------------------------------------------------------- clear errors


def test_context_and_vocab_errors_name_the_field_and_fix() -> None:
    c = tiny(context_length=16)
    m = make(c)
    with pytest.raises(ValueError, match=r"longer than context_length=16.*idx\[:, -16:\]"):
        m(ids(c, T=17))
    with pytest.raises(ValueError, match=r"vocab_size=97.*tokenizer's 512 tokens.*vocab_size=512"):
        m.check_vocab(512)

    class Tok:
        vocab_size = 97

    m.check_vocab(Tok())
    m.check_context(16)
    with pytest.raises(ValueError, match="context_length=32"):
        m.check_context(32)


def test_init_schemes() -> None:
    c = tiny(n_embd=64, n_layer=4, vocab_size=1000)
    gpt2 = make(c)
    proj = gpt2.transformer.h[0].attn.c_proj.weight.std().item()
    fc = gpt2.transformer.h[0].mlp.c_fc.weight.std().item()
    assert abs(fc - 0.02) < 0.003 and abs(proj - 0.02 / math.sqrt(8)) < 0.002
    xav = make(c.replace(init="xavier")).transformer.h[0].mlp.c_fc.weight
    bound = math.sqrt(6 / (64 + 256))
    assert xav.abs().max() <= bound and xav.abs().max() > 0.9 * bound
    normal = make(c.replace(init="normal", init_std=0.05))
    assert abs(normal.transformer.h[0].attn.c_proj.weight.std().item() - 0.05) < 0.005
    assert gpt2.transformer.h[0].mlp.c_fc.bias.abs().max() == 0


def test_optimizer_groups_cover_every_parameter_once() -> None:
    m = make(tiny())
    groups = m.optimizer_groups(0.1)
    ids_ = [id(p) for g in groups for p in g["params"]]
    assert len(ids_) == len(set(ids_)) == len(list(m.parameters()))
    assert all(p.dim() >= 2 for p in groups[0]["params"]) and groups[1]["weight_decay"] == 0.0


# --------------------------------------------------------------------------- memory and FLOPs


def test_memory_row_arithmetic() -> None:
    c = M.PRESETS["ultra-mini"]
    n = sum(M.count_parameters(c).values())
    row = lessons.memory_row(c, 8, name="ultra-mini")
    assert row["weights (GiB)"] == round(4 * n / lessons.GiB, 3) and row["grads (GiB)"] == row["weights (GiB)"]
    assert row["AdamW (GiB)"] == round(8 * n / lessons.GiB, 3)
    parts = ("weights (GiB)", "grads (GiB)", "AdamW (GiB)", "activations (GiB)")
    assert abs(sum(row[k] for k in parts) - row["total (GiB)"]) < 0.003
    assert row["train MFLOP/token (6N)"] == round(6 * n / 1e6, 1)
    assert lessons.activation_bytes(c, 16) == 2 * lessons.activation_bytes(c, 8)
    tokens, per_layer = 8 * 512, 8 * 512 * (8 * 512 + 2 * 2048) * 4
    saved = lessons.activation_bytes(c, 8) - lessons.activation_bytes(c.replace(activation_checkpointing=True), 8)
    assert saved == (c.n_layer - 1) * per_layer - c.n_layer * tokens * 512 * 4 > 0
    for machine, capacity in lessons.MACHINES.items():
        assert (row[f"fits {machine}"] == "yes") == (row["total (GiB)"] <= capacity)
    big = lessons.memory_row(M.PRESETS["mini-gpt2"], 16)
    assert big["fits 8 GB GPU"] == "no" and big["total (GiB)"] > 14
    table = lessons.memory_table(batch_size=4)
    assert len(table) == len(M.PRESETS) and all(r["batch x context"].startswith("4 x ") for r in table)
    text = lessons.format_table(table)
    assert text.count("\n") == len(table) + 1 and text.startswith("| preset |")


@pytest.mark.parametrize("changes", [{}, {"bias": False, "ffn_hidden": 40, "tie_weights": False}])
def test_activation_estimate_matches_what_autograd_keeps(changes) -> None:
    c = tiny(**changes)
    m = GPT(c).train()
    x = ids(c, B=4)
    measured = lessons.saved_activation_bytes(m, x, x)
    estimate = lessons.activation_bytes(c, 4)
    assert measured > 0 and 0.9 < measured / estimate < 1.1, (measured, estimate)
