"""Shared fixtures. Unit tests never touch the notebooks' data folder: each gets its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _scratch_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its artifacts under its own temporary data folder, from the profile's own
    books (never a learner's MINIGPT_BOOKS)."""
    path = tmp_path / "data"
    monkeypatch.setenv("MINIGPT_DATA_DIR", str(path))
    monkeypatch.delenv("MINIGPT_BOOKS", raising=False)
    monkeypatch.delenv("MINIGPT_GUTENBERG_IDS", raising=False)
    return path


@pytest.fixture
def data_dir(_scratch_data_dir: Path) -> Path:
    return _scratch_data_dir


@pytest.fixture
def tiny_data(data_dir: Path) -> Path:
    """A character tokenizer and token files under data/tiny (no pipeline stages needed)."""
    from _textgen import write_tiny_data

    return write_tiny_data(data_dir)


@pytest.fixture
def shared_datasets() -> Path:
    """The folder of offline corpora (MINIGPT_DATASETS_DIR); tests that need it skip without it."""
    env = os.environ.get("MINIGPT_DATASETS_DIR")
    if not env or not Path(env).is_dir():
        pytest.skip("set MINIGPT_DATASETS_DIR to a folder of downloaded corpora (CI does)")
    return Path(env)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def one_torch_thread():
    """Tiny models run faster on one thread, and do not stall when other work shares the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
