"""Playwright driving Debian's Chromium against the real app, served on 127.0.0.1 from a thread.

Skipped where /usr/bin/chromium or the playwright package is missing, and then said in one line at
the end of pytest's output; ``make test`` installs Chromium where it may (``.ci/chromium``) and CI
requires it, so in CI these tests run.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def served(app):
    """``app`` on a free port of 127.0.0.1 from a thread, while the block runs: yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def base_url(app):
    """The fixture index's app on a free port of 127.0.0.1, for the whole session."""
    with served(app) as url:
        yield url


SKIPPED: list[str] = []  # why the browser tests did not run, for the last lines of pytest's output


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        SKIPPED.append(f"{CHROMIUM} is missing; install it with `sudo apt-get install chromium fonts-liberation` "
                       "(or run `make test` as root), then run `make test` again")
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run browser tests")
    try:
        from playwright import sync_api
    except ImportError:
        SKIPPED.append("the playwright package is missing; run `make install` (or pip install -r requirements.txt)")
        pytest.skip("the playwright package is missing: pip install -r requirements.txt")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Tab:
    """A fresh page, with what it logged and requested."""

    page: object
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture()
def tab(browser, base_url):
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    recorded = Tab(page)
    page.on("console", lambda message: recorded.console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: recorded.console_errors.append(str(error)))
    page.on("request", lambda request: recorded.requests.append(request.url))

    def dismiss(dialog):
        recorded.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    yield recorded
    context.close()


def pytest_terminal_summary(terminalreporter) -> None:
    """One line before pytest's last: which browser tests were skipped and how to run them."""
    if SKIPPED:
        skipped = sum(1 for report in terminalreporter.stats.get("skipped", ()) if "tests/browser/" in report.nodeid)
        terminalreporter.write_line(f"browser tests skipped ({skipped}): {SKIPPED[0]}", yellow=True)
