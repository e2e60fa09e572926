"""Reads for a company's fleet manager, always scoped to their own company: its member drivers, its cards, its
business sessions (`ChargingSession.company`, so a member's private sessions are never among them), its
invoices and credit notes, and spend per cost centre and per driver."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils.translation import gettext

from billing_app.models import CreditNote, Invoice, SessionCharge
from billing_app.money import quantize_money
from sessions_app.models import ChargingSession, Company, IdToken, Location, User
from sessions_app.selectors import operator_time_zone


def manager_company(manager: User) -> Company | None:
    """The company `manager` manages (None: not an active fleet manager)."""
    if not (manager.is_authenticated and manager.is_active and manager.is_fleet_manager and manager.company_id):
        return None
    return manager.company


def company_members(company: Company) -> QuerySet[User]:
    return (User.objects.filter(company=company, role=User.Role.DRIVER).select_related("driver_profile")
            .annotate(cards=Count("id_tokens")).order_by("last_name", "first_name", "username"))


def company_cards(company: Company) -> QuerySet[IdToken]:
    return IdToken.objects.filter(company=company).select_related("driver__driver_profile").order_by("uid")


def company_cost_centres(company: Company) -> list[str]:
    """Cost centres in use on the company's cards or business sessions."""
    on_cards = set(IdToken.objects.filter(company=company).values_list("cost_centre", flat=True))
    on_sessions = set(ChargingSession.objects.filter(company=company).values_list("cost_centre", flat=True)
                      .distinct())
    return sorted((on_cards | on_sessions) - {""})


def company_locations(company: Company) -> QuerySet[Location]:
    return Location.objects.filter(operator_id=company.operator_id).order_by("name")


def company_sessions(company: Company) -> QuerySet[ChargingSession]:
    """The company's business sessions, newest first (private ones have no company)."""
    return (ChargingSession.objects.filter(company=company)
            .select_related("charge", "driver__driver_profile", "id_token", "connector__station__location")
            .order_by("-started_at", "-pk"))


def company_invoices(company: Company) -> QuerySet[Invoice]:
    """The company account's issued invoices (its statements, and those of the postpaid account it came from)."""
    return (Invoice.objects.filter(account__company=company).exclude(state=Invoice.State.DRAFT)
            .order_by("-period_start", "-issued_at"))


def company_credit_notes(company: Company) -> QuerySet[CreditNote]:
    return CreditNote.objects.filter(invoice__account__company=company).select_related("invoice").order_by(
        "-issued_at")


def month_window(company: Company, start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the operator's time zone."""
    tz = operator_time_zone(company.operator_id)
    return datetime.combine(start, time(), tz), datetime.combine(end + timedelta(days=1), time(), tz)


def company_spend(company: Company, sessions: QuerySet[ChargingSession]) -> dict:
    """Spend of the given business sessions per cost centre and per driver (incl. and excl. VAT, sessions, kWh),
    largest first, in the operator's currency; the sums are of the stored charges, rounded once for display."""
    currency = company.operator.default_currency
    charges = SessionCharge.objects.filter(session__in=sessions.values("pk"), currency=currency)

    def grouped(field: str) -> list[dict]:
        rows = (charges.values(field).annotate(incl=Sum("total_incl_vat"), excl=Sum("total_excl_vat"),
                                               kwh=Sum("total_energy_kwh"), sessions=Count("pk")))
        result = [{"key": row[field], "incl": quantize_money(row["incl"] or Decimal(0), currency),
                   "excl": quantize_money(row["excl"] or Decimal(0), currency),
                   "kwh": (row["kwh"] or Decimal(0)).quantize(Decimal("0.001")), "sessions": row["sessions"]}
                  for row in rows]
        return sorted(result, key=lambda r: (-r["incl"], str(r["key"])))

    by_driver = grouped("session__driver")
    names = {u.pk: (getattr(u, "driver_profile", None) and u.driver_profile.full_name) or u.get_full_name()
             or u.username for u in User.objects.filter(pk__in=[r["key"] for r in by_driver])
             .select_related("driver_profile")}
    for row in by_driver:
        row["label"] = names.get(row["key"], "-")
    by_centre = grouped("session__cost_centre")
    for row in by_centre:
        row["label"] = row["key"] or gettext("(no cost centre)")
    total = quantize_money(sum((r["incl"] for r in by_centre), Decimal(0)), currency)
    return {"currency": currency, "cost_centres": by_centre, "drivers": by_driver, "total": total}
