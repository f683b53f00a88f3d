"""Made-up English for tests that need text but not books: short sentences from a small vocabulary."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = "the whale sea ship night storm letter garden castle river old young smiled walked said and".split()


def sentences(seed: int, count: int) -> str:
    """``count`` capitalised sentences of 4 to 9 words, one per line; the same seed, the same text."""
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize() + "."
                     for _ in range(count))


def write_tiny_data(data_dir: Path) -> Path:
    """A character tokenizer and train/val token files of made-up sentences under ``data_dir/tiny``."""
    from minigpt_helpers import dataset
    from minigpt_helpers.tokenization import CharTokenizer

    folder = data_dir / "tiny"
    train, val = sentences(1, 400), sentences(2, 60)
    tok = CharTokenizer.train([train, val])
    tok.save(folder / "tokenizer")
    dataset.write_token_files(folder, tok, {"train": [train], "val": [val]})
    return folder
