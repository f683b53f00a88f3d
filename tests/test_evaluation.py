"""Evaluation: perplexity = exp(loss), sliding windows score each token exactly once, bits per byte
and word-level perplexity by hand, uniform = ln(vocab), baselines, text quality, the CLI."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from _textgen import sentences
from minigpt_helpers import artifacts, baselines, cli, dataset, eval_report, evaluation, runs, text_quality, training
from minigpt_helpers.model import GPT, GPTConfig
from minigpt_helpers.tokenization import BPETokenizer, CharTokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_gpt(vocab: int = 40, context: int = 16, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=vocab, context_length=context, n_layer=2, n_head=2, n_embd=16))
    return model.eval()


class FixedModel(torch.nn.Module):
    """Predicts the same distribution (``log_probs``) at every position, whatever it reads."""

    def __init__(self, log_probs: torch.Tensor, context: int = 8) -> None:
        super().__init__()
        self.config = GPTConfig(vocab_size=len(log_probs), context_length=context, n_layer=1, n_head=1, n_embd=4)
        self.log_probs = torch.nn.Parameter(log_probs.clone().float(), requires_grad=False)
        self.calls = 0

    def forward(self, idx, targets=None):
        self.calls += 1
        return self.log_probs.expand(*idx.shape, -1), None


# --------------------------------------------------------------------------- the numbers


def test_perplexity_equals_exp_loss() -> None:
    model = tiny_gpt()
    ids = torch.randint(0, 40, (1, 17), generator=torch.Generator().manual_seed(1))
    _, loss = model(ids[:, :-1], ids[:, 1:])
    scores = evaluation.score_tokens(model, ids[0].tolist(), stride=16, progress=False)  # one window: the same targets
    summary = evaluation.summarize(scores.total, 16, 100)
    assert summary["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert summary["perplexity"] == pytest.approx(math.exp(loss.item()), rel=1e-5)
    assert evaluation.perplexity(2.0) == pytest.approx(math.e**2)


def test_uniform_model_gets_ln_vocab() -> None:
    V = 37
    model = FixedModel(torch.zeros(V))  # equal logits: every token 1 / V
    docs = [{"ids": np.arange(30) % V}, {"ids": np.arange(11) % V}]
    result = evaluation.evaluate_documents(model, docs, np.ones(V, np.int64), eot_id=0, stride=4, progress=False)
    assert result["total"]["tokens"] == 41
    assert result["total"]["loss"] == pytest.approx(math.log(V), rel=1e-6)
    assert result["total"]["perplexity"] == pytest.approx(V, rel=1e-5)
    assert baselines.uniform_nll(41, V) / 41 == pytest.approx(math.log(V))


def test_untrained_gpt_scores_near_ln_vocab() -> None:
    config = GPTConfig(vocab_size=300, context_length=32, n_layer=2, n_head=2, n_embd=32)
    ids = np.random.default_rng(0).integers(0, 300, 500)
    nll, n = baselines.untrained_nll(config, ids, eot_id=0)
    assert n == 500
    assert abs(nll / n - math.log(300)) < 0.05


def test_bits_per_byte_and_word_perplexity_by_hand() -> None:
    """A character model that gives 'a' 1/2, 'b' 1/4 and every other character the rest, on a text
    of 9 characters, 10 bytes (é is two) and 3 words."""
    text = "ab aé\nbab"
    tok = CharTokenizer.train([text])  # chars: '\n', ' ', 'a', 'b', 'é'; then <eot>, <unk>
    V = tok.vocab_size
    probs = torch.full((V,), 0.25 / (V - 2))
    probs[tok.encode("a")[0]], probs[tok.encode("b")[0]] = 0.5, 0.25
    model = FixedModel(probs.log(), context=4)
    # by hand: three a's (ln 2 each), three b's (ln 4 each), ' ', 'é', '\n' (ln(4 (V-2)) each)
    nll = 3 * math.log(2) + 3 * math.log(4) + 3 * math.log(4 * (V - 2))
    result = evaluation.evaluate_text(model, tok, text, stride=2, progress=False)
    assert (result["tokens"], result["bytes"], result["words"]) == (9, 10, 3)
    assert result["nll_nats"] == pytest.approx(nll, rel=1e-6)
    assert result["bits_per_byte"] == pytest.approx(nll / (math.log(2) * 10), rel=1e-6)
    assert result["word_perplexity"] == pytest.approx(math.exp(nll / 3), rel=1e-6)
    assert result["perplexity"] == pytest.approx(math.exp(nll / 9), rel=1e-6)
    assert evaluation.bits_per_byte(8 * math.log(2), 4) == pytest.approx(2.0)


def test_count_words_is_whitespace_pieces() -> None:
    assert evaluation.count_words(" = Title = \n \n A film , 1999 @-@ 2000 .\n") == 10
    assert evaluation.count_words("") == 0
    with pytest.raises(ValueError, match="at least one word"):
        evaluation.word_perplexity(1.0, 0)


# --------------------------------------------------------------------------- sliding windows


@pytest.mark.parametrize("n, context, stride", [(1, 8, 4), (2, 8, 4), (5, 8, 4), (9, 8, 4), (10, 8, 4), (50, 8, 1),
                                                (50, 8, 3), (50, 8, 8), (64, 16, 16), (65, 16, 7)])
def test_plan_scores_every_target_exactly_once(n: int, context: int, stride: int) -> None:
    plan = evaluation.plan_windows(n, context, stride)
    hits = np.zeros(max(n - 1, 0), int)
    for w in plan:
        assert w.length == min(context, n - 1) and w.start >= 0 and w.start + w.length <= n - 1
        hits[w.start + w.first:w.start + w.length] += 1
    assert hits.size == 0 or (hits == 1).all()
    assert len(plan) == (0 if n < 2 else max(1, math.ceil((n - 1 - context) / stride) + 1))


def test_sliding_window_scores_each_token_once_with_full_context() -> None:
    """Instrumented: which targets each forward pass wrote, and the context each one had; every
    score equals the model run on exactly that context."""
    model = tiny_gpt(context=16)
    ids = np.random.default_rng(3).integers(0, 40, 75)
    for stride in (1, 5, 8, 16):
        scores = evaluation.score_tokens(model, ids, stride=stride, batch_size=3, progress=False)
        assert len(scores.nll) == 74 and (scores.times_scored == 1).all(), stride
        assert scores.context[:16].tolist() == list(range(1, 17))  # the first window
        assert scores.context[16:].min() >= 16 - stride + 1
        for k in range(74):  # target k is ids[k + 1], read after context[k] tokens
            c = int(scores.context[k])
            logits, _ = model(torch.tensor(ids[k + 1 - c:k + 1])[None])
            expected = -torch.log_softmax(logits[0, -1], -1)[ids[k + 1]].item()
            assert scores.nll[k] == pytest.approx(expected, abs=1e-5), (stride, k)


def test_sliding_window_is_deterministic_and_batch_independent() -> None:
    model = tiny_gpt(context=16)
    ids = np.random.default_rng(4).integers(0, 40, 200)
    a = evaluation.score_tokens(model, ids, batch_size=1, progress=False)
    b = evaluation.score_tokens(model, ids, batch_size=64, progress=False)
    c = evaluation.score_tokens(model, ids, batch_size=64, progress=False)
    np.testing.assert_allclose(a.nll, b.nll, atol=1e-5)
    assert np.array_equal(b.nll, c.nll)
    assert a.forward_positions == 16 * len(evaluation.plan_windows(200, 16, 8))


def test_stride_must_fit_the_context() -> None:
    for bad in (0, 17):
        with pytest.raises(ValueError, match="stride"):
            evaluation.plan_windows(100, 16, bad)


# --------------------------------------------------------------------------- bytes and caps


def test_token_bytes_count_exactly() -> None:
    text = sentences(1, 50) + " café naïve — “quoted”"
    for tok in (BPETokenizer.train([text], vocab_size=300), CharTokenizer.train([text])):
        lengths = evaluation.token_byte_lengths(tok)
        assert int(lengths[tok.encode(text)].sum()) == len(text.encode("utf-8"))
        assert lengths[tok.eot_id] == 0


def test_capped_evaluation_counts_the_bytes_it_scored() -> None:
    text_a, text_b = sentences(2, 80), sentences(3, 20) + " déjà vu"
    tok = BPETokenizer.train([text_a, text_b], vocab_size=280)
    docs = [{"book_id": "a", "ids": np.array(tok.encode(text_a))}, {"book_id": "b", "ids": np.array(tok.encode(text_b))}]
    total = sum(len(d["ids"]) for d in docs)
    model = tiny_gpt(vocab=tok.vocab_size, context=16)
    result = evaluation.evaluate_documents(model, docs, evaluation.token_byte_lengths(tok), tok.eot_id,
                                           max_tokens=total // 2, progress=False)
    assert 0 < result["total"]["tokens"] <= total // 2 and not result["total"]["complete"]
    for doc, row in zip(docs, result["documents"]):
        scored_text = tok.decode(doc["ids"][:row["tokens"]].tolist())
        assert row["bytes"] == len(scored_text.encode("utf-8")), row["book_id"]
    assert result["total"]["bytes"] == sum(r["bytes"] for r in result["documents"])
    full = evaluation.evaluate_documents(model, docs, evaluation.token_byte_lengths(tok), tok.eot_id, progress=False)
    assert full["total"]["complete"] and full["total"]["bytes"] == len(text_a.encode()) + len(text_b.encode())


def test_allocate_is_proportional_and_capped() -> None:
    assert evaluation.allocate([10, 30], None) == [10, 30]
    assert evaluation.allocate([10, 30], 100) == [10, 30]
    assert evaluation.allocate([100, 300], 200) == [50, 150]
    assert evaluation.allocate([1, 1000], 10) == [1, 9]


# --------------------------------------------------------------------------- baselines


def test_unigram_and_bigram_are_distributions_and_bigram_uses_context() -> None:
    rng = np.random.default_rng(0)
    V = 12
    train = np.array([int(i) for _ in range(400) for i in rng.permutation(6)])  # each token follows others
    train = np.concatenate([train, np.arange(6) * 2 % V])
    uni = baselines.UnigramModel(train, V)
    assert np.exp(uni.log_probs).sum() == pytest.approx(1.0)
    bi = baselines.BigramModel(train, V)
    for a in (0, 3, 11):
        p = np.exp(-bi.nll(np.full(V, a), np.arange(V)))
        assert p.sum() == pytest.approx(1.0)
    cyc = np.tile(np.arange(6), 50)  # a repeating 0..5 cycle: the bigram predicts it better
    bi_cycle = baselines.BigramModel(cyc, V)
    test = np.tile(np.arange(6), 5)
    assert bi_cycle.nll(test[:-1], test[1:]).mean() < baselines.UnigramModel(cyc, V).nll(test[1:]).mean()


# --------------------------------------------------------------------------- WikiText


def test_wikitext_articles_and_prefix() -> None:
    raw = " \n = First = \n \n One two three .\n \n = = Part = = \n Four .\n \n = Second = \n \n Five six .\n"
    articles = evaluation.wikitext_articles(raw)
    assert len(articles) == 2 and "".join(articles) == raw
    assert articles[1].startswith(" = Second = ")
    tok = CharTokenizer.train([raw])
    text, kept, total = evaluation.wikitext_prefix(raw, tok, max_tokens=len(articles[0]) + 3)
    assert (text, kept, total) == (articles[0], 1, 2)
    assert evaluation.wikitext_prefix(raw, tok, None) == (raw, 2, 2)


def test_wikitext_validation_and_test_load_from_the_offline_copy(shared_datasets) -> None:
    for split in ("validation", "test"):
        ok, why = evaluation.wikitext_available(split)
        assert ok, why
    if os.environ.get("HF_DATASETS_OFFLINE") == "1":  # with a network it would download instead
        ok, why = evaluation.wikitext_available("train")  # not in the offline copy: a reason, not a crash
        assert not ok and "HF_DATASETS_OFFLINE" in why


# --------------------------------------------------------------------------- text quality


def test_distinct_n_and_repetition_by_hand() -> None:
    texts = ["a b a b a b", "c d e"]
    # bigrams: (a b) x3, (b a) x2 | (c d), (d e): 4 unique of 7
    assert text_quality.distinct_n(texts, 2) == pytest.approx(4 / 7)
    assert text_quality.distinct_n(texts, 1) == pytest.approx(5 / 9)
    # 4-grams of the first: (a b a b), (b a b a), (a b a b): one repeat of 3; the second has none
    assert text_quality.repetition_rate(texts, 4) == pytest.approx(1 / 3)
    assert text_quality.repetition_rate(["one two"], 4) == 0.0


# --------------------------------------------------------------------------- with a trained run


@pytest.fixture
def tiny_run(data_dir):
    """A character-level run trained for a few steps under data/checkpoints/tiny."""
    folder = data_dir / "tiny"
    train_text, val_a, val_b = sentences(1, 400), sentences(2, 40), sentences(3, 25)
    tok = CharTokenizer.train([train_text, val_a, val_b])
    tok.save(folder / "tokenizer")
    dataset.write_token_files(folder, tok, {"train": [train_text], "val": [val_a, val_b]})
    config = training.TrainConfig(run="tiny", tokens_dir="tiny", tokenizer_dir="tiny/tokenizer", model_preset="ci",
                                  model_overrides={"n_layer": 1, "n_head": 2, "n_embd": 16}, context_length=16,
                                  batch_size=4, max_steps=6, learning_rate=3e-3, warmup_steps=1, eval_interval=3,
                                  eval_batches=2, log_interval=1, tensorboard=False, device="cpu", sample_interval=3,
                                  sample_tokens=20, precision="fp32")
    result = training.train(config, resume=False, progress=False)
    return config, result


def test_quick_estimate_repeats_trainings_val_loss(tiny_run) -> None:
    from minigpt_helpers.checkpoint import load_checkpoint

    config, result = tiny_run
    ckpt = load_checkpoint(result.run_dir / "best")
    val = dataset.load_tokens("val", tokenizer=ckpt.tokenizer, folder=evaluation.tokens_folder(ckpt.config))
    est = evaluation.quick_estimate(ckpt.model, val, batches=config.eval_batches, batch_size=config.batch_size,
                                    seed=config.seed + 1)
    assert est == pytest.approx(result.best_val_loss, abs=1e-5)
    quick = eval_report.quick_section(ckpt.model, val, ckpt.config["train"], seeds=2, exact_loss=0.0)
    assert quick["precision"] == "fp32" and quick["loss"] == est  # training's own format on this device
    in_bf16 = evaluation.quick_estimate(ckpt.model, val, batches=config.eval_batches, batch_size=config.batch_size,
                                        seed=config.seed + 1, precision="bf16")
    assert in_bf16 != est and in_bf16 == pytest.approx(est, abs=0.05)  # autocast really used, rounding only
    exact = evaluation.evaluate_split(ckpt.model, ckpt.tokenizer, val, progress=False)
    assert [d["book_id"] for d in exact["documents"]] == ["val-0", "val-1"]
    assert exact["total"]["bytes"] == val.meta["bytes"]["val"] and exact["total"]["complete"]


def test_quality_over_checkpoints_and_curves(tiny_run) -> None:
    _, result = tiny_run
    rows = text_quality.quality_over_checkpoints(result.run_dir, prompts=["The ", "And "], max_new_tokens=12,
                                                 samples_per_prompt=1, device="cpu")
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows) and len(rows) >= 2
    assert all(r["samples"] == 2 and 0 <= r["distinct_1"] <= 1 for r in rows)
    summary = evaluation.overfitting_summary(runs.read_metrics(result.run_dir))
    assert summary["best_step"] in (0, 3, 6) and summary["last_step"] == 6
    during = text_quality.quality_of_training_samples(result.run_dir)
    assert [r["step"] for r in during] == [3, 6]


def test_overfitting_summary_sees_a_rise() -> None:
    records = [{"step": s, "train_loss": 3 - s / 10, "val_loss": v} for s, v in [(0, 3.0), (10, 2.5), (20, 2.7)]]
    summary = evaluation.overfitting_summary(records)
    assert summary["best_step"] == 10 and summary["val_rise_since_best"] == pytest.approx(0.2)
    assert "overfitting" in summary["verdict"]
    with pytest.raises(ValueError, match="no validation loss"):
        evaluation.overfitting_summary([{"step": 1, "train_loss": 2.0, "val_loss": None}])


def test_cli_prints_and_writes_json(tiny_run, data_dir, capsys) -> None:
    _, result = tiny_run
    out = data_dir / "cli.json"
    assert cli.main(["eval", "--checkpoint", str(result.run_dir), "--stride", "4", "--output", str(out),
                           "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "bits per byte" in printed and "stride 4" in printed
    saved = json.loads(out.read_text())
    assert saved["split"]["settings"]["stride"] == 4 and saved["split"]["total"]["complete"]
    assert cli.main(["eval", "--checkpoint", str(data_dir / "nowhere"), "--no-progress"]) == 2


class CopyModel(torch.nn.Module):
    """A perfect induction head: at each position it predicts the token that followed the last
    earlier occurrence of the current token (almost surely), and every token alike otherwise."""

    def __init__(self, vocab: int, context: int) -> None:
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab, context_length=context, n_layer=1, n_head=1, n_embd=4)
        self.dummy = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        logits = torch.zeros(B, T, self.config.vocab_size)
        for b in range(B):
            last: dict[int, int] = {}
            for t in range(T):
                token = int(idx[b, t])
                if token in last and last[token] + 1 < T:
                    logits[b, t, int(idx[b, last[token] + 1])] = 20.0
                last[token] = t
        return logits, None


def test_context_use_sees_copying_and_a_model_that_ignores_context() -> None:
    V = 500
    text = np.random.default_rng(0).integers(2, V, 5000)
    blind = evaluation.context_use(FixedModel(torch.zeros(V), context=64), text, windows=32, length=64, special_ids=[0, 1])
    assert blind["gain"] == pytest.approx(0.0, abs=1e-5) and blind["shuffle_gain"] == pytest.approx(0.0, abs=1e-5)
    assert blind["induction_first"] == pytest.approx(math.log(V), abs=1e-4)
    assert blind["induction_second"] == pytest.approx(math.log(V), abs=1e-4)  # no copying: no help from the repeat
    copier = evaluation.context_use(CopyModel(V, 64), text, windows=32, length=64, special_ids=[0, 1])
    assert copier["induction_first"] > 5.0  # random tokens, (almost) never seen before in the window
    assert copier["induction_second"] < 0.5  # the repeat is copied: all but its first token is nearly free
    assert len(copier["by_position"]) == 64 and copier["windows"] == 32


def test_picked_up_finds_the_prompts_names_and_long_words() -> None:
    prompt = "Mr. Darcy walked with Elizabeth through the garden at Longbourn, and"
    assert evaluation.picked_up(prompt, " Elizabeth smiled.") == ["Elizabeth"]
    assert evaluation.picked_up(prompt, " the garden was quiet; Mr. Darcy") == ["Darcy", "garden"]
    assert evaluation.picked_up(prompt, " The old man said nothing, and Mr. Smith left.") == []  # "Mr", "The": not names
    assert evaluation.picked_up("The Martians came", " the martians") == []  # a name keeps its capital


def test_prompt_use_scores_every_prompt(tiny_run) -> None:
    from minigpt_helpers.checkpoint import load_checkpoint

    _, result = tiny_run
    ckpt = load_checkpoint(result.run_dir / "best")
    prompts = {"The whale and the ship": ("sea", "the"), "Old river": ()}
    use = evaluation.prompt_use(ckpt.model, ckpt.tokenizer, prompts, max_new_tokens=12)
    assert use["prompts"] == 2 and [r["prompt"] for r in use["rows"]] == list(prompts)
    assert use["share"] == sum(bool(r["repeats"]) for r in use["rows"]) / 2
    assert use["same_book"] == sum(bool(r["same_book"]) for r in use["rows"]) / 2
    assert use["rows"][1]["same_book"] == []  # no names given: nothing to find
    assert all(r["continuation"] for r in use["rows"])
    assert len(evaluation.NAMED_PROMPTS) == 20 and all(len(names) >= 5 for names in evaluation.NAMED_PROMPTS.values())


def test_write_eval_needs_every_part(data_dir) -> None:
    from minigpt_helpers.profiles import get_profile

    with pytest.raises(ValueError, match="lacks"):
        eval_report.write_eval({"split": {}}, get_profile("ci"))
    report = {k: None for k in eval_report.REPORT_KEYS}
    report["checkpoint"] = {"path": "x"}
    report["split"] = {"total": {"loss": 1.0, "bits_per_byte": 2.0}}
    folder = eval_report.write_eval(report, get_profile("ci"))
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["profile"] == "ci" and saved["files"] == ["metrics.json"]
    assert artifacts.read_manifest("eval")["val_bits_per_byte"] == 2.0
