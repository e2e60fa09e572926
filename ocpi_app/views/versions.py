"""Versions module (version_information_endpoint): the versions we speak and the 2.2.1 endpoints."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .. import envelope
from ..credentials import VERSION, module_url, version_details_url
from ..endpoint import ocpi_view

#: (module identifier, interface role) of every module we implement, as listed in the version details.
MODULES = (
    ("credentials", "SENDER"),
    ("locations", "SENDER"),
    ("tariffs", "SENDER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
    ("hubclientinfo", "RECEIVER"),
)


@ocpi_view(methods=("GET",), configuration=True)
def versions(request: HttpRequest) -> HttpResponse:
    return envelope.success([{"version": VERSION, "url": version_details_url()}])


@ocpi_view(methods=("GET",), configuration=True)
def version_details(request: HttpRequest) -> HttpResponse:
    endpoints = [{"identifier": identifier, "role": role, "url": module_url(identifier)}
                 for identifier, role in MODULES]
    return envelope.success({"version": VERSION, "endpoints": endpoints})


@csrf_exempt
def unknown_url(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other URL under /ocpi/: 404 in the envelope (never Django's HTML page)."""
    return envelope.error_response(envelope.not_found("No such OCPI endpoint: see /ocpi/versions."))
