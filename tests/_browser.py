"""Headless Chromium for the browser tests (Debian's chromium, driven by Playwright).

A test asks for it with ``need_browser(...)``: it skips saying what is missing, unless
MINIGPT_REQUIRE_BROWSER=1 (CI sets it), where it fails, so no page is ever silently untested.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("MINIGPT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def need_browser(*modules: tuple[str, str]) -> str:
    """The Chromium binary, or skip (fail under MINIGPT_REQUIRE_BROWSER=1) saying what is missing.

    ``modules``: (import name, how to install it) of the other packages the test needs."""
    missing = []
    for module, hint in (("playwright.sync_api", "the playwright package (pip install playwright)"), *modules):
        try:
            __import__(module)
        except ImportError:
            missing.append(hint)
    binary = chromium_path()
    if binary is None:
        missing.append("Chromium (Debian/Ubuntu: apt-get install chromium; or set MINIGPT_CHROMIUM to a binary)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("MINIGPT_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (MINIGPT_REQUIRE_BROWSER=1 forbids skipping)")
        pytest.skip(reason)
    assert binary is not None
    return binary
