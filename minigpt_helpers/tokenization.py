"""Tokenization: clean text to token ids, behind one small interface.

Three tokenizers share ``encode``, ``encode_batch``, ``decode``, ``vocab_size``, ``eot_id``,
``sha256``, ``token_bytes``/``token_piece``, ``save`` and ``load_tokenizer``:

- ``GPT2Tokenizer``: GPT-2's byte-level BPE (50,257 tokens) through tiktoken;
- ``BPETokenizer``: a byte-level BPE trained on the cleaned books with Hugging Face ``tokenizers``
  (special tokens ``<bos>``, ``<eos>``, ``<pad>``), saved as ``tokenizer.json``;
- ``CharTokenizer``: one token per character (a fallback, and nanoGPT's shakespeare_char).

``encode`` never produces a special token, even when the text spells one (a book that contains
"<eos>" gets ordinary tokens for it); callers place ``eot_id`` between documents themselves.
``encode_batch`` cuts long texts at newlines where GPT-2's pre-tokenizer splits anyway (so the
ids are exactly those of encoding each text whole) and encodes the pieces on all cores.

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
    read_json,
    read_manifest,
    stage_dir,
    write_json_atomic,
    write_text_atomic,
)

log = logging.getLogger(__name__)

CONFIG_FILE = "tokenizer_config.json"
BPE_SPECIAL_TOKENS = ("<bos>", "<eos>", "<pad>")

# encode_batch cuts texts longer than this (in characters) into pieces, so that a few long
# books still keep every core busy. Any size gives the same ids; this one keeps overhead low.
CHUNK_CHARS = 1 << 16


# --------------------------------------------------------------------------- byte-level alphabet


def _byte_to_char() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte: printable Latin-1 bytes stand for themselves,
    the others (space, newline, control bytes...) are shifted past 255, so b" " reads "Ġ"."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


# Byte-level BPEs (GPT-2's and Hugging Face's ByteLevel) store token strings in these characters.
BYTE_TO_CHAR: dict[int, str] = _byte_to_char()
CHAR_TO_BYTE: dict[str, int] = {c: b for b, c in BYTE_TO_CHAR.items()}


def split_text(text: str, chunk_chars: int = CHUNK_CHARS) -> list[str]:
    """Cut ``text`` into pieces of about ``chunk_chars`` that encode exactly like the whole.

    Each cut is just before a newline that is followed by a non-space character. GPT-2's
    pre-tokenizer (also used by Hugging Face's ByteLevel) always makes such a newline a token
    of its own and ends the preceding whitespace there, so no token can straddle the cut.
    """
    if chunk_chars < 1:
        raise ValueError(f"chunk_chars={chunk_chars}: use a positive number of characters")
    pieces: list[str] = []
    start, n = 0, len(text)
    while n - start > chunk_chars:
        cut = text.find("\n", start + chunk_chars)
        while cut != -1 and (cut + 1 >= n or text[cut + 1].isspace()):
            cut = text.find("\n", cut + 1)
        if cut == -1:
            break
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def _encode_split(encode_many: Any, texts: Sequence[str], chunk_chars: int) -> list[list[int]]:
    """Split every text with ``split_text``, encode all pieces at once, join the ids per text."""
    split = [split_text(t, chunk_chars) for t in texts]
    flat = [p for pieces in split for p in pieces]
    encoded = iter(encode_many(flat))
    out = []
    for pieces in split:
        ids: list[int] = []
        for _ in pieces:
            ids.extend(next(encoded))
        out.append(ids)
    return out


# --------------------------------------------------------------------------- the interface


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
    def special_tokens(self) -> dict[str, int]:
        """Tokens that ``encode`` never produces, by name (the end-of-text one among them)."""

    @property
    @abstractmethod
    def sha256(self) -> str:
        """A fingerprint of the vocabulary: two tokenizers with the same one encode alike."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Text to ids. No special tokens are added; ``eot_id`` is placed by the caller."""

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str: ...

    @abstractmethod
    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one token stands for (a special token: its name)."""

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        """Encode many texts; subclasses use all cores."""
        return [self.encode(t) for t in texts]

    def token_piece(self, token_id: int) -> str:
        """How one token reads on its own (a piece of a multi-byte character shows as U+FFFD)."""
        return self.token_bytes(token_id).decode("utf-8", errors="replace")

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "vocab_size": self.vocab_size,
            "eot_id": self.eot_id,
            "special_tokens": self.special_tokens,
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

        try:
            self._enc = tiktoken.get_encoding("gpt2")
        except Exception as err:  # tiktoken raises requests' errors when offline
            cache = os.environ.get("TIKTOKEN_CACHE_DIR")
            raise FileNotFoundError(
                "could not load GPT-2's BPE files: tiktoken downloads them once from "
                "openaipublic.blob.core.windows.net, and "
                + (f"TIKTOKEN_CACHE_DIR={cache} does not hold them" if cache else "TIKTOKEN_CACHE_DIR is not set")
                + f" ({type(err).__name__}). Connect once, or point TIKTOKEN_CACHE_DIR at a folder "
                "that already holds them."
            ) from err
        self._sha: str | None = None

    @property
    def vocab_size(self) -> int:
        return self._enc.n_vocab

    @property
    def eot_id(self) -> int:
        return self._enc.eot_token

    @property
    def special_tokens(self) -> dict[str, int]:
        return {"<|endoftext|>": self._enc.eot_token}

    @property
    def sha256(self) -> str:
        if self._sha is None:
            h = hashlib.sha256()
            for i in range(self._enc.n_vocab):
                h.update(self._enc.decode_single_token_bytes(i) + b"\x00")
            self._sha = h.hexdigest()
        return self._sha

    def encode(self, text: str) -> list[int]:
        if len(text) > 2 * CHUNK_CHARS:
            return self.encode_batch([text])[0]
        return self._enc.encode_ordinary(text)

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        """Encode on ``num_threads`` threads (default: every core); tiktoken releases the GIL."""
        threads = num_threads or os.cpu_count() or 1
        return _encode_split(lambda flat: self._enc.encode_ordinary_batch(flat, num_threads=threads), texts, CHUNK_CHARS)

    def decode(self, ids: Sequence[int]) -> str:
        return self._enc.decode(list(ids))

    def token_bytes(self, token_id: int) -> bytes:
        return self._enc.decode_single_token_bytes(token_id)


# --------------------------------------------------------------------------- trained BPE (HF tokenizers)


class BPETokenizer(Tokenizer):
    """A byte-level BPE trained on your own text with Hugging Face ``tokenizers``."""

    kind = "bpe"

    def __init__(self, tokenizer: Any, sha256: str | None = None, source_text: str | None = None) -> None:
        self._tok = tokenizer
        # The file it was read from, written back as it was: another `tokenizers` version may
        # serialise the same vocabulary differently, and the SHA-256 is of the file's bytes.
        self._source_text = source_text
        # Text that spells "<eos>" is ordinary text: only the caller places special ids.
        # (A runtime switch, not stored in tokenizer.json, so the SHA-256 is unaffected.)
        self._tok.encode_special_tokens = True
        self.name = f"bpe-{self._tok.get_vocab_size()}"
        # The fingerprint is the SHA-256 of the exact tokenizer.json that save() writes.
        self._sha = sha256 or hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()
        self._bytes: list[bytes] | None = None

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        *,
        min_frequency: int = 2,
        special_tokens: Sequence[str] = BPE_SPECIAL_TOKENS,
    ) -> BPETokenizer:
        """Learn ``vocab_size`` tokens (specials + 256 bytes + merges) from ``texts``.

        Ids: the special tokens first, then the 256 bytes, then one token per merge in the
        order they were learned. Training stops early when no pair occurs ``min_frequency`` times.
        """
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        if vocab_size < 256 + len(special_tokens) + 1:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: a byte-level BPE needs 256 byte tokens plus "
                f"{len(special_tokens)} special tokens; use at least {256 + len(special_tokens) + 1}"
            )
        if len(set(special_tokens)) != len(special_tokens):
            raise ValueError(f"special_tokens={list(special_tokens)} has duplicates; list each once")
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
    def special_tokens(self) -> dict[str, int]:
        return {t.content: i for i, t in sorted(self._tok.get_added_tokens_decoder().items()) if t.special}

    @property
    def sha256(self) -> str:
        return self._sha

    def _special(self, token: str) -> int:
        token_id = self.special_tokens.get(token)
        if token_id is None:
            raise ValueError(f"this BPE has no {token} token; train it with special_tokens including {token!r}")
        return token_id

    def encode(self, text: str) -> list[int]:
        if len(text) > 2 * CHUNK_CHARS:
            return self.encode_batch([text])[0]
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        """Encode on all cores (``tokenizers`` has its own thread pool; RAYON_NUM_THREADS caps it)."""
        fast = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)  # no offsets: faster
        return _encode_split(lambda flat: [e.ids for e in fast(flat, add_special_tokens=False)], texts, CHUNK_CHARS)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def token_bytes(self, token_id: int) -> bytes:
        if self._bytes is None:
            specials = {i: t for t, i in self.special_tokens.items()}
            table = []
            for i in range(self.vocab_size):
                s = self._tok.id_to_token(i)
                table.append(specials[i].encode("utf-8") if i in specials else bytes(CHAR_TO_BYTE[c] for c in s))
            self._bytes = table
        return self._bytes[token_id]

    def merges(self) -> list[tuple[bytes, bytes]]:
        """The learned merges in order, as byte strings: merge k made token ``first_merge_id + k``."""
        model = json.loads(self.to_json())["model"]
        pairs = [m.split(" ", 1) if isinstance(m, str) else m for m in model["merges"]]
        return [(bytes(CHAR_TO_BYTE[c] for c in a), bytes(CHAR_TO_BYTE[c] for c in b)) for a, b in pairs]

    def shrink(self, vocab_size: int) -> BPETokenizer:
        """The BPE that training with a smaller ``vocab_size`` gives: the same ids, fewer merges.

        BPE learns greedily, so a smaller vocabulary is a prefix of a larger one's merge list.
        """
        from tokenizers import Tokenizer as HFTokenizer

        data = json.loads(self.to_json())
        model = data["model"]
        first_merge = self.vocab_size - len(model["merges"])
        if not first_merge < vocab_size <= self.vocab_size:
            raise ValueError(
                f"vocab_size={vocab_size}: shrink keeps at least one merge of this {self.name}; "
                f"pick a size from {first_merge + 1} to {self.vocab_size}"
            )
        model["vocab"] = {t: i for t, i in model["vocab"].items() if i < vocab_size}
        model["merges"] = model["merges"][: vocab_size - first_merge]
        if len(model["vocab"]) != vocab_size:  # ids are not bytes + specials, then one per merge
            raise ValueError(f"{self.name}: its ids do not follow its merges, so it cannot be shrunk; train anew")
        data["added_tokens"] = [t for t in data["added_tokens"] if t["id"] < vocab_size]
        return BPETokenizer(HFTokenizer.from_str(json.dumps(data, ensure_ascii=False)))

    def to_json(self) -> str:
        """The ``tokenizer.json`` text (Hugging Face's format) that ``save`` writes."""
        return self._source_text if self._source_text is not None else self._tok.to_str(pretty=True)

    def _save_files(self, folder: Path) -> None:
        write_text_atomic(folder / "tokenizer.json", self.to_json())

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        data = Path(path).read_bytes()
        text = data.decode("utf-8")
        return cls(HFTokenizer.from_str(text), sha256=hashlib.sha256(data).hexdigest(), source_text=text)


# --------------------------------------------------------------------------- characters


class CharTokenizer(Tokenizer):
    """One id per character seen in the training text, plus ``<eot>`` and ``<unk>``."""

    kind = "char"
    EOT = "<eot>"
    UNK = "<unk>"

    def __init__(self, chars: Sequence[str]) -> None:
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"CharTokenizer: every entry must be one character; got {bad[:5]!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer: the character list has duplicates")
        self.chars = list(chars)
        self._stoi = {c: i for i, c in enumerate(self.chars)}
        self._eot = len(self.chars)
        self._unk = len(self.chars) + 1
        self._itos = [*self.chars, self.EOT, self.UNK]
        self.name = f"char-{self.vocab_size}"
        self._lut: Any = None
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
    def special_tokens(self) -> dict[str, int]:
        return {self.EOT: self._eot, self.UNK: self._unk}

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.chars, ensure_ascii=False).encode("utf-8")).hexdigest()

    def encode(self, text: str) -> list[int]:
        import numpy as np

        if self._lut is None:  # a lookup table from code point to id (unknown: <unk>)
            top = max((ord(c) for c in self.chars), default=0)
            self._lut = np.full(top + 1, self._unk, dtype=np.int32)
            self._lut[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        ids = np.full(len(points), self._unk, dtype=np.int64)
        known = points < len(self._lut)
        ids[known] = self._lut[points[known]]
        if not self._warned and (ids == self._unk).any():
            unknown = sorted({c for c in text if c not in self._stoi})[:10]
            log.warning("characters not in the vocabulary became <unk>: %r", unknown)
            self._warned = True
        return ids.tolist()

    def decode(self, ids: Sequence[int]) -> str:
        try:
            return "".join([self._itos[i] for i in ids])
        except IndexError:
            bad = [i for i in ids if not 0 <= i < len(self._itos)][:5]
            raise ValueError(f"ids {bad} are outside this {self.name}'s vocabulary (0 to {len(self._itos) - 1})") from None

    def token_bytes(self, token_id: int) -> bytes:
        return self._itos[token_id].encode("utf-8")

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


# --------------------------------------------------------------------------- the stage


def clean_books() -> tuple[list[dict[str, Any]], list[str]]:
    """The clean stage's book entries and texts in manifest order: what the tokenizer learns from
    and the token files encode. Read as bytes and decoded, so line endings arrive exactly as
    written; a book with no text is skipped with a warning."""
    books = read_manifest("clean")["books"]
    folder = stage_dir("clean")
    texts = [(folder / b["file"]).read_bytes().decode("utf-8") for b in books]
    if empty := [b["book_id"] for b, t in zip(books, texts, strict=True) if not t]:
        log.warning("skipping clean books with no text: %s", empty)
        books, texts = [b for b, t in zip(books, texts, strict=True) if t], [t for t in texts if t]
    if not books:
        raise ValueError(f"{folder} holds no text: re-run notebooks/01_cleaning.ipynb")
    return books, texts


def clean_texts() -> list[str]:
    """The texts of ``clean_books``."""
    return clean_books()[1]


