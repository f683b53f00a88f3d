"""Sources: where the books (and the other corpora) come from.

Project Gutenberg books by id (HTTP with retries, each answer checked to be a plain-text book,
cached in ``data/raw/`` with its SHA-256), a local folder of ``.txt`` files, and TinyShakespeare,
TinyStories and WikiText-2 raw.
``MINIGPT_DATASETS_DIR`` may name a folder of downloaded copies (``gutenberg/pg<ID>.txt``,
``tinyshakespeare/input.txt``, ``tinystories/*.txt``, ``wikitext-2-raw/wiki.<split>.raw``),
read before any network is tried (workshops without Wi-Fi, CI).
"""

from __future__ import annotations

import http.client
import itertools
import logging
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .artifacts import (
    read_json,
    sha256_bytes,
    stage_dir,
    write_bytes_atomic,
)

log = logging.getLogger(__name__)

DATASETS_ENV = "MINIGPT_DATASETS_DIR"
GUTENBERG_URL_ENV = "MINIGPT_GUTENBERG_URL"

# Tried in order; "{id}" is the ebook number. MINIGPT_GUTENBERG_URL (templates separated by
# spaces) replaces this list, e.g. to use a mirror.
GUTENBERG_URLS: tuple[str, ...] = (
    "https://www.gutenberg.org/cache/epub/{id}/pg{id}.txt",
    "https://www.gutenberg.org/files/{id}/{id}-0.txt",
    "https://www.gutenberg.org/files/{id}/{id}.txt",
)
TINYSHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
USER_AGENT = f"minigpt-course/{__version__} (educational; python-urllib)"
RETRIES = 2  # tries after the first, with a short backoff (0.5 s, 1 s), before the next URL
BACKOFF_S = 0.5
MIN_BOOK_BYTES = 1024  # a smaller answer is an error message, not a book
_START_MARKER = re.compile(rb"\*\*\*\s*START OF", re.IGNORECASE)


class DownloadError(RuntimeError):
    """Raised when a file could not be fetched from any URL."""


@dataclass
class RawBook:
    """One book as it arrived: its bytes are in ``path``, untouched."""

    book_id: str  # "pg1342" for Gutenberg, the file stem for a local folder
    title: str
    author: str
    source: str  # the URL, the offline copy, or the local file it came from
    path: str  # relative to the data directory
    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Skipped:
    path: str
    reason: str


def http_get(url: str, *, retries: int = RETRIES, timeout: float = 30.0, backoff: float = BACKOFF_S) -> bytes:
    """GET the plain-text file at ``url``, retrying server errors, dropped connections and cut-off
    transfers. A 4xx other than 429, or an HTML or binary answer, is not retried. Raises DownloadError."""
    reason = ""
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                data = response.read()  # IncompleteRead when the body is shorter than Content-Length
                problem = _text_problem(data, response.headers.get("Content-Type", ""))
            if problem:
                raise DownloadError(f"{url}: answered {problem}; refused")
            return data
        except urllib.error.HTTPError as err:
            reason = f"HTTP {err.code} {err.reason}"
            if 400 <= err.code < 500 and err.code != 429:
                raise DownloadError(f"{url}: {reason}") from err
        except http.client.IncompleteRead as err:
            reason = f"transfer cut off after {len(err.partial)} bytes, {err.expected} more expected"
        except (OSError, http.client.HTTPException) as err:
            reason = str(err) or type(err).__name__
        if attempt < retries:
            wait = backoff * 2**attempt
            log.warning("GET %s failed (%s); retrying in %.1f s", url, reason, wait)
            time.sleep(wait)
    raise DownloadError(f"{url}: gave up after {retries + 1} tries ({reason})")


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:65536]


def _text_problem(data: bytes, content_type: str) -> str | None:
    """Why an answer is not a plain-text file (an HTML error page, another type, binary), or None."""
    kind = content_type.split(";")[0].strip().lower()
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if kind == "text/html" or head.startswith((b"<!doctype", b"<html")):
        return "an HTML page (an error or login page), not a plain-text book"
    if kind not in ("", "text/plain"):
        return f"content type {content_type!r}, not text/plain"
    if _looks_binary(data):
        return "binary data (NUL bytes), not plain text"
    return None


def datasets_dir() -> Path | None:
    """The folder of offline copies named by ``MINIGPT_DATASETS_DIR``, if set."""
    env = os.environ.get(DATASETS_ENV)
    if not env:
        return None
    path = Path(env).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{DATASETS_ENV}={env} is not a folder; fix the path or unset it")
    return path


# --------------------------------------------------------------------------- books


def _header_field(text: str, name: str) -> str | None:
    match = re.search(rf"^{name}:\s*(.+?)\s*$", text, flags=re.MULTILINE | re.IGNORECASE)
    return match.group(1).strip() if match else None


# The first line of old etexts: "The Project Gutenberg Etext of Pandora, by Henry James".
_ETEXT_LINE = re.compile(
    r"Project Gutenberg(?:'s)? E(?:text|Book) of (?P<title>.+?)(?:,? by (?P<author>[^*\n]+?))?\s*\**\s*$",
    re.IGNORECASE | re.MULTILINE,
)


def describe_book(data: bytes, fallback: str) -> tuple[str, str]:
    """(title, author) from a Gutenberg header ("Title:" lines, or an old etext's first line)."""
    head = data[:20_000].decode("utf-8", errors="replace").replace("\r\n", "\n")
    title = _header_field(head, "Title")
    author = _header_field(head, "Author")
    first = _ETEXT_LINE.search("\n".join(head.split("\n")[:3]))
    if first and not title:
        title = first.group("title").strip()
        author = author or (first.group("author") or "").strip() or None
    return title or fallback, author or "unknown"


def _raw_book(book_id: str, source: str, target: Path, data: bytes) -> RawBook:
    """The record of a book whose bytes ``data`` are in ``target`` (under the data directory)."""
    title, author = describe_book(data, fallback=book_id)
    path = str(target.relative_to(target.parents[2]))
    return RawBook(book_id, title, author, source, path, sha256_bytes(data), len(data))


def gutenberg_book(book_id: int, *, refresh: bool = False) -> RawBook:
    """Project Gutenberg ebook ``book_id`` as a file in ``data/raw/gutenberg/``: the cached copy
    (unless ``refresh``), else the offline copy in ``MINIGPT_DATASETS_DIR``, else downloaded."""
    book_id = int(book_id)
    name = f"pg{book_id}"
    target = stage_dir("raw") / "gutenberg" / f"{name}.txt"
    if target.is_file() and not refresh:
        data = target.read_bytes()
        problem = _text_problem(data, "")
        if problem is None:
            return _raw_book(name, _cached_source(name) or f"cache:{target.name}", target, data)
        log.warning("the cached %s holds %s; fetching it again", target, problem)
    data, source = _fetch_gutenberg(book_id)
    write_bytes_atomic(target, data)
    return _raw_book(name, source, target, data)


def _fetch_gutenberg(book_id: int) -> tuple[bytes, str]:
    """(bytes, where they came from): the offline copy, else the first URL that answers."""
    offline = datasets_dir()
    copy = offline / "gutenberg" / f"pg{book_id}.txt" if offline else None
    if copy is not None and copy.is_file():
        return copy.read_bytes(), f"{DATASETS_ENV}/gutenberg/{copy.name}"
    errors = []
    for template in os.environ.get(GUTENBERG_URL_ENV, "").split() or GUTENBERG_URLS:
        url = template.format(id=book_id)
        try:
            return _checked_book(url, http_get(url)), url
        except DownloadError as err:
            errors.append(str(err))
    raise DownloadError(
        f"could not download Project Gutenberg book {book_id}; each URL answered:\n"
        + "".join(f"  {e}\n" for e in errors)
        + f"Check your network and the id (https://www.gutenberg.org/ebooks/{book_id}), or set {DATASETS_ENV} "
        f"to a folder of downloaded books (gutenberg/pg{book_id}.txt); {GUTENBERG_URL_ENV} picks a mirror "
        "(URL templates with {id}, separated by spaces)."
    )


def _checked_book(url: str, data: bytes) -> bytes:
    """``data`` if it can be a Gutenberg book: big enough, and warned about if it lacks the start marker."""
    if len(data) < MIN_BOOK_BYTES:
        raise DownloadError(f"{url}: answered only {len(data)} bytes, too few for a book; refused")
    if not _START_MARKER.search(data):
        log.warning("%s has no Project Gutenberg start marker ('*** START OF'); keeping it as it looks "
                    "like plain text, but check that it is the book you wanted", url)
    return data


def _cached_source(name: str) -> str | None:
    """Where a cached book originally came from, according to the raw manifest."""
    manifest = stage_dir("raw") / "manifest.json"
    books = read_json(manifest).get("books", []) if manifest.is_file() else []
    return next((b.get("source") for b in books if b.get("book_id") == name), None)


MAX_LOCAL_BOOK_BYTES = 512 * 2**20  # cleaning holds a whole book in memory, several times over


def local_books(folder: str | os.PathLike[str]) -> tuple[list[RawBook], list[Skipped]]:
    """Copy every ``.txt`` file of ``folder`` into ``data/raw/local/``; other files, empty ones,
    binary ones (NUL bytes) and huge ones are skipped and reported. No usable file is an error."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; point it at a folder of .txt books")
    books: list[RawBook] = []
    skipped: list[Skipped] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.suffix.lower() != ".txt":
            skipped.append(Skipped(str(path), f"not a .txt file ({path.suffix or 'no extension'})"))
            continue
        if path.stat().st_size > MAX_LOCAL_BOOK_BYTES:
            skipped.append(Skipped(str(path), f"{path.stat().st_size / 2**20:,.0f} MB, more than one book may be "
                                   f"({MAX_LOCAL_BOOK_BYTES // 2**20} MB): split it into several .txt files"))
            continue
        data = path.read_bytes()
        if not data.strip():
            skipped.append(Skipped(str(path), "empty file"))
        elif _looks_binary(data):
            skipped.append(Skipped(str(path), "looks binary (contains NUL bytes), not plain text"))
        else:
            target = write_bytes_atomic(stage_dir("raw") / "local" / path.name, data)
            books.append(_raw_book(path.stem, str(path), target, data))
    for s in skipped:
        log.warning("skipped %s: %s", s.path, s.reason)
    if not books:
        listed = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in skipped)
        raise ValueError(
            f"{folder} holds no usable .txt files" + (f" ({len(skipped)} skipped: {listed})" if skipped else "")
            + ". Put plain-text books (UTF-8 or Latin-1 .txt files) in it."
        )
    return books, skipped


def raw_book_path(book: dict[str, Any]) -> Path:
    """The file of one entry of the raw manifest."""
    return stage_dir("raw").parent / book["path"]


# --------------------------------------------------------------------------- other corpora


def tinyshakespeare() -> str:
    """The 1.1 MB TinyShakespeare text (karpathy/char-rnn)."""
    offline = datasets_dir()
    if offline and (offline / "tinyshakespeare" / "input.txt").is_file():
        return (offline / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    target = stage_dir("raw") / "tinyshakespeare" / "input.txt"
    if not target.is_file():
        write_bytes_atomic(target, http_get(TINYSHAKESPEARE_URL))
    return target.read_text(encoding="utf-8")


def tinystories(split: str = "train", max_stories: int | None = None) -> list[str]:
    """TinyStories as a list of stories (``split`` is "train" or "validation"): the offline copy,
    else streamed from the Hugging Face Hub, reading only the first ``max_stories``."""
    if split not in ("train", "validation"):
        raise ValueError(f"split={split!r}: use 'train' or 'validation'")
    offline = datasets_dir()
    files = sorted((offline / "tinystories").glob(f"*{split[:5]}*.txt")) if offline else []
    if files:
        text = "".join(f.read_text(encoding="utf-8") for f in files)
        stories = [s.strip() for s in text.split("<|endoftext|>") if s.strip()]
    else:
        # deferred: slow to import, and only needed online
        from datasets import load_dataset

        rows = load_dataset("roneneldan/TinyStories", split=split, streaming=True)
        stories = [r["text"].strip() for r in itertools.islice(rows, max_stories or None)]
    return stories[:max_stories] if max_stories else stories


def wikitext2(split: str) -> str:
    """WikiText-2 raw (``wikitext-2-raw-v1``) as one string; ``split`` is train, validation or test."""
    names = {"train": "train", "validation": "valid", "valid": "valid", "test": "test"}
    if split not in names:
        raise ValueError(f"split={split!r}: use 'train', 'validation' or 'test'")
    offline = datasets_dir()
    if offline and (offline / "wikitext-2-raw").is_dir():
        path = offline / "wikitext-2-raw" / f"wiki.{names[split]}.raw"
        if path.is_file():
            return path.read_text(encoding="utf-8")
        if os.environ.get("HF_DATASETS_OFFLINE") == "1":
            raise FileNotFoundError(
                f"WikiText-2 {split!r} is not in {path.parent} and HF_DATASETS_OFFLINE=1; "
                "only the splits present there can be used offline"
            )
    # deferred: slow to import, and only needed online
    from datasets import load_dataset

    hf_split = "validation" if names[split] == "valid" else names[split]
    return "".join(r["text"] for r in load_dataset("Salesforce/wikitext", "wikitext-2-raw-v1", split=hf_split))
