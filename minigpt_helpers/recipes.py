"""Named training recipes beyond the books: their own data and the settings of a published run.

``python -m minigpt_helpers train --recipe shakespeare-char`` prepares the recipe's data under
``data/recipes/<name>/`` (tokenizer/, train.bin, val.bin, meta.json, manifest.json) once, then
trains run ``<name>`` under ``data/checkpoints/`` with the loop of 05_training.

- ``shakespeare-char``: nanoGPT's "shakespeare_char on a MacBook" data and shape, so our numbers
  compare with its published validation loss of 1.88: one token per character of
  TinyShakespeare (the first 90% of the characters train, the last 10% validate), 4 layers, 4
  heads, 128 wide, context 64, batch 12, 2000 steps, evaluation every 250 steps over 20 batches,
  seed 1337. What differs from nanoGPT: the modern block (rotary positions, RMSNorm with
  QK-norm, ReLU squared, no biases, an untied head starting near zero, blocks starting as the
  identity), AdamW at 4e-3 (nanoGPT: 1e-3) with a 100-step warmup, and ``torch.compile``. Our
  character tokenizer adds <eot> and <unk>, so the vocabulary is 67 instead of 65. nanoGPT's
  own model is this recipe with ``--set model_overrides='{"arch": "gpt2", "bias": false}'
  --set compile=false --set learning_rate=1e-3``. Measurements: benchmarks/README.md.
- ``wikitext``: the course plan's WikiText-2 model (preset "wikitext": 6 layers, 384 wide, a BPE of
  16,000 tokens trained on WikiText-2's train split), with activation checkpointing so it fits
  in 8 GB. It needs the train split, which is downloaded through Hugging Face ``datasets``;
  offline it stops with a message saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifacts import data_dir, read_json, sha256_bytes, write_json_atomic
from .dataset import write_token_files
from .sources import tinyshakespeare, wikitext2
from .tokenization import BPETokenizer, CharTokenizer
from .profiles import TrainConfig

log = logging.getLogger(__name__)

RECIPE_FORMAT = 1


@dataclass(frozen=True)
class Recipe:
    """A named run: how to prepare its data, and the TrainConfig fields it trains with."""

    name: str
    description: str
    prepare: Callable[[Path], dict[str, Any]]  # writes tokenizer/ and token files; returns manifest facts
    settings: dict[str, Any]


def _prepare_shakespeare(folder: Path) -> dict[str, Any]:

    text = tinyshakespeare()
    cut = int(len(text) * 0.9)  # nanoGPT's split: the first 90% of the characters train
    tok = CharTokenizer.train([text])
    tok.save(folder / "tokenizer")
    meta = write_token_files(folder, tok, {"train": [text[:cut]], "val": [text[cut:]]},
                             split_note="first 90% of the characters train, last 10% validate (nanoGPT)")
    return {"source": "TinyShakespeare (karpathy/char-rnn)", "source_sha256": sha256_bytes(text.encode("utf-8")),
            "chars": len(text), "counts": meta["counts"]}


def _prepare_wikitext(folder: Path) -> dict[str, Any]:

    try:
        train = wikitext2("train")
    except Exception as err:  # FileNotFoundError offline, or a network error from datasets
        raise FileNotFoundError(
            "recipe 'wikitext' needs WikiText-2's train split, which is not available offline "
            f"({type(err).__name__}: {err}). Run it with network access (Hugging Face datasets downloads "
            "'Salesforce/wikitext', wikitext-2-raw-v1), or unset HF_DATASETS_OFFLINE."
        ) from err
    valid = wikitext2("validation")
    tok = BPETokenizer.train([train], vocab_size=16_000)
    tok.save(folder / "tokenizer")
    meta = write_token_files(folder, tok, {"train": [train], "val": [valid]},
                             split_note="WikiText-2 raw: train and validation splits (test kept for evaluation)")
    return {"source": "WikiText-2 raw (wikitext-2-raw-v1)", "counts": meta["counts"]}


RECIPES: dict[str, Recipe] = {
    "shakespeare-char": Recipe(
        "shakespeare-char",
        "nanoGPT's shakespeare_char on a MacBook: characters of TinyShakespeare, 0.8M parameters, 2000 steps",
        _prepare_shakespeare,
        dict(model_preset="shakespeare-char", model_overrides={"arch": "modern", "dropout": 0.0},
             context_length=64, batch_size=12, grad_accum_steps=1, max_steps=2000, optimizer="adamw",
             learning_rate=4e-3, warmup_steps=100, min_lr_ratio=0.1, beta1=0.9, beta2=0.99,
             weight_decay=0.1, grad_clip=1.0, eval_interval=250, eval_batches=20, checkpoint_interval=1000,
             sample_interval=1000, sample_tokens=300, sample_prompt="\n", log_interval=50, patience=None,
             # At 2,000 fixed steps of this tiny model, Muon's per-step cost outweighs what it learns per
             # step, and compiling the modern block's many small operations pays for itself.
             compile=True, precision="fp32", seed=1337),  # nanoGPT's torch.manual_seed(1337)
    ),
    "wikitext": Recipe(
        "wikitext",
        "a WikiText-2 model: a 16k BPE, 6 layers x 384, context 512, activation checkpointing (8 GB)",
        _prepare_wikitext,
        dict(model_preset="wikitext", context_length=512, batch_size=8, grad_accum_steps=4, max_steps=5000,
             learning_rate=6e-4, warmup_steps=200, min_lr_ratio=0.1, eval_interval=250, eval_batches=40,
             activation_checkpointing=True, patience=5, sample_interval=1000, sample_tokens=200,
             sample_prompt=" = ", log_interval=10),
    ),
}


def recipe_dir(name: str) -> Path:
    """``data/recipes/<name>``."""
    return data_dir() / "recipes" / name


def _get(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; pick one of {', '.join(RECIPES)}")
    return RECIPES[name]


def prepare_recipe(name: str, *, force: bool = False) -> Path:
    """Write the recipe's tokenizer and token files under ``data/recipes/<name>`` (once)."""
    recipe = _get(name)
    folder = recipe_dir(name)
    manifest = folder / "manifest.json"
    if not force and manifest.is_file() and read_json(manifest).get("format") == RECIPE_FORMAT:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)  # a half-written folder is never "prepared"
    log.info("preparing recipe %r in %s", name, folder)
    facts = recipe.prepare(folder)
    write_json_atomic(manifest, {"format": RECIPE_FORMAT, "recipe": name, "description": recipe.description, **facts})
    return folder


def recipe_config(name: str, **overrides: Any) -> Any:
    """The TrainConfig of recipe ``name`` (run name = recipe name); ``overrides`` change fields."""

    recipe = _get(name)
    base = dict(run=name, tokens_dir=f"recipes/{name}", tokenizer_dir=f"recipes/{name}/tokenizer", **recipe.settings)
    base.update(overrides)
    return TrainConfig(**base)
