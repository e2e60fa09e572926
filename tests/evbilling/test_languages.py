"""Languages (issue 21): the browser's Accept-Language decides for every anonymous page, `<html lang>` follows the
active language on every page, and an unknown address answers with the product's own page in that language."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from tests.e2e.german_keys import GERMAN_KEYS

pytestmark = pytest.mark.django_db

ANONYMOUS = {"/accounts/login/": "sign_in", "/accounts/password_reset/": "password_reset",
             "/accounts/password_reset/done/": None, "/accounts/reset/MQ/set-password/": None,
             "/accounts/reset/done/": None, "/no-such-page/": "not_found"}
GERMAN = "de-DE,de;q=0.9,en;q=0.5"


@pytest.mark.parametrize("url", ANONYMOUS)
def test_every_anonymous_page_follows_the_browsers_language(client, url):
    german = client.get(url, HTTP_ACCEPT_LANGUAGE=GERMAN)
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")
    assert german.status_code == english.status_code and german.status_code in (200, 404)
    german, english = german.content.decode(), english.content.decode()
    assert '<html lang="de">' in german and '<html lang="en">' in english
    assert "Abmelden" not in german  # nobody is signed in
    for english_key, german_key in GERMAN_KEYS.get(ANONYMOUS[url] or "", []):
        assert german_key in german and english_key not in german, (url, german_key)
        assert english_key in english, (url, english_key)


def test_the_language_cookie_wins_over_the_browser(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    assert '<html lang="de">' in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_every_page_template_states_its_language():
    """Every template that writes an `<html>` element takes its lang from the active language (the admin's
    printable QR sheet aside: the admin's own pages are the admin's)."""
    fixed = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        if "<html" in text and 'lang="{{ LANGUAGE_CODE }}"' not in text and "admin/" not in str(path):
            fixed.append(str(path))
    assert fixed == []
