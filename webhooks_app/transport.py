"""The HTTP POST of a webhook, with the standard library's http.client (no new dependency).

Redirects are not followed (a 3xx is an answer like any other non-2xx: the operator fixes the URL),
https certificates are verified, headers go out exactly as named (Evbilling-Signature). Unless
WEBHOOKS_ALLOW_PRIVATE_HOSTS is on, a host that resolves to a loopback, private, link-local or otherwise
non-public address is refused before connecting, so operator staff cannot make the platform call its
own internal services. (The connection resolves the name again; a host that changes its answer in
between is not caught — see docs/webhooks.md.)
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

EXCERPT_CHARS = 1000
_READ_BYTES = 4096


class TransportError(Exception):
    """No HTTP answer: refused, unreachable, timed out, or not allowed; the message says which."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body_excerpt: str


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _check_public(parts: SplitResult) -> None:
    try:
        infos = socket.getaddrinfo(parts.hostname, _port(parts), proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise TransportError(f"Cannot resolve {parts.hostname}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise TransportError(f"Refused: {parts.hostname} resolves to the non-public address {address}.")


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url`; returns the answer whatever its status, raises TransportError when there
    is none (refused, unreachable, TLS failure, timeout, not allowed)."""
    try:
        parts = urlsplit(url)
        port = _port(parts)
    except ValueError as error:
        raise TransportError(f"Refused: {url} is not a valid URL ({error}).") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"Refused: {url} is not an http(s) URL.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_HOSTS:
        _check_public(parts)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        return Answer(status=response.status,
                      body_excerpt=response.read(_READ_BYTES).decode("utf-8", errors="replace")[:EXCERPT_CHARS])
    except TimeoutError as error:
        raise TransportError(f"Timed out after {timeout:g} s.") from error
    except ssl.SSLError as error:
        raise TransportError(f"TLS failed: {error}"[:255]) from error
    except (OSError, http.client.HTTPException) as error:
        raise TransportError(f"Could not connect: {error or type(error).__name__}"[:255]) from error
    finally:
        connection.close()
