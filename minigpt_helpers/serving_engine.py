"""The serving engine: a bounded queue in front of the model, worker threads that generate.

Requests become ``Generation`` jobs; ``max_concurrency`` worker threads run them one at a time
with ``generation.stream_text`` and hand each piece to the event loop that asked, so the HTTP
layer stays responsive. A full queue refuses at once (``QueueFull``). Workers check each job's
deadline (queueing included) and cancel flag after every piece, so a client that leaves, or a
request out of time, stops its generation within a token or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .chat import reply_pieces
from .generation import SamplingConfig, StopRule, stream_text

log = logging.getLogger(__name__)

CANCELLED = "cancelled"
TIMEOUT = "timeout"
_GRACE_S = 0.5  # how long past the deadline the awaiting side waits for the worker's own verdict


class QueueFull(RuntimeError):
    """The queue holds ``max_queue`` waiting jobs already: try again later."""


class GenerationTimeout(TimeoutError):
    """A job ran past its deadline (queueing included)."""


@dataclass
class Generation:
    """One request's generation: submitted to an ``Engine``, consumed with ``pieces()`` or ``collect()``.

    After it ends: ``text``, ``completion_tokens`` and ``finish_reason`` ("stop", "length",
    "cancelled", "timeout" or "error").
    """

    prompt_ids: list[int]
    config: SamplingConfig
    stop: list[str | StopRule]
    deadline: float
    strip_leading: bool = False  # a chat reply: drop the space after "NAME:" and tags before its first word
    stop_at_eot: bool = True  # end at the end-of-text token (False: always max_new_tokens)
    text: str = ""
    completion_tokens: int = 0
    finish_reason: str | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _loop: Any = field(default=None, repr=False)
    _queue: Any = field(default=None, repr=False)
    _consumed: bool = field(default=False, repr=False)

    def _send(self, kind: str, value: Any) -> None:
        """From the worker thread: hand ("piece" | "end" | "error", value) to the event loop."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is gone: nobody is listening any more
            self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the worker to stop (it checks after every piece of text)."""
        self._cancel.set()

    async def pieces(self) -> AsyncIterator[str]:
        """Yield the text as it comes; leaving early cancels the job.

        Raises ``GenerationTimeout`` past the deadline, or the worker's exception.
        """
        if self._consumed:
            raise RuntimeError("a Generation can be consumed once")
        self._consumed = True
        try:
            while True:
                wait = self.deadline - time.monotonic() + _GRACE_S
                try:
                    kind, value = await asyncio.wait_for(self._queue.get(), timeout=max(wait, 0.01))
                except asyncio.TimeoutError:
                    kind, value = "end", TIMEOUT
                    self.cancel()
                    self.finish_reason = TIMEOUT
                if kind == "piece":
                    yield value
                    continue
                if kind == "error":
                    raise value
                if value == TIMEOUT:
                    raise GenerationTimeout("the request timed out")
                return
        finally:
            self.cancel()  # stops a worker whose reader left; a no-op once the job ended

    async def collect(self) -> str:
        """Wait for the whole text."""
        async for _ in self.pieces():
            pass
        return self.text


class Engine:
    """Runs generations for many callers on one model: a bounded queue and ``max_concurrency`` workers.

    Workers start on the first ``submit`` and stop on ``close()``; ``stats()`` counts what happened.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_concurrency: int = 1, max_queue: int = 16) -> None:
        if max_concurrency < 1 or max_queue < 0:
            raise ValueError(f"max_concurrency={max_concurrency}, max_queue={max_queue}: use at least 1 worker "
                             "and a queue of 0 or more waiting requests")
        self.model, self.tokenizer = model, tokenizer
        self.max_concurrency, self.max_queue = max_concurrency, max_queue
        self._jobs: queue.Queue[Generation | None] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._waiting = 0
        self._counts = {"submitted": 0, "rejected": 0, "completed": 0, "cancelled": 0, "timeouts": 0,
                        "errors": 0, "running": 0, "tokens": 0}

    def submit(self, prompt_ids: Sequence[int], config: SamplingConfig, *, stop: Sequence[str | StopRule] = (),
               timeout_s: float = 60.0, strip_leading: bool = False, stop_at_eot: bool = True) -> Generation:
        """Queue a generation; call from the event loop that will consume it. Raises ``QueueFull``."""
        job = Generation(list(prompt_ids), config, list(stop), time.monotonic() + timeout_s, strip_leading, stop_at_eot)
        job._loop = asyncio.get_running_loop()
        job._queue = asyncio.Queue()
        with self._lock:
            if self._waiting >= self.max_queue + max(0, self.max_concurrency - self._counts["running"]):
                self._counts["rejected"] += 1
                raise QueueFull(f"{self._waiting} requests are waiting already (max_queue={self.max_queue})")
            self._waiting += 1
            self._counts["submitted"] += 1
            while len(self._threads) < self.max_concurrency:
                t = threading.Thread(target=self._work, name=f"minigpt-engine-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
        self._jobs.put(job)
        return job

    def stats(self) -> dict[str, int]:
        """Counters: submitted, rejected, completed, cancelled, timeouts, errors, running, waiting, tokens."""
        with self._lock:
            return {**self._counts, "waiting": self._waiting}

    def close(self) -> None:
        """Stop the workers once the jobs already queued are done."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for t in threads:
            t.join(timeout=5)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._lock:
                self._waiting -= 1
                self._counts["running"] += 1
            try:
                if job.cancelled or time.monotonic() > job.deadline:  # given up on while it waited
                    job.finish_reason = CANCELLED if job.cancelled else TIMEOUT
                else:
                    job.finish_reason = self._generate(job)
                job._send("end", job.finish_reason)
            except Exception as err:  # report it to the caller (a bad stop string too); the worker lives on
                log.exception("generation failed")
                job.finish_reason = "error"
                job._send("error", err)
            finally:
                with self._lock:
                    self._counts["running"] -= 1
                    self._counts["tokens"] += job.completion_tokens
                    outcome = {CANCELLED: "cancelled", TIMEOUT: "timeouts", "error": "errors"}
                    self._counts[outcome.get(job.finish_reason or "", "completed")] += 1

    def _generate(self, job: Generation) -> str | None:
        """Run ``job``, sending its pieces; returns its finish reason."""
        ts = stream_text(self.model, self.tokenizer, job.prompt_ids, job.config, stop=job.stop,
                         stop_at_eot=job.stop_at_eot, nonblank_start=job.strip_leading)
        pieces = reply_pieces(ts, job.stop) if job.strip_leading else iter(ts)  # a chat reply, as in chat.py
        with contextlib.closing(pieces):
            for piece in pieces:
                job.text += piece
                job._send("piece", piece)
                job.completion_tokens = len(ts.token_ids)
                if job.cancelled:
                    return CANCELLED
                if time.monotonic() > job.deadline:
                    return TIMEOUT
        job.completion_tokens = len(ts.token_ids)
        return ts.finish_reason


__all__ = ["CANCELLED", "TIMEOUT", "Engine", "Generation", "GenerationTimeout", "QueueFull"]
