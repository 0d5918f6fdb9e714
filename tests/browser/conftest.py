"""Headless Chromium (Debian's package) driven by Playwright, against pytest-django's live server.

Playwright's sync API runs an event loop in the test's thread; Django then refuses synchronous
database calls there ("SynchronousOnlyOperation") although nothing async touches the database, so
the browser tests allow them. The live server binds 127.0.0.1, an address the scheduler's local-host
guard lets through. Screenshots go to ``test-artifacts/browser/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, require_executable

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-test-password"  # a throwaway user of the test database


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium per test module; skipped without Chromium, a failure in CI."""
    executable = require_executable("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    """A fresh browser tab (own cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


@pytest.fixture
def screenshot(request) -> object:
    """``screenshot(page, "name")`` saves a full-page PNG named after the test and ``name``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(tab, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)


def log_in(tab, user) -> None:
    """Log in through the admin's own login form."""
    tab.goto("/admin/login/?next=/admin/")
    tab.fill("#id_username", user.get_username())
    tab.fill("#id_password", PASSWORD)
    tab.click("input[type=submit]")
    tab.wait_for_url("**/admin/")
