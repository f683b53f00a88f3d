"""Serving: the API contract (OpenAI shapes, streamed chunks, error bodies), the same text as the
package, validation, the API key, a full queue, timeouts, a client that disconnects mid-stream,
concurrent clients on a real uvicorn server, and the command line."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from fastapi.testclient import TestClient  # noqa: E402

from _servers import real_server  # noqa: E402
from minigpt_helpers import cli, generation, serving  # noqa: E402
from minigpt_helpers.chat import ChatSession, ChatTemplate  # noqa: E402
from minigpt_helpers.checkpoint import save_checkpoint  # noqa: E402
from minigpt_helpers.export import ExportedModel, export_model, load_exported  # noqa: E402
from minigpt_helpers.generation import SamplingConfig  # noqa: E402
from minigpt_helpers.model import GPT, GPTConfig  # noqa: E402
from minigpt_helpers.serving import Engine, create_app  # noqa: E402
from minigpt_helpers.tokenization import CharTokenizer  # noqa: E402

TEXT = ("It was the best of times, it was the worst of times. 'Who are you?' said the Caterpillar.\n"
        "READER: Hello there.\nLIBRARIAN: Good day to you, reader.\n") * 3
KEY = "sk-test-0123456789"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A tiny exported model (characters, 2 layers, context 48)."""
    root = tmp_path_factory.mktemp("serving")
    tok = CharTokenizer.train([TEXT])
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=48, n_layer=2, n_head=2, n_embd=32)).eval()
    save_checkpoint(root / "ckpt", model, tok, meta={"run": "tiny", "step": 1})
    return export_model(root / "ckpt", root / "tiny", generation={"max_new_tokens": 12, "temperature": 0.0})


@pytest.fixture(scope="module")
def loaded(folder) -> ExportedModel:
    return load_exported(folder)


@pytest.fixture(scope="module")
def client(loaded) -> Iterator[TestClient]:
    with TestClient(create_app(loaded)) as c:
        yield c


class Slow(torch.nn.Module):
    """The model with a pause in every forward: generation takes long enough to interrupt."""

    def __init__(self, inner: GPT, delay_s: float) -> None:
        super().__init__()
        self.inner, self.config, self.delay_s = inner, inner.config, delay_s

    def forward(self, *args, **kwargs):
        time.sleep(self.delay_s)
        return self.inner(*args, **kwargs)

    def new_kv_cache(self, *args, **kwargs):
        return self.inner.new_kv_cache(*args, **kwargs)


class Broken(Slow):
    def forward(self, *args, **kwargs):
        raise RuntimeError("the model broke")


def slow(loaded: ExportedModel, delay_s: float) -> ExportedModel:
    return ExportedModel(Slow(loaded.model, delay_s), loaded.tokenizer, loaded.config, loaded.path, loaded.name,
                         loaded.defaults)


def sse_events(lines: Iterator[str]) -> list:
    """The JSON events of an SSE body, and "[DONE]"; every data line must be followed by a blank one."""
    events, pending = [], None
    for line in lines:
        if pending is not None:
            assert line == "", f"an event must end with a blank line, got {line!r}"
            events.append(pending)
            pending = None
        elif line.startswith("data: "):
            data = line[len("data: "):]
            pending = data if data == "[DONE]" else json.loads(data)
        else:
            assert line == "", f"unexpected line {line!r}"
    if pending is not None:
        events.append(pending)
    return events


def wait_until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# --------------------------------------------------------------------------- the contract


def test_a_modern_block_export_serves_the_package_text(tmp_path) -> None:
    """Rotary positions, RMSNorm, relu2: the server loads it and answers what the package generates,
    past the context window too (the cache is re-prefilled at new positions)."""
    from minigpt_helpers.model import ARCHITECTURES

    tok = CharTokenizer.train([TEXT])
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tok.vocab_size, context_length=24, n_layer=2, n_head=2, n_embd=32)
    model = GPT(config.replace(**ARCHITECTURES["modern"])).eval()
    with torch.no_grad():
        for p in model.parameters():  # the modern init zeroes the output projections: draw them all
            torch.nn.init.normal_(p, std=0.3)
    save_checkpoint(tmp_path / "ckpt", model, tok, meta={"run": "modern", "step": 1})
    loaded = load_exported(export_model(tmp_path / "ckpt", tmp_path / "modern", generation={"temperature": 0.0}))
    assert loaded.model.config.architecture == "modern"
    prompt, config = "It was the", loaded.defaults.replace(temperature=0.0, max_new_tokens=30)
    s = generation.stream_text(model, tok, prompt, config, stop_at_eot=False, use_cache=False)
    expected = "".join(s)
    assert len(s.token_ids) == 30 and len(set(s.token_ids)) > 1, "a varied continuation past the context"
    with TestClient(create_app(loaded)) as c:
        r = c.post("/v1/completions", json={"prompt": prompt, "max_tokens": 30, "temperature": 0, "ignore_eos": True})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["text"] == expected


def test_health_and_models(client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == "tiny" and health["auth"] is False
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["tiny"]
    card = models["data"][0]
    assert card["object"] == "model" and card["context_length"] == 48 and card["defaults"]["max_tokens"] == 12
    # the advertised ranges are the ones requests are held to: top_p 0 itself is refused
    assert card["limits"]["temperature"] == {"min": 0, "max": 2}
    assert card["limits"]["top_p"] == {"min_exclusive": 0, "max": 1}
    assert client.post("/v1/completions", json={"prompt": "x", "max_tokens": 1, "top_p": 0}).status_code == 400
    at_the_edges = {"prompt": "x", "max_tokens": 1, "top_p": 1, "temperature": 2}
    assert client.post("/v1/completions", json=at_the_edges).status_code == 200
    assert client.get("/v1/models/tiny").json()["id"] == "tiny"
    missing = client.get("/v1/models/gpt-4")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_completion_is_the_package_text(client, loaded) -> None:
    prompt = "It was the"
    r = client.post("/v1/completions", json={"model": "tiny", "prompt": prompt, "max_tokens": 10, "temperature": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-") and body["model"] == "tiny"
    assert isinstance(body["created"], int)
    (choice,) = body["choices"]
    config = loaded.defaults.replace(temperature=0.0, max_new_tokens=10)
    s = generation.stream_text(loaded.model, loaded.tokenizer, prompt, config)
    expected = "".join(s)
    assert choice["text"] == expected and choice["index"] == 0 and choice["logprobs"] is None
    assert choice["finish_reason"] == s.finish_reason
    n_prompt = len(loaded.tokenizer.encode(prompt))
    assert body["usage"] == {"prompt_tokens": n_prompt, "completion_tokens": len(s.token_ids),
                             "total_tokens": n_prompt + len(s.token_ids)}


def test_stop_strings_echo_and_token_prompts(client, loaded) -> None:
    free = client.post("/v1/completions", json={"prompt": "It was", "max_tokens": 12, "temperature": 0}).json()
    text = free["choices"][0]["text"]
    assert text and free["choices"][0]["finish_reason"] in ("length", "stop")
    stop = text[len(text) // 2:len(text) // 2 + 1]
    cut = client.post("/v1/completions", json={"prompt": "It was", "max_tokens": 12, "temperature": 0, "stop": stop}).json()
    assert cut["choices"][0]["finish_reason"] == "stop"
    assert cut["choices"][0]["text"] == text[:text.index(stop)]
    echoed = client.post("/v1/completions", json={"prompt": "It was", "max_tokens": 12, "temperature": 0, "echo": True}).json()
    assert echoed["choices"][0]["text"] == "It was" + text
    ids = client.post("/v1/completions", json={"prompt": loaded.tokenizer.encode("It was"), "max_tokens": 12,
                                               "temperature": 0}).json()
    assert ids["choices"][0]["text"] == text
    same = client.post("/v1/completions", json={"prompt": ["It was"], "max_tokens": 12, "temperature": 0}).json()
    assert same["choices"][0]["text"] == text


def test_ignore_eos_always_gives_max_tokens(client, loaded) -> None:
    eot = loaded.tokenizer.eot_id
    for seed in range(3):
        body = {"prompt": [eot], "max_tokens": 30, "temperature": 1.5, "seed": seed, "ignore_eos": True}
        assert client.post("/v1/completions", json=body).json()["usage"]["completion_tokens"] == 30


def test_seed_makes_sampling_repeatable(client) -> None:
    body = {"prompt": "It was", "max_tokens": 12, "temperature": 1.0, "seed": 7}
    texts = {client.post("/v1/completions", json=body).json()["choices"][0]["text"] for _ in range(2)}
    assert len(texts) == 1


def test_streamed_completion_chunks(client) -> None:
    body = {"prompt": "It was the", "max_tokens": 10, "temperature": 0}
    plain = client.post("/v1/completions", json=body).json()
    with client.stream("POST", "/v1/completions", json={**body, "stream": True, "stream_options": {"include_usage": True}}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.iter_lines())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert len(chunks) >= 3, "one chunk per piece, a finish chunk and a usage chunk"
    assert all(c["object"] == "text_completion" and c["id"] == chunks[0]["id"] for c in chunks)
    *pieces, last, usage = chunks
    assert all(c["choices"][0]["finish_reason"] is None for c in pieces)
    assert "".join(c["choices"][0]["text"] for c in pieces) == plain["choices"][0]["text"]
    assert last["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]
    assert usage["choices"] == [] and usage["usage"] == plain["usage"]


def test_chat_is_a_chat_session_reply(client, loaded) -> None:
    messages = [{"role": "system", "content": "Two old friends talk about books."},
                {"role": "user", "content": "Hello there."},
                {"role": "assistant", "content": "Good day to you."},
                {"role": "user", "content": [{"type": "text", "text": "Who are you?"}]}]
    r = client.post("/v1/chat/completions", json={"model": "tiny", "messages": messages, "max_tokens": 10,
                                                  "temperature": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in ("stop", "length")
    session = ChatSession(loaded.model, loaded.tokenizer, loaded.defaults.replace(temperature=0.0, max_new_tokens=10),
                          ChatTemplate(persona="Two old friends talk about books."))
    session.history = [("user", "Hello there."), ("bot", "Good day to you.")]
    assert choice["message"]["content"] == session.reply("Who are you?")
    assert body["usage"]["prompt_tokens"] == len(loaded.tokenizer.encode(session.last_prompt))

    with client.stream("POST", "/v1/chat/completions", json={"messages": messages, "max_tokens": 10, "temperature": 0,
                                                             "stream": True}) as s:
        events = sse_events(s.iter_lines())
    assert events[-1] == "[DONE]"
    first, *middle, last = events[:-1]
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in middle) == choice["message"]["content"]
    assert last["choices"][0]["delta"] == {} and last["choices"][0]["finish_reason"] == choice["finish_reason"]


def test_chat_reply_ends_at_a_speakers_tag_inside_its_line(client, loaded, monkeypatch) -> None:
    # The model names a speaker first, then speaks, then starts another speaker's line: the
    # server shows only the speech, streamed or not, as a ChatSession does.
    ids = loaded.tokenizer.encode(" BRIAN: Who are you? READER: I")

    def scripted(model, prompt_ids, config, *, use_cache=True, suppress_first=()):
        for i in ids:
            yield generation.StreamEvent(i)
        yield generation.StreamEvent(None, generation.FINISH_LENGTH)

    monkeypatch.setattr(generation, "stream", scripted)
    body = {"messages": [{"role": "user", "content": "Hello there."}], "max_tokens": 40}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    (choice,) = r.json()["choices"]
    assert choice["message"]["content"] == "Who are you?" and choice["finish_reason"] == "stop"
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as s:
        events = sse_events(s.iter_lines())
    pieces = [c["choices"][0]["delta"].get("content", "") for c in events[1:-1]]
    assert "".join(pieces) == "Who are you?" and events[-2]["choices"][0]["finish_reason"] == "stop"
    assert not any("BRIAN" in p or "READER" in p for p in pieces)


def test_chat_drops_old_turns_to_fit_the_servers_prompt_limit(loaded) -> None:
    # The chat keeps room for the reply (budget 48 - 1 = 47 tokens here); a server limit of 32
    # is tighter: older turns go until the prompt fits it, rather than a 400 "shorten the prompt".
    limit, context = 32, loaded.context_length
    messages = [{"role": "system", "content": "Books."}]
    for _ in range(6):
        messages += [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Yes."}]
    messages.append({"role": "user", "content": "Who?"})
    config = loaded.defaults.replace(temperature=0.0, max_new_tokens=1)
    turns = [("user" if m["role"] == "user" else "bot", m["content"]) for m in messages[1:]]

    def session(reply_room: int | None = None) -> ChatSession:
        s = ChatSession(loaded.model, loaded.tokenizer, config, ChatTemplate(persona="Books."), reply_room=reply_room)
        s.history = turns[:-1]
        return s

    default = session()
    assert len(default.build_prompt("Who?")[1]) > limit, "the chat's own trimming alone would exceed the limit"
    fitted = session(reply_room=context - limit)
    with TestClient(create_app(loaded, max_prompt_tokens=limit)) as c:
        r = c.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 1, "temperature": 0})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == fitted.reply("Who?")
        used = r.json()["usage"]["prompt_tokens"]
        assert used == len(loaded.tokenizer.encode(fitted.last_prompt)) and used <= limit
        assert fitted.last_dropped > default.last_dropped and fitted.last_prompt.endswith("READER: Who?\nLIBRARIAN:")
        # only a newest message that alone does not fit is refused
        alone = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "word " * 8}]})
        assert alone.status_code == 400 and alone.json()["error"]["code"] == "context_length_exceeded"
        assert "Shorten the last message" in alone.json()["error"]["message"]


class _BlockingTokenizer:
    """The tokenizer, but its next encode waits for ``release``: a long prompt being tokenized."""

    def __init__(self, inner) -> None:
        self.inner, self.armed = inner, False
        self.entered, self.release = threading.Event(), threading.Event()

    def encode(self, text: str) -> list[int]:
        if self.armed:
            self.armed = False
            self.entered.set()
            self.release.wait(10)
        return self.inner.encode(text)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hello there."}], "max_tokens": 2}),
    ("/v1/completions", {"prompt": "Hello there.", "max_tokens": 2}),
])
def test_health_answers_while_a_prompt_is_tokenized(loaded, path: str, body: dict) -> None:
    tok = _BlockingTokenizer(loaded.tokenizer)
    app = create_app(ExportedModel(loaded.model, tok, loaded.config, loaded.path, loaded.name, loaded.defaults))
    with real_server(app) as url, ThreadPoolExecutor(1) as pool:
        tok.armed = True
        chat = pool.submit(httpx.post, f"{url}{path}", timeout=30, json=body)
        try:
            assert tok.entered.wait(10), "the request never tokenized its prompt"
            health = httpx.get(f"{url}/health", timeout=3)  # the event loop is free meanwhile
            assert health.status_code == 200 and health.json()["status"] == "ok"
        finally:
            tok.release.set()
        assert chat.result().status_code == 200


# --------------------------------------------------------------------------- validation


BAD = [
    ("/v1/completions", {"prompt": "x", "temperature": 2.5}, 400, "temperature", None),
    ("/v1/completions", {"prompt": "x", "temperature": -0.1}, 400, "temperature", None),
    ("/v1/completions", {"prompt": "x", "top_p": 0}, 400, "top_p", None),
    ("/v1/completions", {"prompt": "x", "top_p": 1.01}, 400, "top_p", None),
    ("/v1/completions", {"prompt": "x", "top_k": -1}, 400, "top_k", None),
    ("/v1/completions", {"prompt": "x", "max_tokens": 0}, 400, "max_tokens", None),
    ("/v1/completions", {"prompt": "x", "max_tokens": 100_000}, 400, "max_tokens", None),
    ("/v1/completions", {"prompt": "x", "max_tokens": "many"}, 400, "max_tokens", None),
    ("/v1/completions", {"prompt": "It was the best of times " * 4}, 400, "prompt", "context_length_exceeded"),
    ("/v1/completions", {"prompt": [10_000]}, 400, "prompt", None),
    ("/v1/completions", {"prompt": ["a", "b"]}, 400, "prompt", None),
    ("/v1/completions", {"prompt": "x", "n": 2}, 400, "n", None),
    ("/v1/completions", {"prompt": "x", "best_of": 3}, 400, "best_of", None),
    ("/v1/completions", {"prompt": "x", "logprobs": 2}, 400, "logprobs", None),
    ("/v1/completions", {"prompt": "x", "presence_penalty": 0.5}, 400, "presence_penalty", None),
    ("/v1/completions", {"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, 400, "stop", None),
    ("/v1/completions", {"prompt": "x", "stop": ""}, 400, "stop", None),
    ("/v1/completions", {"prompt": "x", "frobnicate": True}, 400, "frobnicate", None),
    ("/v1/completions", {"prompt": "x", "stream_options": {"include_usage": True}}, 400, "stream_options", None),
    ("/v1/completions", {"prompt": "x", "model": "gpt-4"}, 404, "model", "model_not_found"),
    ("/v1/chat/completions", {}, 400, "messages", None),
    ("/v1/chat/completions", {"messages": []}, 400, "messages", None),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
     400, "messages", None),
    ("/v1/chat/completions", {"messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages.0.role", None),
    ("/v1/chat/completions", {"messages": [{"role": "tool", "content": "hi"}]}, 400, "messages.0.role", None),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}, 400, "tools", None),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "logprobs": True}, 400, "logprobs", None),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "word " * 60}]}, 400, "messages", "context_length_exceeded"),
]


@pytest.mark.parametrize("path, body, status, param, code", BAD, ids=[f"{i}-{b[3]}" for i, b in enumerate(BAD)])
def test_bad_requests_get_an_openai_error(client, path, body, status, param, code) -> None:
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["code"] == code
    assert error["type"] == "invalid_request_error" and len(error["message"]) > 10


def test_unknown_field_message_is_openais(client) -> None:
    r = client.post("/v1/completions", json={"prompt": "x", "frobnicate": True})
    assert r.json()["error"]["message"] == "Unrecognized request argument supplied: frobnicate"


def test_harmless_fields_are_accepted(client) -> None:
    common = {"user": "ada", "n": 1, "presence_penalty": 0, "frequency_penalty": 0.0, "logit_bias": {},
              "metadata": {"k": "v"}, "max_tokens": 3, "temperature": 0}
    r = client.post("/v1/completions", json={"prompt": "x", "logprobs": None, "best_of": 1, "suffix": None, **common})
    assert r.status_code == 200, r.text
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "developer", "content": "Be brief."},
                                                               {"role": "user", "content": "hi", "name": "ada"}],
                                                  "logprobs": False, "response_format": {"type": "text"}, "store": False,
                                                  "parallel_tool_calls": True, "max_completion_tokens": 3,
                                                  **{k: v for k, v in common.items() if k != "max_tokens"}})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["completion_tokens"] <= 3


def test_malformed_bodies_and_routes(client) -> None:
    r = client.post("/v1/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    big = json.dumps({"prompt": "x" * 1_100_000}).encode()
    r = client.post("/v1/completions", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
    assert client.get("/v1/completions").status_code == 405
    assert client.get("/docs").status_code == 404, "no interactive docs: they would load scripts from a CDN"
    assert "/v1/chat/completions" in client.get("/openapi.json").json()["paths"]


def test_api_key(loaded) -> None:
    with TestClient(create_app(loaded, api_key=KEY)) as c:
        assert c.get("/health").json()["auth"] is True  # health needs no key
        for headers in ({}, {"Authorization": "Bearer wrong-key-123"}, {"Authorization": KEY}):
            r = c.post("/v1/completions", json={"prompt": "x", "max_tokens": 2}, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/models").status_code == 401
        ok = {"Authorization": f"Bearer {KEY}"}
        assert c.post("/v1/completions", json={"prompt": "x", "max_tokens": 2}, headers=ok).status_code == 200
        assert c.get("/v1/models", headers=ok).status_code == 200
        assert c.get("/").status_code == 200  # the page itself is public; its calls carry the key


def test_server_config_is_validated(loaded) -> None:
    with pytest.raises(ValueError) as err:
        create_app(loaded, max_concurrency=0, request_timeout_s=-1, api_key="short")
    message = str(err.value)
    assert "max_concurrency" in message and "request_timeout_s" in message and "api_key" in message
    app = create_app(loaded, max_prompt_tokens=5)
    with TestClient(app) as c:
        r = c.post("/v1/completions", json={"prompt": "It was the best"})
        assert r.status_code == 400 and "at most 5" in r.json()["error"]["message"]


def test_web_page_is_served_locally(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="generate"' in page.text and "/static/app.js" in page.text
    assert "http://" not in page.text.replace("http://127.0.0.1", "") and "https://" not in page.text, "nothing remote"
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "/v1/completions" in js.text and "getReader" in js.text
    assert client.get("/static/style.css").status_code == 200


# --------------------------------------------------------------------------- the official openai client


@pytest.fixture(scope="module")
def openai_url(loaded) -> Iterator[str]:
    """The server with an API key under uvicorn: the official client speaks HTTP, not ASGI."""
    with real_server(create_app(loaded, api_key=KEY)) as url:
        yield url


def openai_client(url: str, key: str = KEY):
    openai = pytest.importorskip("openai")
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)


CHAT = [{"role": "system", "content": "Two old friends talk about books."},
        {"role": "user", "content": "Hello there."},
        {"role": "assistant", "content": "Good day to you."},
        {"role": "user", "content": "Who are you?"}]


def test_openai_client_completions_and_chat(openai_url, client) -> None:
    api = openai_client(openai_url)
    assert [m.id for m in api.models.list()] == ["tiny"]
    body = {"prompt": "It was the", "max_tokens": 10, "temperature": 0}
    plain = client.post("/v1/completions", json=body).json()
    c = api.completions.create(model="tiny", **body)
    assert c.object == "text_completion" and c.choices[0].text == plain["choices"][0]["text"]
    assert c.choices[0].finish_reason == plain["choices"][0]["finish_reason"]
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.total_tokens) == tuple(plain["usage"].values())
    chat = {"messages": CHAT, "max_tokens": 10, "temperature": 0}
    plain = client.post("/v1/chat/completions", json=chat).json()
    r = api.chat.completions.create(model="tiny", **chat)
    assert r.object == "chat.completion" and r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == plain["choices"][0]["message"]["content"]
    assert r.usage.total_tokens == plain["usage"]["total_tokens"]


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_openai_client_streams_with_usage_last(openai_url, endpoint) -> None:
    api = openai_client(openai_url)
    if endpoint == "completions":
        create, text_of = api.completions.create, lambda choice: choice.text
        args = {"model": "tiny", "prompt": "It was the", "max_tokens": 10, "temperature": 0}
    else:
        create, text_of = api.chat.completions.create, lambda choice: choice.delta.content or ""
        args = {"model": "tiny", "messages": CHAT, "max_tokens": 10, "temperature": 0}
    plain = create(**args)
    *chunks, last = create(**args, stream=True, stream_options={"include_usage": True})
    assert len(chunks) >= 2 and all(c.usage is None and len(c.choices) == 1 for c in chunks)
    streamed = "".join(text_of(c.choices[0]) for c in chunks)
    expected = plain.choices[0].text if endpoint == "completions" else plain.choices[0].message.content
    assert streamed == expected
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == [plain.choices[0].finish_reason]
    assert last.choices == [] and last.usage.model_dump(exclude_none=True) == plain.usage.model_dump(exclude_none=True)


def test_openai_client_raises_the_matching_errors(openai_url) -> None:
    openai = pytest.importorskip("openai")
    api = openai_client(openai_url)
    with pytest.raises(openai.BadRequestError) as err:
        api.completions.create(model="tiny", prompt="x", temperature=3)
    assert err.value.status_code == 400 and err.value.param == "temperature"
    with pytest.raises(openai.BadRequestError, match="n=2"):
        api.chat.completions.create(model="tiny", messages=CHAT, n=2)
    with pytest.raises(openai.AuthenticationError) as err:
        openai_client(openai_url, "sk-wrong-key-0000").completions.create(model="tiny", prompt="x", max_tokens=2)
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as err:
        api.chat.completions.create(model="gpt-4", messages=CHAT)
    assert err.value.code == "model_not_found" and err.value.param == "model"
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("gpt-4")
    with pytest.raises(openai.NotFoundError, match="no route POST /v1/embeddings") as err:
        api.embeddings.create(model="tiny", input="a route this server does not have")
    assert err.value.type == "invalid_request_error"


# --------------------------------------------------------------------------- load, time and disconnects


def test_engine_stops_a_generation_its_reader_leaves() -> None:
    torch.manual_seed(0)
    tok = CharTokenizer.train([TEXT])
    model = Slow(GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=48, n_layer=1, n_head=2, n_embd=16)).eval(), 0.01)
    engine = Engine(model, tok)

    async def read_two():
        job = engine.submit(tok.encode("It"), SamplingConfig(temperature=1.0, max_new_tokens=200, seed=0), timeout_s=30)
        got = []
        async for piece in job.pieces():
            got.append(piece)
            if len(got) == 2:
                break
        return job, got

    job, got = asyncio.run(read_two())
    assert len(got) == 2 and job.cancelled
    wait_until(lambda: engine.stats()["cancelled"] == 1)
    assert job.finish_reason == "cancelled" and job.completion_tokens < 50, "the worker stopped early"
    engine.close()


def test_a_job_the_engine_cannot_start_gets_an_error_and_the_worker_lives_on() -> None:
    # An empty stop string makes stream_text raise before any token: the caller must hear it at
    # once, not wait for its timeout, and the one worker must still serve the next request.
    torch.manual_seed(0)
    tok = CharTokenizer.train([TEXT])
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=48, n_layer=1, n_head=2, n_embd=16)).eval()
    engine = Engine(model, tok, max_concurrency=1)
    config = SamplingConfig(temperature=0.0, max_new_tokens=5)

    async def bad_then_good():
        bad = engine.submit(tok.encode("It"), config, stop=[""], timeout_s=5)
        started = time.monotonic()
        with pytest.raises(ValueError, match="empty string"):
            await bad.collect()
        waited = time.monotonic() - started
        good = engine.submit(tok.encode("It"), config, timeout_s=20)
        return bad, waited, good, await good.collect()

    try:
        bad, waited, good, text = asyncio.run(bad_then_good())
        assert waited < 4, f"the error took {waited:.1f} s: the job waited for its timeout"
        assert bad.finish_reason == "error" and good.finish_reason in ("stop", "length") and text == good.text
        wait_until(lambda: engine.stats()["running"] == 0)
        stats = engine.stats()
        assert stats["errors"] == 1 and stats["completed"] == 1, stats
        assert [t.is_alive() for t in engine._threads] == [True], "the worker died"
    finally:
        engine.close()


def test_timeouts(loaded) -> None:
    app = create_app(slow(loaded, 0.05), request_timeout_s=0.3, max_tokens_limit=200)
    with TestClient(app) as c:
        r = c.post("/v1/completions", json={"prompt": "It", "max_tokens": 200})
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        with c.stream("POST", "/v1/completions", json={"prompt": "It", "max_tokens": 200, "stream": True}) as s:
            events = sse_events(s.iter_lines())
        assert events[-1] == "[DONE]" and events[-2]["error"]["code"] == "timeout"
        wait_until(lambda: app.state.engine.stats()["timeouts"] == 2)
        assert app.state.engine.stats()["tokens"] < 40, "timed-out generations stopped early"


def test_a_failing_model_gives_500_and_the_server_lives_on(loaded) -> None:
    broken = ExportedModel(Broken(loaded.model, 0), loaded.tokenizer, loaded.config, loaded.path, loaded.name,
                           loaded.defaults)
    app = create_app(broken)
    with TestClient(app) as c:
        r = c.post("/v1/completions", json={"prompt": "It", "max_tokens": 3})
        assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
        assert "the model broke" in r.json()["error"]["message"]
        with c.stream("POST", "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}],
                                                            "stream": True}) as s:
            events = sse_events(s.iter_lines())
        assert events[-1] == "[DONE]" and events[-2]["error"]["type"] == "server_error"
        wait_until(lambda: c.get("/health").json()["stats"]["errors"] == 2)


def test_concurrent_clients_get_the_same_answers(loaded) -> None:
    app = create_app(loaded, max_concurrency=1)
    prompts = ["It was", "Who are", "the worst", "READER:"]
    with real_server(app) as url:
        def ask(prompt: str) -> dict:
            r = httpx.post(f"{url}/v1/completions", json={"prompt": prompt, "max_tokens": 8, "temperature": 0}, timeout=60)
            assert r.status_code == 200, r.text
            return r.json()

        alone = [ask(p)["choices"][0]["text"] for p in prompts]
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(ask, prompts * 2))
        wait_until(lambda: httpx.get(f"{url}/health").json()["stats"]["completed"] == 12)
    assert [r["choices"][0]["text"] for r in together] == alone * 2
    assert app.state.engine.stats()["errors"] == 0


def test_a_full_queue_answers_429(loaded) -> None:
    app = create_app(slow(loaded, 0.02), max_concurrency=1, max_queue=1)
    with real_server(app) as url:
        def ask(_: int) -> httpx.Response:
            return httpx.post(f"{url}/v1/completions", json={"prompt": "It", "max_tokens": 10, "temperature": 0}, timeout=60)

        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(ask, range(6)))
    codes = sorted(r.status_code for r in responses)
    assert 200 in codes and 429 in codes and set(codes) <= {200, 429}, codes
    busy = next(r for r in responses if r.status_code == 429)
    assert busy.json()["error"]["type"] == "rate_limit_error" and busy.headers["retry-after"] == "1"
    assert app.state.engine.stats()["rejected"] == codes.count(429)


def test_a_client_that_disconnects_mid_stream_stops_its_generation(loaded) -> None:
    app = create_app(slow(loaded, 0.03), max_tokens_limit=500)
    engine = app.state.engine
    with real_server(app) as url:
        with httpx.stream("POST", f"{url}/v1/completions", timeout=60,
                          json={"prompt": "It", "max_tokens": 500, "temperature": 1.0, "seed": 1, "stream": True}) as r:
            lines = r.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            assert json.loads(first[6:])["object"] == "text_completion"
        # the connection is closed: the server notices and the worker stops
        wait_until(lambda: engine.stats()["cancelled"] == 1, timeout_s=15)
        stats = engine.stats()
        assert stats["running"] == 0 and stats["tokens"] < 200, stats
        # and the server still answers
        assert httpx.post(f"{url}/v1/completions", json={"prompt": "It", "max_tokens": 2}, timeout=30).status_code == 200


# --------------------------------------------------------------------------- the command line


@pytest.mark.slow
def test_cli_serves_on_localhost_and_stops_cleanly(folder) -> None:
    with serving.ServerProcess(folder, args=["--max-tokens-limit", "64"]) as server:
        assert server.url.startswith("http://127.0.0.1:")
        r = httpx.post(f"{server.url}/v1/completions", json={"prompt": "It was", "max_tokens": 4}, timeout=30)
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] <= 4
        assert httpx.post(f"{server.url}/v1/completions", json={"prompt": "x", "max_tokens": 65}).status_code == 400
        process, log_file = server.process, server._log
        assert log_file.exists()
    assert process.returncode == serving.STOPPED_EXIT_CODE, server.log()[-2000:]
    assert not server.running and "serving tiny on http://127.0.0.1:" in server.log()
    assert not log_file.exists()  # the log is kept in memory, not left in the temporary folder


def test_cli_reports_errors(folder, tmp_path, capsys) -> None:
    assert cli.main(["serve", "--model", str(tmp_path / "nothing")]) == 2
    assert "missing" in capsys.readouterr().err
    busy = serving._bind("127.0.0.1", 0)
    busy.listen()
    try:
        port = busy.getsockname()[1]
        assert cli.main(["serve", "--model", str(folder), "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert "cannot listen" in err and "already uses port" in err and f"--port {port + 1}" in err
    finally:
        busy.close()
    assert cli.main(["serve", "--model", str(folder), "--host", "192.0.2.1", "--port", "0"]) == 2  # not this machine's
    assert "--host 127.0.0.1" in capsys.readouterr().err
