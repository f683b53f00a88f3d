"""The HTTP API: OpenAI-compatible routes over the serving engine, and the web page.

``POST /v1/completions`` and ``/v1/chat/completions`` answer in OpenAI's shapes, as JSON or, with
``"stream": true``, server-sent events ending in ``data: [DONE]``; extensions: ``top_k``,
``repetition_penalty``, ``ignore_eos`` (exactly ``max_tokens``, for benchmarks). Also
``GET /v1/models[/{id}]``, ``/health`` (no key needed), ``/openapi.json`` and the page at ``/``.
Errors use OpenAI's body ``{"error": {"message", "type", "param", "code"}}``: 400 bad request,
401 key, 404 model or route, 413 body too large, 429 queue full, 504 timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .chat import BOT, USER, ChatSession, ChatTemplate, one_line
from .export import ExportedModel, load_exported
from .generation import SamplingConfig, encode_prompt
from .profiles import pick_device
from .serving_engine import Engine, Generation, GenerationTimeout, QueueFull

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).with_name("web")
MAX_STOP = 4  # stop strings per request, as in OpenAI's API
MAX_STOP_CHARS = 200
DISCONNECT_POLL_S = 0.2
MAX_REQUEST_BYTES = 1_000_000  # larger bodies get 413


@dataclass
class ServerConfig:
    """The server's limits and options; validated, each problem named with its fix."""

    api_key: str | None = None  # when set, /v1/* needs "Authorization: Bearer <key>"
    max_concurrency: int = 1  # generations at once
    max_queue: int = 16  # requests allowed to wait; more are refused with 429
    request_timeout_s: float = 60.0  # per request, queueing included
    max_tokens_limit: int = 1024  # the largest max_tokens a request may ask for
    max_prompt_tokens: int | None = None  # None: the model's context length
    model_name: str | None = None  # the id in /v1/models (default: the export's name)
    web: bool = True  # serve the web page at /

    def __post_init__(self) -> None:
        problems = []
        if self.api_key is not None and (not isinstance(self.api_key, str) or len(self.api_key) < 8):
            problems.append("api_key: use None (no key) or a string of at least 8 characters")
        for name, low in (("max_concurrency", 1), ("max_queue", 0), ("max_tokens_limit", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                problems.append(f"{name}={value!r}: use a whole number of at least {low}")
        if not (isinstance(self.request_timeout_s, (int, float)) and self.request_timeout_s > 0):
            problems.append(f"request_timeout_s={self.request_timeout_s!r}: use a positive number of seconds, e.g. 60")
        if self.max_prompt_tokens is not None and (not isinstance(self.max_prompt_tokens, int) or self.max_prompt_tokens < 1):
            problems.append(f"max_prompt_tokens={self.max_prompt_tokens!r}: use None (the context length) or a whole number >= 1")
        if problems:
            raise ValueError("ServerConfig is invalid:\n- " + "\n- ".join(problems))


# =========================================================================== errors


class APIError(Exception):
    """An error answered with OpenAI's error body."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(message: str, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _validation_message(error: dict[str, Any]) -> tuple[str, str | None]:
    """One pydantic error as (message, param) in OpenAI's words."""
    loc = [str(x) for x in error.get("loc", ()) if x != "body"]
    # drop pydantic's union-branch labels ("str", "list[str]", "function-after[...]")
    loc = [x for x in loc if not (x.startswith(("function-", "list[", "dict[")) or x in ("str", "int", "float", "bool"))]
    param = ".".join(loc) or None
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}", param
    if kind == "json_invalid":
        return f"the request body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})", None
    if kind == "missing":
        return (f"'{param}' is a required property" if param else "the request needs a JSON body"), param
    try:
        shown = json.dumps(error.get("input"), ensure_ascii=False)
    except (TypeError, ValueError):
        shown = type(error.get("input")).__name__
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{param}={shown} is invalid: {error.get('msg', 'invalid value')}", param


async def _api_error(_request: Request, err: APIError) -> JSONResponse:
    return err.response()


async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
    errors = err.errors()
    message, param = _validation_message(errors[0]) if errors else ("invalid request", None)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return APIError(400, message, param=param).response()


async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
    message = str(err.detail)
    if err.status_code == 404:  # OpenAI answers an unknown route with invalid_request_error too
        message = (f"no route {request.method} {request.url.path}; the routes are /v1/completions, "
                   "/v1/chat/completions, /v1/models, /health and / (described in /openapi.json)")
    elif err.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    code = "request_too_large" if err.status_code == 413 else None
    return APIError(err.status_code, message, code=code).response()


async def _server_error(_request: Request, err: Exception) -> JSONResponse:
    log.error("request failed: %s: %s", type(err).__name__, err)
    return APIError(500, f"the server failed: {type(err).__name__}", type="server_error").response()


# =========================================================================== request bodies


class _Request(BaseModel):
    """Fields both endpoints share. Unknown fields are refused, as OpenAI's API does."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0)  # extension (0 = off)
    repetition_penalty: float | None = Field(None, gt=0.0, le=10.0)  # extension (1 = off)
    ignore_eos: bool = False  # extension: do not stop at end-of-text (benchmarks: exactly max_tokens)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    seed: int | None = Field(None, ge=0, lt=2**63)
    n: int | None = Field(None, ge=1)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    user: str | None = None  # accepted and ignored
    metadata: dict[str, Any] | None = None  # accepted and ignored
    service_tier: str | None = None  # accepted and ignored

    def unsupported(self) -> list[tuple[str, str]]:
        """(param, message) for values this server accepts in form but cannot honour."""
        out = []
        if self.n not in (None, 1):
            out.append(("n", f"n={self.n}: this server returns one choice per request; send n=1 (or several requests)"))
        for name in ("presence_penalty", "frequency_penalty"):
            if getattr(self, name) not in (None, 0, 0.0):
                out.append((name, f"{name} is not supported (only 0); use the repetition_penalty extension, e.g. 1.1"))
        if self.logit_bias:
            out.append(("logit_bias", "logit_bias is not supported; leave it out"))
        if self.stream_options is not None:
            if not self.stream:
                out.append(("stream_options", "stream_options is only allowed with stream=true"))
            unknown = sorted(set(self.stream_options) - {"include_usage"})
            if unknown:
                out.append(("stream_options", f"stream_options: unknown keys {unknown}; the only one is include_usage"))
        if len(self.stops) > MAX_STOP:
            out.append(("stop", f"stop has {len(self.stops)} strings; give at most {MAX_STOP}"))
        if any(not s or len(s) > MAX_STOP_CHARS for s in self.stops):
            out.append(("stop", f"every stop string needs 1 to {MAX_STOP_CHARS} characters"))
        return out

    @property
    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class CompletionRequest(_Request):
    prompt: str | list[str] | list[int] | list[list[int]] = ""
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=5)
    best_of: int | None = Field(None, ge=1)
    suffix: str | None = None

    def unsupported(self) -> list[tuple[str, str]]:
        out = super().unsupported()
        if self.logprobs:
            out.append(("logprobs", "logprobs are not supported; leave it out or send null"))
        if self.best_of not in (None, 1):
            out.append(("best_of", f"best_of={self.best_of}: only 1 is supported"))
        if self.suffix:
            out.append(("suffix", "suffix (insertion) is not supported; leave it out"))
        if isinstance(self.prompt, list) and self.prompt and isinstance(self.prompt[0], (str, list)) and len(self.prompt) != 1:
            out.append(("prompt", f"prompt holds {len(self.prompt)} prompts; send one prompt per request"))
        return out


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None  # accepted and ignored

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ChatRequest(_Request):
    messages: list[Message] = Field(..., min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None  # accepted and ignored
    store: bool | None = None  # accepted and ignored

    def unsupported(self) -> list[tuple[str, str]]:
        out = super().unsupported()
        if self.logprobs or self.top_logprobs:
            out.append(("logprobs", "logprobs are not supported; leave it out or send false"))
        if self.response_format and self.response_format.get("type") != "text":
            out.append(("response_format", "only response_format {'type': 'text'} is supported"))
        if self.tools or self.tool_choice not in (None, "none"):
            out.append(("tools", "tools (function calling) are not supported; leave them out"))
        if self.max_tokens is not None and self.max_completion_tokens is not None and self.max_tokens != self.max_completion_tokens:
            out.append(("max_completion_tokens", "max_tokens and max_completion_tokens differ; send one of them"))
        if self.messages and self.messages[-1].role != "user":
            out.append(("messages", (f"the last message has role {self.messages[-1].role!r}; it must be 'user' "
                                     "(the model writes the assistant's next reply)")))
        return out

    def conversation(self) -> tuple[ChatTemplate, list[tuple[str, str]]]:
        """The chat template (system messages as its persona) and the turns, as ``ChatSession`` keeps them."""
        system = " ".join(one_line(m.text) for m in self.messages if m.role in ("system", "developer"))
        turns = [(USER if m.role == "user" else BOT, m.text) for m in self.messages if m.role in ("user", "assistant")]
        return (ChatTemplate(persona=system) if system else ChatTemplate()), turns


def _field_range(name: str) -> dict[str, float]:
    """The range a request field accepts, read from its rules, so /v1/models advertises what requests
    may use. ``min_exclusive``: the bound itself is refused."""
    keys = {"ge": "min", "gt": "min_exclusive", "le": "max", "lt": "max_exclusive"}
    bounds: dict[str, float] = {}
    for rule in _Request.model_fields[name].metadata:
        for attr, key in keys.items():
            if getattr(rule, attr, None) is not None:
                bounds[key] = getattr(rule, attr)
    return bounds


# =========================================================================== what the routes share


class _BodyLimit:
    """Answer 413 to request bodies over ``limit`` bytes (by Content-Length, or while reading)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"the request body is larger than this server's limit of {self.limit} bytes"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            response = JSONResponse(error_body(message, code="request_too_large"), status_code=413)
            return await response(scope, receive, send)
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, message)  # FastAPI passes its own HTTPException on
            return msg

        await self.app(scope, limited, send)


class _JobStream(StreamingResponse):
    """A streamed answer that cancels its generation however the response ends (even before it starts)."""

    def __init__(self, job: Generation, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job = job

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.job.cancel()  # a no-op for a job that finished


def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _usage(prompt_tokens: int, job: Generation) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": job.completion_tokens,
            "total_tokens": prompt_tokens + job.completion_tokens}


def _finish(job: Generation) -> str:
    return job.finish_reason if job.finish_reason in ("stop", "length") else "length"


Chunk = Callable[..., dict[str, Any]]  # (text, finish_reason) -> a response body or stream chunk


class _Service:
    """The model, its engine and the settings; the checks and the answer both endpoints share."""

    def __init__(self, loaded: ExportedModel, settings: ServerConfig) -> None:
        self.loaded, self.settings = loaded, settings
        self.name = settings.model_name or loaded.name
        self.context = loaded.context_length
        self.max_prompt = min(settings.max_prompt_tokens or self.context, self.context)
        self.engine = Engine(loaded.model, loaded.tokenizer, max_concurrency=settings.max_concurrency,
                             max_queue=settings.max_queue)
        self.created = int(time.time())

    def authorize(self, request: Request) -> None:
        key = self.settings.api_key
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if key is not None and (scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode())):
            raise APIError(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                           code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    def model_card(self) -> dict[str, Any]:
        d, limit = self.loaded.defaults, self.settings.max_tokens_limit
        return {"id": self.name, "object": "model", "created": self.created, "owned_by": "minigpt-course",
                "context_length": self.context,
                "defaults": {"temperature": d.temperature, "top_k": d.top_k, "top_p": d.top_p,
                             "repetition_penalty": d.repetition_penalty, "max_tokens": min(d.max_new_tokens, limit)},
                "limits": {"max_tokens": limit, "max_prompt_tokens": self.max_prompt,
                           "temperature": _field_range("temperature"), "top_p": _field_range("top_p"),
                           "stop": MAX_STOP}}

    def sampling(self, body: _Request, max_tokens: int | None) -> SamplingConfig:
        """Check the fields and the model asked for; the sampling settings the body chose."""
        problems = body.unsupported()
        if problems:
            param, message = problems[0]
            raise APIError(400, message, param=param)
        if body.model not in (None, "", self.name):
            raise APIError(404, f"the model {body.model!r} does not exist; this server serves {self.name!r} "
                                "(GET /v1/models)", param="model", code="model_not_found")
        limit, defaults = self.settings.max_tokens_limit, self.loaded.defaults
        if max_tokens is not None and max_tokens > limit:
            raise APIError(400, f"max_tokens={max_tokens} is more than this server's limit of {limit}", param="max_tokens")
        chosen = {"temperature": body.temperature, "top_p": body.top_p, "top_k": body.top_k,
                  "repetition_penalty": body.repetition_penalty, "seed": body.seed,
                  "max_new_tokens": max_tokens if max_tokens is not None else min(defaults.max_new_tokens, limit)}
        try:
            return defaults.replace(**{k: v for k, v in chosen.items() if v is not None})
        except ValueError as err:
            raise APIError(400, str(err)) from err

    def check_length(self, ids: list[int], param: str, fix: str) -> None:
        if len(ids) > self.max_prompt:
            why = f"the model's context is {self.context} tokens" if self.max_prompt == self.context else \
                f"its limit for prompts; the model's context is {self.context}"
            raise APIError(400, f"the prompt is {len(ids)} tokens; this server reads at most {self.max_prompt} "
                                f"({why}). {fix}", param=param, code="context_length_exceeded")

    async def answer(self, request: Request, body: _Request, config: SamplingConfig, ids: list[int], stops: list[Any],
                     chunk: Chunk, final: Chunk, first: list[dict[str, Any]], strip_leading: bool = False) -> Any:
        """Generate after ``ids``: stream ``first``, then ``chunk``s; or answer ``final(text, finish)`` with usage."""
        try:
            job = self.engine.submit(ids, config, stop=stops, timeout_s=self.settings.request_timeout_s,
                                     strip_leading=strip_leading, stop_at_eot=not body.ignore_eos)
        except QueueFull as err:
            raise APIError(429, f"the server is busy ({err}); retry in a moment", type="rate_limit_error",
                           code="server_busy", headers={"Retry-After": "1"}) from err
        if body.stream:
            events = self.events(job, chunk, len(ids), body.include_usage, first)
            return _JobStream(job, events, media_type="text/event-stream",
                              headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return {**final(await self.wait_for(job, request), _finish(job)), "usage": _usage(len(ids), job)}

    async def wait_for(self, job: Generation, request: Request) -> str:
        """The whole text; cancels the job if the client disconnects first."""
        task = asyncio.ensure_future(job.collect())
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
                if not task.done() and await request.is_disconnected():
                    job.cancel()
            return task.result()
        except Exception as err:  # a timeout, or the worker failed (logged there): the server lives on
            raise self.failure(err) from err
        finally:
            if not task.done():
                task.cancel()
                job.cancel()

    async def events(self, job: Generation, chunk: Chunk, prompt_tokens: int, include_usage: bool,
                     first: list[dict[str, Any]]) -> AsyncIterator[str]:
        """SSE: the first chunks, one chunk per piece, the finish, optionally usage, then [DONE]."""
        try:
            for c in first:
                yield _sse(c)
            async for piece in job.pieces():
                yield _sse(chunk(piece, None))
            yield _sse(chunk(None, _finish(job)))
            if include_usage:
                yield _sse({**chunk(None, None), "choices": [], "usage": _usage(prompt_tokens, job)})
        except Exception as err:  # tell the client, do not cut the stream
            yield _sse(self.failure(err).body())
        yield "data: [DONE]\n\n"

    def failure(self, err: Exception) -> APIError:
        """A generation that timed out (504) or failed (500)."""
        if isinstance(err, GenerationTimeout):
            return APIError(504, f"the request took longer than this server's timeout of "
                                 f"{self.settings.request_timeout_s:g} s (queueing included); ask for fewer tokens "
                                 "or retry later", type="timeout_error", code="timeout")
        return APIError(500, f"generation failed: {type(err).__name__}: {err}", type="server_error")


# =========================================================================== routes


router = APIRouter()


def _service(request: Request, authorize: bool = True) -> _Service:
    service: _Service = request.app.state.service
    if authorize:
        service.authorize(request)
    return service


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    service = _service(request, authorize=False)
    stats, settings = service.engine.stats(), service.settings
    return {"status": "ok", "model": service.name, "auth": settings.api_key is not None,
            "queue": {"running": stats["running"], "waiting": stats["waiting"],
                      "max_concurrency": settings.max_concurrency, "max_queue": settings.max_queue},
            "stats": stats}


@router.get("/v1/models")
async def models(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": [_service(request).model_card()]}


@router.get("/v1/models/{model_id}")
async def model_info(model_id: str, request: Request) -> dict[str, Any]:
    service = _service(request)
    if model_id != service.name:
        raise APIError(404, f"the model {model_id!r} does not exist; this server serves {service.name!r}",
                       param="model", code="model_not_found")
    return service.model_card()


@router.post("/v1/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request) -> Any:
    service = _service(request)
    config = service.sampling(body, body.max_tokens)
    tokenizer, prompt = service.loaded.tokenizer, body.prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]
    if isinstance(prompt, list):  # token ids
        bad = [i for i in prompt if not 0 <= i < tokenizer.vocab_size]
        if bad:
            raise APIError(400, f"prompt holds token ids outside 0..{tokenizer.vocab_size - 1}: {bad[:5]}", param="prompt")
    ids = await run_in_threadpool(encode_prompt, tokenizer, prompt)  # a long prompt: off the event loop
    prompt_text = prompt if isinstance(prompt, str) else tokenizer.decode(ids)
    service.check_length(ids, "prompt", "Shorten the prompt")
    rid, now = f"cmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def chunk(text: str | None, reason: str | None) -> dict[str, Any]:
        return {"id": rid, "object": "text_completion", "created": now, "model": service.name,
                "choices": [{"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}]}

    echo = prompt_text if body.echo else ""
    return await service.answer(request, body, config, ids, body.stops, chunk, first=[chunk(echo, None)] if echo else [],
                                final=lambda text, reason: chunk(echo + text, reason))


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> Any:
    service = _service(request)
    config = service.sampling(body, body.max_completion_tokens or body.max_tokens)
    template, turns = body.conversation()

    def build_prompt() -> list[int]:
        session = ChatSession(service.loaded.model, service.loaded.tokenizer, config, template)
        # A prompt limit below the chat's budget: drop old turns down to it rather than refuse.
        session.reply_room = max(session.reply_room, service.context - service.max_prompt)
        session.history = turns[:-1]
        return session.build_prompt(one_line(turns[-1][1]))[1]

    ids = await run_in_threadpool(build_prompt)  # up to a megabyte of messages: off the event loop
    service.check_length(ids, "messages", "Shorten the last message (older messages are dropped as needed)")
    head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": service.name, "system_fingerprint": f"minigpt-{__version__}"}

    def chunk(text: str | None, reason: str | None, role: bool = False) -> dict[str, Any]:
        delta: dict[str, Any] = {"role": "assistant", "content": ""} if role else ({"content": text} if text else {})
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]}

    def final(text: str, reason: str) -> dict[str, Any]:
        return {**head, "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": reason}]}

    return await service.answer(request, body, config, ids, template.stops() + body.stops, chunk, final,
                                first=[chunk(None, None, role=True)], strip_leading=True)


async def _page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


# =========================================================================== the app


def create_app(model: str | os.PathLike[str] | ExportedModel, *, api_key: str | None = None, max_concurrency: int = 1,
               request_timeout_s: float = 60.0, device: str | None = None, **options: Any) -> FastAPI:
    """The FastAPI app serving ``model`` (an exported folder, or an ``ExportedModel`` already loaded).

    ``options`` are the other ``ServerConfig`` fields (max_queue, max_tokens_limit,
    max_prompt_tokens, model_name, web).
    """
    settings = ServerConfig(api_key=api_key, max_concurrency=max_concurrency,
                            request_timeout_s=request_timeout_s, **options)
    loaded = model if isinstance(model, ExportedModel) else load_exported(model, pick_device(device))
    service = _Service(loaded, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.engine.close()

    # No /docs: FastAPI's interactive docs load their scripts from a CDN. /openapi.json describes the API.
    app = FastAPI(title="minigpt", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  exception_handlers={APIError: _api_error, RequestValidationError: _invalid,
                                      StarletteHTTPException: _http_error, Exception: _server_error})
    app.state.service, app.state.engine, app.state.model_name = service, service.engine, service.name
    app.add_middleware(_BodyLimit, limit=MAX_REQUEST_BYTES)
    app.include_router(router)
    if settings.web:
        if not (WEB_DIR / "index.html").is_file():
            raise FileNotFoundError(f"{WEB_DIR / 'index.html'} is missing: reinstall minigpt_helpers (the web page "
                                    "ships with the package) or pass web=False")
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
        app.add_api_route("/", _page, methods=["GET"], include_in_schema=False)
    return app


__all__ = ["WEB_DIR", "APIError", "ChatRequest", "CompletionRequest", "Message", "ServerConfig", "create_app",
           "error_body"]
