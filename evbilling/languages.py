"""The languages evbilling speaks and the Babel locale each one formats numbers, money and dates in.

Django's active language (LocaleMiddleware, or the driver's stored choice) decides; Babel formats. English
uses British conventions (`€16.69`, `29 Nov 2026, 14:05`): a 24-hour clock and day-month-year, as the
operators' drivers in Europe read them; German `16,69 €`, `29.11.2026, 14:05`.
"""
from __future__ import annotations

from django.conf import settings
from django.utils import translation

BABEL_LOCALES = {"en": "en_GB", "de": "de_DE"}


def babel_locale(language: str | None = None) -> str:
    """The Babel locale of a language code (the active one by default); unknown codes fall back to English."""
    code = (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0].lower()
    return BABEL_LOCALES.get(code, BABEL_LOCALES["en"])
