"""Made-up English for tests that need text but not books: short sentences from a small vocabulary;
and a tiny training run on it (its token files and its config)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

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


def tiny_config(**changes: Any) -> Any:
    """A TrainConfig for ``write_tiny_data``'s files: a 2-layer, 32-wide model, 8 steps on the CPU."""
    from minigpt_helpers import training

    base = dict(run="tiny", tokens_dir="tiny", tokenizer_dir="tiny/tokenizer", model_preset="ci",
                model_overrides={"n_layer": 2, "n_head": 2, "n_embd": 32}, context_length=16, batch_size=4,
                max_steps=8, learning_rate=3e-3, warmup_steps=2, eval_interval=4, eval_batches=2,
                log_interval=1, tensorboard=False, device="cpu", precision="fp32")
    return training.TrainConfig(**{**base, **changes})
