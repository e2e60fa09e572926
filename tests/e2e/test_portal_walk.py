"""A walk through every page of the driver portal and the support desk in chromium (issue 21): no raw
Decimal anywhere (`\\d\\.\\d{5,}`), the portal navigation and a sign-out button on every portal page, one
session shown at the same local time on every page it appears on, sign-out that works (and a GET of the
sign-out URL that asks instead of failing), and the German formats for a German browser. Screenshots land
in the artifacts directory."""
from __future__ import annotations

import re

import pytest

from disputes_app import services as dispute_services
from sessions_app.local_time import format_local_datetime
from tests.e2e.stories import expect_ok, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RAW_DECIMAL = re.compile(r"\d\.\d{5,}")


def _portal_pages(session, receipt, ticket) -> list[str]:
    return ["/portal/", "/portal/sessions/", f"/portal/sessions/{session.pk}/", "/portal/invoices/",
            "/portal/tokens/", "/portal/profile/", "/portal/plan/", "/payments/methods/", "/disputes/",
            f"/disputes/new/?invoice={receipt.pk}", f"/disputes/new/?session={session.pk}", f"/disputes/{ticket.pk}/"]


def test_driver_portal_walk_formats_navigation_time_and_sign_out(new_page, shot, paid_session):
    driver = paid_session.driver
    receipt = paid_session.receipts.get()
    ticket = dispute_services.ticket_open(by=driver, session=paid_session, reason="wrong_amount",
                                          description="The charger says 9 kWh.")
    zone = paid_session.connector.station.location.time_zone
    started = format_local_datetime(paid_session.started_at, zone, locale="en_GB").split(" (")[0]
    page = new_page()
    sign_in(page, shot, driver.username, lands_on="/portal/")
    problems = {}
    for path in _portal_pages(paid_session, receipt, ticket):
        expect_ok(page.goto(path))
        text = page.inner_text("body")
        found = []
        if raw := RAW_DECIMAL.findall(text):
            found.append(f"raw decimals {raw[:3]}")
        if page.locator("nav[aria-label=Portal] a").count() < 8:
            found.append("no portal navigation")
        if page.locator("header form.signout button").count() != 1:
            found.append("no sign-out button")
        if found:
            problems[path] = found
        shot(page, "walk-" + (path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "home"))
    assert problems == {}, problems

    # The session's start, the same local time on the list, its page, the dashboard and the dispute form.
    for path in ("/portal/", "/portal/sessions/", f"/portal/sessions/{paid_session.pk}/",
                 f"/disputes/new/?session={paid_session.pk}"):
        expect_ok(page.goto(path))
        assert started in page.inner_text("main"), (path, started)
    expect_ok(page.goto("/portal/sessions/"))
    assert "€5.11" in page.inner_text("main")

    # Removing a card asks first; dismissing the question keeps the card.
    expect_ok(page.goto("/payments/methods/"))
    remove = page.locator("#methods button", has_text="Remove").first
    remove.wait_for()
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    remove.click()
    page.wait_for_timeout(300)
    assert asked and asked[0].startswith("Remove the ") and "ending" in asked[0]
    assert page.locator("#methods button", has_text="Remove").count() == 1

    # A GET of the sign-out URL asks; the header's button signs out.
    expect_ok(page.goto("/accounts/logout/"))
    shot(page, "sign-out-asks")
    expect_ok(page.goto("/portal/"))
    page.click("header form.signout button")
    page.wait_for_url(re.compile(r"/accounts/login/$"))
    shot(page, "signed-out")
    page.goto("/portal/")
    assert "/accounts/login/" in page.url


def test_support_desk_walk_has_no_raw_decimal_and_signs_out(new_page, shot, paid_session, agent):
    ticket = dispute_services.ticket_open(by=paid_session.driver, session=paid_session, reason="wrong_amount",
                                          description="The charger says 9 kWh.")
    page = new_page()
    sign_in(page, shot, agent.username, lands_on="/support/tickets/")
    for path in ("/support/tickets/", f"/support/tickets/{ticket.pk}/", f"/support/tickets/?q={paid_session.pk}"):
        expect_ok(page.goto(path))
        text = page.inner_text("body")
        assert not RAW_DECIMAL.search(text), (path, RAW_DECIMAL.findall(text)[:3])
        shot(page, "support-" + path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-"))
    assert f"/support/tickets/{ticket.pk}/" in page.content()  # found by its session number
    page.click("header form.signout button")
    page.wait_for_url(re.compile(r"/accounts/login/$"))


def test_a_german_browser_reads_german_formats(browser, live_server, shot, paid_session):
    context = browser.new_context(base_url=live_server.url, locale="de-DE",
                                  extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"})
    try:
        page = context.new_page()
        sign_in(page, shot, paid_session.driver.username, lands_on="/portal/")
        expect_ok(page.goto(f"/portal/sessions/{paid_session.pk}/"))
        assert page.get_attribute("html", "lang") == "de"
        assert "5,11\xa0€" in page.inner_text("main")
        assert not RAW_DECIMAL.search(page.inner_text("body"))
        shot(page, "german-session")
        # No untranslated English on the German portal pages (a short list of key strings).
        for path in ("/portal/", "/portal/sessions/", f"/portal/sessions/{paid_session.pk}/", "/portal/invoices/",
                     "/portal/tokens/", "/portal/plan/", "/payments/methods/", "/disputes/"):
            expect_ok(page.goto(path))
            text = page.inner_text("body")
            english = [s for s in ("Sign out", "Dashboard", "Sessions", "Invoices", "Payment methods", "Profile",
                                   "Why it costs", "Summary", "No sessions yet") if s in text]
            assert english == [] and "Abmelden" in text, (path, english)
        # The switcher goes back to English and the choice is kept on the account.
        page.select_option("#language-choice", "en")
        page.click("header form.language button")
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") == "en" and "Sign out" in page.inner_text("header")
        paid_session.driver.refresh_from_db()
        assert paid_session.driver.language == "en"
    finally:
        context.close()
