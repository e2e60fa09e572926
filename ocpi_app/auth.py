"""Credentials tokens: generating them, hashing the ones we only verify, and reading the Authorization header.

OCPI 2.2.1 sends `Authorization: Token <base64 of the credentials token>`; 2.1.1 and 2.2 sent the token
itself, and many platforms still do. We take the header's value base64-decoded first and as it stands
second: a token matches only through its hash, so trying both lets a 2.2.1 client and a lenient one in
and nobody else. Tokens we issue are 43 URL-safe characters (256 bits), so an unsalted SHA-256 is a safe
hash to look them up by.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from .models import Partner


def token_generate() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authorization_value(token: str) -> str:
    """The Authorization header we send: the token base64-encoded, as 2.2.1 asks."""
    return "Token " + base64.b64encode(token.encode()).decode()


def _candidates(header: str) -> list[str]:
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value or " " in value:
        return []
    found = []
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded and decoded.isprintable():
        found.append(decoded)
    found.append(value)
    return found


def partner_for_authorization(header: str | None) -> tuple[Partner, str] | None:
    """The partner whose token the header carries, with the token as sent (decoded); None if nobody's."""
    for token in _candidates(header or ""):
        partner = Partner.objects.select_related("operator").filter(token_hash=token_hash(token)).first()
        if partner is not None:
            return partner, token
    return None
