"""The guest's pages: the connector page the QR code opens (price before start, pay), the live session page
behind the guest's link, its status JSON, Stop, and the receipt PDF. No sign-in anywhere: the link's key is
the guest's only credential, so every page and answer under it is `no-store` and sends no referrer.

Thin: parse, call `guests_app.services`, answer. Service refusals are a JSON error body with the message the
guest reads (`{"error": {"code", "message"}}`), never a 500.
"""
from __future__ import annotations

import json
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.validators import validate_email
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from disputes_app.selectors import is_ticket_staff
from evbilling.errors import ApplicationError, NotFoundError
from guests_app import prices, services
from guests_app.forms import GuestDisputeForm
from sessions_app.selectors import meter_key_pem, session_signed_data, session_transparency_xml


def _private(response):
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def _error(status: int, code: str, message: str) -> JsonResponse:
    return _private(JsonResponse({"error": {"status": status, "code": code, "message": message}}, status=status))


def _client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


def rate_limited(bucket: str):
    """At most GUEST_PAY_RATE ("count/seconds") requests per client address to the decorated endpoints
    (the ones that reach Stripe): the next gets a 429 with a message, before any work is done."""
    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            count, seconds = (int(part) for part in settings.GUEST_PAY_RATE.split("/"))
            key = f"guests:rate:{bucket}:{_client_address(request)}"
            cache.add(key, 0, timeout=seconds)
            try:
                used = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=seconds)
                used = 1
            if used > count:
                return _error(429, "rate_limited", _("Too many payment attempts from this address; wait a few "
                                                     "minutes and try again."))
            return view(request, *args, **kwargs)
        return wrapped
    return decorate


def _calls(view):
    """Service errors -> JSON error bodies; unknown keys -> 404 JSON."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ApplicationError as error:
            return _error(error.status_code, error.code, error.message)
    return wrapped


def _language() -> str:
    return (get_language() or "en").split("-")[0]


@require_GET
@ensure_csrf_cookie
def connector_page(request, identity: str, number: int):
    try:
        connector = services.connector_public(identity, number)
    except NotFoundError as error:
        raise Http404(error.message) from error
    price = prices.connector_price(connector, language=_language())
    status = prices.connector_status(connector)
    return render(request, "guests/connector.html", {
        "connector": connector, "location": connector.station.location, "status": status, "price": price,
        "stripe_js_url": settings.STRIPE_JS_URL, "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "start_minutes": max(1, settings.GUEST_START_TIMEOUT_SECONDS // 60),
    })


@require_POST
@rate_limited("checkout")
@_calls
def checkout(request, identity: str, number: int):
    """Begin paying: {email?} -> {live_url, pay_url, client_secret, publishable_key}."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "invalid", _("The request is not JSON."))
    email = str(body.get("email") or "").strip() if isinstance(body, dict) else ""
    if email:
        try:
            validate_email(email)
        except Exception:
            return _error(400, "invalid_email",
                          _("That e-mail address does not look right; leave it empty or fix it."))
    connector = services.connector_public(identity, number)
    opened = services.guest_checkout_open(connector=connector, email=email, language=_language())
    return _private(JsonResponse({
        "live_url": reverse("guests:live", args=[opened.key]),
        "pay_url": reverse("guests:pay", args=[opened.key]), "client_secret": opened.client_secret,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY, "hold": str(opened.guest.hold_amount),
        "currency": opened.guest.currency,
    }, status=201))


@require_POST
@rate_limited("pay")
@_calls
def pay(request, key: str):
    guest = services.guest_by_key(key)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "invalid", _("The request is not JSON."))
    setup_intent_id = str(body.get("setup_intent_id") or "") if isinstance(body, dict) else ""
    guest = services.guest_pay(guest=guest, setup_intent_id=setup_intent_id)
    guest = services.guest_by_key(key)
    return _private(JsonResponse(services.guest_live(guest=guest)))


@require_GET
@ensure_csrf_cookie
def live_page(request, key: str):
    try:
        guest = services.guest_by_key(key)
    except NotFoundError as error:
        raise Http404(error.message) from error
    return _private(render(request, "guests/live.html", {
        "guest": guest, "live": services.guest_live(guest=guest), "connector": guest.connector,
        "location": guest.connector.station.location, "key": key,
        "signature": getattr(guest.session, "signature_check", None) if guest.session_id else None,
    }))


@require_GET
@_calls
def status(request, key: str):
    guest = services.guest_by_key(key)
    return _private(JsonResponse(services.guest_live(guest=guest)))


@require_POST
@_calls
def stop(request, key: str):
    guest = services.guest_by_key(key)
    services.guest_stop(guest=guest)
    return _private(JsonResponse(services.guest_live(guest=services.guest_by_key(key))))


@require_POST
@rate_limited("dispute")
@_calls
def dispute(request, key: str):
    """The guest disputes their receipt: {reason, description} -> {ticket}."""
    guest = services.guest_by_key(key)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "invalid", _("The request is not JSON."))
    body = body if isinstance(body, dict) else {}
    ticket = services.guest_dispute_open(guest=guest, reason=str(body.get("reason") or ""),
                                         description=str(body.get("description") or ""))
    return _private(JsonResponse({"ticket": ticket.pk, "status": ticket.status,
                                  "message": _("Thank you: support will answer by e-mail.") if guest.email else
                                  _("Thank you: support will answer by e-mail (you gave no e-mail: keep this page).")},
                                 status=201))


@login_required
def support_guest_dispute(request):
    """Support opens a dispute for a guest from the receipt's number and e-mail."""
    if not is_ticket_staff(request.user):
        raise PermissionDenied
    form = GuestDisputeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.guest_dispute_open_for_support(by=request.user, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            return redirect("disputes:support_ticket", pk=ticket.pk)
    return render(request, "support/guest_dispute.html", {"form": form})


@require_GET
def receipt_pdf(request, key: str):
    from billing_app.invoicing.delivery import document_pdf_bytes

    try:
        guest = services.guest_by_key(key)
        receipt = services.guest_receipt(guest=guest)
    except NotFoundError as error:
        raise Http404(error.message) from error
    response = HttpResponse(document_pdf_bytes(receipt), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{receipt.number}.pdf"'
    return _private(response)



def _guest_charging_session(key: str):
    try:
        guest = services.guest_by_key(key)
    except NotFoundError as error:
        raise Http404(error.message) from error
    if guest.session is None:
        raise Http404("This charge has no session yet.")
    return guest.session


@require_GET
def signed_data(request, key: str):
    """The guest's signed meter readings in the S.A.F.E. Transparenzsoftware's XML container."""
    xml = session_transparency_xml(_guest_charging_session(key))
    if xml is None:
        raise Http404("This session has no signed meter readings.")
    response = HttpResponse(xml, content_type="application/xml")
    response["Content-Disposition"] = 'attachment; filename="signed-meter-values.xml"'
    return _private(response)


@require_GET
def meter_key(request, key: str):
    """The public key of the meter that signed the guest's readings (PEM)."""
    meter = session_signed_data(_guest_charging_session(key))[1]
    if meter is None:
        raise Http404("No meter key is known for this session.")
    response = HttpResponse(meter_key_pem(meter), content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="meter-public-key.pem"'
    return _private(response)
