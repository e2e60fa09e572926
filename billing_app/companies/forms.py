"""Fleet portal forms; every choice is limited to the fleet manager's own company."""
from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing_app.companies import selectors
from billing_app.date_range import DATE_INPUT, DateRangeForm
from sessions_app.models import Company, IdToken
from sessions_app.selectors import operator_time_zone


class FleetSessionFilterForm(DateRangeForm):
    driver = forms.ModelChoiceField(label=_("Driver"), queryset=None, required=False, empty_label=_("All drivers"))
    card = forms.ModelChoiceField(label=_("Card"), queryset=None, required=False, empty_label=_("All cards"))
    cost_centre = forms.ChoiceField(label=_("Cost centre"), required=False)
    location = forms.ModelChoiceField(label=_("Location"), queryset=None, required=False,
                                      empty_label=_("All locations"))

    def __init__(self, *args, company: Company, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company
        self.fields["driver"].queryset = selectors.company_members(company)
        self.fields["card"].queryset = selectors.company_cards(company)
        self.fields["location"].queryset = selectors.company_locations(company)
        self.fields["cost_centre"].choices = [("", _("All cost centres")), *(
            (c, c) for c in selectors.company_cost_centres(company))]

    def apply(self, sessions):
        data = self.cleaned_data
        if data.get("driver"):
            sessions = sessions.filter(driver=data["driver"])
        if data.get("card"):
            sessions = sessions.filter(id_token=data["card"])
        if data.get("cost_centre"):
            sessions = sessions.filter(cost_centre=data["cost_centre"])
        if data.get("location"):
            sessions = sessions.filter(connector__station__location=data["location"])
        # days as the operator's statements count them
        return self.within(sessions, "started_at", operator_time_zone(self.company.operator_id))


class SpendFilterForm(DateRangeForm):
    start = forms.DateField(label=_("Start"), widget=forms.DateInput(attrs=DATE_INPUT))
    end = forms.DateField(label=_("End"), widget=forms.DateInput(attrs=DATE_INPUT))
    max_days = 731
    too_long_message = _("Choose at most two years.")

    @classmethod
    def from_request(cls, request) -> SpendFilterForm:
        today = timezone.localdate()
        data = request.GET.copy()
        data.setdefault("start", today.replace(day=1).isoformat())
        data.setdefault("end", today.isoformat())
        return cls(data)


class CardForm(forms.Form):
    """Issue a card to a member (`uid` and `driver` only when adding) or change who pays and its settings."""

    uid = forms.CharField(label=_("Card UID"), max_length=36)
    driver = forms.ModelChoiceField(label=_("Driver"), queryset=None, empty_label=None)
    charging = forms.ChoiceField(label=_("Who pays"), choices=IdToken.Charging.choices,
                                 initial=IdToken.Charging.BUSINESS)
    cost_centre = forms.CharField(label=_("Cost centre"), max_length=40, required=False)
    licence_plate = forms.CharField(label=_("Licence plate"), max_length=16, required=False)
    monthly_cap = forms.DecimalField(label=_("Monthly cap (incl. VAT)"), max_digits=10, decimal_places=2,
                                     min_value=0.01, required=False)

    def __init__(self, *args, company: Company, adding: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["driver"].queryset = selectors.company_members(company)
        if not adding:
            del self.fields["uid"], self.fields["driver"]


class InviteForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    email = forms.EmailField(label=_("E-mail"))
