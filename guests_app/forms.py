from django import forms
from django.utils.translation import gettext_lazy as _

from disputes_app.models import DisputeTicket


class GuestDisputeForm(forms.Form):
    number = forms.CharField(label=_("Receipt number"), max_length=32)
    email = forms.EmailField(label=_("E-mail the receipt was sent to"))
    reason = forms.ChoiceField(label=_("Reason"), choices=DisputeTicket.Reason.choices)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), max_length=2000)
