"""The pipeline's stages: your own books from one setting, through every stage, and the refusal
to mix one library's stages with another's books."""

from __future__ import annotations

from pathlib import Path

import pytest
from _textgen import sentences

from minigpt_helpers import artifacts, cli, runs, stages
from minigpt_helpers.profiles import get_profile, with_books

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _my_books(folder: Path) -> Path:
    """Four books of made-up prose, and the things a real folder also holds."""
    folder.mkdir(parents=True)
    for i, title in enumerate(["harbour", "orchard", "mill", "lantern"]):
        (folder / f"{title}.txt").write_text(f"The {title.title()}\n\n" + sentences(i, 700), encoding="utf-8")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 a scanned book")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 a picture named .txt")
    (folder / "scrambled.txt").write_bytes(bytes([0x81, 0x8D, 0x9D, 0xC3, 0x28]) * 40)  # no encoding reads it
    return folder


def test_a_learners_own_books_train_end_to_end(tmp_path: Path, monkeypatch, capsys) -> None:
    books = _my_books(tmp_path / "my books")
    monkeypatch.setenv("MINIGPT_BOOKS", str(books))
    assert cli.main(["prepare", "--profile", "ci"]) == 0
    out = capsys.readouterr().out
    assert "4 books cleaned" in out
    assert all(name in out for name in ("scan.pdf", "empty.txt", "image.txt", "scrambled.txt"))
    raw = artifacts.read_manifest("raw")
    assert raw["origin"] == {"kind": "local", "folder": str(books)}
    assert sorted(b["book_id"] for b in artifacts.read_manifest("clean")["books"]) == ["harbour", "lantern", "mill", "orchard"]
    assert cli.main(["train", "--profile", "ci", "--no-progress"]) == 0  # the profile's own run
    run = runs.read_run("ci")
    assert run["status"] == "finished" and run["step"] == get_profile("ci").max_steps
    untrained = runs.read_metrics(runs.run_dir("ci"))[0]["val_loss"]
    assert run["best_val_loss"] < untrained - 0.5  # it learned from the learner's books
    assert (runs.run_dir("ci") / "best" / "model.safetensors").is_file()
    assert artifacts.read_manifest("checkpoints")["default_run"] == "ci"


def test_later_stages_refuse_other_books_and_name_the_fix(tmp_path: Path, monkeypatch) -> None:
    books = _my_books(tmp_path / "mine")
    monkeypatch.setenv("MINIGPT_BOOKS", str(books))
    stages.ensure("clean", get_profile("ci"))
    monkeypatch.delenv("MINIGPT_BOOKS")  # a new session that forgot the setting
    with pytest.raises(ValueError, match=f"MINIGPT_BOOKS={books}") as err:
        stages.ensure("tokens", get_profile("ci"))
    assert "prepare" in str(err.value) and "01_cleaning" in str(err.value)
    assert not artifacts.manifest_path("tokenizer").exists()  # nothing was built from the wrong books
    monkeypatch.setenv("MINIGPT_GUTENBERG_IDS", "11,46")
    assert "Project Gutenberg books 11, 46" in artifacts.corpus_mismatch(get_profile("ci"))
    monkeypatch.setenv("MINIGPT_BOOKS", str(books))
    monkeypatch.delenv("MINIGPT_GUTENBERG_IDS")
    assert artifacts.corpus_mismatch(get_profile("ci")) is None  # the same books again: carry on


def test_a_folder_with_nothing_usable_is_refused_with_each_reason(tmp_path: Path) -> None:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(b"%PDF-1.4")
    (folder / "b.epub").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match=r"no usable \.txt files.*a\.pdf.*b\.epub"):
        stages.build_raw(with_books(get_profile("ci"), str(folder)))


def test_book_settings_are_checked() -> None:
    ci = get_profile("ci")
    assert with_books(ci, None, " 1342, 84,1342 ").book_ids == (1342, 84)
    assert with_books(ci).corpus == {"kind": "gutenberg", "ids": list(ci.book_ids)}
    with pytest.raises(ValueError, match="MINIGPT_GUTENBERG_IDS='pride'"):
        with_books(ci, None, "pride")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        with_books(ci, "/no/such/folder")
    with pytest.raises(ValueError, match="not both"):
        with_books(ci, "/tmp", "11")


def test_one_huge_file_is_skipped_and_one_book_is_split_by_its_tail(tmp_path: Path, monkeypatch) -> None:
    from minigpt_helpers import sources

    folder = _my_books(tmp_path / "books")
    (folder / "everything.txt").write_text(sentences(9, 3000), encoding="utf-8")
    monkeypatch.setattr(sources, "MAX_LOCAL_BOOK_BYTES", 100_000)
    stages.build_raw(with_books(get_profile("ci"), str(folder)))
    skipped = {Path(s["path"]).name: s["reason"] for s in artifacts.read_manifest("raw")["skipped"]}
    assert "split it into several .txt files" in skipped["everything.txt"]
    assert len(artifacts.read_manifest("raw")["books"]) == 5  # the four books and scrambled.txt (cleaning skips it)

    monkeypatch.setattr(sources, "MAX_LOCAL_BOOK_BYTES", 2**30)
    one = tmp_path / "one"
    one.mkdir()
    (one / "novel.txt").write_text(sentences(3, 3000), encoding="utf-8")
    monkeypatch.setenv("MINIGPT_BOOKS", str(one))
    stages.build_raw(get_profile("ci"))
    stages.ensure("tokens", get_profile("ci"))
    split = artifacts.read_manifest("tokens")["split"]
    assert split["mode"] == "tail"  # one book: its end is held out, not the whole book
