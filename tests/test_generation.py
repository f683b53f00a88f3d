"""Generation: config validation, the logit processors, cache == no cache (also past the context),
determinism and seeds, the length limit, top-k / top-p sets, stop sequences, batches, streaming
text across multi-byte characters, the sampling widget and the `generate` command line."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minigpt_helpers import cli
from minigpt_helpers import generation as G
from minigpt_helpers import hardware, lessons
from minigpt_helpers.checkpoint import save_checkpoint
from minigpt_helpers.generation import SamplingConfig
from minigpt_helpers.model import GPT, GPTConfig
from minigpt_helpers.tokenization import BPETokenizer, CharTokenizer

ROOT = Path(__file__).resolve().parent.parent
TEXT = ("It was the best of times, it was the worst of times. Alice was beginning to get very tired "
        "of sitting by her sister on the bank. 'Who are you?' said the Caterpillar.\n\n") * 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(vocab_size: int = 61, context_length: int = 16, seed: int = 0) -> GPT:
    """A random GPT with large enough weights that its next-token scores are far apart (no near-ties)."""
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab_size, context_length=context_length, n_layer=2, n_head=2, n_embd=32, init_std=0.2)
    return GPT(config).eval()


@pytest.fixture(scope="module")
def model() -> GPT:
    return tiny_model()


@pytest.fixture(scope="module")
def char_tok() -> CharTokenizer:
    return CharTokenizer.train([TEXT])


@pytest.fixture(scope="module")
def char_model(char_tok) -> GPT:
    return tiny_model(vocab_size=char_tok.vocab_size, context_length=32, seed=1)


def greedy(n: int, **changes) -> SamplingConfig:
    return SamplingConfig(temperature=0.0, max_new_tokens=n, **changes)


PROMPT = [3, 1, 4, 1, 5, 9, 2, 6]


# --------------------------------------------------------------------------- the config


def test_config_collects_every_problem_naming_field_and_range() -> None:
    with pytest.raises(ValueError) as err:
        SamplingConfig(temperature=-1, top_k=-2, top_p=0.0, repetition_penalty=0, max_new_tokens=0, seed=-5,
                       stop_sequences=[[]], slide=0)
    msg = str(err.value)
    for part in ("temperature=-1", "top_k=-2", "top_p=0.0", "repetition_penalty=0", "max_new_tokens=0",
                 "seed=-5", "stop_sequences", "slide=0"):
        assert part in msg, f"{part} not reported in:\n{msg}"
    assert "0 (greedy) to 10" in msg and "(0, 1]" in msg


def test_config_refuses_a_flat_stop_list_and_accepts_none_for_off() -> None:
    with pytest.raises(ValueError, match=r"list of token-id lists"):
        SamplingConfig(stop_sequences=[5, 6])
    c = SamplingConfig(top_k=None, top_p=None, stop_sequences=[(5, 6)])
    assert (c.top_k, c.top_p, c.stop_sequences) == (0, 1.0, [[5, 6]])
    assert c.replace(temperature=0).greedy and not c.greedy


# --------------------------------------------------------------------------- logit processors


def test_top_k_keeps_exactly_k_and_top_p_the_smallest_nucleus() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.5, 3.0, -1.0, 0.0]])
    kept = G.top_k_filter(logits, 2).isfinite()
    assert kept.tolist() == [[True, False, False, True, False, False]]
    probs = logits.softmax(-1)[0]
    for p in (0.3, 0.5, 0.7, 0.9, 0.99):
        kept = G.top_p_filter(logits, p)[0].isfinite()
        order = probs.argsort(descending=True)
        n = int((probs[order].cumsum(0) < p).sum()) + 1  # smallest prefix reaching p
        assert set(torch.nonzero(kept).flatten().tolist()) == set(order[:n].tolist()), p
    assert torch.equal(G.top_p_filter(logits, 1.0), logits) and torch.equal(G.top_k_filter(logits, 0), logits)


def test_repetition_penalty_and_temperature() -> None:
    logits = torch.tensor([2.0, -2.0, 1.0, 0.5])
    out = G.apply_repetition_penalty(logits, [0, 1, 1], 2.0)
    assert out.tolist() == [1.0, -4.0, 1.0, 0.5]
    assert torch.equal(G.apply_repetition_penalty(logits, [0], 1.0), logits)
    assert torch.allclose(G.apply_temperature(logits, 0.5), logits * 2)
    with pytest.raises(ValueError, match="greedy"):
        G.apply_temperature(logits, 0)
    probs = G.next_token_probs(logits, SamplingConfig(temperature=0))
    assert probs.tolist() == [1.0, 0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- cache, windows, determinism


def test_window_start_keeps_between_context_minus_slide_and_context() -> None:
    C = 16
    for slide in (1, 3, 4, 16):
        for L in range(1, 80):
            s = G.window_start(L, C, slide)
            assert 0 <= s and L - s <= C
            if L > C:
                assert L - s >= C - slide + 1 and s % slide == 0
            else:
                assert s == 0
    assert G.window_start(40, 16, 1) == 24


@pytest.mark.parametrize("slide", [None, 1, 5, 16])
def test_greedy_with_cache_equals_without_past_the_context(model, slide) -> None:
    config = greedy(50, slide=slide)  # 8 prompt + 50 new tokens: the context of 16 is passed 3 times
    cached = G.generate(model, PROMPT, config, use_cache=True)
    plain = G.generate(model, PROMPT, config, use_cache=False)
    assert len(cached) == 50 and cached == plain


def test_cache_equals_no_cache_with_sampling_and_repetition_penalty(model) -> None:
    config = SamplingConfig(temperature=0.9, top_k=20, top_p=0.9, repetition_penalty=1.3, max_new_tokens=40, seed=7)
    assert G.generate(model, PROMPT, config) == G.generate(model, PROMPT, config, use_cache=False)


def test_greedy_matches_a_hand_written_loop(model) -> None:
    """With slide=1 the window is the last context_length tokens at every step (nanoGPT's loop)."""
    seq = list(PROMPT)
    with torch.no_grad():
        for _ in range(30):
            logits, _ = model(torch.tensor([seq[-model.config.context_length:]]))
            seq.append(int(logits[0, -1].argmax()))
    assert G.generate(model, PROMPT, greedy(30, slide=1)) == seq[len(PROMPT):]


def test_temperature_zero_is_deterministic_whatever_the_seed(model) -> None:
    runs = {tuple(G.generate(model, PROMPT, greedy(25, seed=s))) for s in (None, 0, 1, 99)}
    assert len(runs) == 1


def test_same_seed_same_tokens_regardless_of_global_rng(model) -> None:
    config = SamplingConfig(temperature=1.0, max_new_tokens=30, seed=123)
    torch.manual_seed(0)
    first = G.generate(model, PROMPT, config)
    torch.manual_seed(999)
    torch.rand(100)
    assert G.generate(model, PROMPT, config) == first
    others = {tuple(G.generate(model, PROMPT, config.replace(seed=s))) for s in range(5)}
    assert len(others) > 1, "different seeds should give different samples"


def test_no_seed_follows_the_global_rng(model) -> None:
    config = SamplingConfig(temperature=1.0, max_new_tokens=20)
    torch.manual_seed(5)
    a = G.generate(model, PROMPT, config)
    torch.manual_seed(5)
    assert G.generate(model, PROMPT, config) == a


def test_same_seed_same_text(char_model, char_tok) -> None:
    config = SamplingConfig(temperature=1.0, top_k=10, max_new_tokens=40, seed=3)
    streams = [G.stream_text(char_model, char_tok, "It was", config, stop_at_eot=False) for _ in range(2)]
    texts = {"".join(s) for s in streams}
    assert len(texts) == 1 and len(streams[0].token_ids) == 40


@pytest.mark.parametrize("n", [1, 7, 33])
def test_length_limit_is_respected(model, n) -> None:
    events = list(G.stream(model, PROMPT, SamplingConfig(temperature=1.0, max_new_tokens=n, seed=0)))
    tokens = [e.token_id for e in events if e.token_id is not None]
    assert len(tokens) == n and events[-1] == G.StreamEvent(None, G.FINISH_LENGTH)
    assert sum(e.finish_reason is not None for e in events) == 1


# --------------------------------------------------------------------------- top-k / top-p sets


@pytest.mark.parametrize("changes", [{"top_k": 3}, {"top_p": 0.5}, {"top_k": 5, "top_p": 0.6}])
def test_sampling_never_picks_outside_the_top_k_or_top_p_set(model, changes) -> None:
    config = SamplingConfig(temperature=1.5, max_new_tokens=20, **changes)
    checked = 0
    for seed in range(8):
        out = G.generate(model, PROMPT, config.replace(seed=seed), use_cache=True)
        seq = list(PROMPT)
        for token in out:
            with torch.no_grad():
                C = model.config.context_length  # the window the engine reads (it slides past the context)
                logits = model(torch.tensor([seq[G.window_start(len(seq), C, G.default_slide(C)):]]))[0][0, -1]
            allowed = G.process_logits(logits, config).isfinite()
            assert allowed[token], f"picked {token} outside the set ({changes})"
            assert allowed.sum() < model.config.vocab_size  # the filter did cut something
            seq.append(token)
            checked += 1
    assert checked == 8 * 20


# --------------------------------------------------------------------------- stop sequences


def test_stop_sequence_ends_generation_and_is_left_out(model) -> None:
    full = G.generate(model, PROMPT, greedy(40))
    stop = full[10:12]
    first = next(i for i in range(len(full) - 1) if full[i:i + 2] == stop)
    config = greedy(40, stop_sequences=[[60, 60, 60], stop])
    [(tokens, reason)] = G.generate_with_reasons(model, [PROMPT], config)
    assert tokens == full[:first] and reason == G.FINISH_STOP
    events = list(G.stream(model, PROMPT, config))  # streamed: the stop's first token is never released
    assert [e.token_id for e in events[:-1]] == full[:first] and events[-1].finish_reason == G.FINISH_STOP


def test_a_held_back_partial_stop_is_released_when_it_does_not_complete(model) -> None:
    full = G.generate(model, PROMPT, greedy(20))
    never = next(t for t in range(model.config.vocab_size) if t not in full)
    config = greedy(20, stop_sequences=[[full[-1], never], [full[3], never]])  # starts that never complete
    events = list(G.stream(model, PROMPT, config))
    assert [e.token_id for e in events[:-1]] == full and events[-1].finish_reason == G.FINISH_LENGTH


# --------------------------------------------------------------------------- prompts and batches


def test_long_prompt_is_cropped_from_the_left_with_a_warning(model, caplog) -> None:
    long_prompt = list(range(40))
    with caplog.at_level(logging.WARNING, logger="minigpt_helpers.generation"):
        out = G.generate(model, long_prompt, greedy(10))
    assert "keeping its last 16" in caplog.text and "first 24 are dropped" in caplog.text
    assert out == G.generate(model, long_prompt[-16:], greedy(10))


def test_bad_prompts_are_refused(model) -> None:
    with pytest.raises(ValueError, match="empty"):
        G.generate(model, [], greedy(3))
    with pytest.raises(ValueError, match="vocab_size=61"):
        G.generate(model, [61], greedy(3))


def test_batch_equals_one_prompt_at_a_time(model) -> None:
    prompts = [PROMPT, [7], list(range(20, 31)), list(range(40))]  # different lengths, one longer than the context
    config = greedy(30)
    batch = G.generate_batch(model, prompts, config)
    assert batch == [G.generate(model, p, config) for p in prompts]
    assert G.generate_batch(model, prompts, config, use_cache=False) == batch
    sampled = SamplingConfig(temperature=1.0, top_k=20, max_new_tokens=15, seed=11)
    rows = G.generate_batch(model, prompts[:3], sampled)
    assert rows == [G.generate(model, p, sampled.replace(seed=11 + b)) for b, p in enumerate(prompts[:3])]


def test_batch_rows_stop_on_their_own(model) -> None:
    full = G.generate(model, PROMPT, greedy(30))
    config = greedy(30, stop_sequences=[[full[4]]])
    results = G.generate_with_reasons(model, [PROMPT, [7, 8]], config)
    assert results[0] == (full[:full.index(full[4])], "stop")
    assert results[1][1] in ("stop", "length") and len(results[1][0]) <= 30


def test_time_generation_counts_every_token(model) -> None:
    run = lessons.time_generation(model, PROMPT, 12, use_cache=True)
    assert run["new_tokens"] == 12 and len(run["times"]) == 12 and run["tokens_per_s"] > 0
    assert run["times"] == sorted(run["times"])


def test_compare_cache_speed_keeps_the_fastest_run_of_each_path(model, monkeypatch) -> None:
    calls, speeds = [], iter([9.0, 1.0, 5.0, 3.0, 7.0, 2.0])  # with, without, with, without, ...
    real = lessons.time_generation

    def fake(m, prompt, n, *, use_cache):
        run = real(m, prompt, n, use_cache=use_cache)
        calls.append(use_cache)
        if n == 10:  # a timed run, not the warm-up
            run["tokens_per_s"] = next(speeds)
        return run

    monkeypatch.setattr(lessons, "time_generation", fake)
    best = lessons.compare_cache_speed(model, PROMPT, 10, repeats=3)
    assert calls == [True] + [True, False] * 3  # one warm-up, then the paths in turns
    assert best[True]["tokens_per_s"] == 9.0 and best[False]["tokens_per_s"] == 3.0
    assert best[True]["tokens"] == best[False]["tokens"] and len(best[True]["tokens"]) == 10
    with pytest.raises(ValueError, match="repeats=0"):
        lessons.compare_cache_speed(model, PROMPT, 10, repeats=0)


def test_count_ops_counts_each_tensor_operation() -> None:
    assert lessons.count_ops(lambda: torch.ones(3) + 1) == 2  # ones, add
    assert lessons.count_ops(lambda: None) == 0


def test_a_one_token_step_costs_the_same_ops_per_extra_layer() -> None:
    def ops(n_layer: int) -> int:
        torch.manual_seed(0)
        m = GPT(GPTConfig(vocab_size=61, context_length=16, n_layer=n_layer, n_head=2, n_embd=32)).eval()
        return int(lessons.time_decode_parts(m, repeats=1)["ops"])

    one, two, three = ops(1), ops(2), ops(3)
    assert one > 10 and two - one == three - two > 5  # every block adds the same operations


def test_time_decode_parts_leaves_the_model_as_it_was(model) -> None:
    before = G.generate(model, PROMPT, greedy(10))
    parts = lessons.time_decode_parts(model, slide=4, repeats=1)
    assert parts["window"] == 16 - 2  # context minus half a slide: the average window past the context
    assert parts["weights_mb"] == pytest.approx(sum(p.numel() * 4 for p in model.parameters()) / 1e6)
    assert all(parts[k] > 0 for k in ("one_token_ms", "window_ms", "read_weights_ms", "products_ms"))
    tied = model.lm_head is None
    assert parts["products"] == 4 * model.config.n_layer + tied  # q/k/v, attention out, MLP in and out; head
    assert G.generate(model, PROMPT, greedy(10)) == before


# --------------------------------------------------------------------------- text on top


class _Scripted:
    """Replace the engine's stream with a fixed list of token ids (to test the text layer alone)."""

    def __init__(self, ids: list[int], reason: str = "length") -> None:
        self.ids, self.reason = ids, reason

    def __call__(self, model, prompt_ids, config, *, use_cache=True, suppress_first=()):
        for i in self.ids:
            yield G.StreamEvent(i)
        yield G.StreamEvent(None, self.reason)


@pytest.fixture(scope="module")
def byte_tok() -> BPETokenizer:
    """A byte-level BPE with so few merges that an emoji or an accent is split over several tokens."""
    return BPETokenizer.train(["plain words and more plain words " * 20], vocab_size=270)


def test_text_stream_never_splits_a_character(monkeypatch, byte_tok) -> None:
    text = "caf\u00e9 \U0001F600 na\u00efve \u2014 done"
    ids = byte_tok.encode(text)
    assert any("\ufffd" in byte_tok.decode(ids[:n]) for n in range(1, len(ids))), "no token splits a character"
    monkeypatch.setattr(G, "stream", _Scripted(ids))
    s = G.stream_text(None, byte_tok, "x", SamplingConfig(max_new_tokens=len(ids)))
    pieces = list(s)
    assert len(pieces) > 3 and all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == text == s.text and s.finish_reason == "length" and s.token_ids == ids


def test_text_decoder_fed_known_ids_holds_back_half_characters(byte_tok) -> None:
    text = "na\u00efve caf\u00e9 \U0001F600"
    ids = byte_tok.encode(text)
    decoder = G.TextDecoder(byte_tok)
    pieces = [decoder.push(i) for i in ids] + [decoder.flush()]
    shown = [p for p in pieces if p]
    assert "".join(shown) == text == decoder.text and decoder.token_ids == ids
    assert all("\ufffd" not in p for p in shown)
    assert len(shown) < len(ids)  # the split characters' first tokens released nothing
    assert not decoder.stopped


def test_text_decoder_stops_at_a_stop_string_and_refuses_more(byte_tok) -> None:
    decoder = G.TextDecoder(byte_tok, stop="\nREADER:")
    ids, shown = byte_tok.encode("plain words\nREADER: more"), ""
    while not decoder.stopped:
        shown += decoder.push(ids[len(decoder.token_ids)])
    assert shown == "plain words" == decoder.text and decoder.flush() == ""
    assert len(decoder.token_ids) < len(ids)  # it stopped at the stop string, before the end
    with pytest.raises(RuntimeError, match="new TextDecoder"):
        decoder.push(1)
    with pytest.raises(ValueError, match="empty string"):
        G.TextDecoder(byte_tok, stop=["x", ""])


class _UpperWord:
    """A stop rule for the test: stop at a word in capitals of 3+ letters; hold back capitals at the end."""

    def find(self, text: str) -> int:
        m = re.search(r"\b[A-Z]{3,}\b", text)
        return m.start() if m else -1

    def pending(self, text: str) -> int:
        return len(text) - len(text.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def test_text_decoder_takes_stop_rules_beside_stop_strings(byte_tok) -> None:
    text = "quiet words then LOUD ones"
    decoder, shown = G.TextDecoder(byte_tok, stop=[_UpperWord(), "zzz"]), []
    for i in byte_tok.encode(text):
        shown.append(decoder.push(i))
        if decoder.stopped:
            break
    assert "".join(shown) == "quiet words then " == decoder.text
    assert not any("L" in p for p in shown)  # "L", "LO", "LOU" were held back until the rule decided
    decoder = G.TextDecoder(byte_tok, stop=[_UpperWord(), " then"])
    assert "".join(decoder.push(i) for i in byte_tok.encode(text) if not decoder.stopped) == "quiet words"
    with pytest.raises(TypeError, match="StopRule"):
        G.TextDecoder(byte_tok, stop=["x", 3])


def test_timers_wait_for_the_models_device(monkeypatch, model) -> None:
    # CUDA and MPS run behind Python: both timers must wait for the device (hardware.synchronize
    # knows each kind), or they would time only the queueing of the work
    asked = []
    monkeypatch.setattr(lessons, "synchronize", lambda device: asked.append(torch.device(device).type) or (lambda: None))
    lessons.time_generation(model, PROMPT, 3, use_cache=True)
    lessons.time_decode_parts(model, repeats=1)
    assert asked == ["cpu", "cpu"]
    calls = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: calls.append("cuda"))
    for kind in ("mps", "cuda", "cpu"):
        hardware.synchronize(kind)()
    assert calls == ["mps", "cuda"]


def test_text_stop_string_across_tokens_is_cut_and_never_shown(monkeypatch, byte_tok) -> None:
    ids = byte_tok.encode("plain words\nREADER: more words")
    monkeypatch.setattr(G, "stream", _Scripted(ids))
    s = G.stream_text(None, byte_tok, "x", SamplingConfig(max_new_tokens=50), stop=["\nREADER:"])
    pieces = list(s)
    assert "".join(pieces) == "plain words" == s.text and s.finish_reason == "stop"
    assert all("\n" not in p for p in pieces)
    monkeypatch.setattr(G, "stream", _Scripted(byte_tok.encode("plain\nREA"), "stop"))
    s = G.stream_text(None, byte_tok, "x", SamplingConfig(max_new_tokens=50), stop=["\nREADER:"])
    assert "".join(s) == "plain\nREA"  # a partial stop string at the very end is released


def test_complete_and_stream_text_agree_and_stop_at_eot(char_model, char_tok) -> None:
    config = SamplingConfig(temperature=0.8, max_new_tokens=30, seed=4)
    s = G.stream_text(char_model, char_tok, "Alice", config, stop_at_eot=False)
    pieces = list(s)
    assert "".join(pieces) == s.text == G.complete(char_model, char_tok, "Alice", config, stop_at_eot=False)
    assert s.text == char_tok.decode(s.token_ids) and len(s.token_ids) == 30
    assert [char_tok.eot_id] in G.stream_text(char_model, char_tok, "A", config).config.stop_sequences
    assert G.encode_prompt(char_tok, "") == [char_tok.eot_id]
    batch = G.complete_batch(char_model, char_tok, ["Alice", "It was"], config.replace(temperature=0.0))
    assert batch == [G.complete(char_model, char_tok, p, config.replace(temperature=0.0)) for p in ["Alice", "It was"]]


# --------------------------------------------------------------------------- the sampling widget


def test_sampling_widget_callback_streams_without_a_display(char_model, char_tok) -> None:
    from minigpt_helpers.sampling_widgets import SamplingWidget

    w = SamplingWidget(char_model, char_tok, prompt="It was")
    w.temperature.value, w.top_k.value, w.top_p.value, w.length.value, w.seed.value = 0.7, 10, 0.9, 25, 5
    text = w.generate()
    expected = G.complete(char_model, char_tok, "It was",
                          SamplingConfig(temperature=0.7, top_k=10, top_p=0.9, max_new_tokens=25, seed=5))
    assert text == expected and len(text) > 0
    assert "<b>It was</b>" in w.output.value and "finished" in w.status.value
    w.seed.value = -1
    assert w.generate() == "" and "seed=-1" in w.status.value and not w.button.disabled


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory, char_model, char_tok) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "run" / "best", char_model, char_tok)


def test_cli_generate_in_process(checkpoint_dir, capsys) -> None:
    args = ["--checkpoint", str(checkpoint_dir), "--prompt", "It was", "--max-new-tokens", "12", "--temperature", "0"]
    assert cli.main(["generate", *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith("It was") and len(out.rstrip("\n")) >= len("It was")
    assert cli.main(["generate", *args, "--completion-only", "--num-samples", "2"]) == 0
    first, second = capsys.readouterr().out.split("\n" + "-" * 40 + "\n")
    assert first.strip("\n") == second.strip("\n") == out[len("It was"):].strip("\n")
    assert cli.main(["generate", *args, "--top-p", "2"]) == 2
    assert "top_p=2.0" in capsys.readouterr().err


def test_cli_accepts_a_run_name_and_a_run_folder(data_dir, char_model, char_tok, capsys) -> None:
    save_checkpoint(data_dir / "checkpoints" / "myrun" / "best", char_model, char_tok)
    args = ["--prompt", "It", "--max-new-tokens", "5", "--temperature", "0", "--completion-only"]
    assert cli.main(["generate", "--checkpoint", "myrun", *args]) == 0
    by_name = capsys.readouterr().out
    assert cli.main(["generate", "--checkpoint", str(data_dir / "checkpoints" / "myrun"), *args]) == 0
    assert capsys.readouterr().out == by_name and by_name.strip("\n")
    assert cli.resolve_checkpoint("myrun") == data_dir / "checkpoints" / "myrun" / "best"


def test_cli_missing_checkpoint_names_the_fix(tmp_path, capsys) -> None:
    assert cli.main(["generate", "--prompt", "hi"]) == 2  # the scratch data folder holds no checkpoint
    err = capsys.readouterr().err
    assert "05_training" in err and "--checkpoint" in err
    assert cli.main(["generate", "--checkpoint", str(tmp_path / "nowhere"), "--prompt", "hi"]) == 2
    assert "no checkpoint there" in capsys.readouterr().err


def test_cli_refuses_zero_new_tokens_instead_of_using_the_default(checkpoint_dir, capsys) -> None:
    assert cli.main(["generate", "--checkpoint", str(checkpoint_dir), "--prompt", "It", "--max-new-tokens", "0"]) == 2
    assert "max_new_tokens=0" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_generate_through_python_dash_m(checkpoint_dir) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "minigpt_helpers", "generate", "--checkpoint", str(checkpoint_dir),
           "--prompt", "Alice", "--max-new-tokens", "10", "--seed", "1", "--top-k", "5", "--completion-only"]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.rstrip("\n")) >= 1


def test_suppress_first_bans_only_each_rows_first_token(model) -> None:
    prompts = [[1, 2, 3], [4, 5, 6, 7, 8]]
    free = G.generate_batch(model, prompts, greedy(6))
    banned = sorted({row[0] for row in free})
    held: list[list[int]] = [[], []]
    for b, event in G.stream_batch(model, prompts, greedy(6), suppress_first=banned):
        if event.token_id is not None:
            held[b].append(event.token_id)
    for row in held:
        assert row[0] not in banned and len(row) == 6
    # later tokens are free again: a row's first token may come back afterwards
    one = G.generate(model, [1, 2, 3], greedy(1))
    again = [e.token_id for e in G.stream(model, [1, 2, 3], greedy(8), suppress_first=one) if e.token_id is not None]
    assert again[0] != one[0]
    with pytest.raises(ValueError, match="bans every token"):
        list(G.stream(model, [1, 2], greedy(2), suppress_first=range(model.config.vocab_size)))


def test_blank_token_ids_are_whitespace_and_end_of_text(char_tok) -> None:
    blank = G.blank_token_ids(char_tok)
    assert char_tok.eot_id in blank
    assert set(char_tok.encode(" \n")) <= set(blank)
    assert not set(char_tok.encode("Alice,.'?")) & set(blank)
