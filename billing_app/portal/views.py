"""Portal pages: thin views over the portal selectors; every object is the driver's own or a 404."""
from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing_app.invoicing.collection import receipt_owed, receipt_pay_attempt, receipt_pay_now
from billing_app.models import Invoice, Subscription
from billing_app.money import format_hours, format_money, format_percent, format_quantity
from billing_app.payments.methods import payment_methods_list
from billing_app.payments.overdue_refusal import overdue_refusals
from billing_app.payments.stripe_client import StripeError
from billing_app.plans import services as plans
from billing_app.portal import selectors
from billing_app.portal.forms import (
    PlanChangeForm,
    PlanSubscribeForm,
    ProfileForm,
    ReceiptPayForm,
    SessionFilterForm,
    TokenReplaceForm,
)
from billing_app.settlement.running_cost import session_running_total
from billing_app.settlement.selectors import charge_vat_breakdown
from billing_app.tariffs.cdr import session_periods
from evbilling.errors import form_call, message_call
from sessions_app.local_time import format_local_date
from sessions_app.models import DriverProfile, IdToken, MeterSignatureCheck
from sessions_app.periods import CHARGING
from sessions_app.selectors import (
    meter_key_pem,
    session_energy_so_far_wh,
    session_signed_data,
    session_transparency_xml,
)
from sessions_app.services import tokens as token_services

LINE_LABELS = {
    "ENERGY": gettext_lazy("Energy (kWh)"), "TIME": gettext_lazy("Charging time (h)"),
    "PARKING_TIME": gettext_lazy("Idle time after charging (h)"), "FLAT": gettext_lazy("Session fee"),
    "RESERVATION_TIME": gettext_lazy("Reservation time (h)"), "RESERVATION_FLAT": gettext_lazy("Reservation fee"),
    "MIN_PRICE": gettext_lazy("Minimum price adjustment"), "MAX_PRICE": gettext_lazy("Price cap"),
    "PLAN_INCLUDED_ENERGY": gettext_lazy("Included in your plan (kWh)"),
    "PLAN_DISCOUNT_ENERGY": gettext_lazy("Plan discount on energy"),
    "PLAN_DISCOUNT_TIME": gettext_lazy("Plan discount on charging time"),
    "PLAN_WAIVED_FLAT": gettext_lazy("Session fee waived by your plan"),
    "PLAN_WAIVED_PARKING": gettext_lazy("Idle fee waived by your plan"), "PLAN_FLOOR": gettext_lazy("Plan adjustment"),
}


PAGE_SIZE = 25


def quantity_text(dimension: str, value) -> str:
    """A breakdown line's quantity in its dimension's unit: energy in kWh, times as hours and minutes."""
    if value in (None, ""):
        return ""
    if "ENERGY" in dimension:
        return f"{format_quantity(value)}\u00a0kWh"
    if "TIME" in dimension or "PARKING" in dimension:
        return format_hours(value)
    return format_quantity(value, 0)


def _query_without(request, name: str) -> str:
    """The page's query string minus one parameter, for links that set it again."""
    query = request.GET.copy()
    query.pop(name, None)
    return query.urlencode()


def _overdue_refusal_notices(driver) -> list[dict]:
    """Why chargers refuse (or will refuse) the driver's cards: each overdue receipt, from when, with Pay now."""
    now = timezone.now()
    return [{"receipt": r.receipt, "refused_from": r.refused_from, "refusing": r.refusing(now)}
            for r in overdue_refusals(driver=driver)]


def driver_required(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_driver or request.user.is_superuser:
            raise PermissionDenied("The portal is for drivers.")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@login_required
def home(request):
    """The site's front door: drivers to their portal, staff to the admin or the support queue."""
    user = request.user
    if user.is_driver and not user.is_superuser:
        return redirect("portal:dashboard")
    if user.is_support:
        return redirect("disputes:support_queue")
    if user.is_fleet_manager:
        return redirect("fleet:dashboard")
    return redirect("admin:index")


@driver_required
def dashboard(request):
    sessions = selectors.driver_sessions(request.user)
    active = sessions.filter(state="active").first()
    running = session_running_total(active) if active else None
    return render(request, "portal/dashboard.html", {
        "summary": selectors.month_summary(request.user),
        "active": active,
        "active_cost": running[0] if running else None,
        "active_currency": running[1] if running else "",
        "active_kwh": session_energy_so_far_wh(active) / 1000 if active else None,
        "recent": sessions[:5],
        "unpaid_receipts": selectors.driver_receipts_in_dunning(request.user),
        "overdue_refusals": _overdue_refusal_notices(request.user),
    })


@driver_required
def session_live(request, pk: int):
    """The dashboard's live figures for one of the driver's sessions (JSON, polled while it charges)."""
    session = selectors.driver_sessions(request.user).filter(pk=pk).select_related("connector__station").first()
    if session is None:
        return JsonResponse({"error": {"code": "not_found", "message": _("No such session.")}}, status=404)
    running = session_running_total(session) if session.state == "active" else None
    energy_kwh = session_energy_so_far_wh(session) / 1000
    return JsonResponse({
        "id": session.pk,
        "state": session.state,
        "energy_kwh": f"{energy_kwh:.3f}",
        "energy_text": f"{format_quantity(energy_kwh)}\u00a0kWh",
        "cost_so_far": None if running is None else str(running[0]),
        "currency": None if running is None else running[1],
        "cost_text": None if running is None else format_money(running[0], running[1]),
        "started_at": session.started_at.isoformat(),
    })


@driver_required
def session_list(request):
    form = SessionFilterForm(request.GET or None)
    sessions = selectors.driver_sessions(request.user)
    if form.is_bound:
        # A filter that does not hold (end before start) lists nothing rather than everything.
        sessions = form.apply(sessions) if form.is_valid() else sessions.none()
    page = Paginator(sessions, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/sessions.html", {"form": form, "page": page,
                                                    "query": _query_without(request, "page")})


@driver_required
def session_detail(request, pk: int):
    session = get_object_or_404(selectors.driver_sessions(request.user), pk=pk)
    charge = getattr(session, "charge", None)
    samples = list(session.samples.order_by("taken_at").values("taken_at", "power_w", "energy_wh", "soc_percent"))
    periods = session_periods(session) if session.stopped_at else []
    zone = ZoneInfo(session.connector.station.location.time_zone)
    chart = {"labels": [s["taken_at"].astimezone(zone).strftime("%H:%M") for s in samples],
             "power_kw": [float(s["power_w"] or 0) / 1000 for s in samples]}
    lines = [{**line, "label": LINE_LABELS.get(line["dimension"], line["dimension"].title()),
              "measured": quantity_text(line["dimension"], line.get("quantity")),
              "billed": quantity_text(line["dimension"], line.get("billed_quantity"))}
             for line in (charge.breakdown.get("lines", []) if charge else [])]
    receipt = session.receipts.exclude(number__isnull=True).first()
    tickets = list(session.dispute_tickets.filter(driver=request.user).order_by("-opened_at"))
    vat_rows = [{**row, "label": "no VAT" if row["rate"] is None else format_percent(Decimal(row["rate"])),
                 "gross": Decimal(row["taxable_amount"]) + Decimal(row["vat_amount"])}
                for row in (charge_vat_breakdown(charge) if charge else [])]
    return render(request, "portal/session_detail.html", {
        "session": session, "charge": charge, "lines": lines, "vat_rows": vat_rows,
        "time_zone": session.connector.station.location.time_zone,
        "chart": chart, "periods": periods, "charging": CHARGING,
        "signature": MeterSignatureCheck.objects.filter(session=session).first(),
        "calibration_law": session.connector.station.location.calibration_law,
        "receipt": receipt,
        "credit_notes": selectors.session_credit_notes(request.user, session),
        "refunds": selectors.session_refunds(request.user, session),
        "tickets": tickets,
        # Something to dispute: a billed session without a ticket still open (a failed session that
        # delivered nothing has no charge, so nothing to dispute).
        "can_dispute": bool(charge or receipt) and not any(t.status not in ("resolved", "closed") for t in tickets),
        "nothing_charged": session.stopped_at is not None and charge is None
        and session.state == session.State.FAILED,
    })


@driver_required
def session_signed_data_download(request, pk: int):
    """The session's signed meter readings in the XML container the S.A.F.E. Transparenzsoftware opens."""
    session = get_object_or_404(selectors.driver_sessions(request.user), pk=pk)
    xml = session_transparency_xml(session)
    if xml is None:
        raise Http404("This session has no signed meter readings.")
    response = HttpResponse(xml, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}-signed-meter-values.xml"'
    return response


@driver_required
def session_meter_key_download(request, pk: int):
    """The public key of the meter that signed the session's readings (PEM)."""
    session = get_object_or_404(selectors.driver_sessions(request.user), pk=pk)
    _, key = session_signed_data(session)
    if key is None:
        raise Http404("No meter key is known for this session.")
    response = HttpResponse(meter_key_pem(key), content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="meter-{key.meter_serial or key.pk}-public-key.pem"'
    return response


@driver_required
def invoice_list(request):
    return render(request, "portal/invoices.html", {
        "invoices": Paginator(selectors.driver_invoices(request.user), PAGE_SIZE).get_page(request.GET.get("page")),
        "credit_notes": Paginator(selectors.driver_credit_notes(request.user).select_related("invoice"),
                                  PAGE_SIZE).get_page(request.GET.get("notes_page")),
        "query": _query_without(request, "page"),
        "notes_query": _query_without(request, "notes_page"),
        "overdue_refusals": _overdue_refusal_notices(request.user),
    })


def _receipt_pay_page(request, receipt: Invoice, *, form=None, status=200):
    methods_unavailable = False
    if form is None:
        try:
            methods = payment_methods_list(driver=request.user)
        except StripeError:
            methods, methods_unavailable = [], True
        form = ReceiptPayForm(methods=methods, initial={"attempt": receipt_pay_attempt(receipt)})
    payable = receipt.state == Invoice.State.ISSUED
    return render(request, "portal/receipt_pay.html", {
        "receipt": receipt, "collection": getattr(receipt, "collection", None), "form": form,
        "owed": receipt_owed(receipt) if payable else None, "payable": payable,
        "methods_unavailable": methods_unavailable,
        "overdue_refusals": [n for n in _overdue_refusal_notices(request.user) if n["receipt"].pk == receipt.pk],
    }, status=status)


@driver_required
def receipt_pay(request, pk: int):
    """Pay now: the driver pays an unpaid receipt with a saved card (GET shows it, POST pays, then back here).
    A repeated POST of the same page is the same attempt (`collection.receipt_pay_now`): never a second charge."""
    receipt = get_object_or_404(selectors.driver_invoices(request.user).filter(kind=Invoice.Kind.RECEIPT), pk=pk)
    if request.method != "POST":
        return _receipt_pay_page(request, receipt)
    try:
        methods = payment_methods_list(driver=request.user)
    except StripeError:
        methods = []
    form = ReceiptPayForm(request.POST, methods=methods)
    if not form.is_valid():
        return _receipt_pay_page(request, receipt, form=form, status=400)
    if message_call(request, receipt_pay_now, driver=request.user, invoice_id=receipt.pk,
                    attempt=form.cleaned_data["attempt"], payment_method_id=form.cleaned_data["payment_method"]):
        messages.success(request, _("Thank you: receipt %(number)s is paid.") % {"number": receipt.number})
    return redirect("portal:receipt_pay", pk=receipt.pk)


@driver_required
def token_list(request):
    return render(request, "portal/tokens.html", {"tokens": selectors.driver_tokens(request.user),
                                                  "replace_form": TokenReplaceForm(),
                                                  "overdue_refusals": _overdue_refusal_notices(request.user)})


@require_POST
@driver_required
def token_block(request, pk: int):
    token = get_object_or_404(selectors.driver_tokens(request.user), pk=pk)
    was_blocked = token.status == IdToken.Status.BLOCKED
    if message_call(request, token_services.token_block, token_id=token.pk, by=request.user) and not was_blocked:
        messages.success(request, _("Card %(card)s is blocked: chargers will refuse it from now on.") % {
            "card": token.uid})
    return redirect("portal:tokens")


@require_POST
@driver_required
def token_unblock(request, pk: int):
    token = get_object_or_404(selectors.driver_tokens(request.user), pk=pk)
    if message_call(request, token_services.token_unblock, token_id=token.pk, by=request.user):
        messages.success(request, _("Card %(uid)s is accepted again.") % {"uid": token.uid})
    return redirect("portal:tokens")


@require_POST
@driver_required
def token_replace(request, pk: int):
    token = get_object_or_404(selectors.driver_tokens(request.user), pk=pk)
    form = TokenReplaceForm(request.POST)
    if form.is_valid() and form_call(form, token_services.token_replace, token_id=token.pk,
                                     uid=form.cleaned_data["uid"], by=request.user):
        messages.success(request, _("Card %(new)s replaces card %(old)s.")
                         % {"new": form.cleaned_data["uid"], "old": token.uid})
        return redirect("portal:tokens")
    return render(request, "portal/tokens.html", {"tokens": selectors.driver_tokens(request.user),
                                                  "replace_form": form, "replacing": token}, status=400)


@driver_required
def profile(request):
    instance = DriverProfile.objects.filter(user=request.user).first() or DriverProfile(user=request.user)
    form = ProfileForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your billing details are saved; they appear on your next invoices."))
        return redirect("portal:profile")
    return render(request, "portal/profile.html", {"form": form})


# --- Plan ---------------------------------------------------------------------------------------

def _change_choices(offered, subscription: Subscription):
    """The plans a change can go to: every offered plan but the one the next period already has (so a
    pending change can be undone by choosing the current plan again)."""
    return offered.exclude(pk=(subscription.pending_plan_id or subscription.plan_id))


def _plan_page(request, *, subscribe_form=None, change_form=None, status=200):
    driver = request.user
    offered = plans.plans_offered(driver=driver)
    subscription = plans.live_subscription(driver=driver)
    if subscription is None and subscribe_form is None:
        subscribe_form = PlanSubscribeForm(plans=offered, methods=payment_methods_list(driver=driver))
    if subscription is not None and change_form is None:
        change_form = PlanChangeForm(plans=_change_choices(offered, subscription))
    periods = subscription.periods.order_by("-period_start")[:6] if subscription else []
    return render(request, "portal/plan.html", {
        "subscription": subscription, "periods": periods, "offered": offered,
        "subscribe_form": subscribe_form, "change_form": change_form,
        "unpaid": any(p.status == "failed" for p in periods),
    }, status=status)


@driver_required
def plan_overview(request):
    return _plan_page(request)


@require_POST
@driver_required
def plan_subscribe(request):
    driver = request.user
    form = PlanSubscribeForm(request.POST, plans=plans.plans_offered(driver=driver),
                             methods=payment_methods_list(driver=driver))
    if form.is_valid() and form_call(form, plans.plan_subscribe, driver=driver, plan=form.cleaned_data["plan"],
                                     payment_method_id=form.cleaned_data["payment_method"]):
        messages.success(request, _("You are subscribed to %(plan)s.") % {"plan": form.cleaned_data["plan"].name})
        return redirect("portal:plan")
    return _plan_page(request, subscribe_form=form, status=400)


def _own_subscription(request, pk: int) -> Subscription:
    return get_object_or_404(Subscription.objects.select_related("plan"), pk=pk, driver=request.user,
                             status__in=Subscription.LIVE)


@require_POST
@driver_required
def plan_change(request, pk: int):
    subscription = _own_subscription(request, pk)
    form = PlanChangeForm(request.POST, plans=_change_choices(plans.plans_offered(driver=request.user), subscription))
    if form.is_valid():
        try:
            plans.plan_change(subscription=subscription, plan=form.cleaned_data["plan"])
        except plans.PlanError as error:
            form.add_error("plan", str(error))
        else:
            messages.success(request, _("Your plan changes at the start of your next period.")
                             if subscription.pending_plan else _("You stay on your current plan."))
            return redirect("portal:plan")
    return _plan_page(request, change_form=form, status=400)


@require_POST
@driver_required
def plan_cancel(request, pk: int):
    subscription = plans.plan_cancel(subscription=_own_subscription(request, pk))
    messages.success(request, _("Your plan is canceled.") if subscription.status == Subscription.Status.CANCELED
                     else _("Your plan ends on %(day)s.") % {"day": format_local_date(subscription.current_period_end)})
    return redirect("portal:plan")


@require_POST
@driver_required
def plan_resume(request, pk: int):
    """Undo a cancellation before the period ends."""
    subscription = _own_subscription(request, pk)
    if message_call(request, plans.plan_resume, subscription=subscription):
        messages.success(request, _("Your plan continues: it renews on %(day)s.")
                         % {"day": format_local_date(subscription.current_period_end)})
    return redirect("portal:plan")


@require_POST
@driver_required
def plan_pay(request, pk: int):
    """Pay the failed renewal now; success reactivates a past-due or suspended plan."""
    subscription = _own_subscription(request, pk)
    if message_call(request, plans.subscription_pay_now, subscription=subscription):
        messages.success(request, _("Thank you: your plan is active again."))
    return redirect("portal:plan")
