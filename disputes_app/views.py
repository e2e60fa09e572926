"""Server-rendered pages: the support queue and ticket page, the driver's tickets. Views parse input
and call services; a ticket or session outside the user's scope is a 404, bad input a form error."""
from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from billing_app.invoicing.selectors import invoices_for_driver
from billing_app.settlement.selectors import held_reviews
from evbilling.errors import form_call
from sessions_app.selectors import sessions_for_driver

from . import selectors, services, sla, workflow
from .evidence import driver_parts, part_titles
from .forms import (
    AssignForm,
    MessageForm,
    QueueFilterForm,
    ReopenForm,
    ResolveForm,
    StaffMessageForm,
    TicketOpenForm,
    TransitionForm,
)
from .models import DisputeTicket

Status = DisputeTicket.Status


def _evidence(ticket: DisputeTicket, *, for_driver: bool) -> list[dict]:
    evidence = getattr(ticket, "evidence", None)
    if evidence is None:
        return []
    data = driver_parts(evidence.data) if for_driver else evidence.data
    titles = part_titles()
    zone = (evidence.data.get("session") or {}).get("time_zone") or ""  # times at the charger
    return [
        {"name": name, "title": titles.get(name, name), "value": value, "zone": zone,
         "json": json.dumps(value, cls=DjangoJSONEncoder, indent=2)}
        for name, value in data.items()
    ]


# --- Support ---------------------------------------------------------------------------------------


@login_required
def support_queue(request: HttpRequest) -> HttpResponse:
    if not selectors.is_ticket_staff(request.user):
        raise PermissionDenied
    now = timezone.now()
    form = QueueFilterForm(request.GET or None, user=request.user)
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {"status": data["status"], "operator_id": data["operator"].pk if data["operator"] else None,
                   "sla_state": data["sla"], "assignee": data["assignee"], "search": data["q"]}
    tickets = list(selectors.support_queue(request.user, now=now, **filters)[:500])
    rows = [{"ticket": t, "time_left": sla.time_left(t, now=now), "sla_state": sla.sla_state(t, now=now)}
            for t in tickets]
    return render(request, "support/queue.html", {"form": form, "rows": rows, "sla_states": sla.SLA_STATES,
                                                  "held_reviews": list(held_reviews(request.user)[:50])})


def _support_forms(ticket: DisputeTicket, data=None, files=None, *, action: str = "") -> dict:
    def bound(name):
        return (data, files) if action == name else (None, None)

    return {
        "message_form": StaffMessageForm(*bound("message"), prefix="message"),
        "transition_form": TransitionForm(bound("transition")[0], prefix="transition", from_status=ticket.status),
        "assign_form": AssignForm(bound("assign")[0], prefix="assign", staff=selectors.assignable_staff(ticket),
                                  initial={"assignee": ticket.assignee_id}),
        "resolve_form": ResolveForm(bound("resolve")[0], prefix="resolve"),
    }


def _support_action(request: HttpRequest, ticket: DisputeTicket, action: str, forms: dict) -> bool:
    user = request.user
    if action == "message":
        form = forms["message_form"]
        return form.is_valid() and form_call(form, lambda: services.message_post(
            ticket=ticket, author=user, body=form.cleaned_data["body"], internal=form.cleaned_data["internal"],
            attachments=form.cleaned_data["attachments"]))
    if action == "transition":
        form = forms["transition_form"]
        return form.is_valid() and form_call(form, lambda: services.ticket_transition(
            ticket=ticket, to_status=form.cleaned_data["to_status"], by=user, note=form.cleaned_data["note"]))
    if action == "assign":
        form = forms["assign_form"]
        return form.is_valid() and form_call(form, lambda: services.ticket_assign(
            ticket=ticket, assignee=form.cleaned_data["assignee"], by=user))
    if action == "resolve":
        form = forms["resolve_form"]
        return form.is_valid() and form_call(form, lambda: services.ticket_resolve(
            ticket=ticket, by=user, kind=form.cleaned_data["kind"], explanation=form.cleaned_data["explanation"],
            amount=form.cleaned_data["amount"], details=form.details()))
    raise Http404("No such action.")


@login_required
@require_http_methods(["GET", "POST"])
def support_ticket(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_for_staff(request.user, pk)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    forms = _support_forms(ticket, request.POST, request.FILES, action=action)
    if action:
        if _support_action(request, ticket, action, forms):
            messages.success(request, _("Saved."))
            return redirect("disputes:support_ticket", pk=ticket.pk)
        ticket.refresh_from_db()
    now = timezone.now()
    return render(request, "support/ticket.html", {
        "ticket": ticket,
        "conversation": selectors.conversation(ticket, include_internal=True),
        "transitions": ticket.transitions.select_related("by"),
        "evidence": _evidence(ticket, for_driver=False),
        "time_left": sla.time_left(ticket, now=now),
        "sla_state": sla.sla_state(ticket, now=now),
        "sla_states": sla.SLA_STATES,
        "invoice": selectors.ticket_invoice(ticket),
        "can_resolve": workflow.is_allowed(ticket.status, Status.RESOLVED),
        **forms,
    }, status=400 if action else 200)


@login_required
def support_attachment(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    ticket = selectors.ticket_for_staff(request.user, pk)
    return _file(selectors.attachment_for(ticket, attachment_pk, include_internal=True))


def _file(attachment) -> FileResponse:
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as error:
        raise Http404("The file is gone.") from error
    return FileResponse(handle, as_attachment=True, filename=attachment.original_name,
                        content_type=attachment.content_type)


# --- Drivers ---------------------------------------------------------------------------------------


@login_required
def driver_tickets(request: HttpRequest) -> HttpResponse:
    return render(request, "disputes/list.html", {"tickets": selectors.tickets_for_driver(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def driver_ticket_new(request: HttpRequest) -> HttpResponse:
    session_id, invoice_id = request.GET.get("session", ""), request.GET.get("invoice", "")
    session = invoice = None
    if session_id.isdigit():
        session = get_object_or_404(sessions_for_driver(request.user), pk=int(session_id))
    elif invoice_id.isdigit():
        invoice = get_object_or_404(invoices_for_driver(request.user), pk=int(invoice_id))
    else:
        raise Http404("Choose a session or an invoice to dispute.")
    form = TicketOpenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = {}

        def open_ticket():
            result["ticket"] = services.ticket_open(by=request.user, session=session,
                                                    invoice_id=invoice.pk if invoice else None,
                                                    reason=form.cleaned_data["reason"],
                                                    description=form.cleaned_data["description"])

        if form_call(form, open_ticket):
            messages.success(request, _("Your ticket is open; we will answer by email."))
            return redirect("disputes:detail", pk=result["ticket"].pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "disputes/new.html", {"form": form, "session": session, "invoice": invoice},
                  status=status)


@login_required
@require_http_methods(["GET", "POST"])
def driver_ticket(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_for_driver(request.user, pk)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = MessageForm(request.POST if action == "reply" else None, request.FILES if action == "reply" else None)
    reopen_form = ReopenForm(request.POST if action == "reopen" else None, prefix="reopen")
    if action == "reply":
        if form.is_valid() and form_call(form, lambda: services.message_post(
                ticket=ticket, author=request.user, body=form.cleaned_data["body"],
                attachments=form.cleaned_data["attachments"])):
            messages.success(request, _("Message sent."))
            return redirect("disputes:detail", pk=ticket.pk)
    elif action == "reopen":
        if reopen_form.is_valid() and form_call(reopen_form, lambda: services.ticket_transition(
                ticket=ticket, to_status=Status.OPEN, by=request.user, note="reopened by driver")):
            messages.success(request, _("Ticket reopened."))
            return redirect("disputes:detail", pk=ticket.pk)
    elif action:
        raise Http404("No such action.")
    return render(request, "disputes/detail.html", {
        "ticket": ticket,
        "conversation": selectors.conversation(ticket, include_internal=False),
        "evidence": _evidence(ticket, for_driver=True),
        "form": form,
        "reopen_form": reopen_form,
        "can_reopen": ticket.status in (Status.RESOLVED, Status.CLOSED),
    }, status=400 if action else 200)


@login_required
def driver_attachment(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    ticket = selectors.ticket_for_driver(request.user, pk)
    return _file(selectors.attachment_for(ticket, attachment_pk, include_internal=False))
