"""The serving engine: a queue in front of the model, worker threads that generate, streams to await.

The HTTP layer (``serving_api``) must stay responsive while the model computes. So requests
become ``Generation`` jobs in a bounded FIFO queue; ``max_concurrency`` worker threads take them
one by one and run ``generation.stream_text`` on them, handing each piece of text to the event
loop that asked (``loop.call_soon_threadsafe``). Each worker runs one request at a time, for
simplicity: real servers batch the requests that are running at the same moment (continuous
batching: a request joins or leaves the batch at any step), which gives more tokens per second
on the same hardware, as a batch of prompts does in 07. A full queue refuses new jobs at once (``QueueFull``), so the
server answers "busy" instead of piling up work.

Each job carries a deadline (the request timeout, counted from submission, queueing included)
and a cancel flag. The worker checks both after every piece of text, so a client that goes
away, or a request that runs out of time, stops its generation within a token or two.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .chat import ReplyStart
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

    After it ends: ``text``, ``completion_tokens``, ``finish_reason`` ("stop", "length",
    "cancelled" or "timeout") and the times it was submitted, started and finished.
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
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _loop: Any = field(default=None, repr=False)
    _queue: Any = field(default=None, repr=False)
    _consumed: bool = field(default=False, repr=False)

    # ------------------------------------------------------------ worker side (a thread)

    def _send(self, kind: str, value: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is gone: nobody is listening any more
            self._cancel.set()

    # ------------------------------------------------------------ caller side (the event loop)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the worker to stop (it checks after every piece of text)."""
        self._cancel.set()

    async def pieces(self) -> AsyncIterator[str]:
        """Yield the text as it comes. Leaving early (``break``, a disconnect) cancels the job.

        Raises ``GenerationTimeout`` past the deadline, or the worker's exception.
        """
        if self._consumed:
            raise RuntimeError("a Generation can be consumed once")
        self._consumed = True
        done = False
        try:
            while True:
                wait = self.deadline - time.monotonic() + _GRACE_S
                try:
                    kind, value = await asyncio.wait_for(self._queue.get(), timeout=max(wait, 0.01))
                except asyncio.TimeoutError:
                    self.cancel()
                    self.finish_reason = TIMEOUT
                    done = True
                    raise GenerationTimeout("the request timed out") from None
                if kind == "piece":
                    yield value
                    continue
                done = True
                if kind == "error":
                    raise value
                if value == TIMEOUT:
                    raise GenerationTimeout("the request timed out")
                return
        finally:
            if not done:
                self.cancel()

    async def collect(self) -> str:
        """Wait for the whole text."""
        async for _ in self.pieces():
            pass
        return self.text


class Engine:
    """Runs generations for many callers on one model: a bounded queue and ``max_concurrency`` workers.

    Worker threads start on the first ``submit`` (making an engine does nothing else) and stop on
    ``close()``. ``stats()`` counts what happened, for ``/health`` and the tests.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_concurrency: int = 1, max_queue: int = 16,
                 use_cache: bool = True) -> None:
        if max_concurrency < 1 or max_queue < 0:
            raise ValueError(f"max_concurrency={max_concurrency}, max_queue={max_queue}: use at least 1 worker "
                             "and a queue of 0 or more waiting requests")
        self.model, self.tokenizer, self.use_cache = model, tokenizer, use_cache
        self.max_concurrency, self.max_queue = max_concurrency, max_queue
        self._jobs: queue.Queue[Generation | None] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._waiting = 0
        self._counts = {"submitted": 0, "rejected": 0, "completed": 0, "cancelled": 0, "timeouts": 0,
                        "errors": 0, "running": 0, "tokens": 0}

    # ------------------------------------------------------------ public

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
            self._start_workers()
        self._jobs.put(job)
        return job

    def stats(self) -> dict[str, int]:
        """Counters: submitted, rejected, completed, cancelled, timeouts, errors, running, waiting, tokens."""
        with self._lock:
            return {**self._counts, "waiting": self._waiting}

    def close(self) -> None:
        """Stop the workers once the jobs already queued are done (pending ones are cancelled)."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for t in threads:
            t.join(timeout=5)

    # ------------------------------------------------------------ workers

    def _start_workers(self) -> None:
        while len(self._threads) < self.max_concurrency:
            t = threading.Thread(target=self._work, name=f"minigpt-engine-{len(self._threads)}", daemon=True)
            self._threads.append(t)
            t.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            with self._lock:
                self._waiting -= 1
                self._counts["running"] += 1
            try:
                self._run(job)
            except Exception as err:  # a failure past _run's own handling: answer the job, keep the worker
                log.exception("the engine failed on a job")
                job.finish_reason, job.finished = "error", time.monotonic()
                job._send("error", err)
            finally:
                with self._lock:
                    self._counts["running"] -= 1
                    self._counts["tokens"] += job.completion_tokens
                    outcome = {CANCELLED: "cancelled", TIMEOUT: "timeouts", "error": "errors"}
                    self._counts[outcome.get(job.finish_reason or "", "completed")] += 1

    def _run(self, job: Generation) -> None:
        job.started = time.monotonic()
        if job.cancelled or job.started > job.deadline:  # given up on while it waited
            job.finish_reason = CANCELLED if job.cancelled else TIMEOUT
            job.finished = time.monotonic()
            job._send("end", job.finish_reason)
            return
        reason: str | None = None
        opening = ReplyStart.for_stops(job.stop) if job.strip_leading else None  # as in chat.py
        pieces: Any = None
        try:
            # Inside the try: a bad argument (e.g. an empty stop string) must reach the caller as
            # an error, not kill this worker and leave the job unanswered until its timeout.
            ts = stream_text(self.model, self.tokenizer, job.prompt_ids, job.config, stop=job.stop,
                             stop_at_eot=job.stop_at_eot, use_cache=self.use_cache,
                             nonblank_start=job.strip_leading)  # a chat reply opens with text, as in chat.py
            pieces = iter(ts)
            for piece in pieces:
                if opening is not None:
                    piece = opening.push(piece)
                if piece:
                    job.text += piece
                    job._send("piece", piece)
                job.completion_tokens = len(ts.token_ids)
                if job.cancelled:
                    reason = CANCELLED
                    break
                if time.monotonic() > job.deadline:
                    reason = TIMEOUT
                    break
            else:
                reason = ts.finish_reason
                rest = opening.flush() if opening is not None else ""  # a reply that ended before its first word
                if rest:
                    job.text += rest
                    job._send("piece", rest)
        except Exception as err:  # report it to the caller; the worker lives on
            log.exception("generation failed")
            job.finish_reason = "error"
            job.finished = time.monotonic()
            job._send("error", err)
            return
        finally:
            if pieces is not None:
                pieces.close()
        job.completion_tokens = len(ts.token_ids)
        job.finish_reason = reason
        job.finished = time.monotonic()
        job._send("end", reason)


__all__ = ["Engine", "Generation", "QueueFull", "GenerationTimeout", "CANCELLED", "TIMEOUT"]
