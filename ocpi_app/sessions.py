"""Sessions module, Sender side (mod_sessions): the sessions of a partner's drivers on our chargers, pulled
(paginated) or pushed: PUT when a session starts, PATCH with energy and running cost while it runs (the beat
task `ocpi_app.sessions.push_active`) and PUT when it ends.

A session is a partner's when its token is one of that partner's tokens (`PartnerToken`): another partner, or
another operator's partner, never sees it. Its running cost is billing's (the same engine, the tariff the
partner is shown); a completed session's total is its priced charge.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from celery import shared_task
from django.db.models import Case, DateTimeField, F, QuerySet, When
from django.utils import timezone

from billing_app.models import SessionCharge
from billing_app.pricing import ocpi
from billing_app.settlement.running_cost import session_running_breakdown
from sessions_app.models import ChargingSession

from .credentials import cpo_party
from .locations import evse_uid
from .models import Partner, PartnerToken
from .push import push_enqueue

STATUS = {ChargingSession.State.ACTIVE: "ACTIVE", ChargingSession.State.COMPLETED: "COMPLETED",
          ChargingSession.State.FAILED: "INVALID"}
KWH = Decimal(1000)


def partner_sessions(partner: Partner) -> QuerySet:
    """The sessions of the partner's tokens at its operator's chargers, `last_updated` annotated."""
    return (ChargingSession.objects.filter(operator_id=partner.operator_id, id_token__ocpi_token__partner=partner)
            .annotate(last_updated=Case(When(stopped_at__isnull=False, then=F("stopped_at")),
                                        default=Case(When(last_message_at__isnull=False, then=F("last_message_at")),
                                                     default=F("started_at")), output_field=DateTimeField()))
            .select_related("connector__station__location", "id_token__ocpi_token"))


def _cost(session: ChargingSession) -> tuple[dict[str, Decimal] | None, str | None]:
    charge = SessionCharge.objects.filter(session=session).first()
    if charge is not None:
        return {"excl_vat": charge.total_excl_vat, "incl_vat": charge.total_incl_vat}, charge.currency
    if session.state != ChargingSession.State.ACTIVE:
        return None, None
    found = session_running_breakdown(session)
    if found is None:
        return None, None
    breakdown, currency = found
    return {"excl_vat": breakdown.total_cost.excl_vat, "incl_vat": breakdown.total_cost.incl_vat}, currency


def session_to_ocpi(session: ChargingSession) -> dict[str, Any]:
    """The session as an OCPI 2.2.1 Session object (numbers as Decimal)."""
    party = cpo_party(session.operator)
    token: PartnerToken = session.id_token.ocpi_token
    connector = session.connector
    energy = (session.energy_wh if session.state != ChargingSession.State.ACTIVE
              else max(Decimal(0), (session.samples.order_by("-taken_at").values_list("energy_wh", flat=True).first()
                                    or session.meter_start_wh) - session.meter_start_wh))
    cost, currency = _cost(session)
    token_country, _, token_party_id = token_party(token).partition("*")
    last_updated: datetime = session.stopped_at or session.last_message_at or session.started_at
    data: dict[str, Any] = {
        "country_code": party.country_code, "party_id": party.party_id, "id": str(session.pk),
        "start_date_time": ocpi.format_datetime_seconds(session.started_at),
        "kwh": (energy / KWH).quantize(Decimal("0.001")),
        "cdr_token": {"country_code": token_country, "party_id": token_party_id,
                      "uid": token.uid, "type": token.type, "contract_id": token.contract_id},
        "auth_method": "WHITELIST",
        "location_id": str(connector.station.location_id), "evse_uid": evse_uid(connector),
        "connector_id": str(connector.number),
        "currency": currency or session.operator.default_currency,
        "status": STATUS.get(session.state, "INVALID"),
        "last_updated": ocpi.format_datetime_seconds(last_updated),
    }
    if session.stopped_at:
        data["end_date_time"] = ocpi.format_datetime_seconds(session.stopped_at)
    if cost is not None:
        data["total_cost"] = cost
    return data


def session_push(session_id: int) -> bool:
    """PUT the session, as it stands, to its partner's sessions receiver (if the session is a partner's)."""
    session = ChargingSession.objects.filter(pk=session_id).select_related(
        "operator", "connector__station__location", "id_token__ocpi_token__partner").first()
    token = getattr(session.id_token, "ocpi_token", None) if session and session.id_token_id else None
    if token is None:
        return False
    party = cpo_party(session.operator)
    body = session_to_ocpi(session)
    return push_enqueue(partner=token.partner, module="sessions", object_id=body["id"], method="PUT",
                        path=f"{party.country_code}/{party.party_id}/{body['id']}", body=body,
                        to_party=token_party(token)) is not None


def token_party(token: PartnerToken) -> str:
    """The party a roaming token belongs to, as CC*PID (a hub's client, or the partner itself)."""
    data = ocpi.loads(token.data)
    return f"{str(data['country_code']).upper()}*{str(data['party_id']).upper()}"


def sessions_push_active(*, now: datetime | None = None) -> int:
    """PUT every running roaming session with its energy and cost so far (the beat task)."""
    ids = ChargingSession.objects.filter(state=ChargingSession.State.ACTIVE,
                                         id_token__ocpi_token__isnull=False).values_list("pk", flat=True)
    return sum(session_push(session_id) for session_id in ids)


@shared_task(name="ocpi_app.sessions.push_active")
def push_active() -> int:
    return sessions_push_active(now=timezone.now())
