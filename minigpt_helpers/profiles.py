"""Configuration in one place: the profiles, what a training run is set up with, and recipes.

A profile sizes every stage of the course, and is picked once per notebook
(``PROFILE = get_profile()``) from ``MINIGPT_PROFILE``:

- ``ci``: seconds per notebook, what the test suite runs on 2 CPU cores.
- ``cpu``: a learner's laptop; minutes per notebook, and a model that writes book-like English.
- ``gpu``: Colab T4 or a local GPU; the "ultra-mini".

Default: ``gpu`` when CUDA is available, else ``cpu``. ``MINIGPT_BOOKS`` or
``MINIGPT_GUTENBERG_IDS`` choose other books. ``TrainConfig.from_profile(profile)`` is the one
function that turns a profile into a training run's config; ``RECIPES`` are named variants.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from . import hardware
from .model import preset
from .schedule import LRSchedule

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


# --------------------------------------------------------------------------- a training run's config

OPTIMIZERS = ("adamw", "muon")


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved resolved in run.json and every checkpoint."""

    run: str = "default"  # the folder under data/checkpoints/
    # data: None means the stage folders data/tokens and data/tokenizer; relative paths are
    # under the data folder (e.g. "recipes/shakespeare-char")
    tokens_dir: str | None = None
    tokenizer_dir: str | None = None
    context_length: int = 128
    batch_size: int = 16  # sequences per micro-batch, per process
    grad_accum_steps: int = 1  # micro-batches per optimizer step
    # model: a preset of minigpt_helpers.model, with fields changed
    model_preset: str = "cpu"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    activation_checkpointing: bool = False
    # fine-tuning: a checkpoint folder whose weights start the run instead of random ones (the
    # same model and tokenizer; relative paths are under the data folder, e.g. "checkpoints/cpu/best")
    init_from: str | None = None
    # the optimizer: "adamw" for every weight, or "muon": Muon for the blocks' matrices and AdamW
    # for the rest (embeddings, head, gains, biases)
    optimizer: str = "adamw"
    matrix_lr: float = 0.02  # Muon's peak learning rate
    embedding_lr: float | None = None  # AdamW's peak for the token table (None: learning_rate)
    # the learning-rate schedule
    max_steps: int = 1000
    learning_rate: float = 1e-3  # AdamW's peak
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # the floor, as a fraction of the peak
    plateau_fraction: float = 0.0  # share of the post-warmup steps held at the peak
    decay_steps: int | None = None  # where the decay reaches the floor (None: max_steps)
    lr_decay: str = "cosine"  # "cosine", or "linear" (with a plateau: warmup-stable-decay)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0  # 0 turns clipping off (the norm is still logged)
    # evaluation, early stopping, checkpoints, samples
    eval_interval: int = 250
    eval_batches: int = 20
    patience: int | None = None  # stop after this many evaluations without improvement
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    checkpoint_interval: int | None = None  # None: every eval_interval
    keep_last: int = 3
    sample_interval: int = 0  # 0: no samples while training
    sample_tokens: int = 100
    sample_prompt: str = ""  # "" starts from the end-of-text token (the start of a document)
    sample_temperature: float = 0.8
    sample_top_k: int | None = 50
    # limits for this session
    time_budget_s: float | None = None  # training time over all sessions, then stop (None: no limit)
    lr_follows_budget: bool = True  # with a budget, decay by whichever runs out first: steps or time
    stop_at_step: int | None = None  # end this session at that step, with a checkpoint
    # hardware
    device: str = "auto"  # auto: cuda, then mps, then cpu (MINIGPT_DEVICE overrides)
    precision: str = "auto"  # auto, bf16, fp16, fp32 (see hardware.choose_precision)
    compile: bool | None = None  # None: where it helps (CUDA on Linux)
    threads: int | None = None  # CPU threads for torch (None: torch's default, one per core)
    seed: int = 42
    deterministic: bool = False
    # logging
    log_interval: int = 10
    tensorboard: bool | None = None  # None: when the tensorboard package is installed
    wandb: bool = False
    wandb_project: str = "minigpt"
    wandb_mode: str = "offline"  # offline works without an account; "online" uploads

    def __post_init__(self) -> None:
        problems = []
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.run or ""):
            problems.append(f"run={self.run!r}: use letters, digits, '.', '_' or '-' (it names a folder)")
        for name in ("context_length", "batch_size", "grad_accum_steps", "max_steps", "eval_interval",
                     "eval_batches", "keep_last", "log_interval", "sample_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name}={value!r}: use a whole number of at least 1")
        for name in ("patience", "checkpoint_interval", "stop_at_step", "decay_steps", "threads"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems.append(f"{name}={value!r}: use a whole number of at least 1, or None")
        if self.init_from is not None and (not isinstance(self.init_from, str) or not self.init_from.strip()):
            problems.append(f"init_from={self.init_from!r}: use a checkpoint folder (e.g. 'checkpoints/cpu/best'), or None")
        if self.sample_interval < 0:
            problems.append(f"sample_interval={self.sample_interval}: use 0 (no samples) or a number of steps")
        for name in ("weight_decay", "grad_clip", "min_delta", "eps"):
            if getattr(self, name) < 0:
                problems.append(f"{name}={getattr(self, name)}: use 0 or more")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name}={getattr(self, name)}: use a value in [0, 1), e.g. 0.9 or 0.95")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            problems.append(f"time_budget_s={self.time_budget_s}: use a positive number of seconds, or None")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer={self.optimizer!r}: use one of {', '.join(map(repr, OPTIMIZERS))}")
        for name in ("matrix_lr", "embedding_lr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                problems.append(f"{name}={value!r}: use a positive learning rate"
                                + (", or None for learning_rate" if name == "embedding_lr" else ", e.g. 0.02"))
        if self.precision not in hardware.PRECISIONS:
            problems.append(f"precision={self.precision!r}: use one of {', '.join(hardware.PRECISIONS)}")
        if self.sample_temperature <= 0:
            problems.append(f"sample_temperature={self.sample_temperature}: use a positive number, e.g. 0.8")
        if not isinstance(self.model_overrides, dict):
            problems.append(f"model_overrides={self.model_overrides!r}: use a dict of GPTConfig fields")
        elif "vocab_size" in self.model_overrides or "context_length" in self.model_overrides:
            problems.append("model_overrides: vocab_size comes from the tokenizer and context_length from "
                            "the config's own context_length field; remove them")
        try:
            self.schedule()
        except ValueError as err:
            problems.extend(str(err).split("\n- ")[1:])
        if problems:
            raise ValueError("TrainConfig is invalid:\n- " + "\n- ".join(problems))

    # ---- derived

    def schedule(self) -> LRSchedule:
        """The learning rate of every optimizer step."""
        return LRSchedule(self.learning_rate, self.max_steps, self.warmup_steps, self.min_lr_ratio,
                          self.plateau_fraction, self.decay_steps, self.lr_decay)

    def model_config(self, vocab_size: int) -> Any:
        """The GPTConfig this run trains: the preset, the tokenizer's vocabulary, this context."""

        return preset(self.model_preset, vocab_size=vocab_size, context_length=self.context_length,
                      **{**self.model_overrides, "activation_checkpointing": self.activation_checkpointing})

    @property
    def every_checkpoint(self) -> int:
        return self.checkpoint_interval or self.eval_interval

    # ---- conversion

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown fields {unknown}; the fields are {sorted(known)}")
        return cls(**data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_profile(cls, profile: Any, **overrides: Any) -> TrainConfig:
        """The run a profile trains (run name = profile name): the profile's fields that are
        TrainConfig fields too, then its ``training`` settings, then ``overrides``."""
        known = {f.name for f in dataclasses.fields(cls)}
        base: dict[str, Any] = {f.name: getattr(profile, f.name) for f in dataclasses.fields(profile)
                                if f.name in known}
        base.update(run=profile.name, sample_tokens=profile.max_new_tokens, **profile.training)
        base.update(overrides)
        base["model_overrides"] = {"arch": profile.arch, **base.get("model_overrides", {})}
        if unknown := sorted(set(base) - known):
            raise ValueError(f"TrainConfig has no field(s) {unknown}; the fields are {sorted(known)}")
        return cls(**base)


# --------------------------------------------------------------------------- the profiles

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
        # WikiText-2 (out of domain for a books model) capped to its first articles, a few thousand tokens
        evaluation=dict(DEFAULT_EVALUATION, wikitext_max_tokens=6_000),
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
