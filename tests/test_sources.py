"""Sources: the real HTTP download path, against a local server on 127.0.0.1 serving fixtures."""

from __future__ import annotations

import hashlib
import http.server
import json
import logging
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

from minigpt_helpers import sources, stages
from minigpt_helpers.profiles import get_profile

BOOK = (
    "\ufeffThe Project Gutenberg EBook of A Tiny Test Book, by Ann Example\r\n\r\n"
    "Title: A Tiny Test Book\r\n\r\nAuthor: Ann Example\r\n\r\n"
    "*** START OF THIS PROJECT GUTENBERG EBOOK A TINY TEST BOOK ***\r\n\r\n"
    + "Once upon a time there was a test, and it had to be long enough to pass for a book.\r\n\r\n" * 12
    + "*** END OF THIS PROJECT GUTENBERG EBOOK A TINY TEST BOOK ***\r\n"
).encode("utf-8")


class _Server:
    """A tiny HTTP server: serves ``files`` by path, fails the first ``fail_first`` GETs with 503,
    cuts off the next ``truncate[path]`` answers of a path mid-body, sends ``types[path]`` as Content-Type."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fail_first = 0
        self.truncate: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []  # (path, user agent)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                outer.requests.append((self.path, self.headers.get("User-Agent", "")))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_error(503, "busy")
                    return
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404, "not found")
                    return
                cut = outer.truncate.get(self.path, 0) > 0
                if cut:
                    outer.truncate[self.path] -= 1
                self.send_response(200)
                if self.path in outer.types:
                    self.send_header("Content-Type", outer.types[self.path])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)  # then HTTP/1.0 closes

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.delenv(sources.DATASETS_ENV, raising=False)
    monkeypatch.setattr(sources.time, "sleep", lambda s: None)  # retries without waiting
    with _Server() as srv:
        monkeypatch.setenv(sources.GUTENBERG_URL_ENV, f"{srv.url}/cache/epub/{{id}}/pg{{id}}.txt {srv.url}/files/{{id}}/{{id}}-0.txt")
        yield srv


def test_download_records_sha_user_agent_and_caches(server: _Server) -> None:
    server.files["/cache/epub/4242/pg4242.txt"] = BOOK
    book = sources.gutenberg_book(4242)
    assert book.sha256 == hashlib.sha256(BOOK).hexdigest()
    assert book.bytes == len(BOOK)
    assert book.title == "A Tiny Test Book" and book.author == "Ann Example"
    assert book.source.startswith(server.url)
    assert server.requests and server.requests[0][1].startswith("minigpt-course/")
    # the raw bytes are kept as they arrived (BOM, CRLF): decoding is the cleaner's job
    assert sources.raw_book_path(book.to_dict()).read_bytes() == BOOK
    # a second call is served from the cache: no new request
    n = len(server.requests)
    again = sources.gutenberg_book(4242)
    assert len(server.requests) == n
    assert again.sha256 == book.sha256


def test_download_retries_server_errors(server: _Server) -> None:
    server.files["/cache/epub/7/pg7.txt"] = BOOK
    server.fail_first = 2
    book = sources.gutenberg_book(7)
    assert book.bytes == len(BOOK)
    assert len(server.requests) == 3  # two 503s, then the file


def test_download_falls_back_to_next_url_on_404(server: _Server) -> None:
    server.files["/files/8/8-0.txt"] = BOOK
    book = sources.gutenberg_book(8)
    assert book.source.endswith("/files/8/8-0.txt")
    assert [p for p, _ in server.requests] == ["/cache/epub/8/pg8.txt", "/files/8/8-0.txt"]


def test_download_failure_names_the_fix(server: _Server) -> None:
    with pytest.raises(sources.DownloadError, match="MINIGPT_DATASETS_DIR") as err:
        sources.gutenberg_book(999999)
    assert "book 999999" in str(err.value) and str(err.value).count("HTTP 404") == 2


def test_cut_off_transfer_is_retried(server: _Server) -> None:
    server.files["/cache/epub/11/pg11.txt"] = BOOK
    server.truncate["/cache/epub/11/pg11.txt"] = 1
    book = sources.gutenberg_book(11)
    assert sources.raw_book_path(book.to_dict()).read_bytes() == BOOK
    assert [p for p, _ in server.requests] == ["/cache/epub/11/pg11.txt"] * 2


def test_url_that_always_cuts_off_falls_through_to_next_url(server: _Server) -> None:
    for path in ("/cache/epub/12/pg12.txt", "/files/12/12-0.txt"):
        server.files[path] = BOOK
    server.truncate["/cache/epub/12/pg12.txt"] = 99
    book = sources.gutenberg_book(12)
    assert book.source.endswith("/files/12/12-0.txt") and book.bytes == len(BOOK)
    tries = sources.RETRIES + 1
    assert [p for p, _ in server.requests] == ["/cache/epub/12/pg12.txt"] * tries + ["/files/12/12-0.txt"]


def test_failure_leaves_no_partial_file_and_says_what_each_url_answered(server: _Server, data_dir: Path) -> None:
    for path in ("/cache/epub/13/pg13.txt", "/files/13/13-0.txt"):
        server.files[path] = BOOK
        server.truncate[path] = 99
    with pytest.raises(sources.DownloadError, match="MINIGPT_DATASETS_DIR") as err:
        sources.gutenberg_book(13)
    message = str(err.value)
    assert message.count("cut off") == 2 and f"{server.url}/files/13/13-0.txt" in message
    cache = data_dir / "raw" / "gutenberg"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_html_page_with_status_200_is_refused_and_not_cached(server: _Server, data_dir: Path) -> None:
    page = b"<!DOCTYPE html>\n<html><body>Sorry, this page is busy.</body></html>\n" * 20
    server.files["/cache/epub/14/pg14.txt"] = page
    server.types["/cache/epub/14/pg14.txt"] = "text/html; charset=utf-8"
    server.files["/files/14/14-0.txt"] = page  # no Content-Type: the body gives it away
    with pytest.raises(sources.DownloadError, match="HTML") as err:
        sources.gutenberg_book(14)
    assert str(err.value).count("HTML page") == 2
    assert len(server.requests) == 2  # an HTML page is not retried
    cache = data_dir / "raw" / "gutenberg"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_cached_html_page_is_fetched_again(server: _Server, data_dir: Path) -> None:
    cached = data_dir / "raw" / "gutenberg" / "pg15.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"<html><body>error</body></html>")
    server.files["/cache/epub/15/pg15.txt"] = BOOK
    assert sources.gutenberg_book(15).bytes == len(BOOK)
    assert cached.read_bytes() == BOOK


def test_tiny_answer_refused_and_missing_marker_warned(server: _Server, caplog: pytest.LogCaptureFixture) -> None:
    server.files["/cache/epub/16/pg16.txt"] = b"Not found, sorry.\n"
    unmarked = BOOK.replace(b"*** START OF", b"*** BEGINNING OF")
    server.files["/files/16/16-0.txt"] = unmarked
    with caplog.at_level(logging.WARNING, logger=sources.__name__):
        book = sources.gutenberg_book(16)
    assert book.source.endswith("/files/16/16-0.txt") and book.bytes == len(unmarked)
    assert "start marker" in caplog.text
    with pytest.raises(sources.DownloadError, match="too few for a book"):
        sources._checked_book("x", b"Not found, sorry.\n")


def test_offline_copy_is_read_before_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: _Server) -> None:
    offline = tmp_path / "datasets"
    (offline / "gutenberg").mkdir(parents=True)
    (offline / "gutenberg" / "pg5.txt").write_bytes(BOOK)
    monkeypatch.setenv(sources.DATASETS_ENV, str(offline))
    book = sources.gutenberg_book(5)
    assert server.requests == []
    assert book.source == "MINIGPT_DATASETS_DIR/gutenberg/pg5.txt"


def test_build_raw_writes_manifest(server: _Server, data_dir: Path) -> None:
    for i in (1, 2):
        server.files[f"/cache/epub/{i}/pg{i}.txt"] = BOOK
    profile = get_profile("ci").with_overrides(book_ids=(1, 2))
    stages.build_raw(profile)
    manifest = json.loads((data_dir / "raw" / "manifest.json").read_text())
    assert manifest["profile"] == "ci"
    assert [b["book_id"] for b in manifest["books"]] == ["pg1", "pg2"]
    assert all(len(b["sha256"]) == 64 for b in manifest["books"])


def test_local_folder_skips_bad_files_and_keeps_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "my_books"
    folder.mkdir()
    (folder / "good.txt").write_text("Call me Ishmael. Some years ago...\n", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Caf\xe9 au lait\n".encode("latin-1"))
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (folder / "empty.txt").write_bytes(b"")
    books, skipped = sources.local_books(folder)
    assert sorted(b.book_id for b in books) == ["good", "latin1"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == {"picture.png", "binary.txt", "empty.txt"}
    assert "binary" in reasons["binary.txt"] and ".txt" in reasons["picture.png"]


def test_empty_local_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no usable .txt files"):
        sources.local_books(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        sources.local_books(tmp_path / "missing")


def test_offline_corpora(shared_datasets: Path) -> None:
    shakespeare = sources.tinyshakespeare()
    assert shakespeare.startswith("First Citizen:") and len(shakespeare) == 1_115_394
    stories = sources.tinystories("validation")
    assert len(stories) == 1000 and all("<|endoftext|>" not in s for s in stories[:50])
    test_text = sources.wikitext2("test")
    assert " = Robert Boulter = " in test_text[:100]


def test_tinystories_streams_only_the_stories_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sources.DATASETS_ENV, raising=False)
    calls: list[dict[str, object]] = []
    served: list[int] = []

    def load_dataset(name: str, **kwargs: object) -> Iterator[dict[str, str]]:
        calls.append(kwargs)
        for i in range(10_000):
            served.append(i)
            yield {"text": f" story {i} "}

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    assert sources.tinystories("train", max_stories=3) == ["story 0", "story 1", "story 2"]
    assert calls == [{"split": "train", "streaming": True}] and len(served) == 3


def test_wikitext_train_offline_says_it_is_missing(shared_datasets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="offline"):
        sources.wikitext2("train")


def test_titles_of_old_etexts_without_title_lines() -> None:
    old = b"*****The Project Gutenberg Etext of Pandora, by Henry James*****\n\nCopyright laws...\n"
    assert sources.describe_book(old, "pg2299") == ("Pandora", "Henry James")
    older = b"Project Gutenberg's Etext of Shorter Prose Pieces by Oscar Wilde\n\n"
    assert sources.describe_book(older, "x") == ("Shorter Prose Pieces", "Oscar Wilde")
    assert sources.describe_book(b"Just some text\n", "mine") == ("mine", "unknown")
