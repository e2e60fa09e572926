"""A guest's charge from checkout to receipt (docs/guest-charging.md).

1. `guest_checkout_open`: the connector is free and priced; the guest gets a driver row that cannot sign in,
   a pay-as-you-go account, a one-time `AD_HOC` token, a Stripe Customer and a SetupIntent for Stripe.js, and
   the key of their link. Nothing is held yet.
2. `guest_pay`: the card Stripe.js confirmed becomes one hold (a Payment keyed `evb-guest-<id>-hold`, so a
   double click or a replayed request makes no second one) sized from the ad hoc tariff; then `guest_start`
   asks the charger to start with the token (RemoteStartTransaction / RequestStartTransaction).
3. The charger starts a session with the token: billing's receiver ties the hold to it (as for any driver),
   ours marks the guest charging (`guest_session_started`). A charger that refuses, is offline, or sees no
   car within GUEST_START_TIMEOUT_SECONDS fails the start and releases the hold at once (`guest_start_fail`).
4. `guest_stop` (the guest's button) and `guest_hold_watch` (the platform, before the cost reaches the hold)
   stop the charger remotely; the stop runs billing's settlement: price, capture, release, receipt, e-mail.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from billing_app.models import BillingAccount, ChargeReview, Invoice, Payment, SessionCharge
from billing_app.money import money_format, quantize_money
from billing_app.payments import stripe_client
from billing_app.payments.services import hold_release, payment_advance
from billing_app.payments.transitions import payment_event_record
from billing_app.settlement.running_cost import session_running_total
from disputes_app.services import ticket_open
from evbilling.errors import ApplicationError, ConflictError, NotFoundError, UnavailableError
from evbilling.on_commit import after_commit
from guests_app import prices
from guests_app.models import GuestSession
from sessions_app.models import ChargingSession, Connector, IdToken, User
from sessions_app.ocpp import commands
from sessions_app.selectors import scope_to_user

logger = logging.getLogger(__name__)

State = GuestSession.State


class GuestError(ApplicationError):
    """A guest's step that cannot go on; the message is shown to the guest."""


class ConnectorBusy(ConflictError):
    """Another guest or driver is on the connector."""


class ChargerUnreachable(UnavailableError):
    """The charger is offline (or the gateway cannot be reached)."""


def _told(language: str, message: str, values: dict | None = None) -> str:
    """A message kept on the guest's row, in the language they checked out in (`message` is a msgid marked with
    gettext_noop, or a text from outside, such as the card issuer's decline, which stays as it is)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        text = _(message)
    return text % values if values else text


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def guest_by_key(key: str) -> GuestSession:
    """The guest session a link key opens; any other key is not found (a 404, never a hint)."""
    guest = (GuestSession.objects.select_related("connector__station__location", "session", "payment", "id_token")
             .filter(access_key_hash=key_hash(key)).first()) if key else None
    if guest is None:
        raise NotFoundError(_("No such charging session."))
    return guest


def connector_public(identity: str, number: int) -> Connector:
    connector = (Connector.objects.select_related("station__location__operator")
                 .filter(station__ocpp_identity=identity, number=number).first())
    if connector is None:
        raise NotFoundError(_("No such charger or connector."))
    return connector


# --- 1. checkout ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkout:
    guest: GuestSession
    key: str
    client_secret: str


def _refuse_unless_free(connector: Connector) -> None:
    status = prices.connector_status(connector)
    if status == prices.OFFLINE:
        raise ChargerUnreachable(_("This charger is offline right now; nothing was charged. Try another connector."))
    if status == prices.OCCUPIED or GuestSession.objects.filter(connector=connector,
                                                              state__in=GuestSession.LIVE_STATES).exists():
        raise ConnectorBusy(_("This connector is in use by someone else; nothing was charged."))


def guest_checkout_open(*, connector: Connector, email: str = "", language: str = "en") -> Checkout:
    """Everything a guest needs before the card form: a SetupIntent's client secret and the key of their
    link. Refused (nothing created) when the connector is offline, busy or has no price."""
    _refuse_unless_free(connector)
    tariff = prices.ad_hoc_tariff(connector)
    if tariff is None:
        raise GuestError(_("This connector has no price yet, so it cannot be started by a guest."))
    operator = connector.station.location.operator
    key = secrets.token_urlsafe(32)
    with transaction.atomic():
        driver = User(username=f"guest-{secrets.token_hex(8)}", role=User.Role.DRIVER, operator=operator,
                      email=email, first_name="Guest",  # the receipt's e-mail is in the language of the page
                      language=language if language in dict(settings.LANGUAGES) else "")
        driver.set_unusable_password()
        driver.save()
        BillingAccount.objects.create(driver=driver, operator=operator,
                                      payment_mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO)
        token = IdToken.objects.create(operator=operator, uid=f"G{secrets.token_hex(8).upper()}",
                                       type=IdToken.Type.AD_HOC, driver=driver)
        guest = GuestSession.objects.create(
            operator=operator, connector=connector, driver=driver, id_token=token, access_key_hash=key_hash(key),
            email=email, language=language[:12], currency=tariff.currency, hold_amount=prices.hold_for(tariff),
        )
    customer = stripe_client.customer_create(email=email, name="Guest", metadata={"evbilling_guest": str(guest.pk)},
                                             idempotency_key=f"evb-guest-{guest.pk}-customer")
    intent = stripe_client.setup_intent_create(customer_id=customer["id"],
                                               idempotency_key=f"evb-guest-{guest.pk}-setup")
    GuestSession.objects.filter(pk=guest.pk).update(stripe_customer_id=customer["id"], setup_intent_id=intent["id"])
    guest.refresh_from_db()
    return Checkout(guest=guest, key=key, client_secret=intent["client_secret"])


# --- 2. pay and start -------------------------------------------------------------------------------

def _locked(guest_id: int) -> GuestSession:
    return GuestSession.objects.select_for_update().get(pk=guest_id)


def _hold(guest: GuestSession, payment_method_id: str) -> Payment:
    """The guest's one hold (its idempotency key is unique: a second request finds the first one's row)."""
    key = f"evb-guest-{guest.pk}-hold"
    try:
        with transaction.atomic():
            locked = _locked(guest.pk)
            if locked.payment_id:
                return locked.payment
            payment = Payment.objects.create(
                operator_id=guest.operator_id, driver_id=guest.driver_id, id_token_id=guest.id_token_id,
                kind=Payment.Kind.SESSION_HOLD, currency=guest.currency, amount_requested=guest.hold_amount,
                idempotency_key=key, stripe_customer_id=guest.stripe_customer_id,
                stripe_payment_method_id=payment_method_id,
            )
            payment_event_record(payment, from_status="", to_status=payment.status,
                                 note=f"guest hold of {guest.hold_amount} {guest.currency} requested")
            locked.payment = payment
            locked.save(update_fields=["payment", "updated_at"])
            return payment
    except IntegrityError:
        return Payment.objects.get(idempotency_key=key)


def guest_pay(*, guest: GuestSession, setup_intent_id: str) -> GuestSession:
    """Place the guest's hold with the card Stripe.js confirmed, then start the charger. A guest past this step
    (a double click, a replayed request) gets their session as it is, and no second hold."""
    if guest.state != State.AWAITING_PAYMENT:
        return guest
    if not setup_intent_id or setup_intent_id != guest.setup_intent_id:
        raise GuestError(_("This card confirmation does not belong to this charge."))
    try:
        intent = stripe_client.setup_intent_retrieve(setup_intent_id)
    except stripe_client.StripeRejected as error:
        raise GuestError(_("The card was not confirmed.")) from error
    if intent.get("status") != "succeeded" or not intent.get("payment_method"):
        raise GuestError(_("The card was not confirmed."))
    payment = _hold(guest, intent["payment_method"])
    try:
        payment = payment_advance(payment_id=payment.pk)
    except (stripe_client.StripeUnavailable, stripe_client.StripeInProgress):
        payment.refresh_from_db()
    if payment.status != Payment.Status.AUTHORIZED:
        reason = payment.failure_message or _told(guest.language, gettext_noop("The payment provider could not be "
                                                                               "reached."))
        if payment.status == Payment.Status.FAILED and payment.failure_code:
            reason = _told(guest.language, gettext_noop("Your card was declined: %(reason)s"), {"reason": reason})
        return _finish_without_start(guest.pk, state=State.DECLINED, message=reason[:255])
    return guest_start(guest_id=guest.pk)


def guest_start(*, guest_id: int) -> GuestSession:
    """Ask the charger to start with the guest's token, once (the state moves to `starting` under the row
    lock; the database refuses a second live guest on the connector)."""
    try:
        with transaction.atomic():
            guest = _locked(guest_id)
            if guest.state != State.AWAITING_PAYMENT:
                return guest
            if prices.connector_status(guest.connector) == prices.OCCUPIED:
                raise IntegrityError("connector occupied")
            guest.state = State.STARTING
            guest.start_deadline = timezone.now() + timedelta(seconds=settings.GUEST_START_TIMEOUT_SECONDS)
            guest.save(update_fields=["state", "start_deadline", "updated_at"])
    except IntegrityError:
        return guest_start_fail(guest_id=guest_id, message=gettext_noop(
            "This connector was taken by someone else just now; your hold was released and nothing was charged."))
    guest = GuestSession.objects.select_related("connector__station__location", "id_token").get(pk=guest_id)
    _display_price(guest)
    try:
        sent = commands.station_remote_start(station=guest.connector.station, id_token=guest.id_token,
                                             connector=guest.connector.number)
    except Exception as error:  # Redis missing or down: the gateway cannot be reached
        logger.warning("guest %s: remote start not sent: %r", guest_id, error)
        sent = None
    if sent is None or not sent.delivered:
        return guest_start_fail(guest_id=guest_id, message=gettext_noop(
            "The charger is offline right now; your hold was released and nothing was charged."))
    GuestSession.objects.filter(pk=guest_id).update(start_command_id=sent.command_id)
    after_commit(guest_start_check_task.apply_async, args=[guest_id], countdown=settings.GUEST_START_ANSWER_SECONDS)
    after_commit(guest_start_check_task.apply_async, args=[guest_id],
                 countdown=settings.GUEST_START_TIMEOUT_SECONDS + 1)
    guest.refresh_from_db()
    return guest


# Beside its service, not in tasks.py: guest_start queues it, and tasks.py imports this module.
@shared_task(name="guests_app.tasks.guest_start_check")
def guest_start_check_task(guest_id: int) -> str:
    """Looks at the charger's answer (soon after the request) and at the deadline."""
    return guest_start_check(guest_id=guest_id).state


def _display_price(guest: GuestSession) -> None:
    """The price on the charger's display before it starts (best effort: a charger without a display, or
    one that does not advertise California Pricing on 1.6, simply shows nothing)."""
    price = prices.connector_price(guest.connector, language=guest.language)
    if price is None:
        return
    try:
        commands.station_display_price(station=guest.connector.station, id_token=guest.id_token,
                                       text=prices.price_text(price))
    except Exception as error:
        logger.info("guest %s: price not sent to the display: %r", guest.pk, error)


def _command_answer(command_id: str) -> dict | None:
    if not command_id:
        return None
    try:
        return commands.command_result(command_id)
    except Exception as error:
        logger.warning("command result %s not read: %r", command_id, error)
        return None


def guest_start_check(*, guest_id: int, now=None) -> GuestSession:
    """A starting guest whose charger refused the remote start, or started nothing by the deadline, fails
    and their hold is released at once; a started one is left alone. Safe to run any number of times."""
    guest = GuestSession.objects.get(pk=guest_id)
    if guest.state != State.STARTING or guest.session_id:
        return guest
    answer = _command_answer(guest.start_command_id)
    if answer is not None and answer.get("status") != "Accepted":
        why = answer.get("status") or answer.get("error") or "no reason given"
        return guest_start_fail(guest_id=guest_id, message=gettext_noop(
            "The charger refused to start (%(why)s); your hold was released and nothing was charged."),
                                values={"why": why})
    if (now or timezone.now()) >= guest.start_deadline:
        minutes = max(1, settings.GUEST_START_TIMEOUT_SECONDS // 60)
        return guest_start_fail(guest_id=guest_id, message=gettext_noop(
            "No car was plugged in within %(minutes)s min; your hold was released and nothing was charged."),
                                values={"minutes": minutes})
    return guest


def _finish_without_start(guest_id: int, *, state: str, message: str, values: dict | None = None) -> GuestSession:
    with transaction.atomic():
        guest = _locked(guest_id)
        if guest.session_id or guest.state in (State.CHARGING, State.ENDED, State.FAILED, State.DECLINED):
            return guest
        message = _told(guest.language, message, values)[:255]
        guest.state, guest.message = state, message
        guest.save(update_fields=["state", "message", "updated_at"])
        IdToken.objects.filter(pk=guest.id_token_id).update(status=IdToken.Status.EXPIRED)
    if guest.payment_id:
        hold_release(payment_id=guest.payment_id, reason=message)
    return guest


def guest_start_fail(*, guest_id: int, message: str, values: dict | None = None) -> GuestSession:
    """The start did not happen: the guest is told why (in their language: `message` % `values`), the token
    expires, the hold is released now."""
    return _finish_without_start(guest_id, state=State.FAILED, message=message, values=values)


def guests_watch(*, now=None) -> int:
    """The beat's sweep: starts past their deadline (a lost task), guests' sessions near their hold,
    checkouts abandoned before paying (no hold exists: they just end). Returns how many were acted on."""
    now = now or timezone.now()
    acted = 0
    for guest_id in GuestSession.objects.filter(state=State.STARTING, start_deadline__lte=now).values_list(
            "pk", flat=True):
        acted += guest_start_check(guest_id=guest_id, now=now).state == State.FAILED
    for guest in GuestSession.objects.filter(state=State.CHARGING, stop_requested_at__isnull=True).select_related(
            "session__connector__station__location"):
        acted += guest_hold_watch(guest=guest)
    stale = now - timedelta(minutes=settings.GUEST_CHECKOUT_MINUTES)
    for guest_id in GuestSession.objects.filter(state=State.AWAITING_PAYMENT, created_at__lt=stale,
                                                payment__isnull=True).values_list("pk", flat=True):
        _finish_without_start(guest_id, state=State.FAILED, message=gettext_noop("The payment was not completed."))
        acted += 1
    return acted


# --- 3. while charging --------------------------------------------------------------------------------

def guest_session_started(*, session: ChargingSession) -> None:
    """The charger started a session with a guest's token (sessions_app's `session_authorized`, inside the
    start's transaction). On the guest's connector while they wait: they are charging. Anything else (the
    start failed meanwhile, another connector, a second session) is stopped again right after the commit:
    the guest's hold belongs to one session on one connector."""
    if session.id_token_id is None:
        return
    guest = GuestSession.objects.select_for_update().filter(id_token_id=session.id_token_id).first()
    if guest is None or guest.session_id == session.pk:
        return
    if guest.state == State.STARTING and session.connector_id == guest.connector_id and not guest.session_id:
        guest.session, guest.state, guest.message = session, State.CHARGING, ""
        guest.save(update_fields=["session", "state", "message", "updated_at"])
        return
    logger.warning("guest %s: session %s started outside the guest's start; stopping it", guest.pk, session.pk)
    after_commit(_remote_stop_quietly, session.pk)


def _remote_stop_quietly(session_id: int) -> None:
    session = ChargingSession.objects.select_related("connector__station").get(pk=session_id)
    try:
        commands.session_remote_stop(session=session)
    except Exception as error:
        logger.warning("remote stop of session %s not sent: %r", session_id, error)


def guest_stop(*, guest: GuestSession, by_platform: str = "") -> GuestSession:
    """Ask the charger to stop the guest's session, once (a double click sends one RemoteStop)."""
    with transaction.atomic():
        locked = _locked(guest.pk)
        if locked.state != State.CHARGING or locked.stop_requested_at is not None:
            return locked
        locked.stop_requested_at = timezone.now()
        if by_platform:
            locked.message = _told(locked.language, by_platform)[:255]
        locked.save(update_fields=["stop_requested_at", "message", "updated_at"])
    session = ChargingSession.objects.select_related("connector__station").get(pk=locked.session_id)
    try:
        sent = commands.session_remote_stop(session=session)
    except Exception as error:
        logger.warning("guest %s: remote stop not sent: %r", guest.pk, error)
        sent = None
    if sent is None or not sent.delivered:
        GuestSession.objects.filter(pk=guest.pk).update(
            stop_requested_at=None, message=_told(locked.language, gettext_noop(
                "The charger cannot be reached right now; unplug the cable to stop. You pay only what the charger "
                "measured, never more than the hold."))[:255])
        raise ChargerUnreachable(_("The charger cannot be reached right now; unplug the cable to stop."))
    locked.refresh_from_db()
    return locked


def _running_total(session: ChargingSession) -> Decimal | None:
    """The session priced up to its latest reading, incl. VAT; None before its first reading."""
    try:
        total = session_running_total(session)
    except ValueError:  # no charging period yet: the engine has nothing to price
        return None
    return total[0] if total else None


def guest_hold_watch(*, guest: GuestSession) -> bool:
    """Stop a guest's session whose running cost reached GUEST_STOP_AT_HOLD_SHARE of the hold, so it never
    costs more than was authorized. True when a stop was sent."""
    if guest.state != State.CHARGING or guest.stop_requested_at is not None or guest.session is None:
        return False
    total = _running_total(guest.session)
    if total is None or total < guest.hold_amount * settings.GUEST_STOP_AT_HOLD_SHARE:
        return False
    try:
        guest_stop(guest=guest, by_platform=gettext_noop("Stopped by the platform: the session reached the amount you "
                                                         "authorized."))
    except ChargerUnreachable:
        return False
    return True


def guest_session_ended(*, session: ChargingSession) -> None:
    """The guest's session completed (sessions_app's `session_completed`): their token is spent."""
    guest = GuestSession.objects.select_for_update().filter(session=session).first()
    if guest is None or guest.state == State.ENDED:
        return
    guest.state = State.ENDED
    guest.save(update_fields=["state", "updated_at"])
    IdToken.objects.filter(pk=guest.id_token_id).update(status=IdToken.Status.EXPIRED)


# --- what the live page shows ------------------------------------------------------------------------------

def guest_live(*, guest: GuestSession) -> dict:
    """The live page's figures (energy, duration, cost so far or final, hold, receipt), in the reader's format."""
    locale = prices.reader_locale(guest.language, guest.connector.station.location.country)
    session = guest.session
    if guest.state == State.CHARGING and guest.stop_requested_at is None and session is not None:
        guest_hold_watch(guest=guest)
        guest.refresh_from_db()
    if guest.state == State.STARTING:
        guest = guest_start_check(guest_id=guest.pk)
    data = {"state": guest.state, "state_label": guest.get_state_display(), "message": guest.message,
            "hold": str(guest.hold_amount), "hold_shown": money_format(guest.hold_amount, guest.currency,
                                                                       locale=locale),
            "currency": guest.currency, "stopping": guest.stop_requested_at is not None,
            "energy_kwh": None, "duration_seconds": None, "cost": None, "cost_shown": None,
            "captured": None, "receipt_number": None}
    if session is None:
        return data
    session.refresh_from_db()
    end = session.stopped_at or timezone.now()
    data["energy_kwh"] = str((session.energy_wh / 1000).quantize(Decimal("0.001")))
    if session.state == ChargingSession.State.ACTIVE:
        latest = session.samples.order_by("-taken_at").values_list("energy_wh", flat=True).first()
        if latest is not None:
            data["energy_kwh"] = str(((latest - session.meter_start_wh) / 1000).quantize(Decimal("0.001")))
        cost = _running_total(session)
    else:
        charge = SessionCharge.objects.filter(session=session).first()
        cost = charge.total_incl_vat if charge else None
        if charge is not None and ChargeReview.objects.filter(charge=charge,
                                                              status=ChargeReview.Status.HELD).exists():
            data["message"] = _("The operator checks this session's meter readings before charging your card; the "
                                "receipt follows (nothing above the hold is ever taken).")
    data["duration_seconds"] = int((end - session.started_at).total_seconds())
    if cost is not None:
        cost = quantize_money(cost, guest.currency)
        data["cost"], data["cost_shown"] = str(cost), money_format(cost, guest.currency, locale=locale)
    if guest.payment_id:
        payment = Payment.objects.get(pk=guest.payment_id)
        if payment.status == Payment.Status.CAPTURED:
            data["captured"] = str(payment.amount_captured)
    receipt = Invoice.objects.filter(session=session, kind=Invoice.Kind.RECEIPT).exclude(number=None).first()
    if receipt is not None:
        data["receipt_number"] = receipt.number
    return data


def guest_receipt(*, guest: GuestSession) -> Invoice:
    receipt = (Invoice.objects.filter(session_id=guest.session_id, kind=Invoice.Kind.RECEIPT)
               .exclude(number=None).first()) if guest.session_id else None
    if receipt is None:
        raise NotFoundError(_("The receipt is not ready yet."))
    return receipt


# --- disputes about a guest's receipt --------------------------------------------------------------------

def guest_dispute_open(*, guest: GuestSession, reason: str, description: str):
    """The guest opens a dispute from their link (their receipt is issued): as its driver, about its session."""
    receipt = guest_receipt(guest=guest)
    return ticket_open(by=guest.driver, reason=reason, description=description, session=guest.session,
                       invoice_id=receipt.pk)


def guest_receipt_find(*, by: User, number: str, email: str) -> Invoice:
    """A guest's receipt by its number and the e-mail it was sent to, among the operators `by` serves; any
    mismatch is the same "not found" (no hint which half was wrong)."""
    receipt = (scope_to_user(Invoice.objects.all(), by)
               .filter(number__iexact=number.strip(), kind=Invoice.Kind.RECEIPT,
                       driver__id_tokens__type=IdToken.Type.AD_HOC).select_related("session", "operator").first())
    if receipt is None or not email.strip() or (receipt.buyer.get("email") or "").lower() != email.strip().lower():
        raise NotFoundError(_("No guest receipt with this number and e-mail address."))
    return receipt


def guest_dispute_open_for_support(*, by: User, number: str, email: str, reason: str, description: str):
    """Support opens a dispute for a guest who called or wrote in, from the receipt's number and e-mail."""
    receipt = guest_receipt_find(by=by, number=number, email=email)
    return ticket_open(by=by, reason=reason, description=description, session=receipt.session,
                       operator=receipt.operator, driver=receipt.driver, invoice_id=receipt.pk)
