"""The OCPI 2.2.1 response format (transport_and_format, status_codes): every answer, errors included, is
`{"data": ..., "status_code": ..., "status_message": ..., "timestamp": ...}`.

`OcpiError` is what a view or service raises to refuse a request: it carries the OCPI status code (2001
invalid parameters, 2003 unknown location, 2004 unknown token, 3001 unable to use the client's API, ...)
and the HTTP status. Numbers are written with the tariff engine's exact JSON writer, so prices stay the
decimals they are.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse

from billing_app.pricing import ocpi

SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003


class OcpiError(Exception):
    """A request refused with an OCPI status code; `message` goes to `status_message`."""

    def __init__(self, message: str, *, status_code: int = INVALID_PARAMETERS, http_status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.http_status = http_status
        self.headers = headers or {}


def unauthorized(message: str = "Unknown or missing credentials token.") -> OcpiError:
    return OcpiError(message, status_code=CLIENT_ERROR, http_status=401,
                     headers={"WWW-Authenticate": 'Token realm="ocpi"'})


def method_not_allowed(message: str) -> OcpiError:
    return OcpiError(message, status_code=CLIENT_ERROR, http_status=405)


def not_found(message: str, *, status_code: int = CLIENT_ERROR) -> OcpiError:
    return OcpiError(message, status_code=status_code, http_status=404)


def now_timestamp() -> str:
    return ocpi.format_datetime_seconds(datetime.now(UTC))


def body(data: Any = None, *, status_code: int = SUCCESS, message: str = "Success") -> dict[str, Any]:
    result: dict[str, Any] = {}
    if data is not None:
        result["data"] = data
    result.update({"status_code": status_code, "status_message": message, "timestamp": now_timestamp()})
    return result


def json_response(payload: dict[str, Any], *, http_status: int = 200) -> HttpResponse:
    return HttpResponse(ocpi.dumps(payload), status=http_status, content_type="application/json")


def success(data: Any = None, *, http_status: int = 200) -> HttpResponse:
    return json_response(body(data), http_status=http_status)


def error_response(error: OcpiError) -> HttpResponse:
    response = json_response(body(status_code=error.status_code, message=error.message), http_status=error.http_status)
    for name, value in error.headers.items():
        response[name] = value
    return response
