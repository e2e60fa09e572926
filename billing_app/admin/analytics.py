"""Usage and revenue analytics for operators, inside the admin (scoped like every admin page)."""
from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from sessions_app.models import Location
from sessions_app.selectors import is_back_office, scope_to_user

from .. import accounting_exports, analytics


class AnalyticsFilterForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    bucket = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week"), ("month", "Month")], initial="day")
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False,
                                      empty_label="All locations (UTC days)")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = scope_to_user(Location.objects.all(), user)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The end date is before the start date.")
            elif (end - start).days > 731:
                self.add_error("end", "Choose at most two years.")
        return cleaned

    @classmethod
    def from_request(cls, request) -> AnalyticsFilterForm:
        today = timezone.localdate()
        data = request.GET.copy() if request.GET else {}
        data.setdefault("start", (today - timedelta(days=29)).isoformat())
        data.setdefault("end", today.isoformat())
        data.setdefault("bucket", "day")
        return cls(data, user=request.user)

    def filters(self) -> analytics.Filters:
        return analytics.Filters(**self.cleaned_data)


def analytics_view(request):
    if not is_back_office(request.user):
        raise PermissionDenied
    form = AnalyticsFilterForm.from_request(request)
    context = {**admin.site.each_context(request), "title": "Usage and revenue", "form": form}
    if form.is_valid():
        filters = form.filters()
        series = analytics.usage_series(request.user, filters)
        currencies = sorted({c for row in series for c in row["revenue"]})
        heatmap = analytics.peak_hours(request.user, filters)
        chart = {
            "labels": [row["bucket"].isoformat() for row in series],
            "sessions": [row["sessions"] for row in series],
            "energy": [float(row["energy_kwh"]) for row in series],
            "revenue": {c: [float(row["revenue"].get(c, (0, 0))[0]) for row in series] for c in currencies},
        }
        for row in series:
            row["revenue_cells"] = [row["revenue"].get(c, (0, 0)) for c in currencies]
        context.update(
            series=series,
            currencies=currencies,
            chart=chart,
            stations=analytics.per_location(request.user, filters),
            utilization=analytics.utilization(request.user, filters),
            heatmap=heatmap,
            heat_max=max((n for row in heatmap for n in row), default=0) or 1,
            idle_fees=analytics.top_idle_fee_stations(request.user, filters),
            disputes=analytics.disputes_and_refunds(request.user, filters),
            weekdays=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            query=request.GET.urlencode(),
        )
    return TemplateResponse(request, "admin/analytics/dashboard.html", context)


def export_csv_view(request, export: str):
    """Sessions, invoices or payments of the filtered range as CSV for accounting (see accounting_exports)."""
    if not is_back_office(request.user):
        raise PermissionDenied
    form = AnalyticsFilterForm.from_request(request)
    if not form.is_valid():
        return TemplateResponse(request, "admin/analytics/dashboard.html",
                                {**admin.site.each_context(request), "title": "Usage and revenue", "form": form},
                                status=400)
    filters = form.filters()
    rows = accounting_exports.EXPORTS[export](request.user, filters)
    response = StreamingHttpResponse(accounting_exports.csv_lines(rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{export}-{filters.start}-{filters.end}.csv"'
    return response
