"""The languages evbilling speaks and the Babel locale each one formats numbers, money and dates in.

Django's active language (LocaleMiddleware, or the driver's stored choice) decides; Babel formats. English
uses British conventions (`€16.69`, `29 Nov 2026, 14:05`): a 24-hour clock and day-month-year, as the
operators' drivers in Europe read them; German `16,69 €`, `29.11.2026, 14:05`.
"""
from __future__ import annotations

from django.conf import settings
from django.utils import translation

BABEL_LOCALES = {"en": "en_GB", "de": "de_DE"}

# Countries whose (main) language we speak, for texts read on the spot rather than by an account holder
# (the QR stickers at a charger). Switzerland is taken as German, its largest language.
COUNTRY_LANGUAGES = {"DE": "de", "AT": "de", "CH": "de", "LI": "de"}


def babel_locale(language: str | None = None) -> str:
    """The Babel locale of a language code (the active one by default); unknown codes fall back to English."""
    code = (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()
    return BABEL_LOCALES.get(code, BABEL_LOCALES["en"])


def country_language(country: str) -> str:
    """The language printed for readers in a country (ISO 3166-1 alpha-2): its own where we speak it, else the
    default language."""
    return COUNTRY_LANGUAGES.get((country or "").upper(), settings.LANGUAGE_CODE)
