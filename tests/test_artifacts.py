"""Artifacts: atomic writes, manifests, and rebuilding stale or missing stages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from minigpt_helpers import artifacts, stages
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

    for stage in stages.BUILDERS:
        monkeypatch.setitem(stages.BUILDERS, stage, fake_builder(stage))
    ci = get_profile("ci")
    stages.ensure("tokenizer", ci)
    assert calls == ["raw", "clean", "tokenizer"]
    assert "[rebuild]" in capsys.readouterr().out
    calls.clear()
    stages.ensure("tokenizer", ci)
    assert calls == []  # everything current: nothing rebuilt
    stages.ensure("tokenizer", get_profile("cpu"))
    assert calls == ["raw", "clean", "tokenizer"]  # another profile: all rebuilt


def test_ensure_fails_loudly_when_a_builder_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(stages.BUILDERS, "raw", lambda profile: None)
    with pytest.raises(RuntimeError, match="did not produce a current manifest"):
        stages.ensure("raw", get_profile("ci"), quiet=True)


def test_other_books_are_a_mismatch_not_a_silent_rebuild() -> None:
    ci = get_profile("ci")
    artifacts.write_manifest("raw", ci, {"origin": {"kind": "gutenberg", "ids": list(ci.book_ids)}})
    assert artifacts.staleness("raw", ci) is None and artifacts.corpus_mismatch(ci) is None
    other = ci.with_overrides(book_ids=(11,))
    assert "MINIGPT_GUTENBERG_IDS=11,46,41" in artifacts.corpus_mismatch(other)
    with pytest.raises(ValueError, match="holds Project Gutenberg books 11, 46, 41"):
        stages.ensure("raw", other)
    artifacts.write_manifest("raw", ci, {"origin": {"kind": "local", "folder": "/my/books"}})
    assert "MINIGPT_BOOKS=/my/books" in artifacts.corpus_mismatch(ci)
    assert artifacts.corpus_mismatch(ci.with_overrides(books_folder="/my/books")) is None
    assert artifacts.corpus_mismatch(get_profile("cpu")) is None  # another profile: rebuilt as usual


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_atomic_writes_and_checkpoints_get_the_usual_permissions(tmp_path: Path) -> None:
    """Temporary files are private (0600); once in place a file must be readable as any other,
    or a server running as another user cannot read a model's config."""
    import torch

    from minigpt_helpers.checkpoint import save_checkpoint
    from minigpt_helpers.model import GPT, GPTConfig
    from minigpt_helpers.tokenization import CharTokenizer

    path = artifacts.write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert path.stat().st_mode & 0o777 == artifacts.usual_mode()
    torch.manual_seed(0)
    tok = CharTokenizer.train(["abc"])
    folder = save_checkpoint(tmp_path / "ckpt", GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=8, n_layer=1,
                                                              n_head=1, n_embd=8)), tok)
    assert folder.stat().st_mode & 0o777 == artifacts.usual_mode(directory=True)
    assert (folder / "config.json").stat().st_mode & 0o777 == artifacts.usual_mode()
    assert artifacts.usual_mode() & 0o400 and artifacts.usual_mode(directory=True) & 0o500  # the owner can read


def test_loading_a_folder_that_is_not_a_checkpoint_says_what_it_is(tmp_path: Path) -> None:
    import torch

    from minigpt_helpers.checkpoint import load_checkpoint, save_checkpoint
    from minigpt_helpers.model import GPT, GPTConfig
    from minigpt_helpers.tokenization import CharTokenizer

    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(ValueError, match="Hugging Face model folder"):
        load_checkpoint(hf)
    torch.manual_seed(0)
    tok = CharTokenizer.train(["abc"])
    folder = save_checkpoint(tmp_path / "ckpt", GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=8, n_layer=1,
                                                              n_head=1, n_embd=8)), tok)
    for f in (folder / "tokenizer").iterdir():
        f.unlink()
    (folder / "tokenizer").rmdir()
    with pytest.raises(FileNotFoundError, match="holds its own tokenizer"):
        load_checkpoint(folder)


KILL_BETWEEN_RENAMES = """
import os, sys
import torch
from minigpt_helpers.checkpoint import save_checkpoint
from minigpt_helpers.model import GPT, GPTConfig
from minigpt_helpers.tokenization import CharTokenizer

folder, fill = sys.argv[1], float(sys.argv[2])
model = GPT(GPTConfig(vocab_size=8, context_length=8, n_layer=1, n_head=1, n_embd=8))
torch.nn.init.constant_(model.transformer.wte.weight, fill)
if sys.argv[3] == "kill":  # die like a killed process: after moving the old folder aside, before the new one is in
    real = os.replace
    def replace(src, dst):
        real(src, dst)
        if os.path.basename(dst).startswith(".best.old-"):
            os._exit(9)
    os.replace = replace
save_checkpoint(folder, model, CharTokenizer.train(["abcdef"]), meta={"fill": fill})
"""


def test_a_kill_while_best_is_replaced_never_loses_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    from minigpt_helpers.checkpoint import load_checkpoint

    best = tmp_path / "run" / "best"
    run = [sys.executable, "-c", KILL_BETWEEN_RENAMES, str(best)]
    assert subprocess.run([*run, "1.0", "save"], check=False).returncode == 0
    assert subprocess.run([*run, "2.0", "kill"], check=False).returncode == 9
    assert not best.exists() and list(best.parent.glob(".best.old-*"))  # the window a kill can hit
    loaded = load_checkpoint(best)  # the reader puts the old folder back
    assert loaded.meta["fill"] == 1.0 and float(loaded.model.transformer.wte.weight[0, 0]) == 1.0
    assert best.is_dir() and not list(best.parent.glob(".best.*"))
    assert subprocess.run([*run, "3.0", "save"], check=False).returncode == 0
    assert load_checkpoint(best).meta["fill"] == 3.0 and not list(best.parent.glob(".best.*"))
