"""Browser fixtures: Playwright for Python driving Debian's Chromium (never a downloaded browser)
against pytest-django's live server. Without Playwright or Chromium the tests skip and say how to
install them; CI installs both, so there they always run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TRACEVIEW_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("Playwright for Python is not installed: `.venv/bin/pip install playwright` "
                "(do not run `playwright install`: the tests drive Debian's Chromium)")
    if not os.path.exists(CHROMIUM):
        return (f"Chromium not found at {CHROMIUM}: `apt-get update && apt-get install -y "
                "chromium` (or set TRACEVIEW_CHROMIUM)")
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module. Playwright's sync API keeps an event loop running in this
    thread while it is open, which breaks asyncio.run() in any later test (the SDK's), so it must
    not outlive the browser tests; and the ORM calls these tests make between browser actions are
    plain synchronous code, so Django's async guard stands aside only meanwhile."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--no-first-run", "--disable-dev-shm-usage"],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium, live_server, user):
    """A logged-in page, recording dialogs and CSP complaints so tests can assert none."""
    context = chromium.new_context(viewport={"width": 1500, "height": 1000})
    context.set_default_timeout(15_000)
    # Assertions wait as long as actions: on a loaded CI machine plotly may take over 5 s to draw.
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    pg = context.new_page()
    pg.dialogs = []
    pg.console_errors = []

    def on_dialog(dialog):
        pg.dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.goto(f"{live_server.url}/login/")
    pg.fill("input[name=username]", "alice")
    pg.fill("input[name=password]", "s3cret-pass!")
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{live_server.url}/")
    pg.base = live_server.url
    yield pg
    context.close()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
