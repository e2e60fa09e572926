"""Sessions and CDRs (Sender interfaces: paginated lists of the partner's own), Tokens (Receiver interface:
GET, PUT, PATCH of the partner's tokens under its own country code and party id, or a hub's clients'),
Commands and HubClientInfo (Receivers)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from billing_app.pricing import ocpi

from .. import envelope
from ..commands import command_receive
from ..endpoint import ocpi_view, read_json
from ..hubs import client_info_get, client_info_store
from ..models import CdrRecord
from ..pagination import paginated
from ..sessions import partner_sessions, session_to_ocpi
from ..tokens import token_get, token_store


@ocpi_view(methods=("GET",))
def session_list(request: HttpRequest) -> HttpResponse:
    return paginated(request, partner_sessions(request.ocpi_partner), serialize=session_to_ocpi)


@ocpi_view(methods=("GET",))
def cdr_list(request: HttpRequest) -> HttpResponse:
    return paginated(request, CdrRecord.objects.filter(partner=request.ocpi_partner),
                     serialize=lambda record: ocpi.loads(record.body))


@ocpi_view(methods=("GET", "PUT", "PATCH"))
def token_detail(request: HttpRequest, country_code: str, party_id: str, uid: str) -> HttpResponse:
    token_type = request.GET.get("type", "RFID")
    key = {"partner": request.ocpi_partner, "country_code": country_code, "party_id": party_id, "uid": uid,
           "token_type": token_type}
    if request.method == "GET":
        return envelope.success(token_get(**key))
    _, created = token_store(**key, data=read_json(request), patch=request.method == "PATCH")
    return envelope.success(http_status=201 if created else 200)


@ocpi_view(methods=("POST",))
def command(request: HttpRequest, command: str) -> HttpResponse:
    return envelope.success(command_receive(partner=request.ocpi_partner, command=command.upper(),
                                            data=read_json(request)))


@ocpi_view(methods=("GET", "PUT"), configuration=False)
def hub_client_info(request: HttpRequest, country_code: str, party_id: str) -> HttpResponse:
    key = {"partner": request.ocpi_partner, "country_code": country_code, "party_id": party_id}
    if request.method == "GET":
        return envelope.success(client_info_get(**key))
    created = client_info_store(**key, data=read_json(request))
    return envelope.success(http_status=201 if created else 200)
