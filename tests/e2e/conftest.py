"""Browser tests: Playwright (sync API) driving Debian's chromium against pytest-django's `live_server`.

Playwright cannot download its own browser here, so it always launches /usr/bin/chromium (or $CHROMIUM).
Without it the tests skip locally with the reason, and fail in CI (CI set): `.ci/run` installs it.
Screenshots of every page land in $E2E_ARTIFACTS (default tests/e2e/artifacts/, gitignored)."""
from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from billing_app.models import Invoice
from sessions_app import services as session_services
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver, payg_session_stopped

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS") or Path(__file__).resolve().parent / "artifacts")


def _missing_browser(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: .ci/run must install chromium)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")  # Playwright keeps an event loop running: end it with the e2e module
def browser():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _missing_browser(f"no chromium at {CHROMIUM}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser("playwright is not installed: pip install -r requirements.txt")
    # Playwright's sync API keeps an asyncio loop running in this thread; the tests' own ORM calls are
    # still plain synchronous code, so let Django allow them while the browser is up.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def artifacts_dir(request):
    path = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Shots:
    """Numbered full-page screenshots of one test, in the order the pages were seen (JPEG where there are
    many: smaller and quicker to write)."""

    def __init__(self, directory: Path, *, jpeg: bool = False):
        self.directory, self.count, self.jpeg = directory, 0, jpeg

    def __call__(self, page, name: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.{'jpg' if self.jpeg else 'png'}"
        page.screenshot(path=str(path), full_page=True, **({"type": "jpeg", "quality": 70} if self.jpeg else {}))
        return path


@pytest.fixture
def new_page(browser, live_server, artifacts_dir):
    """`new_page()` opens a page in a fresh browser context (its own cookies: one per signed-in person)."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server.url, accept_downloads=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shot(artifacts_dir):
    return Shots(artifacts_dir)


@pytest.fixture
def paid_session(stripe_server, operator, payg_station, payg_tariff):
    """11 kWh, 5.11 EUR incl. VAT: held on the card, captured at stop, the receipt paid (committed for real:
    the live server's thread must see it, and on-commit hooks run at each commit)."""
    driver = payg_driver(operator)
    token = factories.IdTokenFactory(operator=operator, driver=driver)
    assert session_services.token_authorize(station=payg_station, uid=token.uid).accepted
    session = payg_session_stopped(payg_station, token, ref="tx-e2e")
    receipt = Invoice.objects.get(session=session, kind=Invoice.Kind.RECEIPT)
    assert (receipt.state, receipt.total_incl_vat) == (Invoice.State.PAID, Decimal("5.11"))
    return session


@pytest.fixture
def agent(operator):
    agent = factories.SupportFactory(username="sam-support")
    agent.supported_operators.add(operator)
    return agent
