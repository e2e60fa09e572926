"""Portal forms."""
from django import forms

from sessions_app.models import ChargingSession, DriverProfile


class SessionFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "All"), *ChargingSession.State.choices], required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["end"] < cleaned["start"]:
            self.add_error("end", "The end date is before the start date.")
        return cleaned

    def apply(self, sessions):
        data = self.cleaned_data
        if data.get("state"):
            sessions = sessions.filter(state=data["state"])
        if data.get("start"):
            sessions = sessions.filter(started_at__date__gte=data["start"])
        if data.get("end"):
            sessions = sessions.filter(started_at__date__lte=data["end"])
        return sessions


class ProfileForm(forms.ModelForm):
    class Meta:
        model = DriverProfile
        fields = ["full_name", "address", "postal_code", "city", "country", "company_name", "company_vat_id"]
        widgets = {"address": forms.Textarea(attrs={"rows": 2})}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("company_vat_id") and not cleaned.get("company_name"):
            self.add_error("company_name", "A company VAT id needs the company name.")
        return cleaned
