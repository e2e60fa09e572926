"""The support desk in German (issue 21): the queue, a ticket with its evidence, the forms' labels, choices and
errors, in the language on the agent's account; the same pages in English for everyone else."""
from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from disputes_app import services
from tests.disputes_app.conftest import OPENED
from tests.e2e.german_keys import GERMAN_KEYS

pytestmark = pytest.mark.django_db


def _german(client, user):
    user.language = "de"
    user.save(update_fields=["language"])
    client.force_login(user)
    return client


def _assert_german(page: str, *areas: str) -> None:
    assert '<html lang="de">' in page
    for area in ("header", *areas):
        for english, german in GERMAN_KEYS[area]:
            assert german in page, (area, german)
            assert english not in page, (area, english)


def test_the_queue_in_german(client, support, ticket):
    page = _german(client, support).get(reverse("disputes:support_queue")).content.decode()
    _assert_german(page, "support_queue")
    for german in ("Offen", "Im Plan", "In Bearbeitung", "niemand (nicht zugewiesen)"):
        assert german in page, german


def test_a_ticket_in_german(client, support, driver, session):
    with translation.override("de"):  # a German driver opens it: the subject is written in their language
        ticket = services.ticket_open(by=driver, session=session, reason="wrong_amount", description="9 kWh!",
                                      now=OPENED)
    services.message_post(ticket=ticket, author=support, body="Checking.", internal=True)
    page = _german(client, support).get(reverse("disputes:support_ticket", args=[ticket.pk])).content.decode()
    _assert_german(page, "support_ticket")
    for german in ("interne Notiz", "Lade- und Standzeiten", "Zählerstand (kWh)", "— auswählen —",
                   "Erstattung", "Gutschrift", "Neu berechnet", "Verschieben nach", "In Bearbeitung",
                   f"Falscher Betrag — Ladevorgang {session.pk}", "Falscher Betrag</td>",
                   "Statuswechsel: — → Offen", "5,11\xa0€ inkl. USt."):
        assert german in page, german
    for english in ("Open →", "incl. VAT", "Evidence (frozen", "No messages yet", "Started / stopped"):
        assert english not in page, english


def test_a_subject_is_stored_in_the_default_language_and_read_in_the_readers(client, support, driver, session):
    with translation.override("de"):
        ticket = services.ticket_open(by=driver, session=session, reason="not_mine", description="Nicht ich.",
                                      now=OPENED)
    assert ticket.subject == f"Session not mine — session {session.pk}"
    page = _german(client, support).get(reverse("disputes:support_queue")).content.decode()
    assert f"Ladevorgang nicht von mir — Ladevorgang {session.pk}" in page and "Session not mine" not in page


def test_a_refused_resolution_is_explained_in_german(client, support, ticket):
    url = reverse("disputes:support_ticket", args=[ticket.pk])
    response = _german(client, support).post(url, {"action": "resolve", "resolve-kind": "reject",
                                                    "resolve-explanation": ""})
    assert response.status_code == 400
    assert "Eine Ablehnung braucht eine Begründung für den Fahrer." in response.content.decode()
    response = client.post(url, {"action": "resolve", "resolve-kind": "refund", "resolve-amount": "0.001"})
    assert "Der Betrag hat höchstens zwei Nachkommastellen." in response.content.decode()


def test_the_guest_dispute_page_in_german(client, support):
    page = _german(client, support).get(reverse("guests:support_dispute")).content.decode()
    _assert_german(page, "support_guest_dispute")


def test_the_support_pages_stay_english_for_an_english_agent(client, support, ticket):
    client.force_login(support)
    page = client.get(reverse("disputes:support_ticket", args=[ticket.pk])).content.decode()
    assert '<html lang="en">' in page
    for english, _german in GERMAN_KEYS["support_ticket"]:
        assert english in page, english
