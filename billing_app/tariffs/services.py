"""Tariff rows <-> OCPI 2.2.1 Tariff objects, and which tariff applies to a session.

The OCPI object is the exchange format (import, export, the snapshot frozen on each priced
session); the engine reads it through `billing_app.pricing.ocpi`. Import validates with the same parser the
engine uses, so a tariff that imports is a tariff that prices.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing_app import pricing
from billing_app.models import DriverGroup, PriceComponent, Tariff, TariffAltText, TariffAssignment, TariffElement
from billing_app.pricing import ocpi
from billing_app.signals import tariff_parts_changed
from billing_app.tariffs.checks import TariffWarning, tariff_checks
from billing_app.tariffs.import_messages import currency_not_enabled, import_error_text
from evbilling.errors import ApplicationError
from sessions_app.models import ChargingSession, IdToken, Operator

_PRICE_KEYS = ("min_price", "max_price")


class TariffImportError(ApplicationError, ValueError):
    """An OCPI tariff that cannot be stored; the message is one line for the person importing."""


def _price(excl: Decimal | None, incl: Decimal | None) -> dict | None:
    if excl is None:
        return None
    price = {"excl_vat": excl}
    if incl is not None:
        price["incl_vat"] = incl
    return price


def _normal(value: Decimal) -> Decimal:
    """6-place database decimals back to the shortest form (0.250000 -> 0.25) for export."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


def tariff_to_ocpi(tariff: Tariff) -> dict[str, Any]:
    """The tariff as an OCPI 2.2.1 Tariff object (numbers as Decimal; `ocpi.dumps` writes them exactly)."""
    data: dict[str, Any] = {
        "country_code": tariff.country_code,
        "party_id": tariff.party_id,
        "id": tariff.ocpi_id,
        "currency": tariff.currency,
    }
    if tariff.type:
        data["type"] = tariff.type
    alt_texts = [{"language": t.language, "text": t.text} for t in tariff.alt_texts.all()]
    if alt_texts:
        data["tariff_alt_text"] = alt_texts
    if tariff.tariff_alt_url:
        data["tariff_alt_url"] = tariff.tariff_alt_url
    for key in _PRICE_KEYS:
        excl, incl = getattr(tariff, f"{key}_excl_vat"), getattr(tariff, f"{key}_incl_vat")
        price = _price(_normal(excl) if excl is not None else None, _normal(incl) if incl is not None else None)
        if price:
            data[key] = price
    data["elements"] = [_element_to_ocpi(e) for e in tariff.elements.all()]
    if tariff.start_date_time:
        data["start_date_time"] = ocpi.format_datetime_seconds(tariff.start_date_time)
    if tariff.end_date_time:
        data["end_date_time"] = ocpi.format_datetime_seconds(tariff.end_date_time)
    if tariff.energy_mix is not None:
        data["energy_mix"] = tariff.energy_mix
    if tariff.parking_grace_minutes:
        data[ocpi.GRACE_KEY] = tariff.parking_grace_minutes
    data["last_updated"] = ocpi.format_datetime_seconds(tariff.last_updated or datetime.now(UTC))
    return data


def _element_to_ocpi(element: TariffElement) -> dict[str, Any]:
    components = [
        {"type": c.type, "price": _normal(c.price), **({"vat": _normal(c.vat)} if c.vat is not None else {}),
         "step_size": c.step_size}
        for c in element.price_components.all()
    ]
    result: dict[str, Any] = {"price_components": components}
    restrictions: dict[str, Any] = {}
    for name in TariffElement.RESTRICTION_FIELDS:
        value = getattr(element, name)
        if value in (None, "", []):
            continue
        if isinstance(value, Decimal):
            value = _normal(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        restrictions[name] = value
    if restrictions or element.has_restrictions:
        result["restrictions"] = restrictions
    return result


#: Engine tariffs read from rows: pk -> (the row's last_updated, the engine's Tariff), least recently used first.
_ENGINE_TARIFFS: OrderedDict[int, tuple[datetime, pricing.Tariff]] = OrderedDict()
_ENGINE_TARIFFS_MAX = 256
_engine_tariffs_lock = threading.Lock()


def engine_tariff(tariff: Tariff) -> pricing.Tariff:
    """The tariff row as the engine reads it, `ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff))`, kept in this
    process per row and version (its `last_updated`, which `tariff_touch` moves whenever an element, price
    component or alt text changes), for the last 256 tariffs used. The running cost asks at every meter
    reading: an edited tariff is read again at the next one, in every process (the version is the row's)."""
    version = tariff.last_updated
    if tariff.pk is None or version is None:
        return ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff))
    with _engine_tariffs_lock:
        found = _ENGINE_TARIFFS.get(tariff.pk)
        if found is not None and found[0] == version:
            _ENGINE_TARIFFS.move_to_end(tariff.pk)
            return found[1]
    parsed = ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff))
    with _engine_tariffs_lock:
        _ENGINE_TARIFFS[tariff.pk] = (version, parsed)
        _ENGINE_TARIFFS.move_to_end(tariff.pk)
        while len(_ENGINE_TARIFFS) > _ENGINE_TARIFFS_MAX:
            _ENGINE_TARIFFS.popitem(last=False)
    return parsed


def tariff_touch(*, tariff_id: int) -> None:
    """Mark the tariff changed (its `last_updated` now) when one of its parts changed: OCPI's last_updated
    covers the whole object, and `engine_tariff` reads a tariff again when it moves. A save of the row itself
    moves it already (auto_now). Announced as `signals.tariff_parts_changed` (OCPI pushes the tariff again)."""
    Tariff.objects.filter(pk=tariff_id).update(last_updated=timezone.now())
    tariff_parts_changed.send(sender=Tariff, tariff_id=tariff_id)


def snapshot(tariff: Tariff) -> str:
    """The tariff frozen as OCPI JSON text, numbers exact."""
    return ocpi.dumps(tariff_to_ocpi(tariff))


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


#: Model fields whose OCPI name differs.
_OCPI_NAMES = {"ocpi_id": "id"}


def _clean(row, *, exclude: list[str], path: str) -> None:
    """The model's own checks (lengths, formats), refused as an import error naming the OCPI path, like
    the engine's parser does: `id: Ensure this value has at most 36 characters (it has 40).`"""
    try:
        row.full_clean(exclude=exclude)
    except ValidationError as error:
        parts = [f"{path}{_OCPI_NAMES.get(field, field)}: {' '.join(messages)}" if field != NON_FIELD_ERRORS
                 else " ".join(messages) for field, messages in error.message_dict.items()]
        raise TariffImportError("; ".join(parts)) from None


@transaction.atomic
def tariff_import_ocpi(*, operator: Operator, data: dict[str, Any]) -> Tariff:
    """Create or replace (by OCPI id) the operator's tariff from an OCPI 2.2.1 Tariff object.

    Validated first by the engine's own parser; a bad object raises TariffImportError and writes
    nothing. Assignments of a replaced tariff are kept.
    """
    try:
        ocpi.tariff_from_ocpi(data)
    except ocpi.OcpiError as error:
        raise TariffImportError(import_error_text(str(error))) from None
    if data["currency"] not in settings.CURRENCIES:
        raise TariffImportError(currency_not_enabled(data["currency"], settings.CURRENCIES))

    tariff = Tariff.objects.filter(operator=operator, ocpi_id=data["id"]).first() or Tariff(
        operator=operator, ocpi_id=data["id"]
    )
    alt_texts = data.get("tariff_alt_text") or []
    tariff.country_code = data["country_code"]
    tariff.party_id = data["party_id"]
    tariff.currency = data["currency"]
    tariff.type = data.get("type") or ""
    tariff.name = tariff.name or next((t["text"] for t in alt_texts if t.get("language") == "en"),
                                      alt_texts[0]["text"] if alt_texts else data["id"])[:120]
    tariff.tariff_alt_url = data.get("tariff_alt_url") or ""
    for key in _PRICE_KEYS:
        price = data.get(key) or {}
        setattr(tariff, f"{key}_excl_vat", _dec(price.get("excl_vat")))
        setattr(tariff, f"{key}_incl_vat", _dec(price.get("incl_vat")))
    tariff.start_date_time = _parse_dt(data.get("start_date_time"))
    tariff.end_date_time = _parse_dt(data.get("end_date_time"))
    tariff.energy_mix = data.get("energy_mix")
    tariff.parking_grace_minutes = int(data.get(ocpi.GRACE_KEY) or 0)
    _clean(tariff, exclude=["operator"], path="")
    tariff.save()

    tariff.alt_texts.all().delete()
    TariffAltText.objects.bulk_create(TariffAltText(tariff=tariff, language=t["language"], text=t["text"])
                                      for t in alt_texts)
    tariff.elements.all().delete()
    for position, element_data in enumerate(data["elements"]):
        restrictions = element_data.get("restrictions")
        element = TariffElement(tariff=tariff, position=position, has_restrictions=restrictions is not None)
        for name, value in (restrictions or {}).items():
            if name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"):
                value = _dec(value)
            setattr(element, name, value)
        _clean(element, exclude=["tariff"], path=f"elements[{position}].restrictions.")
        element.save()
        PriceComponent.objects.bulk_create(
            PriceComponent(element=element, position=i, type=c["type"], price=_dec(c["price"]), vat=_dec(c.get("vat")),
                           step_size=int(c["step_size"]))
            for i, c in enumerate(element_data["price_components"])
        )
    return tariff


@transaction.atomic
def tariff_copy_draft(*, tariff: Tariff) -> Tariff:
    """An unassigned copy of the tariff to edit and try in a what-if (`tariffs.what_if`): OCPI id `<id>-D<n>`,
    name `Draft: <name>`. Without assignments it applies to no session until someone assigns it."""
    base = tariff.ocpi_id[:31]
    taken = set(Tariff.objects.filter(operator_id=tariff.operator_id, ocpi_id__startswith=f"{base}-D")
                .values_list("ocpi_id", flat=True))
    number = next(n for n in range(1, len(taken) + 2) if f"{base}-D{n}" not in taken)
    data = ocpi.loads(snapshot(tariff))
    data["id"] = f"{base}-D{number}"
    copy = tariff_import_ocpi(operator=tariff.operator, data=data)
    copy.name = f"Draft: {tariff.name}"[:120]
    copy.save(update_fields=["name"])
    return copy


def tariff_warnings(tariff: Tariff) -> list[TariffWarning]:
    """The checks of `billing_app.tariffs.checks` on a stored tariff, for the admin, the import command and
    the API to show (warnings, never refusals). A tariff the engine cannot read yet (an element saved without
    price components) is one warning saying why."""
    try:
        engine_tariff = ocpi.tariff_from_ocpi(ocpi.loads(snapshot(tariff)))
    except ocpi.OcpiError as error:
        return [TariffWarning("not_priceable", "", f"the engine cannot price this tariff yet: {error}")]
    return tariff_checks(engine_tariff, now=timezone.now())


def _parse_dt(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def tariff_for_session(session: ChargingSession, *, ad_hoc: bool | None = None) -> Tariff | None:
    """The tariff in force at the session's start for its connector and driver.

    The most specific assignment wins: connector, then station, then location, then the operator
    default; at each level a tariff for one of the driver's groups beats the one for everybody.
    Only tariffs valid at the start (start_date_time <= start < end_date_time) count. A guest's session
    (its token is `AD_HOC`, or `ad_hoc=True` for the price shown before a guest starts) takes the most specific
    `AD_HOC_PAYMENT` tariff, else the same tariff as anyone without a group (AFIR Art. 5 ad hoc price).
    """
    connector = session.connector
    station = connector.station
    at = session.started_at
    group_ids = (
        set(DriverGroup.objects.filter(drivers=session.driver_id).values_list("pk", flat=True))
        if session.driver_id else set()
    )
    candidates = (
        TariffAssignment.objects.filter(tariff__operator_id=session.operator_id)
        .filter(Q(tariff__start_date_time__isnull=True) | Q(tariff__start_date_time__lte=at))
        .filter(Q(tariff__end_date_time__isnull=True) | Q(tariff__end_date_time__gt=at))
        .filter(Q(driver_group__isnull=True) | Q(driver_group__in=group_ids))
        .filter(
            Q(connector=connector)
            | Q(station=station)
            | Q(location_id=station.location_id)
            | Q(connector__isnull=True, station__isnull=True, location__isnull=True)
        )
        .select_related("tariff")
    )

    def rank(assignment: TariffAssignment) -> tuple[int, int, int]:
        level = 3 if assignment.connector_id else 2 if assignment.station_id else 1 if assignment.location_id else 0
        return level, 1 if assignment.driver_group_id else 0, assignment.pk

    candidates = list(candidates)
    if ad_hoc is None:
        ad_hoc = session.id_token_id is not None and session.id_token.type == IdToken.Type.AD_HOC
    if ad_hoc:  # a guest (AFIR ad hoc payment) pays the AD_HOC_PAYMENT tariff where one applies
        ad_hoc_tariffs = [a for a in candidates if a.tariff.type == Tariff.Type.AD_HOC_PAYMENT]
        candidates = ad_hoc_tariffs or candidates
    best = max(candidates, key=rank, default=None)
    return best.tariff if best else None
