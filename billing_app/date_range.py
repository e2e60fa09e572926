"""One date-range filter for every list that is filtered by days: the portal's and the fleet portal's sessions,
the fleet's spend, the admin's analytics.

Both dates are included; the end may not be before the start (a filter that does not hold lists nothing, the
views decide that) and, where a form sets `max_days`, not further apart than that. Days are counted in the time
zone the caller names: the operator's for company figures (as its statements count them), the viewer's for a
driver's own list."""
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

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end date is before the start date."))
            elif self.max_days is not None and (end - start).days > self.max_days:
                self.add_error("end", self.too_long_message)
        return cleaned

    def within(self, rows, field: str, zone: tzinfo):
        """`rows` whose datetime `field` falls on the chosen days, counted in `zone`."""
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        if start:
            rows = rows.filter(**{f"{field}__gte": day_start(start, zone)})
        if end:
            rows = rows.filter(**{f"{field}__lt": day_start(end + timedelta(days=1), zone)})
        return rows


def day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), zone)
