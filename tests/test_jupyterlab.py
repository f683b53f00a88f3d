"""The notebook widgets in a real JupyterLab, in headless Chromium: what a learner's clicks and keys do.

The unit tests call the widgets' callbacks directly. This checks the whole path: JupyterLab
renders the widgets, a click travels to the kernel, and the kernel answers. In particular the
training dashboard's Stop button, clicked while the next cell awaits the run under "Run All",
the way 05 runs: a cell that blocked in plain code would hold the click until training ended.

Skips without Chromium or Playwright, unless MINIGPT_REQUIRE_BROWSER=1 (CI), like test_browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import nbformat
import pytest

from _browser import CHROMIUM_ARGS, need_browser
from _textgen import tiny_config

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "jupyterlab-test-token"

SETUP = """\
import torch
from minigpt_helpers import training
from minigpt_helpers.chat import ChatSession, ChatTemplate
from minigpt_helpers.dashboard import Dashboard
from minigpt_helpers.generation import SamplingConfig
from minigpt_helpers.model import GPT, GPTConfig
from minigpt_helpers.sampling_widgets import ChatWidget, SamplingWidget
from minigpt_helpers.tokenization import CharTokenizer
from minigpt_helpers.widgets import token_viewer

torch.set_num_threads(1)
tok = CharTokenizer.train(["Once upon a time there was a lighthouse keeper and his cat."])
torch.manual_seed(0)
gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=32)).eval()
display(token_viewer(tok, "cat"))
display(ChatWidget(ChatSession(gpt, tok, SamplingConfig(max_new_tokens=8, seed=2), ChatTemplate())))
SamplingWidget(gpt, tok, prompt="The", config=SamplingConfig(max_new_tokens=12, seed=1))"""

START = """\
config = training.TrainConfig(**{config!r})
dash = Dashboard("jupyterlab test").start(config, resume=False)"""

WAIT = """\
result = await dash.wait_async()
print("RESULT", result.stop_reason, result.step)"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path, tiny_data) -> Iterator[str]:
    """JupyterLab on a free port, serving a folder with the test notebook; yields the notebook's URL."""
    root = tmp_path / "lab"
    root.mkdir()
    # minutes of training unless stopped; the time budget ends a run whose Stop never arrives
    config = tiny_config(max_steps=100_000, eval_interval=50, time_budget_s=90).to_dict()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP),
                                         nbformat.v4.new_code_cell(START.format(config=config)),
                                         nbformat.v4.new_code_cell(WAIT)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "widgets.ipynb")
    port = _free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = open(tmp_path / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.port_retries=0", f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "jupyterlab.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "JupyterLab did not start within 90 s"
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        yield f"{url}/lab/tree/widgets.ipynb?reset&token={TOKEN}"
    finally:
        server.terminate()  # the server shuts its kernels down on the way out
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()


def test_widgets_answer_clicks_in_jupyterlab(lab) -> None:
    binary = need_browser(("jupyterlab", "JupyterLab (pip install jupyterlab)"))
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(lab)
            expect.set_options(timeout=60_000)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible()  # the kernel is ready
            page.keyboard.press("Escape")
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")

            # Stop, while the last cell awaits the run
            stop = page.locator("button", has_text="Stop (saves a checkpoint)")
            expect(stop).to_be_visible()
            expect(page.locator(".jp-OutputArea-output", has_text="step ")).not_to_have_count(0)  # it trains
            stop.click()
            expect(page.locator(".jp-OutputArea-output", has_text="RESULT stopped")).to_have_count(1, timeout=30_000)
            expect(page.locator("button", has_text="stopping...")).to_be_disabled()

            # the sampling widget: a new prompt, Generate, the text comes back
            widget = page.locator(".jp-OutputArea-output").filter(has=page.locator("button", has_text="Generate"))
            widget.locator("textarea").fill("Once upon")
            widget.locator("button", has_text="Generate").click()
            expect(widget).to_contain_text("tokens; finished:")  # length, or stop at end-of-text
            expect(widget.locator("pre, .widget-html-content").filter(has_text="Once upon")).not_to_have_count(0)

            # the token viewer re-colours as you type
            viewer = page.locator(".jp-OutputArea-output").filter(has_text="tokens in vocabulary")
            expect(viewer).to_contain_text("3 tokens, 1.00 bytes/token")
            viewer.locator("textarea").fill("lighthouse keeper")
            expect(viewer).to_contain_text("17 tokens, 1.00 bytes/token")

            # the chat: a message sent with Enter, another with the Send button; each one turn
            chat_box = page.locator(".jp-OutputArea-output").filter(has=page.locator("button", has_text="New chat"))
            chat_box.locator("input[type=text]").fill("Where is the cat?")
            chat_box.locator("input[type=text]").press("Enter")
            expect(chat_box).to_contain_text("READER: Where is the cat?")
            chat_box.locator("input[type=text]").fill("And the keeper?")
            chat_box.locator("button", has_text="Send").click()
            expect(chat_box).to_contain_text("READER: And the keeper?")
            expect(chat_box.locator("b", has_text="LIBRARIAN:")).to_have_count(2)
            assert chat_box.inner_text().count("Where is the cat?") == 1  # sent once, not on Enter and again
            assert page.locator("text=Error displaying widget").count() == 0
        finally:
            browser.close()
