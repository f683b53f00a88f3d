"""Dataset: token files, splits, offsets, batches, resumable samplers and refusals."""

from __future__ import annotations

import io
import json
import pickle
import random

import numpy as np
import pytest
import torch

from minigpt_helpers import artifacts, dataset, lessons, stages, tokenization
from minigpt_helpers.profiles import get_profile
from minigpt_helpers.tokenization import BPETokenizer, CharTokenizer

WORDS = ("the whale sea captain ship night storm letter garden castle river old young "
         "café naïve “quoted” — über smiled walked said").split()


def _book(seed: int, paragraphs: int) -> str:
    rng = random.Random(seed)
    paras = []
    for _ in range(paragraphs):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize() + "." for _ in range(rng.randint(2, 4))]
        paras.append("\n".join(lines))
    return "\n\n".join(paras) + "\n"


BOOKS = {101: ("Short One", 30), 202: ("Middle Two", 60), 303: ("Long Three", 90)}


def _stages(profile, kind: str = "bpe", books: dict | None = None) -> dict[int, str]:
    """Fake raw, clean and tokenizer stages for ``profile`` in the scratch data folder."""
    books = books or BOOKS
    texts = {bid: _book(bid, n) for bid, (_, n) in books.items()}
    artifacts.write_manifest("raw", profile, {"books": []})
    clean = artifacts.stage_dir("clean")
    entries = []
    for bid, text in texts.items():
        (clean / f"{bid}.txt").write_text(text, encoding="utf-8")
        entries.append({"book_id": bid, "title": books[bid][0], "author": "A. Writer", "file": f"{bid}.txt",
                        "chars": len(text), "bytes": len(text.encode("utf-8"))})
    artifacts.write_manifest("clean", profile, {"books": entries})
    tok = BPETokenizer.train(texts.values(), vocab_size=300) if kind == "bpe" else CharTokenizer.train(texts.values())
    tok.save(artifacts.stage_dir("tokenizer"))
    artifacts.write_manifest("tokenizer", profile, tok.config())
    return texts


@pytest.fixture
def profile():
    return get_profile("ci").with_overrides(context_length=16, val_fraction=0.34, split_mode="books")


def _tok():
    from minigpt_helpers.tokenization import load_tokenizer

    return load_tokenizer()


def test_token_dtype_fits_the_vocabulary() -> None:
    assert dataset.token_dtype(512) == np.uint16
    assert dataset.token_dtype(50_257) == np.uint16
    assert dataset.token_dtype(65_536) == np.uint16
    assert dataset.token_dtype(65_537) == np.uint32
    with pytest.raises(ValueError):
        dataset.token_dtype(0)


def test_books_split_files_meta_and_exact_offsets(profile) -> None:
    texts = _stages(profile)
    folder = stages.build_tokens(profile)
    assert artifacts.staleness("tokens", profile) is None
    meta = json.loads((folder / "meta.json").read_text())
    tok = _tok()
    assert meta["dtype"] == "uint16" and meta["vocab_size"] == tok.vocab_size == 300
    assert meta["tokenizer"] == {"kind": "bpe", "name": tok.name, "sha256": tok.sha256, "eot_id": tok.eot_id, "vocab_size": 300}
    assert meta["split"]["mode"] == "books" and meta["split"]["seed"] == 42 and meta["split"]["val_fraction"] == 0.34
    for split in ("train", "val"):
        raw = np.fromfile(folder / f"{split}.bin", dtype=np.uint16)
        assert raw.size == meta["counts"][split] > 0
        entries = [b for b in meta["books"] if b["split"] == split]
        assert entries, f"no {split} books"
        assert sum(e["tokens"] + 1 for e in entries) == raw.size
        assert meta["bytes"][split] == sum(len(texts[e["book_id"]].encode()) for e in entries)
        for e in entries:
            assert e["end"] - e["start"] == e["tokens"]
            assert raw[e["end"]] == tok.eot_id  # the separator follows every book
            assert tok.decode(raw[e["start"]:e["end"]].tolist()) == texts[e["book_id"]]
    # whole books: each in exactly one split, from its first character to its last
    assert sorted(b["book_id"] for b in meta["books"]) == sorted(texts)
    assert all(b["char_start"] == 0 and b["char_end"] == len(texts[b["book_id"]]) for b in meta["books"])
    assert len(meta["split"]["val_books"]) == 1


def test_tail_split_cuts_every_book_in_two_exact_parts(profile) -> None:
    texts = _stages(profile, kind="char")
    folder = stages.build_tokens(profile.with_overrides(split_mode="tail", val_fraction=0.1))
    meta = dataset.read_meta(folder)
    tok = _tok()
    seen = 0
    for bid, text in texts.items():
        parts = sorted((b for b in meta["books"] if b["book_id"] == bid), key=lambda b: b["char_start"])
        assert [p["split"] for p in parts] == ["train", "val"]
        decoded = ""
        for p in parts:
            ids = dataset.load_tokens(p["split"], folder=folder).tokens[p["start"]:p["end"]]
            decoded += tok.decode(ids.tolist())
        assert decoded == text
        val_share = len(text[parts[1]["char_start"]:]) / len(text)
        assert 0.02 < val_share < 0.2
        seen += 1
    assert seen == len(texts)


def test_choose_val_books_is_deterministic_and_sensible() -> None:
    ci_like = [{"book_id": 11, "bytes": 148_000}, {"book_id": 46, "bytes": 160_000}, {"book_id": 41, "bytes": 66_000}]
    assert len(dataset.choose_val_books(ci_like, 0.34)) == 1
    assert dataset.choose_val_books(ci_like, 0.34) == dataset.choose_val_books(ci_like, 0.34)
    rng = random.Random(0)
    many = [{"book_id": i, "bytes": rng.randint(50_000, 1_200_000)} for i in range(33)]
    total = sum(b["bytes"] for b in many)
    for fraction in (0.05, 0.1):
        val = dataset.choose_val_books(many, fraction, seed=42)
        share = sum(b["bytes"] for b in many if b["book_id"] in val) / total
        assert 1 <= len(val) < 33 and abs(share - fraction) < 0.03
    with pytest.raises(ValueError, match="split_mode='tail'"):
        dataset.choose_val_books(many[:1], 0.1)


def test_targets_are_inputs_shifted_by_one_and_windows_stay_inside(profile) -> None:
    _stages(profile)
    stages.build_tokens(profile)
    train = dataset.load_tokens("train")
    assert isinstance(train.tokens, np.memmap)
    T = profile.context_length
    g = torch.Generator().manual_seed(3)
    starts = torch.randint(len(train) - T, (64,), generator=torch.Generator().manual_seed(3)).tolist()
    x, y = dataset.get_batch(train, 64, T, generator=g)
    assert x.shape == y.shape == (64, T) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    arr = np.asarray(train)
    for row, s in enumerate(starts):  # each row is the train file at its start, never past its end
        assert s + T + 1 <= len(train)
        assert np.array_equal(x[row].numpy(), arr[s:s + T]) and np.array_equal(y[row].numpy(), arr[s + 1:s + T + 1])
    # the tightest corpus has exactly one window: every draw must be it
    tiny = np.arange(T + 1, dtype=np.uint16)
    x, y = dataset.get_batch(tiny, 8, T, seed=0)
    assert (x == torch.arange(T)).all() and (y == torch.arange(1, T + 1)).all()


def test_fixed_windows_cover_each_start_once_per_epoch_inside_the_split() -> None:
    data = np.arange(1000, dtype=np.uint16)
    ds = lessons.WindowDataset(data, 32, stride=16)  # overlapping by half, as the course trains
    assert len(ds) == (1000 - 33) // 16 + 1
    last_x, last_y = ds[len(ds) - 1]
    assert int(last_y[-1]) <= 999
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(ValueError, match="must start in 0..967"):
        dataset.windows(data, [968], 32)  # would need token 1000, one past the end
    sampler = lessons.EpochBatches(data, 4, 32, stride=16, seed=1)
    firsts = [int(x[i, 0]) for _ in range(sampler.batches_per_epoch) for x, _ in [next(sampler)] for i in range(4)]
    assert len(firsts) == 4 * (len(ds) // 4) > 0
    assert len(set(firsts)) == len(firsts) and all(f % 16 == 0 for f in firsts)
    next(sampler)
    assert sampler.epoch == 1 and sampler.position == 1
    assert not torch.equal(sampler.order(0), sampler.order(1))


def test_same_seed_same_batches_and_other_seed_other_batches() -> None:
    data = np.arange(5000, dtype=np.uint16) % 300
    a = dataset.get_batch(data, 8, 16, seed=7)
    b = dataset.get_batch(data, 8, 16, seed=7)
    c = dataset.get_batch(data, 8, 16, seed=8)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    for make in (lambda s: dataset.RandomBatches(data, 8, 16, seed=s),
                 lambda s: lessons.EpochBatches(data, 8, 16, stride=8, seed=s),
                 lambda s: iter(lessons.make_loader(data, 8, 16, stride=8, seed=s))):
        one, two, other = make(1), make(1), make(2)
        xs = [next(one)[0] for _ in range(5)]
        assert all(torch.equal(x, next(two)[0]) for x in xs)
        assert not all(torch.equal(x, next(other)[0]) for x in xs)


@pytest.mark.parametrize("kind", ["random", "epoch"])
def test_resume_gives_exactly_the_same_batches(kind: str) -> None:
    data = np.arange(3000, dtype=np.uint16)

    def make():
        if kind == "random":
            return dataset.RandomBatches(data, 4, 16, seed=5)
        return lessons.EpochBatches(data, 4, 16, stride=12, seed=5)

    straight = make()
    expected = [next(straight) for _ in range(100)]  # crosses epoch boundaries for "epoch"
    first = make()
    for _ in range(37):
        next(first)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)  # as a training checkpoint stores it
    buf.seek(0)
    resumed = make()
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    got = [next(resumed) for _ in range(63)]
    assert len(got) == 63
    for (x, y), (ex, ey) in zip(got, expected[37:]):
        assert torch.equal(x, ex) and torch.equal(y, ey)
    if kind == "epoch":
        assert straight.epoch >= 1, "the test should cross an epoch boundary"
        other = lessons.EpochBatches(data, 4, 16, stride=16, seed=5)
        with pytest.raises(ValueError, match="stride"):
            other.load_state_dict(first.state_dict())


def test_short_corpus_error_suggests_a_smaller_context() -> None:
    data = np.arange(50, dtype=np.uint16)
    for call in (lambda: dataset.get_batch(data, 2, 64), lambda: dataset.RandomBatches(data, 2, 64),
                 lambda: lessons.EpochBatches(data, 2, 64), lambda: lessons.WindowDataset(data, 64)):
        with pytest.raises(ValueError, match=r"50 tokens.*context_length=64.*smaller context_length \(at most 49, e\.g\. 32\)"):
            call()
    with pytest.raises(ValueError, match="batch_size=10"):
        lessons.EpochBatches(data, 10, 16, stride=16)


def test_build_refuses_a_split_shorter_than_the_context(profile) -> None:
    _stages(profile)
    with pytest.raises(ValueError, match="context_length=100000"):
        stages.build_tokens(profile.with_overrides(context_length=100_000))
    assert artifacts.staleness("tokens", profile) is not None  # no manifest for a failed build


def test_mismatched_tokenizer_vocab_or_files_are_refused(profile) -> None:
    texts = _stages(profile)
    folder = stages.build_tokens(profile)
    tok = _tok()
    assert len(dataset.load_tokens("val", tokenizer=tok, vocab_size=300)) > 0
    with pytest.raises(ValueError, match=r"vocab_size=512.*vocab_size 300"):
        dataset.load_tokens("train", vocab_size=512)
    other = CharTokenizer.train(texts.values())
    with pytest.raises(ValueError, match=r"bpe-300.*char-.*load the matching tokenizer"):
        dataset.load_tokens("train", tokenizer=other)
    with open(folder / "val.bin", "ab") as f:
        f.write(b"\0\0")
    with pytest.raises(ValueError, match="different runs"):
        dataset.load_tokens("val")


def test_uint32_when_the_vocabulary_is_large(profile, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _stages(profile, kind="char")

    class BigChar(CharTokenizer):
        @property
        def vocab_size(self) -> int:
            return 70_000

    chars = CharTokenizer.train(texts.values()).chars
    monkeypatch.setattr(tokenization, "load_tokenizer", lambda: BigChar(chars))
    folder = stages.build_tokens(profile)
    meta = dataset.read_meta(folder)
    assert meta["dtype"] == "uint32"
    assert (folder / "train.bin").stat().st_size == 4 * meta["counts"]["train"]
    assert dataset.load_tokens("train").tokens.dtype == np.uint32


def test_token_data_pickles_as_a_path_and_feeds_a_dataloader(profile) -> None:
    _stages(profile)
    stages.build_tokens(profile)
    train = dataset.load_tokens("train")
    blob = pickle.dumps(train)
    assert len(blob) < 20_000 + len(json.dumps(train.meta))  # not the token array
    again = pickle.loads(blob)
    assert isinstance(again.tokens, np.memmap) and np.array_equal(again[:100], train[:100])
    ds = lessons.WindowDataset(train, 16, stride=8)
    loader = lessons.make_loader(train, 4, 16, stride=8, seed=0)
    batches = 0
    for x, y in loader:
        assert x.shape == (4, 16) and torch.equal(x[:, 1:], y[:, :-1])
        batches += 1
    assert batches == len(ds) // 4 > 0
    x0, y0 = ds[0]
    assert np.array_equal(x0.numpy(), np.asarray(train[:16]))


def test_ngram_overlap() -> None:
    a = np.arange(100)
    assert lessons.ngram_overlap(a, a, n=8) == 1.0
    assert lessons.ngram_overlap(a, a + 1000, n=8) == 0.0
    half = lessons.ngram_overlap(a, a[:50], n=8)
    assert 0.4 < half < 0.6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_are_pinned_copies_of_the_cpu_ones() -> None:
    data = np.arange(2000, dtype=np.uint16)
    x_cpu, y_cpu = dataset.get_batch(data, 8, 32, seed=1)
    x, y = dataset.get_batch(data, 8, 32, seed=1, device="cuda")
    assert x.device.type == y.device.type == "cuda"
    assert torch.equal(x.cpu(), x_cpu) and torch.equal(y.cpu(), y_cpu)
    sampler = dataset.RandomBatches(data, 8, 32, seed=1, device="cuda")
    assert torch.equal(next(sampler)[0].cpu(), x_cpu)
    assert lessons.make_loader(data, 8, 32, device="cuda").pin_memory
