"""Dataset: token ids on disk (``data/tokens/``) and the batches a GPT trains on.

``stages.build_tokens`` splits the cleaned books into train and validation text (whole held-out books,
or the tail of every book), encodes them and writes

    train.bin, val.bin   every piece's token ids followed by one end-of-text id
                         (uint16 when the vocabulary fits in 16 bits, else uint32)
    meta.json            dtype, vocabulary, tokenizer id and SHA-256, the split, token and byte
                         counts, and where each book (or part of a book) lies in its file

Reading memory-maps the files (``load_tokens``), so a corpus larger than RAM works: a batch
reads only its own windows. Batches are next-token pairs, targets = inputs shifted by one:
``get_batch`` / ``RandomBatches`` draw random windows (nanoGPT style); ``RandomBatches`` saves and
restores its position (``state_dict``), so a resumed training run sees exactly the batches it
would have seen. (03's other batchers, which training does not use, are in ``lessons``.)
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .artifacts import (
    atomic_path,
    read_json,
    stage_dir,
    write_json_atomic,
)

log = logging.getLogger(__name__)

META_FILE = "meta.json"
SPLITS = ("train", "val")
SPLIT_SEED = 42
META_FORMAT = 1
# Encode this many characters per encode_batch call: enough to keep every core busy, small
# enough that the Python lists of ids stay far below the memory of a laptop.
ENCODE_CHUNK_CHARS = 8_000_000

_FIX = "re-run notebooks/03_dataset.ipynb (or stages.build_tokens(PROFILE)) with the tokenizer you mean to use"


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits in 16 bits (vocab_size <= 65,536), else uint32."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size={vocab_size}: a vocabulary has at least one token")
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


# --------------------------------------------------------------------------- splitting


@dataclass(frozen=True)
class Piece:
    """A book, or part of one, that goes into one split; ``text`` is ``book[char_start:char_end]``."""

    book_id: Any
    title: str
    author: str
    split: str
    char_start: int
    char_end: int
    text: str

    @property
    def bytes(self) -> int:
        return len(self.text.encode("utf-8"))


def choose_val_books(books: Sequence[dict[str, Any]], val_fraction: float, seed: int = SPLIT_SEED) -> list[Any]:
    """The ``book_id``s held out for validation: about ``val_fraction`` of all bytes, never all books.

    The books are shuffled with ``seed``; walking that order, a book joins validation when it
    brings the held-out share closer to ``val_fraction``. At least one book is held out and at
    least one is kept for training.
    """
    if len(books) < 2:
        raise ValueError(
            f"split_mode='books' holds out whole books, but there are {len(books)} book(s); "
            "add books to the profile, or use split_mode='tail' (the end of every book)"
        )
    sizes = {b["book_id"]: int(b.get("bytes") or b.get("chars") or 0) for b in books}
    order = [b["book_id"] for b in books]
    random.Random(seed).shuffle(order)
    target = val_fraction * sum(sizes.values())
    chosen: list[Any] = []
    held = 0
    for book_id in order:
        if len(chosen) == len(books) - 1:
            break
        if abs(held + sizes[book_id] - target) < abs(held - target):
            chosen.append(book_id)
            held += sizes[book_id]
    if not chosen:  # every book alone overshoots: hold out the smallest
        chosen = [min(order, key=lambda i: sizes[i])]
    return [b["book_id"] for b in books if b["book_id"] in chosen]  # manifest order


def tail_cut(text: str, val_fraction: float) -> int:
    """Where the held-out tail of ``text`` starts: at ``1 - val_fraction`` of it, moved back to a line start."""
    cut = round(len(text) * (1.0 - val_fraction))
    line = text.rfind("\n", max(0, cut - 5_000), cut)
    if line > 0:
        return line + 1
    space = text.rfind(" ", max(0, cut - 200), cut)
    return space + 1 if space > 0 else cut


def split_books(
    books: Sequence[dict[str, Any]],
    texts: Sequence[str],
    mode: str,
    val_fraction: float,
    seed: int = SPLIT_SEED,
) -> list[Piece]:
    """Cut the books into train and val pieces, in manifest order.

    ``mode="books"`` keeps every book whole and holds out whole books (an honest test of
    generalization to unseen text); ``mode="tail"`` holds out the last ``val_fraction`` of every
    book (same authors and characters on both sides, so validation is easier).
    """
    if len(books) != len(texts):
        raise ValueError(f"{len(books)} books but {len(texts)} texts; pass one text per book")
    if mode not in ("books", "tail"):
        raise ValueError(f"split mode {mode!r}: use 'books' (whole held-out books) or 'tail' (end of every book)")
    if not 0.0 < val_fraction < 0.5:
        raise ValueError(f"val_fraction={val_fraction}: pick a value in (0, 0.5), e.g. 0.1")
    pieces: list[Piece] = []
    if mode == "books":
        sized = [{**b, "bytes": len(t.encode("utf-8"))} for b, t in zip(books, texts)]
        val = set(choose_val_books(sized, val_fraction, seed))
        for b, t in zip(books, texts):
            split = "val" if b["book_id"] in val else "train"
            pieces.append(Piece(b["book_id"], b.get("title", ""), b.get("author", ""), split, 0, len(t), t))
        return pieces
    for b, t in zip(books, texts):
        cut = tail_cut(t, val_fraction)
        for split, lo, hi in (("train", 0, cut), ("val", cut, len(t))):
            if hi > lo:
                pieces.append(Piece(b["book_id"], b.get("title", ""), b.get("author", ""), split, lo, hi, t[lo:hi]))
    return pieces


# --------------------------------------------------------------------------- writing


def _chunks(pieces: Sequence[Piece], max_chars: int) -> Iterator[list[Piece]]:
    batch: list[Piece] = []
    size = 0
    for p in pieces:
        if batch and size + len(p.text) > max_chars:
            yield batch
            batch, size = [], 0
        batch.append(p)
        size += len(p.text)
    if batch:
        yield batch


def encode_pieces(pieces: Sequence[Piece], tokenizer: Any, folder: Path, dtype: np.dtype) -> list[dict[str, Any]]:
    """Encode ``pieces`` in batches into ``folder/{train,val}.bin`` (each followed by end-of-text).

    Returns one entry per piece with its token offsets ``[start, end)`` in its split's file.
    Writes go through temporary files that replace the old ones only when all went well.
    """
    from tqdm.auto import tqdm

    eot = np.array([tokenizer.eot_id], dtype=dtype)
    entries: list[dict[str, Any]] = []
    offset = dict.fromkeys(SPLITS, 0)
    limit = np.iinfo(dtype).max
    with atomic_path(folder / "train.bin") as tmp_train, atomic_path(folder / "val.bin") as tmp_val:
        with open(tmp_train, "wb") as f_train, open(tmp_val, "wb") as f_val:
            files = {"train": f_train, "val": f_val}
            bar = tqdm(total=sum(len(p.text) for p in pieces), unit="char", unit_scale=True, desc="encoding", leave=False)
            for chunk in _chunks(pieces, ENCODE_CHUNK_CHARS):
                for piece, ids in zip(chunk, tokenizer.encode_batch([p.text for p in chunk])):
                    arr = np.asarray(ids, dtype=np.int64)
                    if arr.size and (arr.min() < 0 or arr.max() >= min(tokenizer.vocab_size, limit + 1)):
                        raise ValueError(
                            f"book {piece.book_id}: the tokenizer produced id {int(arr.max())}, outside its "
                            f"vocabulary of {tokenizer.vocab_size}; rebuild the tokenizer (02_tokenization)"
                        )
                    arr.astype(dtype).tofile(files[piece.split])
                    eot.tofile(files[piece.split])
                    start = offset[piece.split]
                    offset[piece.split] = start + arr.size + 1
                    entries.append({
                        "book_id": piece.book_id, "title": piece.title, "author": piece.author,
                        "split": piece.split, "start": start, "end": start + int(arr.size),
                        "tokens": int(arr.size), "bytes": piece.bytes,
                        "char_start": piece.char_start, "char_end": piece.char_end,
                    })
                    bar.update(len(piece.text))
            bar.close()
    return entries


def write_token_files(
    folder: str | os.PathLike[str],
    tokenizer: Any,
    texts: dict[str, Sequence[str]],
    *,
    split_note: str = "given",
) -> dict[str, Any]:
    """Encode ready-split texts (``{"train": [...], "val": [...]}``) into ``folder`` in the format
    ``stages.build_tokens`` writes (bins + meta.json), so ``load_tokens(split, folder=folder)`` reads them.

    For corpora that come already split (TinyShakespeare's 90/10 cut, WikiText-2's splits).
    Returns the meta written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    missing = [s for s in SPLITS if not texts.get(s)]
    if missing:
        raise ValueError(f"write_token_files: no text for split(s) {missing}; pass at least one text per split")
    pieces = [Piece(f"{split}-{i}", f"{split} text {i}", "", split, 0, len(t), t)
              for split in SPLITS for i, t in enumerate(texts[split])]
    dtype = token_dtype(tokenizer.vocab_size)
    entries = encode_pieces(pieces, tokenizer, folder, dtype)
    return write_meta(folder, tokenizer, dtype, entries, {"mode": split_note})


def split_totals(entries: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Tokens (each piece's end-of-text included) and bytes per split."""
    counts = {s: sum(e["tokens"] + 1 for e in entries if e["split"] == s) for s in SPLITS}
    nbytes = {s: sum(e["bytes"] for e in entries if e["split"] == s) for s in SPLITS}
    return counts, nbytes


def write_meta(folder: Path, tokenizer: Any, dtype: np.dtype, entries: list[dict[str, Any]],
                split: dict[str, Any]) -> dict[str, Any]:
    """Write meta.json for encoded pieces; ``split`` says how they were split. Returns the meta."""
    counts, nbytes = split_totals(entries)
    meta = {
        "format": META_FORMAT,
        "dtype": dtype.name,
        "vocab_size": tokenizer.vocab_size,
        "tokenizer": {"kind": tokenizer.kind, "name": tokenizer.name, "sha256": tokenizer.sha256,
                      "eot_id": tokenizer.eot_id, "vocab_size": tokenizer.vocab_size},
        "split": {**split, "val_share_of_tokens": round(counts["val"] / (counts["train"] + counts["val"]), 4)},
        "separator": "one eot_id after every piece; start/end exclude it",
        "files": {s: f"{s}.bin" for s in SPLITS},
        "counts": counts,
        "bytes": nbytes,
        "books": entries,
    }
    write_json_atomic(folder / META_FILE, meta)
    return meta


# --------------------------------------------------------------------------- reading


def read_meta(folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``data/tokens/meta.json`` (or ``folder``'s); FileNotFoundError naming the fix when missing."""
    folder = Path(folder) if folder is not None else stage_dir("tokens")
    path = folder / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run notebooks/03_dataset.ipynb, or stages.ensure('tokens', PROFILE)")
    return read_json(path)


def check_compatible(meta: dict[str, Any], *, tokenizer: Any = None, vocab_size: int | None = None) -> None:
    """Refuse a tokenizer or vocabulary size that is not the one the token files were made with."""
    made = meta["tokenizer"]
    if tokenizer is not None and (tokenizer.sha256 != made["sha256"] or tokenizer.vocab_size != meta["vocab_size"]):
        raise ValueError(
            f"the token files were made with tokenizer {made['name']!r} (vocab {meta['vocab_size']}, "
            f"sha256 {made['sha256'][:12]}...) but you passed {tokenizer.name!r} (vocab "
            f"{tokenizer.vocab_size}, sha256 {tokenizer.sha256[:12]}...); load the matching tokenizer "
            f"(tokenization.load_tokenizer()), or {_FIX}"
        )
    if vocab_size is not None and vocab_size != meta["vocab_size"]:
        raise ValueError(
            f"vocab_size={vocab_size} does not match the token files, made with {made['name']!r} "
            f"(vocab_size {meta['vocab_size']}); build the model with vocab_size={meta['vocab_size']}, "
            f"or {_FIX}"
        )


class TokenData:
    """One split's token ids, memory-mapped: indexing reads from disk only what it touches.

    Behaves like a 1-D array (``len``, slicing); ``books`` lists the pieces of this split with
    their ``[start, end)`` offsets. Pickles as its path, so DataLoader workers re-open the file.
    """

    def __init__(self, path: str | os.PathLike[str], meta: dict[str, Any], split: str) -> None:
        self.path = Path(path)
        self.meta = meta
        self.split = split
        self.dtype = np.dtype(meta["dtype"])
        expected = int(meta["counts"][split]) * self.dtype.itemsize
        size = self.path.stat().st_size if self.path.is_file() else None
        if size is None:
            raise FileNotFoundError(f"{self.path} is missing: {_FIX}")
        if size != expected:
            raise ValueError(
                f"{self.path} has {size} bytes but meta.json says {meta['counts'][split]} {self.dtype.name} "
                f"tokens ({expected} bytes); the files are from different runs: {_FIX}"
            )
        self.tokens = np.memmap(self.path, dtype=self.dtype, mode="r")

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def eot_id(self) -> int:
        return int(self.meta["tokenizer"]["eot_id"])

    @property
    def books(self) -> list[dict[str, Any]]:
        return [b for b in self.meta["books"] if b["split"] == self.split]

    def book(self, book_id: Any) -> np.ndarray:
        """The token ids of one book (or its part) in this split, separator excluded."""
        for b in self.books:
            if b["book_id"] == book_id:
                return self.tokens[b["start"]:b["end"]]
        raise KeyError(f"book {book_id!r} is not in the {self.split} split; it has {[b['book_id'] for b in self.books]}")

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def __getitem__(self, index: Any) -> Any:
        return self.tokens[index]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.tokens, dtype=dtype)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "meta": self.meta, "split": self.split}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["meta"], state["split"])

    def __repr__(self) -> str:
        return f"TokenData({self.split!r}, {len(self):,} tokens, {self.dtype.name}, memory-mapped from {self.path})"


def load_tokens(
    split: str,
    *,
    tokenizer: Any = None,
    vocab_size: int | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> TokenData:
    """Memory-map ``data/tokens/<split>.bin``, refusing a tokenizer or vocabulary that does not match."""
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: use 'train' or 'val'")
    folder = Path(folder) if folder is not None else stage_dir("tokens")
    meta = read_meta(folder)
    check_compatible(meta, tokenizer=tokenizer, vocab_size=vocab_size)
    return TokenData(folder / meta["files"][split], meta, split)


# --------------------------------------------------------------------------- batches


def check_length(data: Any, context_length: int, what: str = "these tokens") -> int:
    """len(data), after checking it holds at least one window and its shifted target."""
    n = len(data)
    if context_length < 1:
        raise ValueError(f"context_length={context_length}: use at least 1")
    if n < context_length + 1:
        name = f"the {data.split} split" if isinstance(data, TokenData) else what
        raise ValueError(
            f"{name} has {n:,} tokens, fewer than one window of context_length={context_length} "
            f"(+1 for the shifted targets = {context_length + 1}); use a smaller context_length "
            f"(at most {max(n - 1, 0)}, e.g. {_power_of_two_below(n)}) or a bigger corpus"
        )
    return n


def _power_of_two_below(n: int) -> int:
    return 2 ** int(math.log2(n - 1)) if n > 2 else 1


def to_device(t: torch.Tensor, device: str | torch.device) -> torch.Tensor:
    """Move a batch to ``device``; on CUDA through pinned memory with a non-blocking copy."""
    device = torch.device(device)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def windows(data: Any, starts: Sequence[int] | np.ndarray, context_length: int, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The (x, y) pair of windows starting at ``starts``: y is x shifted one token left. int64, (B, T)."""
    T = context_length
    starts = [int(i) for i in starts]
    if starts and (min(starts) < 0 or max(starts) + T + 1 > len(data)):
        raise ValueError(f"windows of {T + 1} tokens must start in 0..{len(data) - T - 1}; got {min(starts)}..{max(starts)}")
    buf = np.stack([np.asarray(data[i:i + T + 1]) for i in starts]).astype(np.int64)  # (B, T+1)
    x = torch.from_numpy(np.ascontiguousarray(buf[:, :-1]))  # (B, T) inputs
    y = torch.from_numpy(np.ascontiguousarray(buf[:, 1:]))  # (B, T) targets: the next token
    return to_device(x, device), to_device(y, device)


def get_batch(
    data: Any,
    batch_size: int,
    context_length: int,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of ``data`` (nanoGPT's get_batch): x (B, T) and y = x shifted by one."""
    n = check_length(data, context_length)
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(n - context_length, (batch_size,), generator=generator).tolist()
    return windows(data, starts, context_length, device)


class RandomBatches:
    """Endless random-window batches from a generator of its own; resumable with ``state_dict``."""

    def __init__(self, data: Any, batch_size: int, context_length: int, *, seed: int = 0, device: str | torch.device = "cpu") -> None:
        check_length(data, context_length)
        self.data, self.batch_size, self.context_length, self.device = data, batch_size, context_length, device
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.batches = 0  # drawn so far

    def __iter__(self) -> RandomBatches:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = get_batch(self.data, self.batch_size, self.context_length, generator=self.generator, device=self.device)
        self.batches += 1
        return x, y

    def state_dict(self) -> dict[str, Any]:
        """Seed, batches drawn and the generator state (a uint8 tensor): all a resume needs."""
        return {"kind": "random", "seed": self.seed, "batches": self.batches, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "random":
            raise ValueError(f"this state is from a {state.get('kind')!r} sampler, not RandomBatches")
        self.seed, self.batches = int(state["seed"]), int(state["batches"])
        self.generator.set_state(torch.as_tensor(state["generator"], dtype=torch.uint8))
