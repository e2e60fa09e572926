"""Reads for the portal, always the logged-in driver's own rows."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from billing_app.invoicing.selectors import credit_notes_for_driver, invoices_for_driver
from billing_app.models import CreditNote, Invoice, Payment
from sessions_app.models import ChargingSession, IdToken, User
from sessions_app.selectors import sessions_for_driver


def driver_sessions(driver: User) -> QuerySet[ChargingSession]:
    return sessions_for_driver(driver).select_related("charge").order_by("-started_at")


def driver_invoices(driver: User) -> QuerySet[Invoice]:
    """With each receipt's collection, so the list can say which are overdue."""
    return invoices_for_driver(driver).select_related("collection").order_by("-issued_at")


def driver_receipts_in_dunning(driver: User) -> QuerySet[Invoice]:
    """The driver's unpaid receipts whose card payment failed (dunning or overdue): what Pay now is for."""
    return (driver_invoices(driver).filter(kind=Invoice.Kind.RECEIPT, state=Invoice.State.ISSUED,
                                           collection__status__in=["retrying", "overdue"])
            .order_by("issued_at", "pk"))


def driver_credit_notes(driver: User) -> QuerySet[CreditNote]:
    return credit_notes_for_driver(driver).order_by("-issued_at")


def session_credit_notes(driver: User, session: ChargingSession) -> QuerySet[CreditNote]:
    """Credit notes issued against the session's receipt."""
    return credit_notes_for_driver(driver).filter(invoice__session=session).order_by("issued_at")


def session_refunds(driver: User, session: ChargingSession) -> QuerySet[Payment]:
    """The session's payments some of which was given back."""
    return Payment.objects.filter(driver=driver, session=session, amount_refunded__gt=0).order_by("created_at")


def driver_tokens(driver: User) -> QuerySet[IdToken]:
    return IdToken.objects.filter(driver=driver).order_by("uid")


def month_summary(driver: User, *, now: datetime | None = None) -> dict:
    """This calendar month (UTC) so far: sessions, energy and what was charged, per currency."""
    now = now or timezone.now()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    sessions = driver_sessions(driver).filter(started_at__gte=start)
    energy = sessions.aggregate(energy=Sum("energy_wh"))["energy"] or Decimal(0)
    spend = (sessions.filter(charge__isnull=False).values("charge__currency")
             .annotate(total=Sum("charge__total_incl_vat"), n=Count("pk")).order_by("charge__currency"))
    return {"since": start, "sessions": sessions.count(), "energy_kwh": energy / 1000,
            "spend": [(row["charge__currency"], row["total"]) for row in spend]}
