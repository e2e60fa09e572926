"""Monthly spending caps on business cards.

A card's month is the calendar month of the operator's time zone; what it spent is the sum of its business
sessions' charges incl. VAT started in that month. Settlement checks the cap as it stores a charge
(`card_cap_check`, same transaction): reaching it writes one `CardCapNotice` per card and month (unique) and
queues its e-mail to the company after the commit; from then on the card is refused at chargers
(`card_cap_standing`, asked by the authorization payment hook) until the month ends. The session that crosses
the cap is billed in full: it ran before anyone knew its price. Each reader gets the e-mail in their language
(`evbilling.mail`): the billing address in the company's, managers and the driver in their accounts'.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from babel.dates import format_date
from celery import shared_task
from django.db import OperationalError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from billing_app.models import CardCapNotice, SessionCharge
from billing_app.money import format_money, quantize_money
from evbilling.languages import babel_locale
from evbilling.mail import reader_languages, send_in_languages
from evbilling.on_commit import after_commit
from sessions_app.models import ChargingSession, IdToken, User
from sessions_app.selectors import operator_time_zone

logger = logging.getLogger(__name__)

CAP_REACHED = "monthly_cap_reached"


def card_month(id_token: IdToken, at: datetime) -> tuple[date, datetime, datetime]:
    """(first day, first instant, first instant of the next month) of the month of `at` for the card's operator."""
    tz = operator_time_zone(id_token.operator_id)
    first = timezone.localtime(at, tz).date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, datetime.combine(first, time(), tz), datetime.combine(following, time(), tz)


def card_month_spend(*, id_token: IdToken, at: datetime) -> Decimal:
    """What the card's business sessions started in the month of `at` cost, incl. VAT (priced ones)."""
    _, since, until = card_month(id_token, at)
    total = SessionCharge.objects.filter(
        session__id_token=id_token, session__company__isnull=False, session__started_at__gte=since,
        session__started_at__lt=until).aggregate(total=Sum("total_incl_vat"))["total"] or Decimal(0)
    return quantize_money(total, id_token.operator.default_currency)  # SQLite sums decimals as floats


def card_cap_standing(*, id_token: IdToken, at: datetime) -> str | None:
    """None while the business card is under its monthly cap (or has none); CAP_REACHED once it is reached."""
    if id_token.monthly_cap is None:
        return None
    return CAP_REACHED if card_month_spend(id_token=id_token, at=at) >= id_token.monthly_cap else None


def card_cap_check(*, session: ChargingSession) -> CardCapNotice | None:
    """After a business session's charge is stored (in that transaction): the month's notice when the card has
    now reached its cap, written once; its e-mail is queued after the commit."""
    if session.company_id is None or session.id_token_id is None:
        return None
    token = IdToken.objects.select_related("operator").get(pk=session.id_token_id)
    if token.monthly_cap is None:
        return None
    spent = card_month_spend(id_token=token, at=session.started_at)
    if spent < token.monthly_cap:
        return None
    month, _, _ = card_month(token, session.started_at)
    notice, created = CardCapNotice.objects.get_or_create(id_token=token, month=month, defaults={
        "cap": token.monthly_cap, "spent": spent, "currency": token.operator.default_currency,
        "reached_at": timezone.now()})
    if created:
        logger.info("card %s reached its monthly cap of %s in %s", token.uid, token.monthly_cap, month)
        after_commit(card_cap_notice_send_task.delay, notice.pk)
    return notice


def _readers(token: IdToken) -> dict[str, str]:
    """address -> language: the company's billing address, its active fleet managers, the card's driver."""
    company = token.company
    managers = User.objects.filter(company=company, role=User.Role.FLEET_MANAGER, is_active=True).exclude(email="")
    addresses = [company.billing_email, *managers.values_list("email", flat=True), token.driver.email]
    return reader_languages(addresses, known={company.billing_email: company.language})


def card_cap_notice_send(*, notice_id: int) -> bool:
    """E-mail the notice to the company's billing address, its fleet managers and the card's driver, once
    (one message each, in their language)."""
    with transaction.atomic():
        notice = (CardCapNotice.objects.select_for_update(of=("self",))
                  .select_related("id_token__company", "id_token__driver").get(pk=notice_id))
        if notice.emailed_at is not None:
            return False
        token = notice.id_token

        def render() -> tuple[str, str]:
            words = {"card": token.uid + (f" ({token.licence_plate})" if token.licence_plate else ""),
                     "company": token.company.legal_name, "cost_centre": token.cost_centre or "-",
                     "spent": format_money(notice.spent, notice.currency),
                     "month": format_date(notice.month, "MMMM y", locale=babel_locale()),
                     "cap": format_money(notice.cap, notice.currency)}
            body = gettext("Card %(card)s of %(company)s, cost centre %(cost_centre)s, has spent %(spent)s on "
                           "business charging in %(month)s, reaching its monthly cap of %(cap)s.\n\nChargers refuse "
                           "it until the month ends. A fleet manager can raise or remove the cap in the fleet "
                           "portal.\n") % words
            return gettext("Card %(card)s reached its monthly spending cap") % {"card": token.uid}, body

        send_in_languages(readers=_readers(token), render=render)
        notice.emailed_at = timezone.now()
        notice.save(update_fields=["emailed_at"])
    return True


@shared_task(name="billing_app.tasks.card_cap_notice_send", autoretry_for=(OperationalError, OSError),
             retry_backoff=True, max_retries=8)
def card_cap_notice_send_task(notice_id: int) -> bool:
    return card_cap_notice_send(notice_id=notice_id)
