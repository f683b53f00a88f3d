"""Tokenization: clean text to token ids, behind one small interface.

Three tokenizers share ``encode``, ``encode_batch``, ``decode``, ``vocab_size``, ``eot_id``,
``save`` and ``load_tokenizer``:

- ``GPT2Tokenizer``: GPT-2's byte-level BPE (50,257 tokens) through tiktoken;
- ``BPETokenizer``: a byte-level BPE trained on the cleaned books with Hugging Face ``tokenizers``
  (special tokens ``<bos>``, ``<eos>``, ``<pad>``), saved as ``tokenizer.json``;
- ``CharTokenizer``: one token per character (a fallback, and nanoGPT's shakespeare_char).

A tokenizer folder holds ``tokenizer_config.json`` (kind, name, vocabulary size, end-of-text id,
SHA-256) and the files that kind needs; ``load_tokenizer`` refuses a file whose SHA-256 changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .artifacts import (
    ensure,
    read_json,
    read_manifest,
    sha256_file,
    stage_dir,
    write_json_atomic,
    write_manifest,
    write_text_atomic,
)
from .profiles import Profile

log = logging.getLogger(__name__)

CONFIG_FILE = "tokenizer_config.json"
BPE_SPECIAL_TOKENS = ("<bos>", "<eos>", "<pad>")


class Tokenizer(ABC):
    """What every tokenizer offers. Generation and the model see only the ids."""

    kind: str
    name: str

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @property
    @abstractmethod
    def eot_id(self) -> int:
        """The id placed between documents (end of text)."""

    @property
    @abstractmethod
    def sha256(self) -> str:
        """A fingerprint of the vocabulary: two tokenizers with the same one encode alike."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Text to ids. No special tokens are added; ``eot_id`` is placed by the caller."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str: ...

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        """Encode many texts; subclasses use all cores."""
        return [self.encode(t) for t in texts]

    def token_piece(self, token_id: int) -> str:
        """How one token reads on its own (for pictures of token boundaries)."""
        return self.decode([token_id])

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "vocab_size": self.vocab_size,
            "eot_id": self.eot_id,
            "sha256": self.sha256,
        }

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the tokenizer into ``folder`` (created if needed); returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_files(folder)
        write_json_atomic(folder / CONFIG_FILE, self.config())
        return folder

    def _save_files(self, folder: Path) -> None:
        """Write the files this kind needs besides tokenizer_config.json."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, vocab_size={self.vocab_size})"


# --------------------------------------------------------------------------- GPT-2 (tiktoken)


class GPT2Tokenizer(Tokenizer):
    """GPT-2's 50,257-token byte-level BPE, through tiktoken (downloads its files once)."""

    kind = "gpt2"
    name = "gpt2"

    def __init__(self) -> None:
        import tiktoken

        self._enc = tiktoken.get_encoding("gpt2")
        self._sha: str | None = None

    @property
    def vocab_size(self) -> int:
        return self._enc.n_vocab

    @property
    def eot_id(self) -> int:
        return self._enc.eot_token

    @property
    def sha256(self) -> str:
        if self._sha is None:
            h = hashlib.sha256()
            for i in range(self._enc.n_vocab):
                h.update(self._enc.decode_single_token_bytes(i) + b"\x00")
            self._sha = h.hexdigest()
        return self._sha

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        return self._enc.encode_ordinary_batch(list(texts), num_threads=num_threads or os.cpu_count() or 1)

    def decode(self, ids: Sequence[int]) -> str:
        return self._enc.decode(list(ids))

    def token_piece(self, token_id: int) -> str:
        return self._enc.decode_single_token_bytes(token_id).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- trained BPE (HF tokenizers)


class BPETokenizer(Tokenizer):
    """A byte-level BPE trained on your own text with Hugging Face ``tokenizers``."""

    kind = "bpe"

    def __init__(self, tokenizer: Any, sha256: str | None = None) -> None:
        self._tok = tokenizer
        self.name = f"bpe-{self._tok.get_vocab_size()}"
        # The fingerprint is the SHA-256 of the exact tokenizer.json that save() writes.
        self._sha = sha256 or hashlib.sha256(self._tok.to_str(pretty=True).encode("utf-8")).hexdigest()

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        *,
        min_frequency: int = 2,
        special_tokens: Sequence[str] = BPE_SPECIAL_TOKENS,
    ) -> BPETokenizer:
        """Learn ``vocab_size`` tokens (256 bytes + specials + merges) from ``texts``."""
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        if vocab_size < 256 + len(special_tokens) + 1:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: a byte-level BPE needs 256 byte tokens plus "
                f"{len(special_tokens)} special tokens; use at least {256 + len(special_tokens) + 1}"
            )
        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(special_tokens),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    @property
    def eot_id(self) -> int:
        return self._special("<eos>")

    @property
    def sha256(self) -> str:
        return self._sha

    def _special(self, token: str) -> int:
        token_id = self._tok.token_to_id(token)
        if token_id is None:
            raise ValueError(f"this BPE has no {token} token; train it with special_tokens including {token!r}")
        return token_id

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        # tokenizers parallelises batches over all cores (RAYON_NUM_THREADS caps it).
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def token_piece(self, token_id: int) -> str:
        return self._tok.decode([token_id], skip_special_tokens=False)

    def _save_files(self, folder: Path) -> None:
        write_text_atomic(folder / "tokenizer.json", self._tok.to_str(pretty=True))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        return cls(HFTokenizer.from_file(str(path)), sha256=sha256_file(path))


# --------------------------------------------------------------------------- characters


class CharTokenizer(Tokenizer):
    """One id per character seen in the training text, plus ``<eot>`` and ``<unk>``."""

    kind = "char"
    EOT = "<eot>"
    UNK = "<unk>"

    def __init__(self, chars: Sequence[str]) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: the character list has duplicates")
        self.chars = list(chars)
        self._stoi = {c: i for i, c in enumerate(self.chars)}
        self._eot = len(self.chars)
        self._unk = len(self.chars) + 1
        self.name = f"char-{self.vocab_size}"
        self._warned = False

    @classmethod
    def train(cls, texts: Iterable[str]) -> CharTokenizer:
        seen: set[str] = set()
        for t in texts:
            seen.update(t)
        return cls(sorted(seen))

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 2

    @property
    def eot_id(self) -> int:
        return self._eot

    @property
    def unk_id(self) -> int:
        return self._unk

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.chars, ensure_ascii=False).encode("utf-8")).hexdigest()

    def encode(self, text: str) -> list[int]:
        ids = [self._stoi.get(c, self._unk) for c in text]
        if not self._warned and self._unk in ids:
            unknown = sorted({c for c in text if c not in self._stoi})[:10]
            log.warning("characters not in the vocabulary became <unk>: %r", unknown)
            self._warned = True
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        out = []
        for i in ids:
            if i == self._eot:
                out.append(self.EOT)
            elif i == self._unk:
                out.append(self.UNK)
            else:
                out.append(self.chars[i])
        return "".join(out)

    def _save_files(self, folder: Path) -> None:
        write_json_atomic(folder / "chars.json", self.chars)


# --------------------------------------------------------------------------- factory, save, load


def get_tokenizer(kind: str, texts: Iterable[str] | None = None, vocab_size: int = 8000) -> Tokenizer:
    """A tokenizer of ``kind`` ("gpt2", "bpe" or "char"); "bpe" and "char" learn from ``texts``."""
    if kind == "gpt2":
        return GPT2Tokenizer()
    if kind in ("bpe", "char"):
        if texts is None:
            raise ValueError(f"a {kind!r} tokenizer is learned from text: pass texts=[...]")
        return BPETokenizer.train(texts, vocab_size) if kind == "bpe" else CharTokenizer.train(texts)
    raise ValueError(f"unknown tokenizer kind {kind!r}; use 'gpt2', 'bpe' or 'char'")


def load_tokenizer(folder: str | os.PathLike[str] | None = None) -> Tokenizer:
    """Load a saved tokenizer (default: ``data/tokenizer``), checking its SHA-256."""
    folder = Path(folder) if folder is not None else stage_dir("tokenizer")
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{config_path} is missing: run notebooks/02_tokenization.ipynb, or point at a folder "
            "written by Tokenizer.save()"
        )
    config = read_json(config_path)
    kind = config.get("kind")
    if kind == "gpt2":
        tok: Tokenizer = GPT2Tokenizer()
    elif kind == "bpe":
        tok = BPETokenizer.from_file(folder / "tokenizer.json")
    elif kind == "char":
        tok = CharTokenizer(read_json(folder / "chars.json"))
    else:
        raise ValueError(f"{config_path}: unknown tokenizer kind {kind!r}")
    if config.get("sha256") and config["sha256"] != tok.sha256:
        raise ValueError(
            f"{folder}: the tokenizer files do not match the SHA-256 in {CONFIG_FILE} "
            f"({tok.sha256[:12]}... vs {config['sha256'][:12]}...); they were changed after saving. "
            "Re-run 02_tokenization to rebuild the tokenizer (and 03_dataset after it)."
        )
    return tok


def clean_texts() -> list[str]:
    """The cleaned books of ``data/clean`` in manifest order (what tokenizers learn from)."""
    manifest = read_manifest("clean")
    folder = stage_dir("clean")
    return [(folder / book["file"]).read_text(encoding="utf-8") for book in manifest["books"]]


def build_tokenizer_stage(profile: Profile) -> Path:
    """Build the profile's tokenizer from ``data/clean`` and save it to ``data/tokenizer``."""
    ensure("clean", profile, quiet=True)
    texts = clean_texts() if profile.tokenizer in ("bpe", "char") else None
    tok = get_tokenizer(profile.tokenizer, texts, vocab_size=profile.bpe_vocab_size)
    folder = tok.save(stage_dir("tokenizer"))
    write_manifest("tokenizer", profile, {**tok.config(), "files": sorted(p.name for p in folder.iterdir() if p.name != "manifest.json")})
    return folder
