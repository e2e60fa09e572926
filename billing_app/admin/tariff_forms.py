"""The tariff and tariff element forms of the admin, made to be read: the name wide enough to read, days of the
week as checkboxes, times and dates with the browser's pickers, rates without a column's trailing zeros, and an
empty box (not `null`) for an energy mix nobody gave. What is stored stays as it was (OCPI values)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from billing_app.admin.display import TrimmedDecimalInput
from billing_app.models import Tariff, TariffElement

DAY_LABELS = {"MONDAY": _("Monday"), "TUESDAY": _("Tuesday"), "WEDNESDAY": _("Wednesday"), "THURSDAY": _("Thursday"),
              "FRIDAY": _("Friday"), "SATURDAY": _("Saturday"), "SUNDAY": _("Sunday")}


class OptionalJSONField(forms.JSONField):
    """A JSON box that shows nothing for no value (Django writes `null`) and stores None for an empty box."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


def _number(width: str = "7em") -> TrimmedDecimalInput:
    return TrimmedDecimalInput(attrs={"step": "any", "style": f"width: {width}"})


class TariffForm(forms.ModelForm):
    energy_mix = OptionalJSONField(required=False, label=_("energy mix"),
                                   widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                                   help_text=_("OCPI EnergyMix object (JSON), kept as given; leave empty if none."))

    class Meta:
        model = Tariff
        fields = ["operator", "name", "ocpi_id", "type", "currency", "parking_grace_minutes", "start_date_time",
                  "end_date_time", "min_price_excl_vat", "min_price_incl_vat", "max_price_excl_vat",
                  "max_price_incl_vat", "country_code", "party_id", "tariff_alt_url", "energy_mix"]
        widgets = {
            "name": forms.TextInput(attrs={"style": "width: 32em", "maxlength": 120}),
            "ocpi_id": forms.TextInput(attrs={"style": "width: 20em"}),
            "country_code": forms.TextInput(attrs={"style": "width: 3em"}),
            "party_id": forms.TextInput(attrs={"style": "width: 4em"}),
            "min_price_excl_vat": _number(), "min_price_incl_vat": _number(),
            "max_price_excl_vat": _number(), "max_price_incl_vat": _number(),
            "parking_grace_minutes": forms.NumberInput(attrs={"style": "width: 5em"}),
        }


class TariffElementForm(forms.ModelForm):
    day_of_week = forms.MultipleChoiceField(
        choices=list(DAY_LABELS.items()), required=False, label=_("days of the week"),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "inline"}), help_text=_("None ticked: every day."))

    class Meta:
        model = TariffElement
        fields = ["tariff", "position", *TariffElement.RESTRICTION_FIELDS]
        widgets = {
            "start_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "end_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "end_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "position": forms.NumberInput(attrs={"style": "width: 4em"}),
            **{name: _number() for name in ("min_kwh", "max_kwh", "min_current", "max_current", "min_power",
                                            "max_power")},
            "min_duration": forms.NumberInput(attrs={"style": "width: 7em"}),
            "max_duration": forms.NumberInput(attrs={"style": "width: 7em"}),
        }

    def clean_day_of_week(self):
        ticked = set(self.cleaned_data["day_of_week"])
        return [day for day in TariffElement.DAYS if day in ticked]


RESTRICTIONS = (_("Restrictions (when this element applies)"), {"classes": ["collapse"], "fields": [
    ("start_time", "end_time"), ("start_date", "end_date"), "day_of_week", ("min_kwh", "max_kwh"),
    ("min_power", "max_power"), ("min_current", "max_current"), ("min_duration", "max_duration"), "reservation"]})
