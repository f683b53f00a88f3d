"""Artifacts: atomic writes, manifests, and rebuilding stale or missing stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minigpt_helpers import artifacts
from minigpt_helpers.profiles import get_profile


def test_data_dir_follows_env(data_dir: Path) -> None:
    assert artifacts.data_dir() == data_dir
    assert artifacts.stage_dir("clean") == data_dir / "clean"
    with pytest.raises(ValueError, match="unknown stage"):
        artifacts.stage_dir("cleaned")


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    artifacts.write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary left behind


def test_read_manifest_missing_names_the_notebook() -> None:
    with pytest.raises(FileNotFoundError, match="02_tokenization"):
        artifacts.read_manifest("tokenizer")


def test_staleness_profile_and_upstream() -> None:
    ci, cpu = get_profile("ci"), get_profile("cpu")
    assert "no manifest" in artifacts.staleness("raw", ci)
    artifacts.write_manifest("raw", ci, {"books": []})
    artifacts.write_manifest("clean", ci, {"books": []})
    assert artifacts.staleness("raw", ci) is None
    assert artifacts.staleness("clean", ci) is None
    assert "profile 'ci'" in artifacts.staleness("clean", cpu)
    # rebuilding raw makes clean stale: it was built from other inputs
    artifacts.write_manifest("raw", ci, {"books": [], "changed": True})
    assert "different 'raw'" in artifacts.staleness("clean", ci)


def test_ensure_rebuilds_missing_and_stale_stages_in_order(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls = []

    def fake_builder(stage):
        def build(profile):
            calls.append(stage)
            artifacts.write_manifest(stage, profile, {})
            return artifacts.stage_dir(stage)
        return build

    monkeypatch.setattr(artifacts, "_builder", fake_builder)
    ci = get_profile("ci")
    artifacts.ensure("tokenizer", ci)
    assert calls == ["raw", "clean", "tokenizer"]
    assert "[rebuild]" in capsys.readouterr().out
    calls.clear()
    artifacts.ensure("tokenizer", ci)
    assert calls == []  # everything current: nothing rebuilt
    artifacts.ensure("tokenizer", get_profile("cpu"))
    assert calls == ["raw", "clean", "tokenizer"]  # another profile: all rebuilt


def test_ensure_fails_loudly_when_a_builder_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "_builder", lambda stage: (lambda profile: None))
    with pytest.raises(RuntimeError, match="did not produce a current manifest"):
        artifacts.ensure("raw", get_profile("ci"), quiet=True)


def test_raw_is_stale_when_the_book_list_changes() -> None:
    ci = get_profile("ci")
    artifacts.write_manifest("raw", ci, {"origin": {"kind": "gutenberg", "ids": list(ci.book_ids)}})
    assert artifacts.staleness("raw", ci) is None
    assert "other Gutenberg books" in artifacts.staleness("raw", ci.with_overrides(book_ids=(11,)))
    artifacts.write_manifest("raw", ci, {"origin": {"kind": "local", "folder": "/my/books"}})
    assert artifacts.staleness("raw", ci.with_overrides(book_ids=(11,))) is None  # own books stay
