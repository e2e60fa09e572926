from django import forms

from disputes_app.models import DisputeTicket


class GuestDisputeForm(forms.Form):
    number = forms.CharField(label="Receipt number", max_length=32)
    email = forms.EmailField(label="E-mail the receipt was sent to")
    reason = forms.ChoiceField(choices=DisputeTicket.Reason.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=2000)
