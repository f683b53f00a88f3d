"""Profiles: one place that says how big everything is.

A profile is picked once per notebook (``PROFILE = get_profile()``) from ``MINIGPT_PROFILE``:

- ``ci``: seconds per notebook, what the test suite runs on 2 CPU cores.
- ``cpu``: a learner's laptop; minutes per notebook, and a model that writes book-like English.
- ``gpu``: Colab T4 or a local GPU; the "ultra-mini" (about 40M parameters).

Default: ``gpu`` when CUDA is available, else ``cpu``. Stage modules read the fields they
need; nothing here imports torch until a device is asked for.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

PROFILE_ENV = "MINIGPT_PROFILE"
DEVICE_ENV = "MINIGPT_DEVICE"
BOOKS_ENV = "MINIGPT_BOOKS"  # a folder of your own .txt books, used instead of the profile's
GUTENBERG_ENV = "MINIGPT_GUTENBERG_IDS"  # other Project Gutenberg ids, e.g. "1342,84,11"

# A varied English default library (novels, children's books, stories, a play, poetry,
# essays, a treatise, an autobiography), every one present in the offline copy so the
# whole course runs without a network. It spans every Project Gutenberg header style.
DEFAULT_BOOK_IDS: tuple[int, ...] = (
    1342,  # Pride and Prejudice
    11,  # Alice's Adventures in Wonderland
    120,  # Treasure Island
    158,  # Emma
    16,  # Peter Pan
    219,  # Heart of Darkness
    244,  # A Study in Scarlet
    2701,  # Moby Dick
    2852,  # The Hound of the Baskervilles
    308,  # Three Men in a Boat (newer header, no spaces)
    36,  # The War of the Worlds
    41,  # The Legend of Sleepy Hollow
    43,  # Dr Jekyll and Mr Hyde
    46,  # A Christmas Carol
    74,  # The Adventures of Tom Sawyer
    98,  # A Tale of Two Cities
    1400,  # Great Expectations
    1260,  # Jane Eyre
    174,  # The Picture of Dorian Gray
    345,  # Dracula
    55,  # The Wonderful Wizard of Oz
    768,  # Wuthering Heights
    1661,  # The Adventures of Sherlock Holmes
    161,  # Sense and Sensibility
    521,  # Robinson Crusoe
    2591,  # Grimms' Fairy Tales
    1254,  # Cyrano de Bergerac (a play)
    1322,  # Leaves of Grass (poetry)
    205,  # Walden (essays)
    1232,  # The Prince (a treatise)
    23,  # Narrative of the Life of Frederick Douglass
    2353,  # Tea-table Talk (transitional 2003 header)
    2299,  # Pandora (1990s "Small Print!" etext)
)

# Three short books (about 0.4 MB): enough to exercise every stage in seconds.
CI_BOOK_IDS: tuple[int, ...] = (11, 46, 41)

DEFAULT_EVALUATION: dict[str, Any] = dict(wikitext_max_tokens=None, quick_seeds=8, quality_samples=2,
                                          context_windows=1024)


@dataclass(frozen=True)
class Profile:
    """Sizes for every stage of the course. Stage modules read the fields they need."""

    name: str
    summary: str
    # 01 cleaning: which Project Gutenberg books make the corpus
    book_ids: tuple[int, ...]
    # 02 tokenization: "bpe" (trained on the books), "gpt2" (tiktoken) or "char"
    tokenizer: str
    bpe_vocab_size: int
    # 03 dataset: "books" holds out whole books, "tail" the end of every book
    split_mode: str
    val_fraction: float
    context_length: int
    # 04 model: a preset name from minigpt_helpers.model, built with one of its ARCHITECTURES
    model_preset: str
    arch: str
    # 05 training
    batch_size: int
    grad_accum_steps: int
    max_steps: int
    learning_rate: float
    warmup_steps: int
    eval_interval: int
    eval_batches: int
    sample_interval: int
    time_budget_s: float | None  # stop training after this many seconds (None: no limit)
    # 06 evaluation: cap on tokens scored by the exact evaluation (None: the whole split)
    eval_max_tokens: int | None
    # 07-09 generation
    max_new_tokens: int
    # 05: any other TrainConfig field (optimizer, learning rates, precision, compile, patience, ...)
    training: dict[str, Any] = field(default_factory=dict)
    # 06: wikitext_max_tokens (None: all), quick_seeds, quality_samples, context_windows
    evaluation: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_EVALUATION))
    # 01: a folder of your own .txt books, used instead of book_ids (MINIGPT_BOOKS sets it)
    books_folder: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.tokenizer not in ("bpe", "gpt2", "char"):
            problems.append(f"tokenizer={self.tokenizer!r}: use 'bpe', 'gpt2' or 'char'")
        if self.split_mode not in ("books", "tail"):
            problems.append(f"split_mode={self.split_mode!r}: use 'books' or 'tail'")
        if not 0.0 < self.val_fraction < 0.5:
            problems.append(f"val_fraction={self.val_fraction}: pick a value in (0, 0.5), e.g. 0.1")
        if not self.book_ids:
            problems.append("book_ids is empty: list at least one Project Gutenberg id")
        if self.arch not in ("gpt2", "modern"):
            problems.append(f"arch={self.arch!r}: use 'gpt2' or 'modern'")
        if self.context_length < 8:
            problems.append(f"context_length={self.context_length}: use at least 8")
        if problems:
            raise ValueError(f"profile {self.name!r} is invalid:\n- " + "\n- ".join(problems))

    @property
    def corpus(self) -> dict[str, Any]:
        """Which books this profile trains on, as data/raw's manifest records it ("origin")."""
        if self.books_folder:
            return {"kind": "local", "folder": self.books_folder}
        return {"kind": "gutenberg", "ids": list(self.book_ids)}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["book_ids"] = list(self.book_ids)
        return d

    def with_overrides(self, **changes: Any) -> Profile:
        """A copy with some fields changed (for exercises and experiments)."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci",
        summary="test suite: 3 short books, a tiny BPE and model, seconds per notebook",
        book_ids=CI_BOOK_IDS,
        tokenizer="bpe",
        bpe_vocab_size=512,
        split_mode="books",
        val_fraction=0.34,
        context_length=64,
        model_preset="ci",
        arch="modern",
        batch_size=8,
        grad_accum_steps=1,
        max_steps=30,
        learning_rate=3e-3,
        warmup_steps=5,
        eval_interval=10,
        eval_batches=4,
        sample_interval=15,
        time_budget_s=None,
        eval_max_tokens=20_000,
        max_new_tokens=40,
        # a model this small runs fastest on one thread, and does not stall when other work shares the cores
        training=dict(log_interval=1, patience=None, sample_prompt="The", threads=1, optimizer="muon",
                      embedding_lr=0.02, precision="fp32"),
        # seconds: WikiText capped to its first articles, fewer context windows
        evaluation=dict(wikitext_max_tokens=6_000, quick_seeds=8, quality_samples=2, context_windows=64),
    ),
    "cpu": Profile(
        name="cpu",
        summary="laptop CPU: 33 books, an 8k BPE, a 4-layer 192-wide modern GPT, minutes per notebook",
        book_ids=DEFAULT_BOOK_IDS,
        tokenizer="bpe",
        bpe_vocab_size=8000,
        split_mode="books",
        val_fraction=0.1,
        context_length=128,
        model_preset="cpu",
        arch="modern",
        # 05 training: the recipe that measured best at equal wall-clock (benchmarks/README.md);
        # the time budget ends the run (and its learning-rate decay) on a 2-core CPU
        batch_size=16,
        grad_accum_steps=1,
        max_steps=5000,
        learning_rate=6e-3,
        warmup_steps=50,
        eval_interval=200,
        eval_batches=30,
        sample_interval=400,
        time_budget_s=11 * 60,
        eval_max_tokens=400_000,
        max_new_tokens=200,
        # Muon, bf16 where the CPU computes in it, and torch.compile (see benchmarks/README.md)
        training=dict(log_interval=10, patience=4, sample_prompt="The", optimizer="muon", matrix_lr=0.01,
                      embedding_lr=0.05, compile=True),
    ),
    "gpu": Profile(
        name="gpu",
        summary="GPU (Colab T4 and up): 33 books, GPT-2's tokenizer, the ultra-mini model (~40M)",
        book_ids=DEFAULT_BOOK_IDS,
        tokenizer="gpt2",
        bpe_vocab_size=16000,
        split_mode="books",
        val_fraction=0.1,
        context_length=512,
        model_preset="ultra-mini",
        arch="modern",
        # 05 training: one pass over the books' ~3.2M GPT-2 tokens is ~200 steps of 32 x 512, so
        # 1,500 steps are ~7 passes; dropout and early stopping (below) guard against memorising
        # them (not yet measured on a GPU)
        batch_size=32,
        grad_accum_steps=1,
        max_steps=1500,
        learning_rate=4e-3,  # AdamW for the head; Muon and the embeddings have their own (not yet measured on a GPU)
        warmup_steps=100,
        eval_interval=100,
        eval_batches=40,
        sample_interval=250,
        time_budget_s=None,
        eval_max_tokens=None,
        max_new_tokens=300,
        training=dict(log_interval=10, patience=5, sample_prompt="The", checkpoint_interval=250,
                      model_overrides={"dropout": 0.1}, optimizer="muon", embedding_lr=0.05),
        evaluation=dict(DEFAULT_EVALUATION, quick_seeds=16, quality_samples=4),
    ),
}


#: Earlier recipes, kept by name so ``benchmarks/recipe_compare.py`` can train them beside a
#: profile's own: "<profile>-gpt2" is that profile as it trained before the modern block (GPT-2's
#: block, AdamW alone, float32, no torch.compile). "fields" change the profile; "training" changes
#: its ``training`` settings.
RECIPES: dict[str, dict[str, Any]] = {
    "cpu-gpt2": {
        "profile": "cpu",
        "fields": dict(arch="gpt2", bpe_vocab_size=8000, context_length=128, batch_size=8, grad_accum_steps=1,
                       learning_rate=2e-3, warmup_steps=100, max_steps=2200),
        "training": dict(model_overrides={"n_layer": 4, "n_head": 4, "n_embd": 256}, optimizer="adamw",
                         precision="fp32", compile=False, lr_decay="cosine", plateau_fraction=0.0, min_lr_ratio=0.1,
                         embedding_lr=None),
    },
    "ci-gpt2": {
        "profile": "ci",
        "fields": dict(arch="gpt2", learning_rate=3e-3, warmup_steps=5),
        "training": dict(optimizer="adamw", precision="fp32", compile=False, lr_decay="cosine",
                         plateau_fraction=0.0, min_lr_ratio=0.1, embedding_lr=None),
    },
}


def recipe_profile(name: str) -> Profile:
    """The profile a recipe trains: a profile's name gives that profile; a name in ``RECIPES``
    gives its profile with the recipe's changes."""
    if name in PROFILES:
        return PROFILES[name]
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; pick a profile ({', '.join(PROFILES)}) or one of "
                         f"{', '.join(RECIPES)}")
    recipe = RECIPES[name]
    base = PROFILES[recipe["profile"]]
    return base.with_overrides(**recipe["fields"], training={**base.training, **recipe["training"]})


def default_profile_name() -> str:
    """``gpu`` when CUDA is available, else ``cpu``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else ``MINIGPT_PROFILE``, else the default for this machine,
    with the books that ``MINIGPT_BOOKS`` or ``MINIGPT_GUTENBERG_IDS`` choose."""
    chosen = name or os.environ.get(PROFILE_ENV) or default_profile_name()
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        raise ValueError(
            f"unknown profile {chosen!r} (from {'the argument' if name else PROFILE_ENV}); "
            f"pick one of {', '.join(PROFILES)}, e.g. export {PROFILE_ENV}=cpu"
        )
    return with_books(PROFILES[chosen], os.environ.get(BOOKS_ENV), os.environ.get(GUTENBERG_ENV))


def with_books(profile: Profile, folder: str | None = None, gutenberg_ids: str | None = None) -> Profile:
    """``profile`` trained on a folder of your own .txt books, or on other Gutenberg books
    ("1342,84,11"); both empty leave it as it is."""
    if folder and folder.strip() and gutenberg_ids and gutenberg_ids.strip():
        raise ValueError(f"both {BOOKS_ENV} and {GUTENBERG_ENV} are set: choose your own folder of books "
                         "or a list of Gutenberg ids, not both")
    if folder and folder.strip():
        path = os.path.abspath(os.path.expanduser(folder.strip()))
        if not os.path.isdir(path):
            raise FileNotFoundError(f"{BOOKS_ENV}={folder!r}: {path} is not a folder; point it at a folder of "
                                    ".txt books (UTF-8, Windows-1252 or Latin-1), or unset it")
        return replace(profile, books_folder=path)
    if gutenberg_ids and gutenberg_ids.strip():
        parts = [p.strip() for p in gutenberg_ids.replace(" ", ",").split(",") if p.strip()]
        if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"{GUTENBERG_ENV}={gutenberg_ids!r}: give Project Gutenberg ids separated by "
                             "commas, e.g. 1342,84,11 (the number in a book's gutenberg.org address)")
        return replace(profile, book_ids=tuple(dict.fromkeys(int(p) for p in parts)))
    return profile


def pick_device(prefer: str | None = None) -> str:
    """The device to compute on: ``MINIGPT_DEVICE`` if set, else cuda, then mps, then cpu."""
    import torch

    wanted = prefer or os.environ.get(DEVICE_ENV)
    if wanted:
        wanted = wanted.strip().lower()
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"{DEVICE_ENV}={wanted} but CUDA is not available; unset it or use cpu")
        if wanted == "mps" and not _mps_available():
            raise ValueError(f"{DEVICE_ENV}=mps but MPS is not available; unset it or use cpu")
        return wanted
    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def describe(profile: Profile) -> str:
    """A one-paragraph summary printed by every notebook's setup cell."""
    return (
        f"profile {profile.name!r}: {profile.summary}\n"
        + (f"  books: your own, from {profile.books_folder}" if profile.books_folder
           else f"  books: {len(profile.book_ids)} from Project Gutenberg")
        + f", tokenizer: {profile.tokenizer}"
        + (f" ({profile.bpe_vocab_size} tokens)" if profile.tokenizer == "bpe" else "")
        + f", model: preset {profile.model_preset} with the {profile.arch} block, context: {profile.context_length}"
    )
