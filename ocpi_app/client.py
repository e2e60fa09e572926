"""Requests to a partner's OCPI platform: the Authorization header (token base64-encoded, as 2.2.1 asks),
fresh `X-Request-ID` / `X-Correlation-ID`, the routing headers on functional modules, and the answer read
as the OCPI envelope with exact decimals.

`PartnerUnreachable` means no usable answer (refused, timed out, not JSON, not an envelope); an answer in
the envelope comes back as a `Reply`, whatever its status, for the caller to judge. Unless
OCPI_ALLOW_PRIVATE_HOSTS is on, a URL whose host resolves to a loopback or private address is refused
before connecting: a partner's credentials name the URLs we call, and they must not reach our own network.
"""
from __future__ import annotations

import ipaddress
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from billing_app.pricing import ocpi
from evbilling.errors import UnavailableError

from .auth import authorization_value

USER_AGENT = "evbilling-ocpi/2.2.1"


class PartnerUnreachable(UnavailableError):
    """The partner's platform gave no usable OCPI answer; the message says why."""


@dataclass(frozen=True, slots=True)
class Reply:
    http_status: int
    status_code: int | None
    status_message: str
    data: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and self.status_code is not None and 1000 <= self.status_code < 2000


def _check_public(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PartnerUnreachable(f"Refused: {url} is not an http(s) URL.")
    if settings.OCPI_ALLOW_PRIVATE_HOSTS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise PartnerUnreachable(f"Cannot resolve {parts.hostname}: {error}") from error
    for info in infos:
        if not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global:
            raise PartnerUnreachable(f"Refused: {parts.hostname} is not a public address.")


def call(method: str, url: str, *, token: str, body: Any = None, params: dict[str, Any] | None = None,
         routing: dict[str, str] | None = None, correlation_id: str | None = None) -> Reply:
    """One request to a partner; raises PartnerUnreachable when there is no OCPI answer."""
    _check_public(url)
    headers = {"Authorization": authorization_value(token), "User-Agent": USER_AGENT,
               "X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": correlation_id or str(uuid.uuid4()),
               **(routing or {})}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = ocpi.dumps(body).encode()
    try:
        response = requests.request(method, url, data=data, headers=headers, params=params,
                                    timeout=settings.OCPI_TIMEOUT, allow_redirects=False)
    except requests.RequestException as error:
        raise PartnerUnreachable(f"{method} {url}: {type(error).__name__}: {error}"[:255]) from error
    try:
        payload = ocpi.loads(response.content) if response.content else {}
    except (ValueError, UnicodeDecodeError):
        raise PartnerUnreachable(f"{method} {url}: HTTP {response.status_code}, not JSON") from None
    if not isinstance(payload, dict):
        raise PartnerUnreachable(f"{method} {url}: HTTP {response.status_code}, not an OCPI response")
    status_code = payload.get("status_code")
    return Reply(http_status=response.status_code,
                 status_code=status_code if isinstance(status_code, int) else None,
                 status_message=str(payload.get("status_message") or payload.get("detail") or ""),
                 data=payload.get("data"), headers=dict(response.headers))
