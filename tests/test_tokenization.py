"""Tokenization: exact round trips (every shared book, unicode edge cases), special tokens,
save/load, the exact parallel split, the coloured token pictures and the stage builder."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from minigpt_helpers import artifacts, lessons, stages, tokenization, widgets
from minigpt_helpers.profiles import get_profile
from minigpt_helpers.tokenization import BPETokenizer, CharTokenizer, GPT2Tokenizer, Tokenizer, load_tokenizer

# A little original prose to train on when the shared books are not around.
PROSE = """\
The lighthouse keeper climbed the stairs every evening at six. She counted them as she went,
one hundred and twelve, and at the top she lit the lamp and wrote the weather in her book.
On windy nights the sea threw spray against the glass, and the gulls slept on the rocks below.

"Will the boat come tomorrow?" asked her brother, who had never liked the island.
"It will come when the wind drops," she said. "It always does, sooner or later."

In the morning the water was flat and grey. The boat came at ten, with letters, flour,
oil for the lamp and a crate of oranges that smelled of somewhere warm.
"""

EDGE_CASES = {
    "emoji": "Smile 😀, family 👨\u200d👩\u200d👧, flag 🇫🇷, thumbs 👍🏽, keycap 1\ufe0f\u20e3.",
    "combining": "cafe\u0301 vs caf\u00e9, n\u0303, a\u0308\u0301 (stacked marks), Z\u0351\u0352\u0353",
    "crlf": "line one\r\nline two\r\n\r\nafter a blank CRLF line\rlone CR\n",
    "whitespace": "tab\there,  two spaces,\u00a0nbsp, \u2003em space, \n\n\n   indented\n \n\t\n",
    "scripts": "Ελληνικά, русский, עברית, العربية, 日本語のテキスト, 한국어, हिन्दी",
    "specials": "<bos> <eos> <pad> <|endoftext|> <eot> <unk> written as text",
    "controls": "null\x00byte, bell\x07, escape\x1b[0m, del\x7f, bom\ufeff, zwsp\u200b",
    "contractions": "don't won't I'd we'll they're you've 'tis o'clock rock'n'roll",
    "numbers": "3.14159 1,000,000 2024-06-01 0x1F ½ ² ٣",
    "edges": "",
}
EDGE_TEXT = "\n".join(EDGE_CASES.values())


@pytest.fixture(scope="module")
def gpt2() -> GPT2Tokenizer:
    return GPT2Tokenizer()


@pytest.fixture(scope="module")
def small_bpe() -> BPETokenizer:
    """A quick BPE on the prose above: 400 tokens, enough for real merges."""
    return BPETokenizer.train([PROSE] * 3, vocab_size=400, min_frequency=2)


def _all(gpt2: GPT2Tokenizer, small_bpe: BPETokenizer) -> list[Tokenizer]:
    return [gpt2, small_bpe, CharTokenizer.train([PROSE, EDGE_TEXT])]


# --------------------------------------------------------------------------- round trips


@pytest.fixture(scope="module")
def shared_books() -> list[tuple[str, str]]:
    """(file name, text) of every book in MINIGPT_DATASETS_DIR/gutenberg; skips without it."""
    env = os.environ.get("MINIGPT_DATASETS_DIR")
    folder = Path(env) / "gutenberg" if env else None
    if folder is None or not folder.is_dir():
        pytest.skip("set MINIGPT_DATASETS_DIR to a folder of downloaded corpora (CI does)")
    books = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.txt"))]
    assert len(books) >= 3 and all(text for _, text in books), f"expected the shared books in {folder}"
    return books


@pytest.mark.slow
def test_gpt2_round_trips_every_shared_book(shared_books: list[tuple[str, str]], gpt2: GPT2Tokenizer) -> None:
    ids = gpt2.encode_batch([text for _, text in shared_books])
    assert len(ids) == len(shared_books)
    for (name, text), book_ids in zip(shared_books, ids):
        assert gpt2.decode(book_ids) == text, f"GPT-2 changed {name}"
        assert len(text.encode("utf-8")) / 8 < len(book_ids) < len(text), f"odd token count for {name}"


def test_char_round_trips_every_shared_book(shared_books: list[tuple[str, str]]) -> None:
    """Characters map one to one, so a book round-trips exactly when each of its distinct
    characters does; the three shortest books are also round-tripped whole."""
    shortest = sorted(shared_books, key=lambda book: len(book[1]))[:3]
    for name, text in shared_books:
        chars = CharTokenizer.train([text])
        every = "".join(chars.chars)
        assert len(every) > 40 and chars.decode(chars.encode(every)) == every, f"characters changed {name}"
    for name, text in shortest:
        chars = CharTokenizer.train([text])
        ids = chars.encode(text)
        assert chars.unk_id not in ids and len(ids) == len(text) and chars.decode(ids) == text, name


@pytest.mark.slow
def test_bpe_round_trips_every_shared_book(shared_books: list[tuple[str, str]]) -> None:
    """A BPE trained on the three shortest books round-trips them whole, and every distinct
    word and character of all the books (what the other books could hold that it never saw)."""
    trained_on = sorted((text for _, text in shared_books), key=len)[:3]
    bpe = BPETokenizer.train(trained_on, vocab_size=1000)
    for text, ids in zip(trained_on, bpe.encode_batch(trained_on)):
        assert bpe.decode(ids) == text
    words: set[str] = set()
    chars: set[str] = set()
    for _, text in shared_books:
        words.update(text.split())
        chars.update(text)
    listed = sorted(words)
    digest = [" ".join(listed[i:i + 2000]) for i in range(0, len(listed), 2000)] + ["".join(sorted(chars))]
    assert len(words) > 10_000 and len(chars) > 80
    for text, ids in zip(digest, bpe.encode_batch(digest)):
        assert bpe.decode(ids) == text


@pytest.mark.parametrize("case", EDGE_CASES)
def test_unicode_edge_cases_round_trip(case: str, gpt2: GPT2Tokenizer, small_bpe: BPETokenizer) -> None:
    text = EDGE_CASES[case]
    for tok in _all(gpt2, small_bpe):
        ids = tok.encode(text)
        assert tok.decode(ids) == text, f"{tok.name} changed the {case} text"
        assert tok.encode_batch([text, text]) == [ids, ids]
        assert all(0 <= i < tok.vocab_size for i in ids)


def test_no_normalisation_composed_and_decomposed_stay_different(gpt2: GPT2Tokenizer, small_bpe: BPETokenizer) -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    for tok in (gpt2, small_bpe):
        assert tok.encode(composed) != tok.encode(decomposed)
        assert tok.decode(tok.encode(decomposed)) == decomposed


def test_char_tokenizer_unknown_characters_become_unk() -> None:
    tok = CharTokenizer.train(["abc"])
    assert tok.encode("abz") == [0, 1, tok.unk_id]
    assert tok.decode(tok.encode("abz")) == "ab<unk>"
    with pytest.raises(ValueError, match="outside"):
        tok.decode([tok.vocab_size])


# --------------------------------------------------------------------------- special tokens


def test_special_tokens_are_unique_and_never_encoded(gpt2: GPT2Tokenizer, small_bpe: BPETokenizer) -> None:
    assert small_bpe.special_tokens == {"<bos>": 0, "<eos>": 1, "<pad>": 2}
    assert gpt2.special_tokens == {"<|endoftext|>": 50256} and gpt2.vocab_size == 50257
    checked = 0
    for tok in _all(gpt2, small_bpe):
        specials = tok.special_tokens
        assert tok.eot_id in specials.values()
        assert len(set(specials.values())) == len(specials), f"{tok.name}: two specials share an id"
        assert all(0 <= i < tok.vocab_size for i in specials.values())
        pieces = [tok.token_bytes(i) for i in range(tok.vocab_size)]
        assert len(set(pieces)) == tok.vocab_size, f"{tok.name}: two ids stand for the same bytes"
        spelled = " ".join(specials) + EDGE_CASES["specials"]
        ids = tok.encode(spelled)
        assert not set(ids) & set(specials.values()), f"{tok.name}: text became a special token"
        assert tok.decode(ids) == spelled
        checked += 1
    assert checked == 3


def test_gpt2_known_ids(gpt2: GPT2Tokenizer) -> None:
    assert gpt2.encode("Hello world") == [15496, 995]
    assert gpt2.eot_id == 50256 and gpt2.token_piece(50256) == "<|endoftext|>"


def test_bpe_ids_follow_the_merges(small_bpe: BPETokenizer) -> None:
    merges = small_bpe.merges()
    first = small_bpe.vocab_size - len(merges)
    assert first == 3 + 256 and len(merges) > 50
    for k, (left, right) in enumerate(merges):
        assert small_bpe.token_bytes(first + k) == left + right


# --------------------------------------------------------------------------- save and load


@pytest.mark.parametrize("kind", ["gpt2", "bpe", "char"])
def test_saved_tokenizer_reloads_identically(kind: str, tmp_path: Path, gpt2: GPT2Tokenizer) -> None:
    tok = gpt2 if kind == "gpt2" else tokenization.get_tokenizer(kind, [PROSE], vocab_size=350)
    folder = tok.save(tmp_path / kind)
    again = tokenization.load_tokenizer(folder)
    assert type(again) is type(tok)
    assert again.config() == tok.config()
    sample = PROSE + EDGE_CASES["specials"]
    assert again.encode(sample) == tok.encode(sample)
    if kind == "bpe":
        config = json.loads((folder / "tokenizer_config.json").read_text())
        assert config["sha256"] == artifacts.sha256_file(folder / "tokenizer.json")
        assert BPETokenizer.train([PROSE], vocab_size=350).sha256 == tok.sha256, "training is not deterministic"


def test_load_refuses_a_changed_file(tmp_path: Path, small_bpe: BPETokenizer) -> None:
    folder = small_bpe.save(tmp_path / "bpe")
    path = folder / "tokenizer.json"
    path.write_text(path.read_text().replace('"<pad>"', '"<PAD>"'))
    with pytest.raises(ValueError, match="SHA-256"):
        tokenization.load_tokenizer(folder)


def test_load_missing_folder_names_the_notebook(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="02_tokenization"):
        tokenization.load_tokenizer(tmp_path / "nowhere")


def test_bad_arguments_name_the_fix() -> None:
    with pytest.raises(ValueError, match="at least 260"):
        BPETokenizer.train([PROSE], vocab_size=100)
    with pytest.raises(ValueError, match="'gpt2', 'bpe' or 'char'"):
        tokenization.get_tokenizer("words")
    with pytest.raises(ValueError, match="texts="):
        tokenization.get_tokenizer("bpe")


def test_shrink_equals_training_a_smaller_vocabulary() -> None:
    big = BPETokenizer.train([PROSE] * 3, vocab_size=500, min_frequency=1)
    small = BPETokenizer.train([PROSE] * 3, vocab_size=320, min_frequency=1)
    shrunk = big.shrink(320)
    assert shrunk.vocab_size == 320 and shrunk.sha256 == small.sha256
    assert shrunk.encode(PROSE) == small.encode(PROSE)
    with pytest.raises(ValueError, match="pick a size"):
        big.shrink(600)


# --------------------------------------------------------------------------- parallel encoding is exact


def _random_text(rng: random.Random, n: int) -> str:
    alphabet = list("ab cd\n\n\n  \t.,'!?") + ["\r\n", "é", "e\u0301", "😀", "\u00a0", "\u2028", "3", "don't", "\n "]
    return "".join(rng.choice(alphabet) for _ in range(n))


def test_split_text_pieces_encode_like_the_whole(gpt2: GPT2Tokenizer, small_bpe: BPETokenizer) -> None:
    rng = random.Random(0)
    texts = [_random_text(rng, 3000) for _ in range(20)] + [PROSE * 20, EDGE_TEXT * 10]
    cuts = 0
    for text in texts:
        pieces = tokenization.split_text(text, chunk_chars=40)
        assert "".join(pieces) == text
        cuts += len(pieces) - 1
        for tok in (gpt2, small_bpe):
            whole = tok._tok.encode(text, add_special_tokens=False).ids if tok is small_bpe else tok._enc.encode_ordinary(text)
            assert [i for p in pieces for i in tok.encode(p)] == whole, f"{tok.name}: a cut changed the tokens"
    assert cuts > 500, "the texts were barely cut: the test would pass vacuously"


def test_encode_batch_of_books_matches_whole_encoding(shared_books: list[tuple[str, str]], gpt2: GPT2Tokenizer, small_bpe: BPETokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    books = [text for name, text in shared_books if name in ("pg11.txt", "pg46.txt", "pg41.txt")]
    assert len(books) == 3
    expected = {tok.name: tok.encode_batch(books) for tok in (gpt2, small_bpe)}  # each book in about 2 pieces
    monkeypatch.setattr(tokenization, "CHUNK_CHARS", 500)  # now hundreds of pieces per book
    assert len(tokenization.split_text(books[0], tokenization.CHUNK_CHARS)) > 100
    for tok in (gpt2, small_bpe):
        assert tok.encode_batch(books, num_threads=2) == expected[tok.name]
        assert tok.encode(books[1]) == expected[tok.name][1]


# --------------------------------------------------------------------------- pictures


def test_token_spans_join_back_and_keep_characters_whole(gpt2: GPT2Tokenizer, small_bpe: BPETokenizer) -> None:
    for tok in _all(gpt2, small_bpe):
        ids = tok.encode(EDGE_TEXT)
        spans = widgets.token_spans(tok, EDGE_TEXT)
        assert "".join(p for p, _ in spans) == EDGE_TEXT
        assert [i for _, group in spans for i in group] == ids
        assert "\ufffd" not in "".join(p for p, _ in spans)
    emoji = widgets.token_spans(small_bpe, "😀")
    assert emoji == [("😀", small_bpe.encode("😀"))] and len(emoji[0][1]) == 4  # four byte tokens, one box


def test_render_tokens_is_html_without_a_display(gpt2: GPT2Tokenizer) -> None:
    from minigpt_helpers import widgets

    out = widgets.render_tokens(gpt2, "Hello <b>world</b>\nbye")
    assert out.startswith("<div") and out.count("<span") == len(gpt2.encode("Hello <b>world</b>\nbye"))
    assert "&lt;" in out and "<b>" not in out, "text must be escaped"
    assert widgets.NEWLINE_MARK in out
    cut = widgets.render_tokens(gpt2, "word " * 50, max_tokens=10)
    assert cut.count('title="') == 10 and f"{len(gpt2.encode('word ' * 50)) - 10} more tokens" in cut


def test_token_viewer_rerenders_when_the_text_changes(gpt2: GPT2Tokenizer, small_bpe: BPETokenizer) -> None:
    from minigpt_helpers import widgets

    both = {"gpt2": gpt2, "bpe": small_bpe}
    viewer = widgets.token_viewer(both, "The lamp")
    assert viewer.output.value == widgets.render_comparison(both, "The lamp")
    assert "<b>gpt2</b>" in viewer.output.value and "<b>bpe</b>" in viewer.output.value
    viewer.textarea.value = "Oranges & gulls"  # what typing does
    assert viewer.output.value == widgets.render_comparison(both, "Oranges & gulls")
    assert "&amp;" in viewer.output.value and "lamp" not in viewer.output.value
    assert viewer.update("x") == viewer.output.value


# --------------------------------------------------------------------------- stats and the stage


def test_measure_counts_bytes_words_and_tokens(gpt2: GPT2Tokenizer) -> None:
    stats, ids = lessons.measure(gpt2, ["Hello world", "é"])
    assert ids == [[15496, 995], gpt2.encode("é")]
    assert (stats.bytes, stats.words, stats.tokens) == (13, 3, 2 + len(ids[1]))
    assert stats.bytes_per_token == pytest.approx(13 / stats.tokens) and stats.mb_per_s > 0


def _fake_clean_stage(profile, texts: list[str]) -> None:
    """A raw and a clean stage as 01 would leave them (the builder only reads data/clean)."""
    artifacts.write_manifest("raw", profile, {"books": []})
    folder = artifacts.stage_dir("clean")
    books = []
    for i, text in enumerate(texts):
        (folder / f"book{i}.txt").write_text(text, encoding="utf-8")
        books.append({"file": f"book{i}.txt"})
    artifacts.write_manifest("clean", profile, {"books": books})


def test_build_tokenizer_stage_records_the_sha256(data_dir: Path) -> None:
    profile = get_profile("ci").with_overrides(bpe_vocab_size=300)
    _fake_clean_stage(profile, [PROSE, EDGE_TEXT])
    folder = stages.build_tokenizer(profile)
    manifest = artifacts.read_manifest("tokenizer")
    assert manifest["kind"] == "bpe" and manifest["vocab_size"] == 300
    assert manifest["sha256"] == artifacts.sha256_file(folder / "tokenizer.json")
    assert manifest["file_sha256"]["tokenizer.json"] == manifest["sha256"]
    assert manifest["trained_on"]["books"] == 2
    assert artifacts.staleness("tokenizer", profile) is None
    assert tokenization.load_tokenizer().sha256 == manifest["sha256"]

    chars = profile.with_overrides(tokenizer="char")
    stages.build_tokenizer(chars)
    assert not (folder / "tokenizer.json").exists(), "a BPE file was left beside a char tokenizer"
    tok = tokenization.load_tokenizer()
    assert tok.kind == "char" and tok.decode(tok.encode(EDGE_TEXT)) == EDGE_TEXT


def test_a_tokenizer_file_written_by_another_version_survives_load_and_save(tmp_path, small_bpe) -> None:
    """Another `tokenizers` version may serialise the same vocabulary differently (compact JSON,
    merges as "a b" strings): re-saving must keep the file, or the recorded SHA-256 stops matching."""
    first = small_bpe.save(tmp_path / "v1")
    data = json.loads((first / "tokenizer.json").read_text(encoding="utf-8"))
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    other = json.dumps(data, ensure_ascii=False)  # compact, old-style merges
    (first / "tokenizer.json").write_text(other, encoding="utf-8")
    config = json.loads((first / "tokenizer_config.json").read_text())
    config["sha256"] = hashlib.sha256(other.encode("utf-8")).hexdigest()
    (first / "tokenizer_config.json").write_text(json.dumps(config))

    loaded = load_tokenizer(first)
    again = load_tokenizer(loaded.save(tmp_path / "v2"))  # raised "changed after saving" before
    assert (tmp_path / "v2" / "tokenizer.json").read_text(encoding="utf-8") == other
    assert again.sha256 == loaded.sha256 == config["sha256"]
    assert again.encode(PROSE) == small_bpe.encode(PROSE)
