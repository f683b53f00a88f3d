#!/usr/bin/env python3
"""Print how fast each tokenizer encodes a folder of books, in MB of UTF-8 text per second.

    python benchmarks/tokenize_speed.py                  # MINIGPT_DATASETS_DIR/gutenberg
    python benchmarks/tokenize_speed.py --books my/books # any folder of .txt files

Tokenizers: GPT-2 (tiktoken) on one thread and on every core, a byte-level BPE trained on the
books (Hugging Face ``tokenizers``, its own thread pool), and characters. Each encodes all the
books once with ``encode_batch`` (a warm-up on a small slice first); the script prints figures
and checks nothing about speed. Training times are printed too, and excluded from MB/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from minigpt_helpers import lessons, tokenization  # noqa: E402
from minigpt_helpers.notebook import hardware_summary  # noqa: E402


def default_books() -> Path:
    env = os.environ.get("MINIGPT_DATASETS_DIR")
    if not env:
        raise SystemExit(
            "no books to tokenize: pass --books FOLDER (a folder of .txt files), or set "
            "MINIGPT_DATASETS_DIR to the folder of downloaded corpora that holds gutenberg/"
        )
    return Path(env) / "gutenberg"


def read_books(folder: Path, limit: int | None) -> list[str]:
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not a folder: pass --books FOLDER with .txt files in it")
    paths = sorted(folder.glob("*.txt"))[:limit]
    if not paths:
        raise SystemExit(f"{folder} holds no .txt files: pass --books FOLDER with .txt files in it")
    return [p.read_bytes().decode("utf-8", errors="replace") for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=Path, help="folder of .txt files (default: MINIGPT_DATASETS_DIR/gutenberg)")
    parser.add_argument("--limit", type=int, help="use only the first N books")
    parser.add_argument("--bpe-vocab", type=int, default=8000, help="vocabulary of the trained BPE (default 8000)")
    args = parser.parse_args()

    books = read_books(args.books or default_books(), args.limit)
    n_bytes = sum(len(t.encode("utf-8")) for t in books)
    print(f"hardware: {hardware_summary()}")
    print(f"books: {len(books)} files, {n_bytes / 1e6:.1f} MB of UTF-8 text\n")

    start = time.perf_counter()
    bpe = tokenization.BPETokenizer.train(books, vocab_size=args.bpe_vocab)
    print(f"trained {bpe.name} in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    chars = tokenization.CharTokenizer.train(books)
    print(f"trained {chars.name} in {time.perf_counter() - start:.1f} s\n")

    gpt2 = tokenization.GPT2Tokenizer()
    cores = os.cpu_count() or 1
    runs = [
        ("gpt2, 1 thread", gpt2, 1),
        (f"gpt2, {cores} threads", gpt2, cores),
        (f"{bpe.name}, all threads", bpe, None),
        (f"{chars.name}", chars, None),
    ]
    print(f"{'tokenizer':>22} {'MB/s':>7} {'seconds':>8} {'tokens':>12} {'bytes/token':>12} {'tokens/word':>12}")
    for label, tok, threads in runs:
        tok.encode_batch([books[0][:20_000]], num_threads=threads)  # warm-up (thread pools, caches)
        stats, _ = lessons.measure(tok, books, num_threads=threads)
        print(f"{label:>22} {stats.mb_per_s:7.1f} {stats.seconds:8.1f} {stats.tokens:12,} "
              f"{stats.bytes_per_token:12.2f} {stats.tokens_per_word:12.2f}", flush=True)


if __name__ == "__main__":
    main()
