"""What a guest is shown before paying (AFIR Art. 5 and the public price API of Art. 20): the connector,
its status, and its ad hoc price read from the very tariff object the pricing engine prices with.

Every unit price is shown incl. VAT with its rate named; the worked example is priced by
`billing_app.pricing.price_session`, so the page can never promise a figure the receipt does not show.
Read-only: nothing here writes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from billing_app import pricing
from billing_app.models import Tariff
from billing_app.money import money_format, quantize_money, rate_format, vat_amount
from billing_app.pricing import ocpi
from billing_app.tariffs.services import tariff_for_session, tariff_to_ocpi
from sessions_app.models import ChargingSession, Connector

AVAILABLE, OCCUPIED, OFFLINE = "available", "occupied", "offline"
_OCCUPIED_STATUSES = {"charging", "suspendedev", "suspendedevse", "finishing", "occupied", "reserved"}
_OFFLINE_STATUSES = {"faulted", "unavailable"}
_UNITS = {"ENERGY": "kWh", "TIME": "hour", "PARKING_TIME": "hour", "FLAT": "session"}
_SHOWN = {"kWh": gettext_noop("%(price)s per kWh %(vat)s"), "hour": gettext_noop("%(price)s per hour %(vat)s"),
          "session": gettext_noop("%(price)s per session %(vat)s")}
_LABELS = {"ENERGY": gettext_noop("Energy"), "TIME": gettext_noop("Charging time"),
           "PARKING_TIME": gettext_noop("Parking / idle time"), "FLAT": gettext_noop("Session fee")}
_DAY_NAMES = (gettext_noop("Mon"), gettext_noop("Tue"), gettext_noop("Wed"), gettext_noop("Thu"), gettext_noop("Fri"),
              gettext_noop("Sat"), gettext_noop("Sun"))
_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def connector_status(connector: Connector) -> str:
    """available / occupied / offline, from the gateway's view of the charger: offline when the station is
    not connected (or says faulted / unavailable), occupied when a session runs or the connector says so."""
    if not connector.station.is_online or connector.status.lower() in _OFFLINE_STATUSES:
        return OFFLINE
    if connector.status.lower() in _OCCUPIED_STATUSES or connector.sessions.filter(
            state=ChargingSession.State.ACTIVE).exists():
        return OCCUPIED
    return AVAILABLE


def reader_locale(language: str, country: str) -> str:
    """The Babel locale money is written in: the reader's language as spoken in the charger's country
    (de_DE, en_DE...), else the language alone."""
    for candidate in (f"{language}_{country}", language, "en"):
        try:
            Locale.parse(candidate)
            return candidate
        except (UnknownLocaleError, ValueError):
            continue
    return "en"


def ad_hoc_tariff(connector: Connector, *, at=None) -> Tariff | None:
    """The tariff a guest starting now on `connector` pays: its AD_HOC_PAYMENT tariff, else its regular one."""
    probe = ChargingSession(operator=connector.station.location.operator, connector=connector,
                            started_at=at or timezone.now())
    return tariff_for_session(probe, ad_hoc=True)


def hold_for(tariff: Tariff | None) -> Decimal:
    """The hold a guest pays before starting: the tariff's max price incl. VAT, else GUEST_HOLD_DEFAULT."""
    currency = tariff.currency if tariff else "EUR"
    amount = tariff.max_price_incl_vat if tariff and tariff.max_price_incl_vat is not None else \
        Decimal(settings.GUEST_HOLD_DEFAULT)
    return quantize_money(amount, currency)


@dataclass(frozen=True)
class ComponentOut:
    type: str
    label: str
    unit: str
    price_excl_vat: str
    price_incl_vat: str
    vat_rate: str | None
    step_size: int
    shown: str  # "€0.46 per kWh incl. 19 % VAT"


@dataclass(frozen=True)
class ElementOut:
    when: str  # "Mon-Fri 07:00-19:00", "at any time"
    conditions: list[str]
    components: list[ComponentOut]
    restrictions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceOut:
    tariff_id: str
    tariff_type: str
    currency: str
    elements: list[ElementOut]
    parking_grace_minutes: int
    min_price_incl_vat: str | None
    max_price_incl_vat: str | None
    min_price_shown: str
    max_price_shown: str
    hold: str
    hold_shown: str
    example: str
    example_total_incl_vat: str
    example_kwh: str
    example_minutes: int
    alt_text: str

    def as_dict(self) -> dict:
        return asdict(self)


def _percent(rate: Decimal | None) -> str:
    if rate is None:
        return "0"
    normal = rate.normalize()
    return str(normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal)


def _component(component: pricing.PriceComponent, currency: str, locale: str) -> ComponentOut:
    incl = component.price * (1 + (component.vat or Decimal(0)) / 100)
    if component.type == "FLAT":  # a fee is one line on the receipt: its net and its VAT each rounded once
        net = quantize_money(component.price, currency)
        incl = net + (vat_amount(net, component.vat, currency) if component.vat is not None else Decimal(0))
    unit = _UNITS[component.type]
    vat = _("incl. %(rate)s %% VAT") % {"rate": _percent(component.vat)} if component.vat is not None else _("no VAT")
    shown = _(_SHOWN[unit]) % {"price": rate_format(incl, currency, locale=locale), "vat": vat}
    if component.type in ("TIME", "PARKING_TIME") and component.step_size > 1:
        shown += _(", billed per %(minutes)s min") % {"minutes": component.step_size // 60 or 1} \
            if component.step_size >= 60 else _(", billed per %(seconds)s s") % {"seconds": component.step_size}
    return ComponentOut(type=component.type, label=_(_LABELS[component.type]), unit=unit,
                        price_excl_vat=str(component.price.normalize()), price_incl_vat=str(incl.normalize()),
                        vat_rate=None if component.vat is None else _percent(component.vat),
                        step_size=component.step_size, shown=shown)


def _days(days: tuple[str, ...]) -> str:
    index = sorted(_DAYS.index(d) for d in days)
    if len(index) > 2 and index == list(range(index[0], index[-1] + 1)):
        return f"{_(_DAY_NAMES[index[0]])}-{_(_DAY_NAMES[index[-1]])}"
    return ", ".join(_(_DAY_NAMES[i]) for i in index)


def _element(element: pricing.TariffElement, currency: str, locale: str) -> ElementOut:
    r = element.restrictions
    when, conditions, restrictions = [], [], {}
    if r is not None:
        restrictions = {k: (str(v) if isinstance(v, Decimal) else list(v) if isinstance(v, tuple) else v)
                        for k, v in asdict(r).items() if v is not None}
        if r.day_of_week:
            when.append(_days(r.day_of_week))
        if r.start_time or r.end_time:
            when.append(f"{r.start_time or '00:00'}-{r.end_time or '24:00'}")
        if r.start_date or r.end_date:
            when.append(_("from %(start)s until %(end)s") % {"start": r.start_date or _("any day"),
                                                               "end": r.end_date or _("any day")})
        if r.min_kwh is not None or r.max_kwh is not None:
            conditions.append(_("from %(kwh)s kWh") % {"kwh": r.min_kwh or 0}
                              + (_(" up to %(kwh)s kWh") % {"kwh": r.max_kwh} if r.max_kwh else ""))
        if r.min_duration is not None or r.max_duration is not None:
            low, high = (r.min_duration or 0) // 60, r.max_duration // 60 if r.max_duration else None
            conditions.append(_("after %(minutes)s min") % {"minutes": low}
                              + (_(" until %(minutes)s min") % {"minutes": high} if high is not None else ""))
        if r.min_power is not None or r.max_power is not None:
            conditions.append(_("at %(kw)s kW") % {"kw": r.min_power or 0}
                              + (_(" up to %(kw)s kW") % {"kw": r.max_power} if r.max_power else "")
                              + _(" charging power"))
        if r.min_current is not None or r.max_current is not None:
            conditions.append(_("at %(amps)s A") % {"amps": r.min_current or 0}
                              + (_(" up to %(amps)s A") % {"amps": r.max_current} if r.max_current else ""))
    return ElementOut(when=" ".join(when) or _("at any time"), conditions=conditions, restrictions=restrictions,
                      components=[_component(c, currency, locale) for c in element.price_components])


def example_charge(connector: Connector) -> tuple[Decimal, int]:
    """The worked example's (kWh, minutes): 30 kWh in 40 minutes where the connector can deliver it, else what
    it delivers at 90 % of its max power in those 40 minutes."""
    minutes = 40
    possible = (connector.max_power_kw * Decimal("0.9") * minutes / 60).quantize(Decimal(1))
    return min(Decimal(30), max(Decimal(1), possible)), minutes


def _example(engine_tariff: pricing.Tariff, connector: Connector, *, at) -> tuple[Decimal, Decimal, int]:
    kwh, minutes = example_charge(connector)
    start = at.replace(microsecond=0)
    end = start + timedelta(minutes=minutes)
    session = ocpi.session_from_json({
        "start_date_time": ocpi.format_datetime_seconds(start), "end_date_time": ocpi.format_datetime_seconds(end),
        "time_zone": connector.station.location.time_zone,
        "charging_periods": [{"start_date_time": ocpi.format_datetime_seconds(start), "dimensions": [
            {"type": "ENERGY", "volume": kwh}, {"type": "TIME", "volume": Decimal(minutes) / 60}]}],
    })
    breakdown = pricing.price_session(tariff=engine_tariff, session=session)
    return breakdown.total_cost.incl_vat, kwh, minutes


def connector_price(connector: Connector, *, language: str = "en", at=None) -> PriceOut | None:
    """The ad hoc price of `connector` now, ready to show in `language` (None when no tariff applies: no guest
    can start)."""
    with translation.override(language):
        return _connector_price(connector, language=language, at=at)


def _connector_price(connector: Connector, *, language: str, at) -> PriceOut | None:
    at = at or timezone.now()
    tariff = ad_hoc_tariff(connector, at=at)
    if tariff is None:
        return None
    locale = reader_locale(language, connector.station.location.country)
    engine_tariff = ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff))
    currency = tariff.currency
    total, kwh, minutes = _example(engine_tariff, connector, at=at)
    hold = hold_for(tariff)
    alt = next((t.text for t in tariff.alt_texts.all() if t.language == language), "") or next(
        (t.text for t in tariff.alt_texts.all()), "")

    def incl(value):
        return None if value is None else str(quantize_money(value, currency))

    def shown(value):
        return "" if value is None else money_format(quantize_money(value, currency), currency, locale=locale)

    return PriceOut(
        tariff_id=tariff.ocpi_id, tariff_type=tariff.type or "REGULAR", currency=currency,
        elements=[_element(e, currency, locale) for e in engine_tariff.elements],
        parking_grace_minutes=tariff.parking_grace_minutes,
        min_price_incl_vat=incl(tariff.min_price_incl_vat), max_price_incl_vat=incl(tariff.max_price_incl_vat),
        min_price_shown=shown(tariff.min_price_incl_vat), max_price_shown=shown(tariff.max_price_incl_vat),
        hold=str(hold), hold_shown=money_format(hold, currency, locale=locale),
        example=_("A %(kwh)s kWh charge in %(minutes)s minutes, started now, costs %(total)s incl. VAT.") % {
            "kwh": kwh, "minutes": minutes, "total": money_format(total, currency, locale=locale)},
        example_total_incl_vat=str(total), example_kwh=str(kwh), example_minutes=minutes, alt_text=alt,
    )


def price_text(price: PriceOut) -> str:
    """The price in one line for a charger's display (at most 512 characters)."""
    parts = [f"{e.when}: " + ", ".join(f"{c.label} {c.shown}" for c in e.components) for e in price.elements]
    grace = _(" Parking after %(minutes)s min grace.") % {"minutes": price.parking_grace_minutes} \
        if price.parking_grace_minutes else ""
    return (_("Ad hoc price. %(parts)s.%(grace)s Hold %(hold)s.") % {
        "parts": " | ".join(parts), "grace": grace, "hold": price.hold_shown})[:512]
