"""The endpoint form of the admin: events as check boxes (none ticked: all), the URL checked by the
model's validator (http(s), https-only unless WEBHOOKS_ALLOW_HTTP)."""
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SUBSCRIBABLE, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=SUBSCRIBABLE, widget=forms.CheckboxSelectMultiple, required=False,
        help_text=_("Tick the events to send to this URL; none ticked sends every event, including new types."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["operator", "url", "description", "event_types", "is_active"]
        widgets = {"url": forms.URLInput(attrs={"size": 80, "placeholder": "https://helpdesk.example.com/hooks/ev"})}
