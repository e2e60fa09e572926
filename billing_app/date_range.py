"""One date-range filter for every list that is filtered by days: the portal's and the fleet portal's sessions,
the fleet's spend, the admin's analytics.

Both dates are included; the end may not be before the start (a filter that does not hold lists nothing, the
views decide that) and, where a form sets `max_days`, not further apart than that. Days are counted in the time
zone the caller names: the operator's for company figures (as its statements count them), the viewer's for a
driver's own list.

The two fields are declared as `start` and `end`; a form whose data names them otherwise (the what-if's
`start_date` / `end_date`, as its model does) sets `start_field` / `end_field`, and the fields, their errors and
`cleaned_data` go by those names."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from django import forms
from django.utils.translation import gettext_lazy as _

DATE_INPUT = {"type": "date"}


class DateRangeForm(forms.Form):
    start = forms.DateField(label=_("Start"), required=False, widget=forms.DateInput(attrs=DATE_INPUT))
    end = forms.DateField(label=_("End"), required=False, widget=forms.DateInput(attrs=DATE_INPUT))

    #: at most this many days between start and end (None: no limit), with the message shown when exceeded
    max_days: int | None = None
    too_long_message = _("Choose a shorter period.")
    #: the names of the two date fields in the form's data, errors and cleaned_data
    start_field = "start"
    end_field = "end"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = {"start": self.start_field, "end": self.end_field}
        if names != {"start": "start", "end": "end"}:
            self.fields = {names.get(name, name): field for name, field in self.fields.items()}
            self.order_fields(self.field_order)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get(self.start_field), cleaned.get(self.end_field)
        if start and end:
            if end < start:
                self.add_error(self.end_field, _("The end date is before the start date."))
            elif self.max_days is not None and (end - start).days > self.max_days:
                self.add_error(self.end_field, self.too_long_message)
        return cleaned

    def within(self, rows, field: str, zone: tzinfo):
        """`rows` whose datetime `field` falls on the chosen days, counted in `zone`."""
        start, end = self.cleaned_data.get(self.start_field), self.cleaned_data.get(self.end_field)
        if start:
            rows = rows.filter(**{f"{field}__gte": day_start(start, zone)})
        if end:
            rows = rows.filter(**{f"{field}__lt": day_start(end + timedelta(days=1), zone)})
        return rows


def day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), zone)
