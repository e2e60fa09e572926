"""Every page a driver or a support agent uses, checked in a real browser for accessibility and for a phone
screen: axe-core (vendored in tests/e2e/vendor, run inside chromium) finds no serious or critical WCAG 2.x
A/AA violation, and at 375 px wide no page scrolls sideways. Screenshots of each page at both widths are
kept in the artifacts directory."""
from __future__ import annotations

from pprint import pformat

import pytest

from disputes_app import services as dispute_services
from tests.e2e.checks import DESKTOP, PHONE, axe_violations, sideways_overflow
from tests.e2e.stories import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

def check_pages(page, shot, paths: list[str], label: str) -> dict[str, list]:
    """Visit each path at desktop and phone width; return the problems found per page (empty: none)."""
    problems: dict[str, list] = {}
    for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.status == 200, (path, response and response.status)
            found = axe_violations(page)
            if viewport is PHONE and (overflow := sideways_overflow(page)):
                found.append({"id": "sideways-scroll", "impact": "serious", "help": overflow})
            if found:
                problems[f"{viewport_name} {path}"] = found
            shot(page, f"{label}-{viewport_name}-{path.strip('/').replace('/', '-') or 'home'}")
    return problems


def test_driver_pages_pass_axe_and_fit_a_phone(new_page, shot, paid_session):
    driver = paid_session.driver
    receipt = paid_session.receipts.get()
    ticket = dispute_services.ticket_open(by=driver, session=paid_session, reason="wrong_amount",
                                          description="The charger says 9 kWh.")
    page = new_page()
    login_problems = check_pages(page, shot, ["/accounts/login/", "/accounts/password_reset/"], "anonymous")
    sign_in(page, shot, driver.username, lands_on="/portal/")
    problems = check_pages(page, shot, [
        "/portal/", "/portal/sessions/", f"/portal/sessions/{paid_session.pk}/", "/portal/invoices/",
        "/portal/tokens/", "/portal/profile/", "/portal/plan/", "/payments/methods/",
        "/disputes/", f"/disputes/new/?invoice={receipt.pk}", f"/disputes/{ticket.pk}/", "/accounts/logout/",
    ], "driver")
    problems.update(login_problems)
    assert problems == {}, pformat(problems)


def test_support_pages_pass_axe_and_fit_a_phone(new_page, shot, paid_session, agent):
    ticket = dispute_services.ticket_open(by=paid_session.driver, session=paid_session, reason="wrong_amount",
                                          description="The charger says 9 kWh.")
    page = new_page()
    sign_in(page, shot, agent.username, lands_on="/support/tickets/")
    problems = check_pages(page, shot, ["/support/tickets/", f"/support/tickets/{ticket.pk}/"], "support")
    assert problems == {}, pformat(problems)
