"""The fleet portal: a company's fleet manager sees and manages only their company (members, cards, business
sessions, invoices, spend). Every object is looked up inside the manager's company: another company's, or a
member's private session, is a 404."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from billing_app.companies import selectors
from billing_app.companies.forms import CardForm, FleetSessionFilterForm, InviteForm, SpendFilterForm
from billing_app.companies.services import company_member_invite
from billing_app.companies.statement import session_list_csv, session_list_name
from billing_app.invoicing.einvoice import einvoice_formats
from billing_app.invoicing.views import attachment_response, einvoice_response, pdf_response
from billing_app.reporting.exports import company_sessions_rows, csv_lines
from evbilling.errors import form_call, message_call
from sessions_app.models import IdToken
from sessions_app.services import tokens as token_services

PAGE_SIZE = 25
FORMAT_LABELS = {"facturx": "Factur-X", "cii": gettext_lazy("XML (EN 16931)"), "xrechnung": "XRechnung"}


def fleet_manager_required(view):
    """Signed in as an active fleet manager of a company; the view gets that company."""
    @login_required
    def wrapped(request, *args, **kwargs):
        company = selectors.manager_company(request.user)
        if company is None:
            raise PermissionDenied(_("The fleet portal is for fleet managers."))
        return view(request, company, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@fleet_manager_required
def dashboard(request, company):
    """Spend per cost centre and per driver in a date range (this month by default), as charts and tables."""
    form = SpendFilterForm.from_request(request)
    spend = None
    if form.is_valid():
        since, until = selectors.month_window(company, form.cleaned_data["start"], form.cleaned_data["end"])
        sessions = selectors.company_sessions(company).filter(started_at__gte=since, started_at__lt=until)
        spend = selectors.company_spend(company, sessions)
    chart = {} if spend is None else {
        "cost_centres": {"labels": [r["label"] for r in spend["cost_centres"]],
                         "values": [str(r["incl"]) for r in spend["cost_centres"]]},
        "drivers": {"labels": [r["label"] for r in spend["drivers"]],
                    "values": [str(r["incl"]) for r in spend["drivers"]]},
        "dataset_label": _("%(currency)s incl. VAT") % {"currency": spend["currency"]},
    }
    return render(request, "fleet/dashboard.html", {"company": company, "form": form, "spend": spend, "chart": chart,
                                                    "members": selectors.company_members(company).count(),
                                                    "cards": selectors.company_cards(company).count()},
                  status=200 if form.is_valid() else 400)


# --- Members ------------------------------------------------------------------------------------

def _members_page(request, company, invite_form=None, status=200):
    return render(request, "fleet/members.html", {
        "company": company, "members": selectors.company_members(company),
        "invite_form": invite_form or InviteForm()}, status=status)


@fleet_manager_required
def member_list(request, company):
    return _members_page(request, company)


@require_POST
@fleet_manager_required
def member_invite(request, company):
    form = InviteForm(request.POST)

    def password_link(uidb64: str, token: str) -> str:
        return request.build_absolute_uri(reverse("password_reset_confirm", kwargs={"uidb64": uidb64, "token": token}))

    if form.is_valid() and form_call(form, company_member_invite, by=request.user, email=form.cleaned_data["email"],
                                     full_name=form.cleaned_data["full_name"], password_link=password_link):
        messages.success(request, _("%(email)s is invited: they choose a password from the e-mail.") % {
            "email": form.cleaned_data["email"]})
        return redirect("fleet:members")
    return _members_page(request, company, invite_form=form, status=400)


# --- Cards --------------------------------------------------------------------------------------

def _cards_page(request, company, add_form=None, status=200):
    cards = selectors.company_cards(company)
    return render(request, "fleet/cards.html", {
        "company": company, "cards": [(card, CardForm(company=company, adding=False, prefix=f"card{card.pk}", initial={
            "charging": card.charging, "cost_centre": card.cost_centre, "licence_plate": card.licence_plate,
            "monthly_cap": card.monthly_cap})) for card in cards],
        "add_form": add_form or CardForm(company=company)}, status=status)


@fleet_manager_required
def card_list(request, company):
    return _cards_page(request, company)


@require_POST
@fleet_manager_required
def card_add(request, company):
    form = CardForm(request.POST, company=company)
    if form.is_valid() and form_call(form, token_services.company_card_add, by=request.user, **form.cleaned_data):
        messages.success(request, _("Card %(card)s is issued.") % {"card": form.cleaned_data["uid"].upper()})
        return redirect("fleet:cards")
    return _cards_page(request, company, add_form=form, status=400)


@require_POST
@fleet_manager_required
def card_update(request, company, pk: int):
    card = get_object_or_404(selectors.company_cards(company), pk=pk)
    form = CardForm(request.POST, company=company, adding=False, prefix=f"card{card.pk}")
    if form.is_valid():
        if message_call(request, token_services.company_card_update, token_id=card.pk, by=request.user,
                        **form.cleaned_data):
            messages.success(request, _("Card %(card)s is updated.") % {"card": card.uid})
        return redirect("fleet:cards")
    messages.error(request, _("Card %(card)s: %(errors)s") % {
        "card": card.uid, "errors": " ".join(e for errors in form.errors.values() for e in errors)})
    return redirect("fleet:cards")


@require_POST
@fleet_manager_required
def card_block(request, company, pk: int):
    card = get_object_or_404(selectors.company_cards(company), pk=pk)
    was_blocked = card.status == IdToken.Status.BLOCKED
    if message_call(request, token_services.token_block, token_id=card.pk, by=request.user) and not was_blocked:
        messages.success(request, _("Card %(card)s is blocked: chargers will refuse it from now on.") % {
            "card": card.uid})
    return redirect("fleet:cards")


# --- Sessions -----------------------------------------------------------------------------------

def _filtered_sessions(request, company):
    form = FleetSessionFilterForm(request.GET or None, company=company)
    sessions = selectors.company_sessions(company)
    if form.is_bound and form.is_valid():
        sessions = form.apply(sessions)
    return form, sessions


@fleet_manager_required
def session_list(request, company):
    form, sessions = _filtered_sessions(request, company)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "fleet/sessions.html", {
        "company": company, "form": form, "page": Paginator(sessions, PAGE_SIZE).get_page(request.GET.get("page")),
        "query": query.urlencode()}, status=400 if form.is_bound and not form.is_valid() else 200)


@require_GET
@fleet_manager_required
def session_csv(request, company):
    """The filtered business sessions as CSV (spreadsheet-safe cells)."""
    form, sessions = _filtered_sessions(request, company)
    if form.is_bound and not form.is_valid():
        return HttpResponse("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()), status=400,
                            content_type="text/plain")
    return attachment_response(csv_lines(company_sessions_rows(sessions)), filename="business-sessions.csv",
                               content_type="text/csv")


# --- Invoices -----------------------------------------------------------------------------------

@fleet_manager_required
def invoice_list(request, company):
    invoices = Paginator(selectors.company_invoices(company), PAGE_SIZE).get_page(request.GET.get("page"))
    credit_notes = list(selectors.company_credit_notes(company)[:50])
    for document in [*invoices, *credit_notes]:
        document.einvoices = [(fmt, FORMAT_LABELS[fmt]) for fmt in einvoice_formats(document)]
    return render(request, "fleet/invoices.html", {"company": company, "invoices": invoices,
                                                   "credit_notes": credit_notes})


@require_GET
@fleet_manager_required
def invoice_pdf(request, company, pk: int):
    return pdf_response(get_object_or_404(selectors.company_invoices(company), pk=pk))


@require_GET
@fleet_manager_required
def invoice_sessions_csv(request, company, pk: int):
    invoice = get_object_or_404(selectors.company_invoices(company), pk=pk)
    return attachment_response(session_list_csv(invoice), filename=session_list_name(invoice), content_type="text/csv")


@require_GET
@fleet_manager_required
def invoice_einvoice(request, company, pk: int, fmt: str):
    """The statement as an e-invoice: Factur-X (PDF/A-3 with its EN 16931 CII XML), the XML alone, or XRechnung."""
    return einvoice_response(get_object_or_404(selectors.company_invoices(company), pk=pk), fmt)


@require_GET
@fleet_manager_required
def credit_note_einvoice(request, company, pk: int, fmt: str):
    return einvoice_response(get_object_or_404(selectors.company_credit_notes(company), pk=pk), fmt)


@require_GET
@fleet_manager_required
def credit_note_pdf(request, company, pk: int):
    return pdf_response(get_object_or_404(selectors.company_credit_notes(company), pk=pk))
