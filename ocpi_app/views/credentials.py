"""Credentials module, the server side: GET, POST (register), PUT (update), DELETE (unregister)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .. import envelope
from ..credentials import (
    CredentialsError,
    our_credentials,
    partner_register_incoming,
    partner_unregister_incoming,
    partner_update_incoming,
)
from ..endpoint import ocpi_view, read_json
from ..envelope import OcpiError
from ..models import Partner


@ocpi_view(methods=("GET", "POST", "PUT", "DELETE"), configuration=True)
def credentials(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.ocpi_partner
    try:
        if request.method == "GET":
            if partner.status != Partner.Status.REGISTERED:
                raise envelope.method_not_allowed("Not registered: POST your credentials first.")
            return envelope.success(our_credentials(operator=partner.operator, token=request.ocpi_token))
        if request.method == "DELETE":
            partner_unregister_incoming(partner=partner)
            return envelope.success()
        data = read_json(request)
        if request.method == "POST":
            return envelope.success(partner_register_incoming(partner=partner, data=data))
        return envelope.success(partner_update_incoming(partner=partner, data=data))
    except CredentialsError as error:
        raise OcpiError(error.message, status_code=envelope.SERVER_ERROR, http_status=500) from None
