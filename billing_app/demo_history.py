"""Demo history: what months of operation leave behind, dated when it happened.

`load_demo` prices the generated sessions with settlement's own service; this module then does, at
historical instants, what the product does after pricing, through the same services or their model-level
equivalents: receipts issued at their session's end (`invoicing.documents`, numbered in time order), each
receipt's card payment (the session's hold captured at its price, the charge above the hold) and the receipt
paid, a few receipts collected only on the collection sweep's retry after a declined card (one still in
dunning), monthly statements issued on the first of the next month (`billing_run`) and paid by transfer once
due, plan periods charged every month (`plans.renewals`, one renewal declined and paid on its retry), a few
goodwill credit notes refunded to the card and two chargebacks (one open, one won).

Stripe (docs/payments.md, "Recorded payments"): the most recent `stripe_payments` card payments go through
Stripe for real when it answers (localstripe under `make run`): each is a Payment driven by
`payments.services.payment_advance` (PaymentIntent, partial capture), so refunds, credit notes with a refund
and dispute resolutions work on them. Older payments, and all of them when Stripe does not answer, are
*recorded*: captured rows with their history but no PaymentIntent; refunding one is refused with a clear
`RefundError` / `CreditNoteError` (nothing at Stripe to refund), never a failed call. localstripe rewrites its
whole state file on every change (~0.1 s a call), so thousands of real PaymentIntents would take minutes.
The refunds and chargebacks are made only on real ones.
"""
from __future__ import annotations

import logging
import random
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing_app.invoicing.billing_run import billing_run
from billing_app.invoicing.credit_notes import credit_note_issue
from billing_app.invoicing.documents import delivery_suppressed, invoice_mark_paid, receipts_issue_pending
from billing_app.invoicing.refunds import credit_note_refund_send
from billing_app.models import (
    CreditNote,
    DriverGroup,
    Invoice,
    Payment,
    PaymentCustomer,
    PaymentEvent,
    ReceiptCollection,
    Refund,
    SessionCharge,
    Subscription,
    SubscriptionPeriod,
)
from billing_app.money import to_minor_units
from billing_app.payments import stripe_client
from billing_app.payments.methods import payment_method_add
from billing_app.payments.services import hold_amount, payment_advance
from billing_app.payments.stripe_events import payment_webhook_apply
from billing_app.plans.periods import period_open
from billing_app.plans.renewals import period_charge_outcome
from sessions_app.models import ChargingSession, User
from sessions_app.selectors import operator_time_zone

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
RECORDED = "recorded without Stripe (demo history)"
DECLINED = ("card_declined", "Your card was declined.")
PAID_BY_TRANSFER_AFTER = timedelta(days=9)


@dataclass
class HistorySummary:
    receipts: int = 0
    statements: int = 0
    payments_recorded: int = 0
    payments_at_stripe: int = 0
    receipts_paid: int = 0
    retried: int = 0
    refunds: int = 0
    chargebacks: int = 0
    plan_periods: int = 0
    stripe: str = ""


def stripe_answers() -> bool:
    """Whether the configured Stripe server answers at once (localstripe under `make run`); a second at most."""
    try:
        with urllib.request.urlopen(stripe_client.api_base().rstrip("/") + "/js.stripe.com/v3/",  # noqa: S310
                                    timeout=1):
            return True
    except OSError:
        return False


def session_end_instant(charge: SessionCharge) -> datetime:
    """A receipt's issue instant: two minutes after its session ended (settlement, then the receipt task)."""
    return charge.session.stopped_at + timedelta(minutes=2)


def history_load(*, stripe_payments: int = 40, seed: int = 2026, progress=lambda n: None) -> HistorySummary:
    """Everything after pricing, dated; idempotent (a receipt with payments, a period paid, a statement made are
    left as they are)."""
    summary = HistorySummary()
    use_stripe = stripe_payments > 0 and stripe_answers()
    summary.stripe = stripe_client.api_base() if use_stripe else ""
    with delivery_suppressed():
        summary.receipts = receipts_issue_pending(dated=session_end_instant, progress=progress)
        summary.statements = statements_issue()
        rng = random.Random(seed)
        receipt_payments(summary, rng=rng, at_stripe=stripe_payments if use_stripe else 0)
        plan_periods_charge(summary)
        statements_paid()
        if use_stripe:
            refunds_and_chargebacks(summary)
    return summary


# --- Statements ----------------------------------------------------------------------------------

def statements_issue() -> int:
    """Each closed month's statements, issued at 06:00 on the first of the next month (UTC)."""
    first = ChargingSession.objects.filter(stopped_at__isnull=False).order_by("stopped_at").first()
    if first is None:
        return 0
    issued = 0
    month = first.stopped_at.date().replace(day=1)
    this_month = (timezone.now() - timedelta(hours=12)).date().replace(day=1)  # ended in every time zone
    while month < this_month:
        following = (month + timedelta(days=32)).replace(day=1)
        at = datetime.combine(following, datetime.min.time(), tzinfo=timezone.get_current_timezone()) + \
            timedelta(hours=30)  # the 2nd, 06:00: every operator's month has ended by then
        issued += sum(r.issued for r in billing_run(period=month, now=at))
        month = following
    return issued


def statements_paid(*, now: datetime | None = None) -> int:
    """Statements whose payment terms have run are paid by bank transfer nine days after issue."""
    now = now or timezone.now()
    paid = 0
    for invoice in Invoice.objects.filter(kind=Invoice.Kind.STATEMENT, state=Invoice.State.ISSUED,
                                          issued_at__lt=now - PAID_BY_TRANSFER_AFTER).order_by("issued_at"):
        invoice_mark_paid(invoice_id=invoice.pk, paid_at=invoice.issued_at + PAID_BY_TRANSFER_AFTER,
                          reference=f"SEPA transfer {invoice.number}")
        paid += 1
    return paid


# --- Receipts and their card payments ---------------------------------------------------------------

@dataclass
class _Planned:
    """One payment to record: the row (unsaved) and when its steps happened."""

    payment: Payment
    events: list[tuple[str, str, str, datetime]]  # (from, to, note, at)


def _holds():
    """hold_amount per (station, driver's groups): the tariff decides it, and groups decide the tariff."""
    cache: dict = {}
    groups: dict[int, tuple] = defaultdict(tuple)
    for group_id, driver_id in DriverGroup.objects.filter(drivers__isnull=False).values_list("pk", "drivers") \
            .order_by("pk"):
        groups[driver_id] += (group_id,)

    def hold(session: ChargingSession) -> Decimal:
        key = (session.connector.station_id, groups[session.driver_id])
        if key not in cache:
            cache[key] = hold_amount(station=session.connector.station, driver_id=session.driver_id,
                                     at=session.started_at)[0]
        return cache[key]
    return hold


def _card_payments(receipt: Invoice, hold: Decimal, *, status: str = Payment.Status.CAPTURED) -> list[_Planned]:
    """The session's hold captured at the receipt's total, and the charge above the hold, recorded."""
    session = receipt.session
    held_at, settled_at = session.started_at, session.stopped_at + timedelta(minutes=1)
    total = receipt.total_incl_vat
    common = {"operator_id": receipt.operator_id, "driver_id": receipt.driver_id, "id_token_id": session.id_token_id,
              "session_id": session.pk, "currency": receipt.currency}
    captured = min(total, hold)
    planned = [_Planned(Payment(**common, kind=Payment.Kind.SESSION_HOLD, status=status, amount_requested=hold,
                                amount_authorized=hold, amount_captured=captured, amount_due=captured,
                                idempotency_key=f"evb-session-{session.pk}-hold", created_at=held_at,
                                authorized_at=held_at, settled_at=settled_at), [
        ("", Payment.Status.PENDING, f"hold of {hold} {receipt.currency} requested", held_at),
        (Payment.Status.PENDING, Payment.Status.AUTHORIZED, f"held, {RECORDED}", held_at),
        (Payment.Status.AUTHORIZED, Payment.Status.CAPTURED, f"captured {captured} {receipt.currency}", settled_at),
    ])]
    if total > hold:
        extra = total - hold
        planned.append(_Planned(Payment(**common, kind=Payment.Kind.SESSION_EXTRA, status=status,
                                        amount_requested=extra, amount_authorized=extra, amount_captured=extra,
                                        amount_due=extra, idempotency_key=f"evb-session-{session.pk}-extra",
                                        created_at=settled_at, authorized_at=settled_at, settled_at=settled_at), [
            ("", Payment.Status.PENDING, f"{extra} {receipt.currency} above the hold", settled_at),
            (Payment.Status.PENDING, Payment.Status.CAPTURED, f"charged off-session, {RECORDED}", settled_at),
        ]))
    return planned


def _declined_then_collected(receipt: Invoice, hold: Decimal, *, now: datetime) -> tuple[list[_Planned], dict]:
    """The hold placed after the start was declined; the collection sweep's first charge was declined too and its
    retry a day later (PAYMENTS_DUNNING_RETRY_DAYS) took the receipt, unless that day has not come yet."""
    session = receipt.session
    code, message = DECLINED
    common = {"operator_id": receipt.operator_id, "driver_id": receipt.driver_id, "id_token_id": session.id_token_id,
              "session_id": session.pk, "currency": receipt.currency}
    start, first_try = session.started_at, session.stopped_at + timedelta(hours=1)
    retry = first_try + timedelta(days=1)
    total = receipt.total_incl_vat
    planned = [
        _Planned(Payment(**common, kind=Payment.Kind.SESSION_HOLD, status=Payment.Status.FAILED,
                         amount_requested=hold, idempotency_key=f"evb-session-{session.pk}-hold", failure_code=code,
                         failure_message=message, created_at=start, settled_at=None), [
            ("", Payment.Status.PENDING, f"hold of {hold} {receipt.currency} requested", start),
            (Payment.Status.PENDING, Payment.Status.FAILED, f"declined: {message} ({RECORDED})", start)]),
        _Planned(Payment(**common, invoice_id=receipt.pk, kind=Payment.Kind.INVOICE, status=Payment.Status.FAILED,
                         amount_requested=total, amount_due=total, idempotency_key=f"evb-receipt-{receipt.pk}-1",
                         failure_code=code, failure_message=message, created_at=first_try), [
            ("", Payment.Status.PENDING, f"receipt {receipt.number}: {total} {receipt.currency} owed, attempt 1",
             first_try),
            (Payment.Status.PENDING, Payment.Status.FAILED, f"declined: {message} ({RECORDED})", first_try)]),
    ]
    collection = {"attempts": 1, "first_failed_at": first_try, "failure_message": message,
                  "status": ReceiptCollection.Status.RETRYING, "next_attempt_at": retry}
    if retry < now:
        planned.append(_Planned(Payment(
            **common, invoice_id=receipt.pk, kind=Payment.Kind.INVOICE, status=Payment.Status.CAPTURED,
            amount_requested=total, amount_authorized=total, amount_captured=total, amount_due=total,
            idempotency_key=f"evb-receipt-{receipt.pk}-2", created_at=retry, authorized_at=retry, settled_at=retry), [
            ("", Payment.Status.PENDING, f"receipt {receipt.number}: {total} {receipt.currency} owed, attempt 2",
             retry),
            (Payment.Status.PENDING, Payment.Status.CAPTURED, f"charged off-session, {RECORDED}", retry)]))
        collection.update(attempts=2, status=ReceiptCollection.Status.COLLECTED, next_attempt_at=None,
                          failure_message="", collected_at=retry)
    return planned, collection


def _record(planned: list[_Planned]) -> list[Payment]:
    """Insert recorded payments with their history, dated (auto_now_add is set again afterwards)."""
    payments = Payment.objects.bulk_create([p.payment for p in planned], batch_size=500)
    events = [PaymentEvent(payment=p.payment, from_status=f, to_status=t, note=note[:255])
              for p in planned for (f, t, note, _at) in p.events]
    PaymentEvent.objects.bulk_create(events, batch_size=1000)
    for event, at in zip(events, (at for p in planned for (*_, at) in p.events), strict=True):
        event.at = at
    PaymentEvent.objects.bulk_update(events, ["at"], batch_size=1000)
    for item in planned:
        item.payment.created_at = item.events[0][3]
    Payment.objects.bulk_update(payments, ["created_at"], batch_size=500)
    return payments


def _receipts_without_payments(session_ids=None):
    """Issued receipts of the demo's generated sessions (`demo-...` references) that no payment covers yet: a
    second `load_demo` never records a payment for a session that really ran (a simulator's, a guest's)."""
    receipts = Invoice.objects.filter(kind=Invoice.Kind.RECEIPT, state=Invoice.State.ISSUED,
                                      session__transaction_ref__startswith="demo-")
    if session_ids is not None:
        receipts = receipts.filter(session_id__in=session_ids)
    return (receipts.exclude(session__payments__isnull=False)
            .select_related("session__connector__station__location__operator", "session__id_token")
            .order_by("issued_at", "pk"))


def receipt_payments(summary: HistorySummary, *, rng: random.Random, at_stripe: int,
                     now: datetime | None = None, session_ids=None, hold=None) -> None:
    """Pay every receipt that has no payment yet (of `session_ids` only, when given): the last `at_stripe`
    through Stripe, the others recorded, one in ~250 declined and collected on the retry. `hold(session)` is
    what was held (default: what `payments.services.hold_amount` holds at its station)."""
    now = now or timezone.now()
    receipts = list(_receipts_without_payments(session_ids))
    hold = hold or _holds()
    real = receipts[len(receipts) - at_stripe:] if at_stripe else []
    recorded = receipts[:len(receipts) - len(real)]
    planned, collections, paid = [], {}, {}
    for receipt in recorded:
        if rng.random() < 0.004:
            payments, collection = _declined_then_collected(receipt, hold(receipt.session), now=now)
            collections[receipt.pk] = collection
            summary.retried += 1
            if collection["status"] == ReceiptCollection.Status.COLLECTED:
                paid[receipt.pk] = (collection["collected_at"], "")
        else:
            payments = _card_payments(receipt, hold(receipt.session))
            paid[receipt.pk] = (payments[-1].payment.settled_at, "")
        planned += payments
    with transaction.atomic():
        _record(planned)
        ReceiptCollection.objects.bulk_create([ReceiptCollection(invoice_id=pk, **fields)
                                               for pk, fields in collections.items()])
        summary.payments_recorded += len(planned)
        _mark_paid(paid)
    summary.receipts_paid += len(paid)
    if real:
        summary.receipts_paid += _through_stripe(summary, real, hold)


def _mark_paid(paid: dict[int, tuple[datetime, str]]) -> None:
    """issued -> paid in bulk for receipts their payments covered (what `invoice_mark_paid` does one by one)."""
    invoices = list(Invoice.objects.filter(pk__in=paid))
    for invoice in invoices:
        invoice.state, (invoice.paid_at, invoice.payment_reference) = Invoice.State.PAID, paid[invoice.pk]
    Invoice.objects.bulk_update(invoices, ["state", "paid_at", "payment_reference"], batch_size=500)


def _cards_ensure(driver_ids: set[int]) -> None:
    have = set(PaymentCustomer.objects.filter(driver_id__in=driver_ids).exclude(default_payment_method_id="")
               .values_list("driver_id", flat=True))
    for driver in User.objects.filter(pk__in=driver_ids - have).order_by("pk"):
        payment_method_add(driver=driver, payment_method_id="pm_card_visa")


def _through_stripe(summary: HistorySummary, receipts: list[Invoice], hold) -> int:
    """The most recent receipts' payments made at Stripe by the payments service (hold, partial capture, the
    charge above it), then dated at their session. Returns how many receipts they paid."""
    try:
        _cards_ensure({r.driver_id for r in receipts})
    except stripe_client.StripeError as error:
        logger.warning("demo: cards not set up at Stripe (%s): those payments are recorded instead", error)
        return 0
    customers = {c.driver_id: c for c in PaymentCustomer.objects.filter(driver_id__in={r.driver_id for r in receipts})}
    paid = 0
    for receipt in receipts:
        planned = _card_payments(receipt, hold(receipt.session), status=Payment.Status.PENDING)
        customer = customers[receipt.driver_id]
        payments = []
        for item in planned:
            payment = item.payment
            payment.amount_authorized = payment.amount_captured = ZERO
            payment.authorized_at = payment.settled_at = None
            payment.stripe_customer_id = customer.stripe_customer_id
            payment.stripe_payment_method_id = customer.default_payment_method_id
            payment.save()
            PaymentEvent.objects.create(payment=payment, from_status="", to_status=payment.status,
                                        note=item.events[0][2])
            try:
                payments.append(payment_advance(payment_id=payment.pk))
            except (stripe_client.StripeUnavailable, stripe_client.StripeInProgress) as error:
                logger.warning("demo: payment %s left pending for the payments sweep: %s", payment.pk, error)
                payments.append(payment)
        _date(planned)
        summary.payments_at_stripe += len(payments)
        if all(p.status == Payment.Status.CAPTURED for p in payments):
            invoice_mark_paid(invoice_id=receipt.pk, paid_at=planned[-1].payment.settled_at,
                              reference=", ".join(p.stripe_payment_intent_id or "" for p in payments)[:255])
            paid += 1
    return paid


def _date(planned: list[_Planned]) -> None:
    """Move a payment made now (and its history) to when its session happened."""
    for item in planned:
        payment, first, last = item.payment, item.events[0][3], item.events[-1][3]
        Payment.objects.filter(pk=payment.pk).update(created_at=first, authorized_at=first, settled_at=last)
        events = list(PaymentEvent.objects.filter(payment_id=payment.pk).order_by("pk"))
        for position, event in enumerate(events):
            event.at = first if position == 0 else last
        PaymentEvent.objects.bulk_update(events, ["at"])


# --- Plans ---------------------------------------------------------------------------------------

def plan_periods_charge(summary: HistorySummary, *, now: datetime | None = None) -> None:
    """Every subscription renewed month after month up to now, each period's fee recorded as paid on its first
    day (`plans.renewals.period_charge_outcome`: the paid plan-fee invoice); the first subscriber's second
    period was declined and paid on its retry a day later."""
    now = now or timezone.now()
    for index, subscription in enumerate(Subscription.objects.filter(status=Subscription.Status.ACTIVE)
                                         .select_related("plan", "driver").order_by("pk")):
        tz = operator_time_zone(subscription.plan.operator_id)
        while subscription.current_period_end <= timezone.localtime(now, tz).date():
            period_open(subscription, subscription.plan, subscription.current_period_end)
        for number, period in enumerate(SubscriptionPeriod.objects.filter(
                subscription=subscription, status=SubscriptionPeriod.Status.PENDING).order_by("period_start")):
            at = period.starts_at + timedelta(hours=3)
            if index == 0 and number == 1:
                _period_attempt(period, Payment.Status.FAILED, at=at)
                at += timedelta(days=1)
            _period_attempt(period, Payment.Status.CAPTURED, at=at)
            summary.plan_periods += 1


def _period_attempt(period: SubscriptionPeriod, status: str, *, at: datetime) -> None:
    attempt = period.attempts + 1
    fee, currency = period.fee_incl_vat, period.currency
    code, message = DECLINED if status == Payment.Status.FAILED else ("", "")
    captured = fee if status == Payment.Status.CAPTURED else ZERO
    item = _Planned(Payment(
        operator_id=period.plan.operator_id, driver_id=period.subscription.driver_id, kind=Payment.Kind.INVOICE,
        status=status, currency=currency, amount_requested=fee, amount_authorized=captured, amount_captured=captured,
        amount_due=fee, idempotency_key=f"evb-plan-{period.subscription_id}-{period.period_start:%Y%m%d}-{attempt}",
        failure_code=code, failure_message=message, authorized_at=at if captured else None,
        settled_at=at if captured else None), [
        ("", Payment.Status.PENDING, f"{period.plan.name} {period.period_start}: {fee} {currency}", at),
        (Payment.Status.PENDING, status, f"{status}, {RECORDED}", at)])
    (payment,) = _record([item])
    SubscriptionPeriod.objects.filter(pk=period.pk).update(attempts=attempt, payment=payment)
    period.attempts = attempt
    period_charge_outcome(period_id=period.pk, payment=payment, now=at, notify=False)


# --- Refunds and chargebacks (Stripe only) ----------------------------------------------------------

GOODWILL = [("Charger stopped early: goodwill refund of half the session", Decimal("0.5")),
            ("Parking fee waived: the car park barrier was broken", None)]


def refunds_and_chargebacks(summary: HistorySummary) -> None:
    """On receipts paid through Stripe: two credit notes refunded to the card (half of one, all of another), and
    two chargebacks reported by Stripe's dispute events, one still open (for support to answer), one won."""
    paid_at_stripe = list(Invoice.objects.filter(
        kind=Invoice.Kind.RECEIPT, state=Invoice.State.PAID, credit_notes__isnull=True,
        session__payments__stripe_payment_intent_id__isnull=False).distinct().order_by("issued_at", "pk")[:4])
    for receipt, (reason, share) in zip(paid_at_stripe[:2], GOODWILL, strict=False):
        amount = None if share is None else (receipt.total_incl_vat * share).quantize(Decimal("0.01"))
        at = receipt.issued_at + timedelta(hours=20)
        note = credit_note_issue(invoice_id=receipt.pk, reason=reason, amount_incl_vat=amount, refund=True, now=at)
        note = credit_note_refund_send(credit_note_id=note.pk)
        Refund.objects.filter(idempotency_key__startswith=f"credit-note-{note.pk}-payment-").update(created_at=at)
        summary.refunds += note.refund_status == CreditNote.RefundStatus.SUCCEEDED
    for receipt, outcome in zip(paid_at_stripe[2:], ("needs_response", "won"), strict=False):
        payment = (Payment.objects.filter(session_id=receipt.session_id, kind=Payment.Kind.SESSION_HOLD,
                                          status=Payment.Status.CAPTURED).exclude(stripe_payment_intent_id=None)
                   .first())
        if payment is None:
            continue
        amount = to_minor_units(payment.amount_captured, payment.currency)
        dispute = {"id": f"dp_demo{payment.pk:08d}", "object": "dispute",
                   "payment_intent": payment.stripe_payment_intent_id, "amount": amount,
                   "currency": payment.currency.lower(), "reason": "product_unacceptable", "status": "needs_response",
                   "evidence_details": {"due_by": int((timezone.now() + timedelta(days=7)).timestamp())}}
        payment_webhook_apply(event_id=f"evt_demo_dispute_{payment.pk}_created", event_type="charge.dispute.created",
                              obj=dispute)
        if outcome == "won":
            payment_webhook_apply(event_id=f"evt_demo_dispute_{payment.pk}_closed", event_type="charge.dispute.closed",
                                  obj={**dispute, "status": "won"})
        summary.chargebacks += 1

