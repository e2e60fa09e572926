"""Admin forms that need more than the model gives."""
from django import forms

from .models import ChargingStation, IdToken
from .selectors import scope_to_user


class ChargingStationForm(forms.ModelForm):
    """Sets the station's OCPP password (stored hashed); blank keeps the current one."""

    password = forms.CharField(
        label="OCPP password",
        required=False,
        min_length=16,
        widget=forms.PasswordInput(render_value=False),
        help_text="HTTP Basic password the charger presents (OCPP security profile 1). Leave blank to keep.",
    )

    class Meta:
        model = ChargingStation
        fields = ["location", "ocpp_identity", "vendor", "model", "serial_number"]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.password_hash and not cleaned.get("password"):
            self.add_error("password", "A new station needs an OCPP password.")
        return cleaned

    def save(self, commit=True):
        station = super().save(commit=False)
        if self.cleaned_data.get("password"):
            station.set_password(self.cleaned_data["password"])
        if commit:
            station.save()
        return station


class RemoteStartForm(forms.Form):
    """Which token a remote start charges for, and on which connector (blank: the charger picks)."""

    id_token = forms.ModelChoiceField(queryset=IdToken.objects.none(), label="Token")
    connector = forms.IntegerField(min_value=1, required=False)

    def __init__(self, *args, station: ChargingStation, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id_token"].queryset = scope_to_user(
            IdToken.objects.filter(operator_id=station.location.operator_id, status=IdToken.Status.ACCEPTED), user
        ).select_related("driver")
