"""Security sweep: every URL that takes an object id, requested as the owner, another driver of the same
operator, another operator's staff and support, and anonymous. Only the owner (or their operator's staff /
support where that makes sense) gets the object; everyone else a 404/403/401 or a redirect (to sign in, or
the admin's "no such object" redirect), never a 200 with the data and never a 500.

The URL list comes from the URL resolver: a new pattern with an id-like parameter that this file does not
classify fails `test_every_id_taking_url_is_classified`. Also: every HTML page with a POST form carries a
CSRF token, and the CSRF check is on for the session-authenticated forms."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.exceptions import FieldError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from billing_app.models import CreditNote, Invoice, WhatIfRun
from billing_app.payments.methods import payment_methods_list
from disputes_app import services as disputes
from disputes_app.models import DisputeTicket, MessageAttachment
from evbilling.api_tokens import api_token_create
from sessions_app import services as session_services
from sessions_app.models import ChargingSession, User
from sessions_app.ocmf.signing import TestMeter
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver, payg_session_stopped

pytestmark = pytest.mark.django_db

ID_PARAM = re.compile(r"<(?:(?:int|uuid|str|path|slug):)?(\w+)>|\(\?P<(\w+)>")
NOT_IDS = {"format", "url", "app_label"}  # DRF's format suffix, the admin's catch-all and app index

# --- the URL inventory -------------------------------------------------------------------------------


def walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = (f"{namespace}:{entry.namespace}" if namespace and entry.namespace
                     else (entry.namespace or namespace))
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield prefix + str(entry.pattern), name


def id_taking_routes() -> list[tuple[str, str, list[str]]]:
    routes = []
    for route, name in walk(get_resolver().url_patterns):
        params = [a or b for a, b in ID_PARAM.findall(route)]
        ids = [p for p in params if p not in NOT_IDS]
        if ids:
            routes.append((route, name, ids))
    return routes


# admin scoped to the operator
OUR_APPS = ("sessions_app", "billing_app", "disputes_app", "webhooks_app", "guests_app", "auditlog")
ADMIN_VIEWS = ("change", "history", "delete", "pdf", "resolve", "")  # "" is the bare <id>/ (redirects to change)

# Named non-admin routes and what they are. Admin routes are classified by their model's app below.
CLASSIFIED = {
    "portal:session": "driver-page",
    "portal:session_live": "driver-page",
    "portal:session_signed_data": "driver-page",
    "portal:session_meter_key": "driver-page",
    "portal:token_block": "driver-post", "portal:token_unblock": "driver-post", "portal:token_replace": "driver-post",
    "portal:plan_change": "driver-post", "portal:plan_cancel": "driver-post", "portal:plan_pay": "driver-post",
    "portal:plan_resume": "driver-post",
    "portal:receipt_pay": "driver-page",  # GET shows the receipt's Pay now; its POST is swept in driver pages
    "invoices:invoice_pdf": "driver-page",
    "invoices:credit_note_pdf": "driver-page",
    "invoices:invoice_einvoice": "driver-page", "invoices:credit_note_einvoice": "driver-page",
    "disputes:detail": "driver-page",
    "disputes:attachment": "driver-page",
    "fleet:card_update": "fleet-post", "fleet:card_block": "fleet-post",
    "fleet:invoice_pdf": "fleet-page", "fleet:invoice_sessions_csv": "fleet-page",
    "fleet:invoice_einvoice": "fleet-page", "fleet:credit_note_einvoice": "fleet-page",
    "fleet:credit_note_pdf": "fleet-page",
    "disputes:support_ticket": "support-page",
    "disputes:support_attachment": "support-page",
    "payments:method": "payments-api",
    "payments:method_default": "payments-api",
    "session-detail": "api", "session-samples": "api", "token-detail": "api", "token-block": "api-post",
    "tariff-detail": "api", "tariff-ocpi": "api", "station-detail": "api",
    "invoice-detail": "api", "invoice-pdf": "api", "credit-note-detail": "api", "credit-note-pdf": "api",
    "invoice-einvoice": "api", "credit-note-einvoice": "api",
    "payment-detail": "api", "dispute-detail": "api", "dispute-messages": "api-post", "plan-detail": "api",
    # Public by design: the Stripe webhook (the uuid names the endpoint; the body is signature-checked) and
    # the password reset link (the token is the secret).
    "stripe_webhook": "public-webhook", "djstripe:djstripe_webhook_by_uuid": "public-webhook",
    "password_reset_confirm": "public-reset",
    "admin:view_on_site": "admin-shortcut",
    "admin:auth_user_password_change": "admin-password",
    "admin:djstripe_custom_action": "admin-superuser",
    # Guest charging: the connector page, its checkout and the price API are public by design (AFIR); a guest's
    # session pages take the link's key, which is the secret (test_guest_links_and_qr_codes below).
    "guests:connector": "public-price", "guests:checkout": "public-price",
    "guests:api_connector": "public-price", "guests:api_location": "public-price",
    "guests:live": "guest-key", "guests:pay": "guest-key", "guests:status": "guest-key", "guests:stop": "guest-key",
    "guests:receipt": "guest-key", "guests:dispute": "guest-key", "guests:signed_data": "guest-key",
    "guests:meter_key": "guest-key",
    "admin:guests_qr_connector": "admin-qr", "admin:guests_qr_sheet": "admin-qr",
    # A what-if run's CSV: the run's operator's staff only (tests/billing_app/test_what_if.py, and the admin sweep).
    "admin:billing_app_whatifrun_csv": "admin-scoped",
    # Starting a stalled or failed what-if run again (POST): the run's operator's staff only (test below).
    "admin:billing_app_whatifrun_restart": "admin-scoped",
    # OCPI: token-authenticated partner APIs, never a signed-in person's (test_ocpi_urls_answer_only_partners
    # below; one partner against another's objects in tests/ocpi_app).
    "ocpi:location": "ocpi-partner", "ocpi:evse": "ocpi-partner", "ocpi:connector": "ocpi-partner",
    "ocpi:token": "ocpi-partner", "ocpi:command": "ocpi-partner", "ocpi:hubclientinfo": "ocpi-partner",
    "ocpi:unknown": "ocpi-partner",  # the catch-all answers OCPI's "unknown endpoint" envelope
}


def classify(route: str, name: str) -> str | None:
    if name in CLASSIFIED:
        return CLASSIFIED[name]
    match = re.match(r"admin/(\w+)/(\w+)/<path:object_id>/(\w*)/?$", route)
    if match:
        app_label, _model, view = match.groups()
        if view not in ADMIN_VIEWS:
            return None
        return "admin-scoped" if app_label in OUR_APPS else "admin-superuser"
    return None


def test_every_id_taking_url_is_classified():
    unclassified = [(route, name) for route, name, _ in id_taking_routes() if classify(route, name) is None]
    assert not unclassified, f"classify these id-taking URLs in the security sweep: {unclassified}"
    kinds = {classify(route, name) for route, name, _ in id_taking_routes()}
    assert {"driver-page", "support-page", "api", "admin-scoped", "payments-api", "fleet-page", "fleet-post"} <= kinds


# --- the world: operator A's objects, people around them -------------------------------------------------


@dataclass
class World:
    operator: object
    owner: User
    people: dict  # role -> User or None (anonymous)
    session: ChargingSession
    receipt: Invoice
    credit_note: CreditNote
    ticket: DisputeTicket
    attachment: MessageAttachment
    internal_attachment: MessageAttachment
    payment_method_id: str
    subscription: object
    marker: str  # text that appears in the owner's pages (must never reach someone else)


@pytest.fixture
def world(stripe_server, operator, other_operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    owner = payg_driver(operator)
    owner.email = "owner-secret@example.com"
    owner.save(update_fields=["email"])
    token = factories.IdTokenFactory(operator=operator, driver=owner, uid="04SECRETUID01")
    assert session_services.token_authorize(station=payg_station, uid=token.uid).accepted
    session = payg_session_stopped(payg_station, token, ref="tx-sweep",  # hold captured, receipt paid
                                   capture=django_capture_on_commit_callbacks)
    receipt = Invoice.objects.get(session=session, kind=Invoice.Kind.RECEIPT)
    meter = TestMeter("security sweep", serial="TM-SWEEP")  # signed readings, so the owner can download them
    session_services.meter_key_register(station=payg_station, evse_number=None, public_key=meter.public_key_hex,
                                        meter_serial=meter.serial, valid_from=session.started_at)
    record = meter.reading(at=session.started_at, wh=0, tx="B", id_tag=token.uid)
    session_services.session_signed_values_record(session=session, readings=[session_services.SignedReadingIn(
        taken_at=session.started_at, signed_data=record, format="OCMF", encoding="plain", ocmf=record)])

    own_support = factories.SupportFactory(username="own-support")
    own_support.supported_operators.add(operator)
    foreign_support = factories.SupportFactory(username="foreign-support")
    foreign_support.supported_operators.add(other_operator)
    people = {
        "owner": owner,
        "other_driver": factories.DriverFactory(operator=operator, username="other-driver"),
        "foreign_driver": factories.DriverFactory(operator=other_operator, username="foreign-driver"),
        "own_staff": factories.OperatorStaffFactory(operator=operator, username="own-staff"),
        "own_support": own_support,
        "foreign_staff": factories.OperatorStaffFactory(operator=other_operator, username="foreign-staff"),
        "foreign_support": foreign_support,
        "superuser": factories.SupportFactory(username="root", is_superuser=True),
        "anonymous": None,
    }
    ticket = disputes.ticket_open(by=owner, session=session, reason="wrong_amount", description="Charged too much")
    disputes.message_post(ticket=ticket, author=owner, body="my photo",
                          attachments=[SimpleUploadedFile("photo.txt", b"meter photo", content_type="text/plain")])
    disputes.message_post(ticket=ticket, author=own_support, body="internal", internal=True,
                          attachments=[SimpleUploadedFile("note.txt", b"internal", content_type="text/plain")])
    ticket = disputes.ticket_transition(ticket=ticket, by=own_support, to_status="in_progress")
    with django_capture_on_commit_callbacks(execute=True):
        disputes.ticket_resolve(ticket=ticket, by=own_support, kind="refund", amount=Decimal("1.00"),
                                explanation="ok")
    credit_note = CreditNote.objects.get(invoice=receipt)
    attachments = MessageAttachment.objects.filter(message__ticket=ticket).order_by("pk")
    api_token_create(user=owner)
    plan = apps.get_model("billing_app", "Plan").objects.create(operator=operator, name="Sweep plan",
                                                                fee_excl_vat=Decimal("9.00"), currency="EUR")
    today = timezone.localdate()
    subscription = apps.get_model("billing_app", "Subscription").objects.create(
        driver=owner, plan=plan, anchor_day=today.day if today.day <= 28 else 28, current_period_start=today,
        current_period_end=today + timedelta(days=30))
    Group.objects.create(name="sweep-group")
    return World(operator=operator, owner=owner, people=people, session=session, receipt=receipt,
                 credit_note=credit_note, ticket=ticket, attachment=attachments[0],
                 internal_attachment=attachments[1], payment_method_id=payment_methods_list(driver=owner)[0].id,
                 subscription=subscription,
                 marker=receipt.number)


def client_for(user, *, api=False):
    client = APIClient() if api else Client()
    if user is not None:
        client.force_login(user)
    return client


def denied(response) -> bool:
    """Refused without showing anything: 401/403/404/405, or a redirect (sign in, or the admin's
    'no such object' redirect to its index)."""
    return response.status_code in (301, 302, 401, 403, 404, 405)


class Sweep:
    def __init__(self, world: World):
        self.world, self.problems, self.checked = world, [], 0

    def request(self, role: str, method: str, url: str, *, api=False, **extra):
        client = client_for(self.world.people[role], api=api)
        response = getattr(client, method)(url, **extra)
        self.checked += 1
        if response.status_code >= 500:
            self.problems.append(f"{role} {method.upper()} {url}: {response.status_code}")
        return response

    def expect_denied(self, roles, method: str, url: str, **kwargs):
        for role in roles:
            response = self.request(role, method, url, **kwargs)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if not denied(response):
                self.problems.append(f"{role} {method.upper()} {url}: {response.status_code} (should be refused)")
            elif response.status_code in (301, 302) and response.get("Location", "").split("?")[0] == url:
                self.problems.append(f"{role} {method.upper()} {url}: redirects to itself")
            if self.world.marker.encode() in body or b"owner-secret@example.com" in body:
                self.problems.append(f"{role} {method.upper()} {url}: the owner's data is in the response")

    def expect_allowed(self, roles, method: str, url: str, statuses=(200,), **kwargs):
        for role in roles:
            response = self.request(role, method, url, **kwargs)
            if response.status_code not in statuses:
                self.problems.append(f"{role} {method.upper()} {url}: {response.status_code}, expected {statuses}")

    def assert_clean(self):
        assert not self.problems, "\n".join(self.problems)


EVERYONE = ("owner", "other_driver", "foreign_driver", "own_staff", "own_support", "foreign_staff",
            "foreign_support", "superuser", "anonymous")


def but(*allowed):
    return [role for role in EVERYONE if role not in allowed]


def driver_urls(w: World) -> dict:
    return {
        "portal:session": f"/portal/sessions/{w.session.pk}/",
        "portal:session_live": f"/portal/sessions/{w.session.pk}/live/",
        "portal:session_signed_data": f"/portal/sessions/{w.session.pk}/signed-meter-values.xml",
        "portal:session_meter_key": f"/portal/sessions/{w.session.pk}/meter-public-key.pem",
        "portal:receipt_pay": f"/portal/invoices/{w.receipt.pk}/pay/",
        "invoices:invoice_pdf": f"/invoices/{w.receipt.pk}/pdf/",
        "invoices:credit_note_pdf": f"/invoices/credit-notes/{w.credit_note.pk}/pdf/",
        "invoices:invoice_einvoice": f"/invoices/{w.receipt.pk}/e-invoice/cii/",
        "invoices:credit_note_einvoice": f"/invoices/credit-notes/{w.credit_note.pk}/e-invoice/cii/",
        "disputes:detail": f"/disputes/{w.ticket.pk}/",
        "disputes:attachment": f"/disputes/{w.ticket.pk}/files/{w.attachment.pk}/",
        "disputes:new?session": f"/disputes/new/?session={w.session.pk}",
        "disputes:new?invoice": f"/disputes/new/?invoice={w.receipt.pk}",
    }


def test_driver_pages_only_for_their_owner(world):
    sweep = Sweep(world)
    for url in driver_urls(world).values():
        sweep.expect_allowed(["owner"], "get", url)
        sweep.expect_denied(but("owner"), "get", url)
    # the driver never sees staff's internal files, even on their own ticket
    sweep.expect_denied(["owner"], "get", f"/disputes/{world.ticket.pk}/files/{world.internal_attachment.pk}/")
    # blocking someone else's card: refused, and the card stays active
    token = world.session.id_token
    sweep.expect_denied(but("owner"), "post", f"/portal/tokens/{token.pk}/block/")
    token.refresh_from_db()
    assert token.status == token.Status.ACCEPTED
    sweep.expect_allowed(["owner"], "post", f"/portal/tokens/{token.pk}/block/", statuses=(302,))
    # someone else's blocked card: no unblocking or replacing it
    for action, data in (("unblock", {}), ("replace", {"uid": "SWEEP-NEW-CARD"})):
        sweep.expect_denied(but("owner"), "post", f"/portal/tokens/{token.pk}/{action}/", data=data)
    token.refresh_from_db()
    assert (token.status, token.replaced_by_id) == (token.Status.BLOCKED, None)
    # someone else's plan: no changing, canceling, paying or resuming it
    subscription = world.subscription
    for action in ("change", "cancel", "pay", "resume"):
        sweep.expect_denied(but("owner"), "post", f"/portal/plan/{subscription.pk}/{action}/",
                            data={"plan": subscription.plan_id})
    subscription.refresh_from_db()
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", False)
    sweep.expect_allowed(["owner"], "post", f"/portal/plan/{subscription.pk}/cancel/", statuses=(302,))
    # someone else's receipt: no paying it with one's own card (the owner's paid receipt: nothing charged)
    payments = world.receipt.session.payments.count()
    sweep.expect_denied(but("owner"), "post", f"/portal/invoices/{world.receipt.pk}/pay/",
                        data={"attempt": 1, "payment_method": world.payment_method_id})
    assert world.receipt.session.payments.count() == payments
    sweep.expect_allowed(["owner"], "post", f"/portal/invoices/{world.receipt.pk}/pay/", statuses=(302,),
                         data={"attempt": 1, "payment_method": world.payment_method_id})
    assert world.receipt.session.payments.count() == payments
    sweep.assert_clean()


def test_support_pages_only_for_the_operators_staff_and_support(world):
    sweep = Sweep(world)
    for url in (f"/support/tickets/{world.ticket.pk}/",
                f"/support/tickets/{world.ticket.pk}/files/{world.attachment.pk}/",
                f"/support/tickets/{world.ticket.pk}/files/{world.internal_attachment.pk}/"):
        sweep.expect_allowed(["own_support", "own_staff", "superuser"], "get", url)
        sweep.expect_denied(but("own_support", "own_staff", "superuser"), "get", url)
    # acting on someone else's ticket is refused too, and changes nothing
    sweep.expect_denied(but("own_support", "own_staff", "superuser"), "post",
                        f"/support/tickets/{world.ticket.pk}/",
                        data={"action": "message", "message-body": "hijack"})
    assert not world.ticket.messages.filter(body="hijack").exists()
    sweep.assert_clean()


def test_payment_method_api_only_for_the_cards_owner(world):
    sweep = Sweep(world)
    pm = world.payment_method_id
    sweep.expect_denied(but("owner"), "post", f"/payments/api/methods/{pm}/default/", api=True)
    sweep.expect_denied(but("owner"), "delete", f"/payments/api/methods/{pm}/", api=True)
    assert [m.id for m in payment_methods_list(driver=world.owner)] == [pm]  # still there
    sweep.expect_allowed(["owner"], "post", f"/payments/api/methods/{pm}/default/", api=True)
    sweep.expect_allowed(["owner"], "delete", f"/payments/api/methods/{pm}/", api=True, statuses=(204,))
    sweep.assert_clean()


def test_api_objects_only_for_their_owner_or_operator(world):
    sweep = Sweep(world)
    w = world
    station, token = w.session.connector.station, w.session.id_token
    tariff = apps.get_model("billing_app", "Tariff").objects.filter(operator=w.operator).first().pk
    operator_side = ("own_staff", "own_support", "superuser")
    cases = [
        (f"/api/v1/sessions/{w.session.pk}/", ("owner", *operator_side)),
        (f"/api/v1/sessions/{w.session.pk}.json", ("owner", *operator_side)),
        (f"/api/v1/sessions/{w.session.pk}/samples/", ("owner", *operator_side)),
        (f"/api/v1/tokens/{token.pk}/", ("owner", *operator_side)),
        (f"/api/v1/stations/{station.pk}/", operator_side),
        (f"/api/v1/tariffs/{tariff}/", operator_side),
        (f"/api/v1/tariffs/{tariff}/ocpi/", operator_side),
        (f"/api/v1/invoices/{w.receipt.pk}/", ("owner", *operator_side)),
        (f"/api/v1/invoices/{w.receipt.pk}/pdf/", ("owner", *operator_side)),
        (f"/api/v1/credit-notes/{w.credit_note.pk}/", ("owner", *operator_side)),
        (f"/api/v1/credit-notes/{w.credit_note.pk}/pdf/", ("owner", *operator_side)),
        (f"/api/v1/invoices/{w.receipt.pk}/e-invoice/cii/", ("owner", *operator_side)),
        (f"/api/v1/credit-notes/{w.credit_note.pk}/e-invoice/cii/", ("owner", *operator_side)),
        (f"/api/v1/payments/{w.session.payments.first().pk}/", ("owner", *operator_side)),
        (f"/api/v1/disputes/{w.ticket.pk}/", ("owner", *operator_side)),
        (f"/api/v1/plans/{w.subscription.plan_id}/", ("owner", "other_driver", *operator_side)),  # the catalogue
    ]
    for url, allowed in cases:
        sweep.expect_allowed(allowed, "get", url, api=True)
        sweep.expect_denied(but(*allowed), "get", url, api=True)
    sweep.expect_denied(but("owner", "own_staff", "superuser", "own_support"), "post",
                        f"/api/v1/tokens/{token.pk}/block/", api=True)
    token.refresh_from_db()
    assert token.status == token.Status.ACCEPTED
    sweep.expect_denied(but("owner", *operator_side), "post", f"/api/v1/disputes/{w.ticket.pk}/messages/",
                        api=True, data={"body": "hijack"})
    assert not w.ticket.messages.filter(body="hijack").exists()
    sweep.assert_clean()


# --- admin -------------------------------------------------------------------------------------------

OWNED_BY = ("operator", "station__location__operator", "connector__station__location__operator",
            "session__operator", "tariff__operator", "invoice__operator", "location__operator",
            "ticket__operator", "group__operator", "plan__operator", "endpoint__operator")


def owned_object(model, w: World):
    """One object of `model` that belongs to operator A (the owner's operator)."""
    if model._meta.label == "sessions_app.Operator":
        return w.operator
    if model._meta.label == "sessions_app.User":
        return w.owner
    if model._meta.label == "auditlog.LogEntry":
        return model._default_manager.filter(additional_data__operator_id=w.operator.pk).order_by("pk").first()
    for path in OWNED_BY:
        try:
            found = model._default_manager.filter(**{path: w.operator}).order_by("pk").first()
        except FieldError:  # that path does not exist on this model
            continue
        if found is not None:
            return found
    return None


def admin_routes():
    for route, _name, _ in id_taking_routes():
        match = re.match(r"admin/(\w+)/(\w+)/<path:object_id>/(\w*)/?$", route)
        if match:
            yield match.groups()


def test_admin_object_pages_only_for_the_operators_staff(world):
    sweep = Sweep(world)
    missing = []
    for app_label, model_name, view in admin_routes():
        if app_label not in OUR_APPS:
            continue
        model = apps.get_model(app_label, model_name)
        obj = owned_object(model, world)
        if obj is None:
            obj = factories_for_admin(model, world)
        if obj is None:
            missing.append(model._meta.label)
            continue
        url = f"/admin/{app_label}/{model_name}/{obj.pk}/{view + '/' if view else ''}"
        if view in ("change", "pdf"):  # the URL is right: the superuser sees it
            sweep.expect_allowed(["superuser", "own_staff"], "get", url)
        roles = but("own_staff", "own_support", "superuser")
        sweep.expect_denied(roles, "get", url)
    assert not missing, f"no operator-A object to sweep the admin of: {sorted(set(missing))}"
    assert sweep.checked > 300  # ~20 models x their object views x 9 people
    # another operator's staff never reaches the owner's password form or the view-on-site shortcut
    sweep.expect_denied(but("superuser", "own_staff"), "get", f"/admin/sessions_app/user/{world.owner.pk}/password/")
    sweep.expect_denied(but("superuser", "own_staff", "own_support"), "get",
                        f"/admin/r/{_content_type_id(ChargingSession)}/{world.session.pk}/")
    sweep.assert_clean()


def _content_type_id(model) -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(model).pk


def factories_for_admin(model, w: World):
    """Objects the world does not make by itself."""
    label = model._meta.label
    if label == "billing_app.DriverGroup":
        return model._default_manager.create(operator=w.operator, name="Fleet")
    if label == "sessions_app.Company":
        return factories.CompanyFactory(operator=w.operator)
    if label == "disputes_app.OperatorSla":
        return model._default_manager.get_or_create(operator=w.operator)[0]
    if label == "billing_app.ChargeReview":
        charge = w.session.charge
        return model._default_manager.get_or_create(charge=charge, defaults={
            "reasons": [{"code": "register_jump", "detail": ""}], "measured_energy_kwh": charge.total_energy_kwh,
            "priced_total_incl_vat": charge.total_incl_vat})[0]
    if label == "billing_app.ReceiptCollection":
        return model._default_manager.get_or_create(invoice=w.receipt, defaults={"status": "retrying"})[0]
    if label in ("webhooks_app.WebhookEndpoint", "webhooks_app.WebhookDelivery"):
        from webhooks_app.models import WebhookEndpoint
        from webhooks_app.services import webhook_event_emit

        endpoint = WebhookEndpoint.objects.create(operator=w.operator, url="https://helpdesk.example.com/hooks")
        event = webhook_event_emit(operator=w.operator, type="invoice.issued", payload={"number": w.marker})
        return endpoint if label == "webhooks_app.WebhookEndpoint" else event.deliveries.get()
    if label == "guests_app.GuestSession":
        from guests_app.models import GuestSession

        token = factories.IdTokenFactory(operator=w.operator)
        return GuestSession.objects.create(operator=w.operator, connector=w.session.connector, driver=token.driver,
                                           id_token=token, access_key_hash="0" * 64, currency="EUR",
                                           hold_amount=Decimal("30"), state="ended")
    if label in ("billing_app.WhatIfRun", "billing_app.WhatIfSession"):
        return _what_if_run(w)
    if label == "sessions_app.ConnectorStatusEvent":
        station = w.session.connector.station
        return model._default_manager.create(station=station, connector_number=1, status="Available",
                                             timestamp=timezone.now(), received_at=timezone.now())
    return None


def _what_if_run(w: World):
    from billing_app.pricing import ocpi
    from billing_app.tariffs import what_if
    from billing_app.tariffs.services import snapshot

    tariff = w.session.charge.tariff
    day = w.session.started_at.date()
    return what_if.what_if_create(operator=w.operator, created_by=None, draft=ocpi.loads(snapshot(tariff)),
                                  draft_name=w.marker, start_date=day, end_date=day)


def test_what_if_csv_only_for_the_operators_staff(world):
    sweep = Sweep(world)
    run = _what_if_run(world)
    url = f"/admin/billing_app/whatifrun/{run.pk}/sessions.csv"
    sweep.expect_allowed(["superuser", "own_staff"], "get", url)
    sweep.expect_denied(but("superuser", "own_staff", "own_support"), "get", url)
    sweep.assert_clean()


def test_what_if_restart_only_by_the_operators_staff(world):
    sweep = Sweep(world)
    run = _what_if_run(world)
    WhatIfRun.objects.filter(pk=run.pk).update(state="running", heartbeat_at=timezone.now() - timedelta(hours=1))
    before = WhatIfRun.objects.filter(pk=run.pk).values().get()
    url = f"/admin/billing_app/whatifrun/{run.pk}/restart/"
    sweep.expect_denied(but("superuser", "own_staff"), "post", url)
    assert WhatIfRun.objects.filter(pk=run.pk).values().get() == before
    sweep.expect_allowed(["own_staff"], "post", url, statuses=(302,))
    assert WhatIfRun.objects.get(pk=run.pk).state in ("queued", "done")  # queued again (done where tasks run eagerly)
    sweep.assert_clean()


def test_superuser_only_admin_objects(world):
    """dj-stripe, auth groups and API tokens: superusers only (the owner's API token above all)."""
    sweep = Sweep(world)
    token = AuthToken.objects.get(user=world.owner)
    for app_label, model_name, view in admin_routes():
        if app_label in OUR_APPS:
            continue
        model = apps.get_model(app_label, model_name)
        obj = model._default_manager.order_by("pk").first()
        object_id = obj.pk if obj is not None else "missing"
        url = f"/admin/{app_label}/{model_name}/{object_id}/{view + '/' if view else ''}"
        sweep.expect_denied(but("superuser"), "get", url)
    sweep.expect_denied(but("superuser"), "get", f"/admin/knox/authtoken/{token.pk}/change/")
    sweep.expect_allowed(["superuser"], "get", f"/admin/knox/authtoken/{token.pk}/change/")
    sweep.assert_clean()


def test_guest_links_and_qr_codes(world):
    """A guest's pages open only with their link's key (anything else is a 404 for everyone); QR codes are
    the operator's staff's (and support's), like the connectors they encode."""
    sweep = Sweep(world)
    for suffix in ("", "status/", "receipt.pdf"):
        sweep.expect_denied(list(EVERYONE), "get", f"/charge-session/not-the-key/{suffix}")
    for suffix in ("pay/", "stop/", "dispute/"):
        sweep.expect_denied(list(EVERYONE), "post", f"/charge-session/not-the-key/{suffix}")
    connector = world.session.connector
    for url in (f"/admin/guests_app/guestsession/qr/connector/{connector.pk}.png",
                f"/admin/guests_app/guestsession/qr/location/{connector.station.location_id}/"):
        sweep.expect_allowed(["superuser", "own_staff"], "get", url)
        sweep.expect_denied(but("superuser", "own_staff", "own_support"), "get", url)
    sweep.assert_clean()


def test_ocpi_urls_answer_only_partners(world):
    """OCPI's partner APIs take a partner's token, never a signed-in person's session: everyone of the sweep,
    the superuser included, is refused with OCPI's error envelope, and nothing of the location leaks."""
    sweep = Sweep(world)
    location = world.session.connector.station.location
    evse = f"/ocpi/2.2.1/locations/{location.pk}/{world.session.connector.station.ocpp_identity}"
    for url in (f"/ocpi/2.2.1/locations/{location.pk}", evse, f"{evse}/1", "/ocpi/2.2.1/tokens/DE/ABC/04SECRETUID01",
                "/ocpi/2.2.1/hubclientinfo/DE/ABC"):
        sweep.expect_denied(list(EVERYONE), "get", url)
        for role in ("owner", "superuser", "anonymous"):
            response = sweep.request(role, "get", url)
            assert response.status_code == 401, (role, url, response.status_code)
            assert response.json()["status_code"] >= 2000, response.json()
            assert location.name.encode() not in response.content
    sweep.expect_denied(list(EVERYONE), "post", "/ocpi/2.2.1/commands/START_SESSION")
    sweep.assert_clean()


def test_public_id_urls_do_not_leak(world, client):
    sweep = Sweep(world)
    import uuid

    for url in (f"/stripe/webhook/{uuid.uuid4()}/",):
        response = client.post(url, data="{}", content_type="application/json")
        assert response.status_code in (400, 403, 404), response.status_code
    response = client.get("/accounts/reset/MQ/not-a-token/", follow=True)
    assert response.status_code == 200 and b'name="new_password1"' not in response.content
    sweep.assert_clean()


# --- CSRF ----------------------------------------------------------------------------------------------

FORM = re.compile(rb"<form\b[^>]*>(.*?)</form>", re.S | re.I)


def post_forms_without_token(html: bytes) -> list[bytes]:
    bad = []
    for match in FORM.finditer(html):
        opening = html[match.start():match.start() + 200].split(b">")[0].lower()
        if b'method="post"' in opening and b"csrfmiddlewaretoken" not in match.group(1):
            bad.append(opening)
    return bad


def test_every_html_form_page_has_a_csrf_token(world):
    w = world
    pages = {
        "anonymous": ["/accounts/login/", "/admin/login/", "/accounts/password_reset/"],
        "owner": ["/portal/", "/portal/sessions/", f"/portal/sessions/{w.session.pk}/", "/portal/invoices/",
                  "/portal/tokens/", "/portal/profile/", "/payments/methods/", "/disputes/",
                  f"/disputes/new/?session={w.session.pk}", f"/disputes/new/?invoice={w.receipt.pk}",
                  f"/disputes/{w.ticket.pk}/"],
        "own_support": ["/support/tickets/", f"/support/tickets/{w.ticket.pk}/"],
        "superuser": ["/admin/", "/admin/analytics/", f"/admin/billing_app/invoice/{w.receipt.pk}/change/",
                      "/admin/billing_app/tariff/", "/admin/sessions_app/chargingstation/add/",
                      "/admin/password_change/"],
    }
    problems, forms_seen = [], 0
    for role, urls in pages.items():
        client = client_for(w.people[role])
        for url in urls:
            response = client.get(url)
            if response.status_code != 200:
                problems.append(f"{role} {url}: {response.status_code}")
                continue
            forms_seen += len(FORM.findall(response.content))
            problems += [f"{role} {url}: POST form without csrf token: {f!r}"
                         for f in post_forms_without_token(response.content)]
    assert not problems, "\n".join(problems)
    assert forms_seen >= 15


def test_forms_refuse_a_post_without_the_csrf_token(world):
    """The CSRF middleware is on: a session-authenticated POST without the token is a 403."""
    checks = [("owner", f"/disputes/new/?session={world.session.pk}", {"reason": "other", "description": "x"}),
              ("owner", "/portal/profile/", {"full_name": "x"}),
              ("owner", f"/portal/tokens/{world.session.id_token.pk}/block/", {}),
              ("own_support", f"/support/tickets/{world.ticket.pk}/", {"action": "message", "message-body": "x"}),
              ("anonymous", "/accounts/login/", {"username": "x", "password": "y"})]
    for role, url, data in checks:
        client = Client(enforce_csrf_checks=True)
        if world.people[role] is not None:
            client.force_login(world.people[role])
        assert client.post(url, data).status_code == 403, url


def test_fleet_pages_only_for_the_companys_fleet_manager(operator, other_operator, connector):
    """Company A's card, statement and credit note, asked for by A's fleet manager (allowed), B's fleet manager of
    the same operator, A's own member driver, the operator's staff and support, another operator's fleet manager
    and anonymous (all refused, and nothing of A's in the answer)."""
    from datetime import date

    from billing_app.invoicing import delivery_suppressed
    from billing_app.invoicing.billing_run import billing_run
    from billing_app.invoicing.credit_notes import credit_note_issue
    from billing_app.models import BillingAccount
    from tests.billing_app.invoice_fixtures import charged_session

    companies = {}
    for key, op in (("a", operator), ("b", operator), ("foreign", other_operator)):
        companies[key] = factories.CompanyFactory(operator=op, legal_name=f"Company {key}")
        BillingAccount.objects.create(company=companies[key], operator=op, payment_mode="postpaid")
    member = factories.DriverFactory(operator=operator, company=companies["a"], email="owner-secret@example.com")
    card = factories.IdTokenFactory(operator=operator, driver=member, company=companies["a"], charging="business",
                                    uid="04SECRETUID01")
    charged_session(connector=connector, driver=member, id_token=card,
                    started_at=timezone.now().replace(year=2026, month=10, day=6))
    with delivery_suppressed():
        billing_run(period=date(2026, 10, 1))
        invoice = Invoice.objects.get(account__company=companies["a"])
        note = credit_note_issue(invoice_id=invoice.pk, amount_incl_vat=Decimal("1.00"), reason="Goodwill")
    staff = factories.OperatorStaffFactory(operator=operator)
    support = factories.SupportFactory()
    support.supported_operators.add(operator)
    people = {"owner": factories.FleetManagerFactory(company=companies["a"]),
              "other_company": factories.FleetManagerFactory(company=companies["b"]),
              "member": member, "own_staff": staff, "own_support": support,
              "foreign_fleet": factories.FleetManagerFactory(company=companies["foreign"]), "anonymous": None}
    world = type("FleetWorld", (), {"people": people, "marker": "04SECRETUID01"})()
    sweep = Sweep(world)
    others = [role for role in people if role != "owner"]
    for url in (f"/fleet/invoices/{invoice.pk}/pdf/", f"/fleet/invoices/{invoice.pk}/sessions.csv",
                f"/fleet/invoices/{invoice.pk}/e-invoice/cii/", f"/fleet/credit-notes/{note.pk}/e-invoice/cii/",
                f"/fleet/credit-notes/{note.pk}/pdf/"):
        sweep.expect_denied(others, "get", url)
        sweep.expect_allowed(["owner"], "get", url)
    # the API serves the company's documents to its fleet manager, and to the operator's staff and support as ever
    for url in (f"/api/v1/invoices/{invoice.pk}/", f"/api/v1/invoices/{invoice.pk}/e-invoice/cii/",
                f"/api/v1/credit-notes/{note.pk}/e-invoice/cii/"):
        sweep.expect_denied([r for r in others if r not in ("own_staff", "own_support")], "get", url)
        sweep.expect_allowed(["owner", "own_staff", "own_support"], "get", url)
    update = {f"card{card.pk}-charging": "private", f"card{card.pk}-cost_centre": "x"}
    sweep.expect_denied(others, "post", f"/fleet/cards/{card.pk}/", data=update)
    sweep.expect_denied(others, "post", f"/fleet/cards/{card.pk}/block/")
    card.refresh_from_db()
    assert (card.charging, card.cost_centre, card.status) == ("business", "", "accepted")
    sweep.expect_allowed(["owner"], "post", f"/fleet/cards/{card.pk}/block/", statuses=(302,))
    sweep.assert_clean()
