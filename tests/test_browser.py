"""The web page in a real headless browser (Debian's Chromium, driven by Playwright): type a
prompt, press Generate, text streams in; the chat mode answers; errors and the API key show.

Skips when Chromium or the playwright package is missing, unless MINIGPT_REQUIRE_BROWSER=1
(CI sets it): then it fails, so the page is never silently untested.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from _browser import CHROMIUM_ARGS, need_browser
from _servers import real_server
from minigpt_helpers.checkpoint import save_checkpoint
from minigpt_helpers.export import export_model
from minigpt_helpers.model import GPT, GPTConfig
from minigpt_helpers.tokenization import CharTokenizer

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("one_torch_thread")]

TEXT = "It was the best of times, it was the worst of times. 'Who are you?' said the Caterpillar.\n" * 3
KEY = "sk-browser-test-123"
SERVE_PACKAGES = [(m, f"the {m} package (pip install 'minigpt-helpers[serve]')") for m in ("fastapi", "uvicorn")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A tiny exported model that never ends a text on its own (so some text always appears)."""
    root = tmp_path_factory.mktemp("browser")
    tok = CharTokenizer.train([TEXT])
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=64, n_layer=1, n_head=2, n_embd=32)).eval()
    with torch.no_grad():
        # The final norm's output then sums to n_embd; a constant row of -1 for end-of-text gives
        # that token a logit of -32, far below the others: it is never drawn.
        model.transformer.ln_f.bias.fill_(1.0)
        model.transformer.wte.weight[tok.eot_id].fill_(-1.0)
    save_checkpoint(root / "ckpt", model, tok, meta={"run": "tiny", "step": 1})
    return export_model(root / "ckpt", root / "tiny", generation={"max_new_tokens": 20})


@contextlib.contextmanager
def _server(folder: Path, **options) -> Iterator[str]:
    from minigpt_helpers import serving

    with real_server(serving.create_app(folder, device="cpu", **options)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    binary = need_browser(*SERVE_PACKAGES)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=binary, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.js_errors = errors
    yield page
    context.close()


def _wait_done(page) -> None:
    page.wait_for_selector("body[data-state=done]")


def test_type_a_prompt_press_generate_text_appears(folder, page) -> None:
    with _server(folder) as url:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        page.wait_for_selector("body[data-state=ready]")
        assert "tiny" in page.inner_text("#model-name")
        assert page.is_hidden("#key-row"), "no API key field when the server needs none"
        page.fill("#prompt", "It was the")
        page.fill("#max-tokens", "15")
        page.fill("#seed", "3")
        page.click("#generate")
        page.wait_for_function("document.getElementById('output-text').textContent.length > 0")
        _wait_done(page)
        text = page.inner_text("#output-text")
        assert len(text) > 0
        assert page.inner_text("#output-prompt") == "It was the"
        stats = page.inner_text("#stats")
        assert "finish: length" in stats and "tokens/s" in stats
        assert page.is_hidden("#error")
        page.click("#tab-chat")  # each tab has its own status line
        assert page.inner_text("#stats") == ""
        page.click("#tab-complete")
        assert page.inner_text("#stats") == stats
        # the same seed over the API gives the same text: the page streamed the real answer
        import httpx

        body = {"prompt": "It was the", "max_tokens": 15, "seed": 3,
                "temperature": float(page.input_value("#temperature")), "top_p": float(page.input_value("#top-p")),
                "top_k": int(page.input_value("#top-k")),
                "repetition_penalty": float(page.input_value("#repetition-penalty"))}
        api = httpx.post(f"{url}/v1/completions", json=body, timeout=30).json()
        assert api["choices"][0]["text"] == page.text_content("#output-text")
    assert all(r.startswith(url) for r in requests), f"the page loaded something remote: {requests}"
    assert page.js_errors == []


def test_chat_mode(folder, page) -> None:
    with _server(folder) as url:
        page.goto(url)
        page.wait_for_selector("body[data-state=ready]")
        page.click("#tab-chat")
        assert page.is_visible("#chat-pane") and page.is_hidden("#complete-pane")
        for n, message in enumerate(["Hello there!", "Who are you?"], start=1):
            page.fill("#chat-input", message)
            page.click("#chat-send")
            page.wait_for_function(
                f"document.querySelectorAll('.bubble.assistant .text').length === {n} && "
                f"document.querySelectorAll('.bubble.assistant .text')[{n - 1}].textContent.length > 0")
            _wait_done(page)
        assert page.locator(".bubble.user").all_inner_texts()[-1].endswith("Who are you?")
        assert "finish:" in page.inner_text("#stats")
        page.click("#chat-reset")
        assert page.locator(".bubble").count() == 0
    assert page.js_errors == []


def test_errors_and_the_api_key_show_on_the_page(folder, page) -> None:
    with _server(folder, api_key=KEY, max_tokens_limit=50) as url:
        page.goto(url)
        page.wait_for_selector("body[data-state=ready]")
        assert page.is_visible("#key-row")
        assert "401" in page.inner_text("#error")  # no key yet: /v1/models refused
        assert page.get_attribute("body", "data-model-loads") == "1"
        page.fill("#api-key", KEY)
        page.press("#api-key", "Tab")  # leaving the field fires its change event: the model reloads
        page.wait_for_selector("body[data-model-loads='2']")
        assert page.is_hidden("#error")
        page.fill("#max-tokens", "500")
        page.click("#generate")
        _wait_done(page)
        error = page.inner_text("#error")
        assert "400" in error and "max_tokens" in error
        # A model reload that ends after a generation (the key field fires one whenever it loses
        # focus after an edit) keeps the generation's error: it clears only its own.
        page.dispatch_event("#api-key", "change")
        page.wait_for_selector("body[data-model-loads='3']")
        assert page.inner_text("#error") == error
        for key, loads, shown in (("sk-wrong", 4, "401"), (KEY, 5, None)):
            page.fill("#api-key", key)
            page.dispatch_event("#api-key", "change")
            page.wait_for_selector(f"body[data-model-loads='{loads}']")
            assert (shown in page.inner_text("#error")) if shown else page.is_hidden("#error")
        page.fill("#max-tokens", "5")
        page.click("#generate")
        _wait_done(page)
        assert page.is_hidden("#error") and len(page.text_content("#output-text")) > 0
