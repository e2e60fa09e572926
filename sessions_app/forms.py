"""Admin forms that need more than the model gives."""
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ChargingStation, IdToken, MeterPublicKey
from .selectors import scope_to_user
from .services import MeterKeyError, meter_key_check


class ChargingStationForm(forms.ModelForm):
    """Sets the station's OCPP password (stored hashed); blank keeps the current one."""

    password = forms.CharField(
        label=_("OCPP password"),
        required=False,
        min_length=16,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("HTTP Basic password the charger presents (OCPP security profile 1). Leave blank to keep."),
    )

    class Meta:
        model = ChargingStation
        fields = ["location", "ocpp_identity", "vendor", "model", "serial_number"]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.password_hash and not cleaned.get("password"):
            self.add_error("password", _("A new station needs an OCPP password."))
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

    id_token = forms.ModelChoiceField(queryset=IdToken.objects.none(), label=_("Token"))
    connector = forms.IntegerField(min_value=1, required=False)

    def __init__(self, *args, station: ChargingStation, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id_token"].queryset = scope_to_user(
            IdToken.objects.filter(operator_id=station.location.operator_id, status=IdToken.Status.ACCEPTED), user
        ).select_related("driver")


class MeterPublicKeyForm(forms.ModelForm):
    """A meter's public key as the operator enters or pastes it (hex or base64 DER, or a PEM file's text);
    stored as hex DER. A key in service on the same connector ends where this one starts."""

    public_key = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
                                 help_text=_("From the meter's label or the manufacturer's key file: hex, base64 "
                                             "or PEM."))

    class Meta:
        model = MeterPublicKey
        fields = ["station", "evse_number", "meter_serial", "public_key", "valid_from"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a registered key is never edited (only its meter serial)
            self.fields.pop("public_key", None)

    def clean(self):
        cleaned = super().clean()
        station, key, valid_from = cleaned.get("station"), cleaned.get("public_key"), cleaned.get("valid_from")
        if station is None or not key or valid_from is None:
            return cleaned
        try:
            cleaned["public_key"], self.instance.curve = meter_key_check(
                station=station, evse_number=cleaned.get("evse_number"), public_key=key, valid_from=valid_from)
        except MeterKeyError as error:
            self.add_error("public_key", error.message)
        return cleaned
