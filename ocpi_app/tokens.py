"""Tokens module, Receiver side (mod_tokens): partners push their drivers' tokens, and each becomes an IdToken
of the operator that the OCPP gateway authorizes like any other, on the partner's roaming driver.

The roaming driver (`Partner.roaming_driver`, made on first use) stands for all of the partner's drivers: it
has no billing account, so billing takes no card hold and issues no receipt (the eMSP pays us against the
CDRs), and it is the one member of the partner's driver group, through which the tariffs the operator shows
the partner (`PartnerTariff`) price its sessions (`partner_tariffs_assign`).

Whitelist (what a charger may do without asking the eMSP): ALWAYS and ALLOWED are accepted locally (ALLOWED
lets the CPO choose; we choose the whitelist); ALLOWED_OFFLINE and NEVER are put to the eMSP in real time
(`authorization.py`), and their IdToken's own status is the answer when the eMSP cannot be reached: accepted
for ALLOWED_OFFLINE, blocked for NEVER. An invalid token is blocked.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction

from billing_app.models import DriverGroup, TariffAssignment
from billing_app.pricing import ocpi
from sessions_app.models import IdToken, User

from . import envelope
from .envelope import OcpiError
from .hubs import party_reachable_through
from .models import Partner, PartnerTariff, PartnerToken

TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
_UID_RE = re.compile(r"^[A-Za-z0-9-]{1,36}$")
_ACCEPTED_WHITELISTS = (PartnerToken.Whitelist.ALWAYS, PartnerToken.Whitelist.ALLOWED,
                        PartnerToken.Whitelist.ALLOWED_OFFLINE)


def partner_roaming_driver(partner: Partner) -> User:
    """The partner's roaming driver and its driver group, made on first use."""
    if partner.roaming_driver_id:
        return partner.roaming_driver
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if locked.roaming_driver_id is None:
            locked.roaming_driver = User.objects.create(
                username=f"ocpi-{partner.pk}-{partner.country_code}{partner.party_id}".lower()[:150],
                role=User.Role.DRIVER, operator=partner.operator, password=make_password(None),
                first_name=partner.business_name[:150] or partner.name[:150], last_name="(OCPI roaming)")
            locked.save(update_fields=["roaming_driver", "updated_at"])
        partner.roaming_driver = locked.roaming_driver
    partner_tariffs_assign(partner)
    return partner.roaming_driver


def _driver_group(partner: Partner) -> DriverGroup:
    group, _ = DriverGroup.objects.get_or_create(operator_id=partner.operator_id, name=f"OCPI {partner.name}"[:80])
    return group


def partner_tariffs_assign(partner: Partner) -> None:
    """Price the partner's drivers with the tariffs it is shown: its driver group (the roaming driver alone)
    gets an operator-wide assignment of each of them, and none of any other tariff."""
    if not partner.roaming_driver_id:
        return
    group = _driver_group(partner)
    group.drivers.add(partner.roaming_driver_id)
    shown = set(PartnerTariff.objects.filter(partner=partner).values_list("tariff_id", flat=True))
    assigned = set(TariffAssignment.objects.filter(driver_group=group, location__isnull=True, station__isnull=True,
                                                   connector__isnull=True).values_list("tariff_id", flat=True))
    TariffAssignment.objects.filter(driver_group=group, tariff_id__in=assigned - shown).delete()
    TariffAssignment.objects.bulk_create(TariffAssignment(tariff_id=t, driver_group=group) for t in shown - assigned)


def _string(data: dict[str, Any], key: str, length: int, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > length:
        raise OcpiError(f"{key}: a string of 1 to {length} characters is required.")
    return value


def _validate(data: dict[str, Any]) -> dict[str, Any]:
    for key, length in (("country_code", 2), ("party_id", 3), ("uid", 36), ("contract_id", 36), ("issuer", 64)):
        _string(data, key, length)
    if data.get("type") not in TOKEN_TYPES:
        raise OcpiError(f"type: one of {', '.join(TOKEN_TYPES)} is required.")
    if not isinstance(data.get("valid"), bool):
        raise OcpiError("valid: true or false is required.")
    if data.get("whitelist") not in PartnerToken.Whitelist.values:
        raise OcpiError(f"whitelist: one of {', '.join(PartnerToken.Whitelist.values)} is required.")
    try:
        data["_last_updated"] = ocpi.parse_datetime(data.get("last_updated"), "last_updated")
    except ocpi.OcpiError as error:
        raise OcpiError(str(error)) from None
    if not _UID_RE.match(data["uid"]):
        raise OcpiError("uid: our chargers know letters, digits and dashes only (at most 36).")
    return data


def _check_owner(partner: Partner, country_code: str, party_id: str) -> None:
    if not party_reachable_through(partner, country_code, party_id):
        raise envelope.not_found("Tokens of another party cannot be stored with these credentials.")


def token_get(*, partner: Partner, country_code: str, party_id: str, uid: str, token_type: str) -> dict[str, Any]:
    _check_owner(partner, country_code, party_id)
    stored = PartnerToken.objects.filter(partner=partner, uid=uid, type=token_type or "RFID").first()
    if stored is None:
        raise envelope.not_found("Unknown token.", status_code=envelope.UNKNOWN_TOKEN)
    return ocpi.loads(stored.data)


@transaction.atomic
def token_store(*, partner: Partner, country_code: str, party_id: str, uid: str, token_type: str,
                data: dict[str, Any], patch: bool = False) -> tuple[PartnerToken, bool]:
    """PUT (the whole token) or PATCH (some fields and last_updated) a partner's token. The URL and the body
    must name the same token; an update older than what we hold changes nothing. Returns (token, created)."""
    _check_owner(partner, country_code, party_id)
    token_type = token_type or "RFID"
    stored = PartnerToken.objects.select_for_update().filter(partner=partner, uid=uid, type=token_type).first()
    if patch:
        if stored is None:
            raise envelope.not_found("Unknown token: PUT it first.", status_code=envelope.UNKNOWN_TOKEN)
        if "last_updated" not in data:
            raise OcpiError("last_updated is required in a PATCH.")
        data = {**ocpi.loads(stored.data), **data}
    data = _validate(dict(data))
    if (data["country_code"].upper(), data["party_id"].upper(), data["uid"], data["type"]) != (
            country_code.upper(), party_id.upper(), uid, token_type):
        raise OcpiError("The token in the body is not the one the URL names (country_code, party_id, uid, type).")
    last_updated: datetime = data.pop("_last_updated")
    if stored is not None and last_updated < stored.last_updated:
        raise OcpiError(f"last_updated {data['last_updated']} is older than the token we hold; nothing changed.")
    driver = partner_roaming_driver(partner)
    id_token = stored.id_token if stored else IdToken.objects.filter(operator_id=partner.operator_id,
                                                                        uid__iexact=uid).first()
    if id_token is not None and id_token.driver_id != driver.pk:
        raise OcpiError(f"uid {uid} is already a card of this operator; it cannot be a roaming token too.")
    id_token = id_token or IdToken(operator_id=partner.operator_id, uid=uid, driver=driver)
    id_token.type = IdToken.Type.RFID if token_type == "RFID" else IdToken.Type.APP  # noqa: S105 - a token type
    allowed = data["valid"] and data["whitelist"] in _ACCEPTED_WHITELISTS
    id_token.status = IdToken.Status.ACCEPTED if allowed else IdToken.Status.BLOCKED
    id_token.save()
    fields = {"id_token": id_token, "contract_id": data["contract_id"], "valid": data["valid"],
              "whitelist": data["whitelist"], "last_updated": last_updated, "data": ocpi.dumps(data)}
    if stored is None:
        return PartnerToken.objects.create(partner=partner, uid=uid, type=token_type, **fields), True
    for name, value in fields.items():
        setattr(stored, name, value)
    stored.save()
    return stored, False


def partner_for_token(id_token_id: int) -> Partner | None:
    link = PartnerToken.objects.filter(id_token_id=id_token_id).select_related("partner").first()
    return link.partner if link else None
