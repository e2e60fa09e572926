"""Signatures of outbound webhooks, in Stripe's scheme, and the check a receiver runs.

Each request carries `Evbilling-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256(endpoint secret, "<t>.<raw body>"). Signing the timestamp with the body lets a receiver
refuse replays of an old request (`tolerance`); comparing in constant time keeps the secret from
leaking through timing. This module uses only the standard library so receivers can copy it.
"""
from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Evbilling-Signature"
EVENT_ID_HEADER = "Evbilling-Event-Id"
EVENT_TYPE_HEADER = "Evbilling-Event-Type"
DEFAULT_TOLERANCE = 300  # seconds a signed request stays acceptable


class SignatureError(ValueError):
    """The request is not signed by the holder of the secret, or not recently; the message says which."""


def signature(*, secret: str, timestamp: int, payload: bytes) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(*, secret: str, payload: bytes, timestamp: int | None = None) -> str:
    """The Evbilling-Signature header value for `payload` (the exact bytes sent)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, payload=payload)}"


def verify(*, payload: bytes, header: str, secret: str, tolerance: int = DEFAULT_TOLERANCE,
           now: float | None = None) -> int:
    """Check a received request: `payload` is the raw body (before any JSON parsing), `header` the
    Evbilling-Signature value. Returns the signed timestamp; raises SignatureError when the header is
    malformed, the timestamp is further than `tolerance` seconds from now, or no v1 signature matches."""
    timestamp, candidates = None, []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("Malformed signature header: expected t=<timestamp>,v1=<signature>.")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"Timestamp {timestamp} is more than {tolerance} s away from now.")
    expected = signature(secret=secret, timestamp=timestamp, payload=payload)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("No signature matches the payload.")
    return timestamp
