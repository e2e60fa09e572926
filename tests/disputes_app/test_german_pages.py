"""Every page a driver or a support agent reaches, rendered in German (issue 21): the visible text and the labels a
screen reader reads hold no English sentence, and each page area shows its key German strings
(`tests/e2e/german_keys.py`). The fleet portal has its own (tests/billing_app/test_fleet_portal.py), the guest
pages theirs (tests/guests_app/test_german.py)."""
from __future__ import annotations

import re

import pytest
from django.utils import translation

from billing_app import invoicing
from disputes_app import services
from tests.disputes_app.conftest import OPENED
from tests.e2e.german_keys import GERMAN_KEYS

pytestmark = pytest.mark.django_db

#: English words that no German page of ours contains (user data aside: the test writes it in German): function
#: words in lower case (not "was", "per": German has them too), label words as English labels begin.
ENGLISH = re.compile(r"\b(the|your|you|and|with|for|not|are|this|that|from|into|of|to|no|yet|all|incl|excl|"
                     r"signed|session|invoice|receipt|card|payment|plan)\b|\b(The|Your|You|No|Full name|Address|"
                     r"City|Country|Company|State|Session|Invoice|Receipt|Total|Energy|Card|Payment|None|Nothing|"
                     r"Open|Closed|Resolved|Driver|Sign out)\b")
ALLOWED = {"SoC", "OCPI", "OCMF", "PDF", "XML", "CSV", "kWh", "SLA"}


def visible_text(html: str) -> list[str]:
    """The page's text lines and the labels read out (aria-label, title, placeholder, data-confirm)."""
    html = re.sub(r"(?s)<script.*?</script>|<style.*?</style>|<pre>.*?</pre>|<option[^>]*lang=[^>]*>.*?</option>",
                  " ", html)
    labels = re.findall(r'(?:aria-label|placeholder|title|data-confirm)="([^"]*)"', html)
    text = re.sub(r"<[^>]+>", "\n", html)
    return [line.strip() for line in [*text.splitlines(), *labels] if line.strip()]


def english_lines(html: str) -> list[str]:
    return [line for line in visible_text(html) if ENGLISH.search(line) and line not in ALLOWED]


@pytest.fixture
def german_ticket(driver, session, support):
    with translation.override("de"):
        ticket = services.ticket_open(by=driver, session=session, reason="wrong_amount",
                                      description="Mein Auto zeigt 9 kWh.", now=OPENED)
    services.message_post(ticket=ticket, author=support, body="Wir prüfen das.")
    return ticket


def _pages(client, user, urls: list[str]) -> dict[str, str]:
    user.language = "de"
    user.save(update_fields=["language"])
    client.force_login(user)
    pages = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()
    return pages


def test_every_driver_page_in_german(client, driver, session, german_ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invoicing.receipt_issue_for_session(session_id=session.pk)
    pages = _pages(client, driver, [
        "/portal/", "/portal/sessions/", f"/portal/sessions/{session.pk}/", "/portal/invoices/", "/portal/tokens/",
        "/portal/profile/", "/portal/plan/", "/payments/methods/", "/disputes/", f"/disputes/{german_ticket.pk}/",
        f"/disputes/new/?session={session.pk}"])
    for url, page in pages.items():
        assert '<html lang="de">' in page, url
        assert english_lines(page) == [], url
        for english, german in GERMAN_KEYS["header"] + GERMAN_KEYS["portal"]:
            assert german in page and english not in page, (url, german)
    for english, german in GERMAN_KEYS["evidence"]:
        page = pages[f"/disputes/{german_ticket.pk}/"]
        assert german in page and english not in page, german


def test_every_support_page_in_german(client, support, german_ticket):
    pages = _pages(client, support, ["/support/tickets/", f"/support/tickets/{german_ticket.pk}/",
                                     "/support/guest-receipts/"])
    areas = {"/support/tickets/": "support_queue", f"/support/tickets/{german_ticket.pk}/": "support_ticket",
             "/support/guest-receipts/": "support_guest_dispute"}
    for url, page in pages.items():
        assert '<html lang="de">' in page, url
        assert english_lines(page) == [], url
        for english, german in GERMAN_KEYS["header"] + GERMAN_KEYS[areas[url]]:
            assert german in page and english not in page, (url, german)
