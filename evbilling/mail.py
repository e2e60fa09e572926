"""E-mail to several readers: one message each, in the reader's language.

A reader's language is the one on their account (`User.language`) or one the caller knows for an address
without an account (a company's billing address: `Company.language`); otherwise the site's default. The text is
rendered once per language, not once per reader, and each reader gets their own message, so nobody sees the
other addresses.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.utils import translation


def reader_languages(addresses: Iterable[str], *, known: Mapping[str, str] | None = None) -> dict[str, str]:
    """address -> language code, in the order given (duplicates dropped): the language of the account with that
    address, else `known[address]`, else the default language."""
    addresses = list(dict.fromkeys(a for a in addresses if a))
    known = {address.lower(): language for address, language in (known or {}).items() if language}
    on_accounts = {}
    for email, language in (get_user_model().objects.filter(email__in=addresses)
                            .exclude(language="").order_by("pk").values_list("email", "language")):
        on_accounts.setdefault(email.lower(), language)
    return {address: on_accounts.get(address.lower()) or known.get(address.lower()) or settings.LANGUAGE_CODE
            for address in addresses}


def messages_in_languages(*, readers: Mapping[str, str],
                          render: Callable[[], tuple[str, str]]) -> list[EmailMessage]:
    """One message per reader; `render()` gives (subject, body) and is called once per language, with that
    language active."""
    texts: dict[str, tuple[str, str]] = {}
    messages = []
    for address, language in readers.items():
        code = language or settings.LANGUAGE_CODE
        if code not in texts:
            with translation.override(code):
                texts[code] = render()
        subject, body = texts[code]
        messages.append(EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address]))
    return messages


def send_messages(messages: list[EmailMessage]) -> int:
    """Send over one connection; the number sent."""
    if not messages:
        return 0
    return get_connection().send_messages(messages) or 0


def send_in_languages(*, readers: Mapping[str, str], render: Callable[[], tuple[str, str]]) -> int:
    return send_messages(messages_in_languages(readers=readers, render=render))
