"""Usage and revenue analytics for operators, inside the admin (scoped like every admin page)."""
from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing_app.date_range import DATE_INPUT, DateRangeForm
from billing_app.reporting import analytics
from billing_app.reporting import exports as accounting_exports
from sessions_app.local_time import format_local_date
from sessions_app.models import Location
from sessions_app.selectors import is_back_office, operator_ids_for, scope_to_user


class AnalyticsFilterForm(DateRangeForm):
    start = forms.DateField(widget=forms.DateInput(attrs=DATE_INPUT))
    end = forms.DateField(widget=forms.DateInput(attrs=DATE_INPUT))
    max_days = 731
    too_long_message = _("Choose at most two years.")
    bucket = forms.ChoiceField(choices=[("day", "Day"), ("week", "Week"), ("month", "Month")], initial="day")
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False,
                                      empty_label=_("All locations"),
                                      help_text=_("Days are counted in UTC across all locations, in the "
                                                  "location's own time zone when you choose one."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = scope_to_user(Location.objects.all(), user)

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


ANALYTICS_CACHE_SECONDS = 300


def analytics_cache_key(user, filters: analytics.Filters) -> str:
    """Figures are shared by everyone who sees the same operators with the same filters."""
    operators = operator_ids_for(user)
    scope = "all" if operators is None else ",".join(map(str, sorted(operators)))
    location = filters.location.pk if filters.location else "-"
    return f"analytics:v1:{scope}:{filters.start}:{filters.end}:{filters.bucket}:{location}"


def _figures(user, filters: analytics.Filters) -> dict:
    """Every figure of the page: a month of a large operator is ~1 s of aggregates, so the view caches
    them for ANALYTICS_CACHE_SECONDS and says when they were computed."""
    series = analytics.usage_series(user, filters)
    currencies = sorted({c for row in series for c in row["revenue"]})
    heatmap = analytics.peak_hours(user, filters)
    chart = {
        "labels": [format_local_date(row["bucket"]) for row in series],
        "sessions": [row["sessions"] for row in series],
        "energy": [float(row["energy_kwh"]) for row in series],
        "revenue": {c: [float(row["revenue"].get(c, (0, 0))[0]) for row in series] for c in currencies},
    }
    for row in series:
        row["revenue_cells"] = [row["revenue"].get(c, (0, 0)) for c in currencies]
    return {
        "series": series,
        "currencies": currencies,
        "chart": chart,
        "stations": analytics.per_location(user, filters),
        "utilization": analytics.utilization(user, filters),
        "heatmap": heatmap,
        "heat_max": max((n for row in heatmap for n in row), default=0) or 1,
        "idle_fees": analytics.top_idle_fee_stations(user, filters),
        "disputes": analytics.disputes_and_refunds(user, filters),
        "guests": analytics.guest_share(user, filters),
        "roaming": analytics.roaming_revenue(user, filters),
        "day_zone": str(filters.zone),
    }


def analytics_view(request):
    if not is_back_office(request.user):
        raise PermissionDenied
    form = AnalyticsFilterForm.from_request(request)
    context = {**admin.site.each_context(request), "title": "Usage and revenue", "form": form}
    if form.is_valid():
        filters = form.filters()
        key = analytics_cache_key(request.user, filters)
        figures = cache.get(key)
        if figures is None:
            figures = {**_figures(request.user, filters), "computed_at": timezone.now()}
            cache.set(key, figures, ANALYTICS_CACHE_SECONDS)
        context.update(figures, weekdays=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                       query=request.GET.urlencode())
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
