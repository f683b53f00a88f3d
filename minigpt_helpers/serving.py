"""Serving: an exported model over HTTP, with an OpenAI-compatible API and a web page.

``create_app(folder)`` gives the FastAPI app (``serving_api``, over the queue and workers of
``serving_engine``); ``serve`` runs it with uvicorn (``python -m minigpt_helpers serve``); and
``ServerProcess`` runs that command in the background until stopped. It binds 127.0.0.1 by default.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .serving_api import APIError, ServerConfig, create_app, error_body
from .serving_engine import Engine, Generation, GenerationTimeout, QueueFull

log = logging.getLogger(__name__)

API_KEY_ENV = "MINIGPT_API_KEY"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
READY = re.compile(r"serving \S+ on (http://\S+?)/? ")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The exit code of a server that ``ServerProcess.stop()`` stopped: 0 after SIGTERM's graceful shutdown;
# Windows has no SIGTERM, and TerminateProcess exits with 1.
STOPPED_EXIT_CODE = 1 if os.name == "nt" else 0


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port`` (port 0: a free one, chosen by the OS)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        fix = {
            errno.EADDRINUSE: f"another program (another server started earlier?) already uses port {port}: "
                              f"stop it, or pass another port, e.g. --port {port + 1 if port < 65535 else 8000}",
            errno.EADDRNOTAVAIL: "the address is not this machine's: pass --host 127.0.0.1 or one of its own",
            errno.EACCES: f"port {port} needs administrator rights here: pass a port above 1023, e.g. --port 8000",
        }.get(err.errno)
        raise OSError(err.errno, f"cannot listen on {host}:{port}: {err.strerror}" + (f". {fix}" if fix else "")) from err
    return sock


def _watch_parent(pid: int, server: Any) -> None:
    """Stop the server when the process that started it is gone (a crashed notebook kernel)."""
    while not server.should_exit:
        time.sleep(1.0)
        if os.name != "nt" and os.getppid() != pid:
            log.warning("the parent process %d is gone: shutting down", pid)
            server.should_exit = True


def serve(model: Any, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, log_level: str = "info",
          parent_pid: int | None = None, **options: Any) -> None:
    """Run ``create_app(model, **options)`` with uvicorn until Ctrl-C or SIGTERM.

    Prints ``serving <name> on http://host:port/`` once the port is bound (port 0 picks a free one).
    """
    import uvicorn  # deferred: the web server is an optional dependency

    app = create_app(model, **options)
    if host not in LOOPBACK and not options.get("api_key"):
        log.warning("binding %s without an API key: anyone who can reach this machine can use the model "
                    "(pass --api-key, or keep the default host 127.0.0.1)", host)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {app.state.model_name} on http://{shown}:{bound}/ (API: /v1, web page: /, health: /health)",
          flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5,
                                           timeout_keep_alive=5))
    if parent_pid:
        threading.Thread(target=_watch_parent, args=(parent_pid, server), daemon=True).start()
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler
    # that was there before it; make that one a no-op, so a stopped server exits with code 0.
    quiet = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM")
    previous = signal.signal(signal.SIGTERM, lambda *_: None) if quiet else None
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if quiet:
            signal.signal(signal.SIGTERM, previous)


class ServerProcess:
    """``python -m minigpt_helpers serve`` as a background process: ``start()``, ``url``, ``stop()``.

    ``start`` waits until ``/health`` answers on the port the server picked. It is stopped at
    interpreter exit too, and the server exits when this process dies, so a failing notebook cell
    never leaves it running. Use it as a context manager, or call ``stop``.
    """

    def __init__(self, model: str | os.PathLike[str], *, host: str = DEFAULT_HOST, port: int = 0,
                 api_key: str | None = None, args: Sequence[str] = (), startup_timeout_s: float = 120.0) -> None:
        self.model, self.host, self.port, self.api_key = Path(model), host, port, api_key
        self.args, self.startup_timeout_s = list(args), startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self._log: Path | None = None  # the server's output, a temporary file while it runs
        self._log_text: str | None = None  # its contents once stopped (the file is then deleted)

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "minigpt_helpers", "serve", "--model", str(self.model), "--host", self.host,
                "--port", str(self.port), "--parent-pid", str(os.getpid()), *self.args]

    def log(self) -> str:
        """What the server printed so far (its start line, uvicorn's request log, errors)."""
        if self._log_text is not None:
            return self._log_text
        return self._log.read_text(encoding="utf-8", errors="replace") if self._log and self._log.exists() else ""

    def start(self) -> ServerProcess:
        if self.process is not None:
            raise RuntimeError("this ServerProcess was started already; make a new one")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.api_key:
            env[API_KEY_ENV] = self.api_key  # not on the command line, where `ps` would show it
        fd, log_path = tempfile.mkstemp(prefix="minigpt-serve-", suffix=".log")
        self._log = Path(log_path)
        with os.fdopen(fd, "wb") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, env=env)
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            while not self.healthy():  # first the line that names the URL, then /health answering
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with code {self.process.returncode}:\n{self.log()[-2000:]}")
                found = READY.search(self.log())
                self.url = found.group(1) if found else None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the server did not answer within {self.startup_timeout_s:g} s:\n"
                                       f"{self.log()[-2000:]}")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def healthy(self) -> bool:
        """True when ``/health`` answers 200."""
        if self.url is None:
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:  # URLError too
            return False

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Stop the server (SIGTERM, then kill after ``timeout_s``); returns its exit code
        (``STOPPED_EXIT_CODE`` when it stopped as asked). Safe to call twice."""
        p = self.process
        if p is None:
            return None
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        atexit.unregister(self.stop)
        if self._log_text is None and self._log is not None:  # keep the log in memory, not in a file left behind
            self._log_text = self.log()
            self._log.unlink(missing_ok=True)
        return p.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> ServerProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self.process else "not started")
        return f"ServerProcess({self.model.name!r}, url={self.url!r}, {state})"


__all__ = ["API_KEY_ENV", "STOPPED_EXIT_CODE", "APIError", "Engine", "Generation", "GenerationTimeout", "QueueFull",
           "ServerConfig", "ServerProcess", "create_app", "error_body", "serve"]
