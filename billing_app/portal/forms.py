"""Portal forms."""
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing_app.date_range import DateRangeForm
from sessions_app.models import ChargingSession, DriverProfile


class SessionFilterForm(DateRangeForm):
    state = forms.ChoiceField(label=_("State"), choices=[("", _("All")), *ChargingSession.State.choices],
                              required=False)
    field_order = ["state", "start", "end"]

    def apply(self, sessions):
        data = self.cleaned_data
        if data.get("state"):
            sessions = sessions.filter(state=data["state"])
        return self.within(sessions, "started_at", timezone.get_current_timezone())


class TokenReplaceForm(forms.Form):
    uid = forms.CharField(label=_("Number of the new card"), max_length=36,
                          help_text=_("As printed on the card: letters, digits and dashes."))


class ProfileForm(forms.ModelForm):
    class Meta:
        model = DriverProfile
        fields = ["full_name", "address", "postal_code", "city", "country", "company_name", "company_vat_id"]
        widgets = {"address": forms.Textarea(attrs={"rows": 2})}
        labels = {"full_name": _("Full name"), "address": _("Address"), "postal_code": _("Postal code"),
                  "city": _("City"), "country": _("Country"), "company_name": _("Company name"),
                  "company_vat_id": _("Company VAT id")}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("company_vat_id") and not cleaned.get("company_name"):
            self.add_error("company_name", _("A company VAT id needs the company name."))
        return cleaned


class PlanSubscribeForm(forms.Form):
    """Choose one of the operator's active plans and one of the driver's own saved payment methods."""

    plan = forms.ModelChoiceField(queryset=None, empty_label=None)
    payment_method = forms.ChoiceField(choices=[])

    def __init__(self, *args, plans, methods, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans
        self.fields["payment_method"].choices = [
            (m.id, f"{m.brand} •••• {m.last4}" + (" (default)" if m.is_default else "")) for m in methods]

    def clean_payment_method(self):
        if not self.fields["payment_method"].choices:
            raise forms.ValidationError(_("Add a payment method first."))
        return self.cleaned_data["payment_method"]


class PlanChangeForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, plans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans


class ReceiptPayForm(forms.Form):
    """Pay now: one of the driver's own saved cards (the default first), and the attempt the page offered, which
    makes a repeated submit of the same page the same request (`collection.receipt_pay_now`)."""

    payment_method = forms.ChoiceField(label=_("Card"), choices=[], widget=forms.RadioSelect)
    attempt = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, methods, **kwargs):
        super().__init__(*args, **kwargs)
        methods = sorted(methods, key=lambda m: not m.is_default)
        default = _("(default)")
        self.fields["payment_method"].choices = [
            (m.id, f"{m.brand} •••• {m.last4}" + (f" {default}" if m.is_default else "")) for m in methods]
        if methods:
            self.fields["payment_method"].initial = methods[0].id

    def clean_payment_method(self):
        if not self.fields["payment_method"].choices:
            raise forms.ValidationError(_("Add a payment method first."))
        return self.cleaned_data["payment_method"]
