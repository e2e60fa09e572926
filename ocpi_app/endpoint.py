"""The edge every OCPI view goes through: request ids, the credentials token, the error envelope.

`ocpi_view(...)` wraps a plain Django view: it answers a missing or unknown token with 401 and the OCPI
body, lets token A (and the token B of a registration under way) reach only the configuration modules
(versions, credentials), echoes `X-Request-ID` / `X-Correlation-ID` (made up when the client sent none),
adds the routing headers (`OCPI-from-*` is us, `OCPI-to-*` the partner) on functional modules, and turns
every `OcpiError` into the envelope with its status code. Nothing a client sends ends as an HTML 500: a
bug of ours is logged and answered with status 3000.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from billing_app.pricing import ocpi

from . import envelope
from .auth import partner_for_authorization
from .envelope import OcpiError
from .models import Partner

logger = logging.getLogger(__name__)

#: Which partner states may call which kind of module.
_CONFIGURATION_STATES = {
    (Partner.Status.PENDING, Partner.TokenKind.A),
    (Partner.Status.REGISTERING, Partner.TokenKind.B),
    (Partner.Status.REGISTERED, Partner.TokenKind.B),
    (Partner.Status.REGISTERED, Partner.TokenKind.C),
}
_FUNCTIONAL_STATES = {
    (Partner.Status.REGISTERED, Partner.TokenKind.B),
    (Partner.Status.REGISTERED, Partner.TokenKind.C),
}


def _authenticate(request: HttpRequest, *, configuration: bool) -> Partner:
    found = partner_for_authorization(request.headers.get("Authorization"))
    if found is None:
        raise envelope.unauthorized()
    partner, token = found
    allowed = _CONFIGURATION_STATES if configuration else _FUNCTIONAL_STATES
    if (partner.status, partner.token_kind) not in allowed:
        raise envelope.unauthorized("This credentials token may only be used for the versions and credentials "
                                    "modules." if partner.status != Partner.Status.UNREGISTERED else
                                    "This connection was unregistered.")
    request.ocpi_partner = partner
    request.ocpi_token = token
    return partner


def ocpi_view(*, methods: tuple[str, ...], configuration: bool = False) -> Callable:
    """Wrap a view of an OCPI module; `configuration` for versions and credentials (token A allowed,
    no routing headers)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            partner = None
            try:
                partner = _authenticate(request, configuration=configuration)
                if request.method not in methods:
                    raise envelope.method_not_allowed(f"{request.method} is not supported here.")
                response = view(request, *args, **kwargs)
            except OcpiError as error:
                response = envelope.error_response(error)
            except Exception:  # a bug of ours: logged, answered in the envelope, never an HTML page
                logger.exception("OCPI %s %s failed", request.method, request.path)
                response = envelope.error_response(
                    OcpiError("Internal server error.", status_code=envelope.SERVER_ERROR, http_status=500))
            response["X-Request-ID"] = request.headers.get("X-Request-ID") or str(uuid.uuid4())
            response["X-Correlation-ID"] = request.headers.get("X-Correlation-ID") or str(uuid.uuid4())
            if not configuration and partner is not None:
                _routing_headers(response, partner)
            return response

        return wrapper

    return decorate


def _routing_headers(response: HttpResponse, partner: Partner) -> None:
    party = getattr(partner.operator, "ocpi_party", None)
    if party is not None:
        response["OCPI-from-country-code"] = party.country_code
        response["OCPI-from-party-id"] = party.party_id
    response["OCPI-to-country-code"] = partner.country_code
    response["OCPI-to-party-id"] = partner.party_id


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request body as one JSON object, numbers as Decimal; invalid JSON is HTTP 400 with 2001."""
    try:
        data = ocpi.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as error:
        raise OcpiError(f"The body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise OcpiError("The body must be one JSON object.")
    return data
