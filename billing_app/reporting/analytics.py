"""Operator analytics: usage, revenue, utilization, peak hours, idle fees, disputes and refunds, always scoped to
the operators the asking user may see. Read-only selectors: the admin view and the CSV export
call them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, ExtractHour, ExtractIsoWeekDay, TruncDay, TruncMonth, TruncWeek

from billing_app.models import Payment, Refund, SessionCharge
from billing_app.money import quantize_money
from sessions_app.models import ChargingSession, ChargingStation, Connector, IdToken, Location, User
from sessions_app.selectors import scope_to_user, stations_online

BUCKETS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    bucket: str = "day"
    location: Location | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.location.time_zone if self.location else "UTC")

    @property
    def window(self) -> tuple[datetime, datetime]:
        zone = self.zone
        return (datetime.combine(self.start, time.min, zone),
                datetime.combine(self.end + timedelta(days=1), time.min, zone))


def scoped_sessions(user: User, filters: Filters) -> QuerySet[ChargingSession]:
    since, until = filters.window
    sessions = scope_to_user(ChargingSession.objects.all(), user).filter(started_at__gte=since, started_at__lt=until)
    if filters.location:
        sessions = sessions.filter(connector__station__location=filters.location)
    return sessions


def _charges(user: User, filters: Filters) -> QuerySet[SessionCharge]:
    return SessionCharge.objects.filter(session__in=scoped_sessions(user, filters))


def usage_series(user: User, filters: Filters) -> list[dict]:
    """Per bucket: sessions, energy (kWh) and revenue excl./incl. VAT per currency."""
    trunc = BUCKETS[filters.bucket]
    sessions = (
        scoped_sessions(user, filters)
        .annotate(bucket=trunc("started_at", tzinfo=filters.zone))
        .values("bucket")
        .annotate(sessions=Count("pk"), energy_wh=Sum("energy_wh"))
        .order_by("bucket")
    )
    revenue = (
        _charges(user, filters)
        .annotate(bucket=trunc("session__started_at", tzinfo=filters.zone))
        .values("bucket", "currency")
        .annotate(excl=Sum("total_excl_vat"), incl=Sum("total_incl_vat"))
    )
    by_bucket: dict = {}
    for row in revenue:
        by_bucket.setdefault(row["bucket"], {})[row["currency"]] = (row["excl"], row["incl"])
    return [
        {
            "bucket": row["bucket"].date() if isinstance(row["bucket"], datetime) else row["bucket"],
            "sessions": row["sessions"],
            "energy_kwh": (row["energy_wh"] or ZERO) / 1000,
            "revenue": by_bucket.get(row["bucket"], {}),
        }
        for row in sessions
    ]


def per_location(user: User, filters: Filters) -> list[dict]:
    """Sessions, energy and revenue per station, with its location."""
    return list(
        _charges(user, filters)
        .annotate(station=F("session__connector__station__ocpp_identity"),
                  location=F("session__connector__station__location__name"))
        .values("station", "location", "currency")
        .annotate(sessions=Count("pk"), energy_kwh=Sum("total_energy_kwh"), revenue_excl=Sum("total_excl_vat"),
                  revenue_incl=Sum("total_incl_vat"))
        .order_by("location", "station")
    )


def guest_share(user: User, filters: Filters) -> dict:
    """Guests' part (ad hoc payment by QR code: sessions started with an AD_HOC token) of the sessions and of
    the revenue incl. VAT per currency, with their shares in percent (None without any sessions or revenue)."""
    sessions = scoped_sessions(user, filters)
    total = sessions.count()
    guests = sessions.filter(id_token__type=IdToken.Type.AD_HOC).count()
    money = []
    for row in (_charges(user, filters).values("currency")
                .annotate(total=Sum("total_incl_vat"),
                          guests=Sum("total_incl_vat", filter=Q(session__id_token__type=IdToken.Type.AD_HOC)))
                .order_by("currency")):
        guest_revenue = row["guests"] or ZERO
        share = (guest_revenue * 100 / row["total"]).quantize(Decimal("0.1")) if row["total"] else None
        money.append({"currency": row["currency"], "total": row["total"] or ZERO, "guests": guest_revenue,
                      "share": share})
    return {"sessions": total, "guest_sessions": guests,
            "session_share": (Decimal(guests * 100) / total).quantize(Decimal("0.1")) if total else None,
            "revenue": money}


#: The ORM path from a session to the OCPI partner whose roaming driver charged it (ocpi_app sits above billing:
#: reached by name, like disputes below, never imported).
PARTNER = "session__driver__ocpi_partner"


def roaming_revenue(user: User, filters: Filters) -> list[dict]:
    """Roaming sessions (drivers of eMSPs, through OCPI) per partner and currency: sessions, kWh and revenue
    excl./incl. VAT as priced (what the partner's CDRs carry), largest revenue first."""
    if not apps.is_installed("ocpi_app"):
        return []
    rows = (_charges(user, filters).filter(**{f"{PARTNER}__isnull": False})
            .values(f"{PARTNER}__pk", f"{PARTNER}__name", "currency")
            .annotate(sessions=Count("pk"), energy_wh=Sum("session__energy_wh"), excl=Sum("total_excl_vat"),
                      incl=Sum("total_incl_vat"))
            .order_by("-incl", f"{PARTNER}__name"))
    return [{"partner_id": row[f"{PARTNER}__pk"], "partner": row[f"{PARTNER}__name"], "currency": row["currency"],
             "sessions": row["sessions"], "energy_kwh": (row["energy_wh"] or ZERO) / 1000,
             "excl": quantize_money(Decimal(str(row["excl"] or 0)), row["currency"]),
             "incl": quantize_money(Decimal(str(row["incl"] or 0)), row["currency"])} for row in rows]


def utilization(user: User, filters: Filters) -> dict[str, Decimal]:
    """Share of connector time spent charging, occupied but idle, and free (percent).

    Capacity is connectors x hours in the window; occupied and idle hours come from the priced
    sessions started in it (OCPI total_time is the whole session, total_parking_time its idle part).
    """
    connectors = scope_to_user(Connector.objects.all(), user)
    if filters.location:
        connectors = connectors.filter(station__location=filters.location)
    since, until = filters.window
    capacity = Decimal(connectors.count()) * Decimal((until - since).total_seconds()) / 3600
    totals = _charges(user, filters).aggregate(
        occupied=Coalesce(Sum("total_time_hours"), Value(ZERO), output_field=MONEY),
        idle=Coalesce(Sum("total_parking_hours"), Value(ZERO), output_field=MONEY),
    )
    totals["charging"] = totals["occupied"] - totals["idle"]
    if not capacity:
        return {"charging": ZERO, "idle": ZERO, "free": ZERO, "capacity_hours": ZERO}
    charging = min(totals["charging"], capacity)
    idle = min(totals["idle"], capacity - charging)
    percent = Decimal(100) / capacity
    return {
        "charging": (charging * percent).quantize(Decimal("0.1")),
        "idle": (idle * percent).quantize(Decimal("0.1")),
        "free": ((capacity - charging - idle) * percent).quantize(Decimal("0.1")),
        "capacity_hours": capacity.quantize(Decimal(1)),
    }


def peak_hours(user: User, filters: Filters) -> list[list[int]]:
    """Sessions started per ISO weekday (rows, Monday first) and local hour (columns)."""
    grid = [[0] * 24 for _ in range(7)]
    rows = (
        scoped_sessions(user, filters)
        .annotate(weekday=ExtractIsoWeekDay("started_at", tzinfo=filters.zone),
                  hour=ExtractHour("started_at", tzinfo=filters.zone))
        .values("weekday", "hour")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        grid[row["weekday"] - 1][row["hour"]] = row["n"]
    return grid


def top_idle_fee_stations(user: User, filters: Filters, *, limit: int = 10) -> list[dict]:
    """Stations earning the most parking (idle) fees, excl. VAT."""
    parking = Cast(KT("breakdown__total_parking_cost__excl_vat"), MONEY)
    return list(
        _charges(user, filters)
        .annotate(station=F("session__connector__station__ocpp_identity"))
        .values("station", "currency")
        .annotate(idle_fees=Sum(parking), idle_hours=Sum("total_parking_hours"), sessions=Count("pk"))
        .filter(idle_fees__gt=0)
        .order_by("-idle_fees")[:limit]
    )


def disputes_and_refunds(user: User, filters: Filters) -> dict:
    """How often charges are questioned and money goes back, in the range.

    Disputes: tickets opened in the range (any source, chargebacks counted apart) per 100 sessions started
    in it. Refunds: per currency, what succeeded in refunds created in the range against what was captured
    on payments settled in it, with the share refunded."""
    sessions = scoped_sessions(user, filters).count()
    since, until = filters.window
    tickets = scope_to_user(apps.get_model("disputes_app", "DisputeTicket").objects.all(), user).filter(
        opened_at__gte=since, opened_at__lt=until)
    if filters.location:
        tickets = tickets.filter(session__connector__station__location=filters.location)
    counted = tickets.aggregate(opened=Count("pk"), chargebacks=Count("pk", filter=Q(stripe_dispute_id__isnull=False)),
                                refunded=Count("pk", filter=Q(resolution_kind="refund")))
    payments = scope_to_user(Payment.objects.all(), user)
    refunds = scope_to_user(Refund.objects.all(), user).filter(
        status=Refund.Status.SUCCEEDED, created_at__gte=since, created_at__lt=until)
    if filters.location:
        payments = payments.filter(session__connector__station__location=filters.location)
        refunds = refunds.filter(payment__session__connector__station__location=filters.location)
    captured = dict(payments.filter(settled_at__gte=since, settled_at__lt=until).values("currency")
                    .annotate(total=Sum("amount_captured")).values_list("currency", "total"))
    refunded = {row["payment__currency"]: row for row in refunds.values("payment__currency")
                .annotate(total=Sum("amount"), count=Count("pk"))}
    money = []
    for currency in sorted(set(captured) | set(refunded)):
        got = quantize_money(captured.get(currency) or ZERO, currency)  # SQLite sums decimals as floats
        back = quantize_money(refunded.get(currency, {}).get("total") or ZERO, currency)
        money.append({"currency": currency, "captured": got, "refunded": back,
                      "refunds": refunded.get(currency, {}).get("count", 0),
                      "refund_rate": (back * 100 / got).quantize(Decimal("0.1")) if got else None})
    return {
        "sessions": sessions,
        **counted,
        "dispute_rate": (Decimal(counted["opened"] * 100) / sessions).quantize(Decimal("0.01")) if sessions else None,
        "money": money,
    }



def home_summary(user: User, *, today: date, zone: ZoneInfo, now: datetime) -> dict:
    """The figures on the admin's home page, for the operators `user` may see: sessions, energy, revenue
    incl. VAT per currency and failed payments of today and of this month (days in `zone`, the viewer's),
    and as they stand now, open disputes and chargers offline."""
    until = datetime.combine(today + timedelta(days=1), time.min, zone)
    periods = {"today": datetime.combine(today, time.min, zone),
               "month": datetime.combine(today.replace(day=1), time.min, zone)}
    sessions = scope_to_user(ChargingSession.objects.all(), user)
    payments = scope_to_user(Payment.objects.all(), user)
    figures = {}
    for name, since in periods.items():
        started = sessions.filter(started_at__gte=since, started_at__lt=until)
        counted = started.aggregate(sessions=Count("pk"), energy_wh=Sum("energy_wh"))
        revenue = (SessionCharge.objects.filter(session__in=started).values("currency")
                   .annotate(total=Sum("total_incl_vat")).order_by("currency"))
        figures[name] = {
            "sessions": counted["sessions"],
            "energy_kwh": Decimal(str(counted["energy_wh"] or 0)) / 1000,
            # SQLite sums decimals as floats: back to the currency's minor unit
            "revenue": [(row["currency"], quantize_money(Decimal(str(row["total"] or 0)), row["currency"]))
                        for row in revenue],
            "failed_payments": payments.filter(status=Payment.Status.FAILED, created_at__gte=since,
                                               created_at__lt=until).count(),
        }
    tickets = apps.get_model("disputes_app", "DisputeTicket")
    stations = scope_to_user(ChargingStation.objects.all(), user)
    figures["open_disputes"] = scope_to_user(tickets.objects.all(), user).filter(
        status__in=tickets.ACTIVE_STATUSES).count()
    figures["stations"] = stations.count()
    figures["stations_offline"] = stations.exclude(stations_online(now)).count()
    return figures
