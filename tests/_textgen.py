"""Made-up English for tests that need text but not books: short sentences from a small vocabulary."""

from __future__ import annotations

import random

WORDS = "the whale sea ship night storm letter garden castle river old young smiled walked said and".split()


def sentences(seed: int, count: int) -> str:
    """``count`` capitalised sentences of 4 to 9 words, one per line; the same seed, the same text."""
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize() + "."
                     for _ in range(count))
