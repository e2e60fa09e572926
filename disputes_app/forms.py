"""Forms of the support and driver pages: they parse input; the services decide."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from sessions_app.selectors import operators_for

from . import sla, workflow
from .attachments import validate_attachments
from .models import DisputeTicket
from .selectors import UNASSIGNED, assignees_for

Status = DisputeTicket.Status


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input, checked together against the attachment limits."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        files = [super(MultipleFileField, self).clean(f, initial) for f in files]
        validate_attachments(files)
        return files


class TicketOpenForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=DisputeTicket.Reason.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=5000,
                                  label=_("Description"), help_text=_("What is wrong, as precisely as you can."))


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 4}), max_length=10000)
    attachments = MultipleFileField(label=_("Attachments"), help_text=_("PDF, PNG, JPEG or text files."))


class StaffMessageForm(MessageForm):
    internal = forms.BooleanField(required=False, label=_("Internal note (not shown to the driver)"))


class TransitionForm(forms.Form):
    """Only the statuses the ticket can move to now (resolving has its own form)."""

    to_status = forms.ChoiceField(label=_("Move to"), choices=[])
    note = forms.CharField(label=_("Note"), required=False, max_length=1000)

    def __init__(self, *args, from_status: str, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Status.choices)
        self.fields["to_status"].choices = [(s, labels[s]) for s in workflow.moves_from(from_status)]


class ReopenForm(forms.Form):
    """No fields: it carries the refusal, if any, back to the page."""


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, required=False, label=_("Assignee"), empty_label=_("(nobody)"))

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff


class ResolveForm(forms.Form):
    kind = forms.ChoiceField(label=_("Resolution"), choices=[("", _("— choose —")), *(
        (k, label) for k, label in DisputeTicket.ResolutionKind.choices if k != DisputeTicket.ResolutionKind.CHARGEBACK
    )])
    amount = forms.DecimalField(required=False, max_digits=12, decimal_places=3,
                                label=_("Amount"), help_text=_("Refund or credit amount (incl. VAT)."))
    corrected_energy_kwh = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=12, decimal_places=3,
                                              label=_("Corrected energy (kWh)"), help_text=_("For re-pricing."))
    signature_override_reason = forms.CharField(
        required=False, max_length=500, label=_("Override the meter's signatures because"),
        help_text=_("Only when re-pricing a session whose billed energy the meter's verified signatures prove."))
    explanation = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000,
                                  label=_("Explanation"), help_text=_("Sent to the driver; required when rejecting."))

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == "reject" and not (data.get("explanation") or "").strip():
            self.add_error("explanation", _("A rejection needs an explanation for the driver."))
        if kind == "reject" and data.get("amount") is not None:
            self.add_error("amount", _("A rejection has no amount."))
        if kind in ("refund", "credit_note") and data.get("amount") is None:
            self.add_error("amount", _("Enter the amount."))
        return data

    def details(self) -> dict:
        energy = self.cleaned_data.get("corrected_energy_kwh")
        override = (self.cleaned_data.get("signature_override_reason") or "").strip()
        return ({"corrected_energy_kwh": energy} if energy is not None else {}) | (
            {"signature_override_reason": override} if override else {})


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, label=_("Status"), choices=[("", _("any status")), *Status.choices])
    operator = forms.ModelChoiceField(queryset=None, required=False, label=_("Operator"), empty_label=_("any operator"))
    sla = forms.ChoiceField(required=False, label=_("SLA"), choices=[("", _("any SLA state")), *sla.SLA_STATES.items()])
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    q = forms.CharField(required=False, max_length=100, label=_("Search"),
                        help_text=_("Driver, e-mail, session number, invoice number or ticket number."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].queryset = operators_for(user)
        self.fields["assignee"].choices = [
            ("", _("anyone")), ("me", _("me")), (UNASSIGNED, _("nobody (unassigned)")),
            *((str(pk), name) for pk, name in assignees_for(user) if pk != user.pk)]
        self.user = user

    def clean_assignee(self) -> str:
        value = self.cleaned_data["assignee"]
        return str(self.user.pk) if value == "me" else value
