"""Profiles: defined once, chosen from MINIGPT_PROFILE, validated, and the offline books exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from minigpt_helpers import profiles


def test_env_picks_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIGPT_PROFILE", "ci")
    assert profiles.get_profile().name == "ci"
    monkeypatch.setenv("MINIGPT_PROFILE", "laptop")
    with pytest.raises(ValueError, match="pick one of ci, cpu, gpu"):
        profiles.get_profile()


def test_default_is_cpu_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.delenv("MINIGPT_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.get_profile().name == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert profiles.get_profile().name == "gpu"


def test_device_order(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.delenv("MINIGPT_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(profiles, "_mps_available", lambda: True)
    assert profiles.pick_device() == "mps"
    monkeypatch.setattr(profiles, "_mps_available", lambda: False)
    assert profiles.pick_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert profiles.pick_device() == "cuda"


def test_invalid_profile_lists_every_problem() -> None:
    with pytest.raises(ValueError) as err:
        profiles.get_profile("ci").with_overrides(tokenizer="words", val_fraction=0.9)
    assert "tokenizer='words'" in str(err.value) and "val_fraction=0.9" in str(err.value)


def test_default_books_are_varied_and_all_offline(shared_datasets: Path) -> None:
    ids = profiles.DEFAULT_BOOK_IDS
    assert 20 <= len(ids) <= 40 and len(set(ids)) == len(ids)
    missing = [i for i in ids + profiles.CI_BOOK_IDS if not (shared_datasets / "gutenberg" / f"pg{i}.txt").is_file()]
    assert missing == [], f"default books missing from the offline copy: {missing}"
