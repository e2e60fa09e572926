"""Tariff what-if in the admin: the form that starts a run (a draft tariff, a date range, locations), the result
page (progress while it runs, then the comparison; a stalled or failed run says so and may be started again), and
the CSV of every session. Scoped like every admin page: staff see and start only their operator's runs, with their
operator's tariffs and locations; support staff look."""
from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing_app.admin.tariffs import read_ocpi_upload
from billing_app.date_range import DATE_INPUT, DateRangeForm
from billing_app.models import Tariff, WhatIfRun
from billing_app.pricing import ocpi
from billing_app.reporting.exports import csv_lines
from billing_app.tariffs import what_if
from billing_app.tariffs.services import snapshot
from billing_app.tariffs.tasks import what_if_restart, what_if_start
from evbilling.errors import ApplicationError, message_call
from sessions_app.admin_scope import OperatorScopedAdmin
from sessions_app.models import Location
from sessions_app.selectors import operators_for, scope_to_user

MAX_DAYS = 366


class WhatIfForm(DateRangeForm):
    """The run's draft, days (the one date-range form: same checks and messages as every date range) and
    locations."""

    start = forms.DateField(label=_("Start date"), widget=forms.DateInput(attrs=DATE_INPUT))
    end = forms.DateField(label=_("End date"), widget=forms.DateInput(attrs=DATE_INPUT), help_text=_("inclusive"))
    start_field, end_field = "start_date", "end_date"
    max_days = MAX_DAYS - 1  # days apart: MAX_DAYS days with both ends included
    operator = forms.ModelChoiceField(queryset=None, required=False,
                                      help_text=_("Whose sessions (only asked when you see several operators)."))
    draft_tariff = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Draft: a stored tariff"),
        help_text=_("For an edited copy, use the tariff list's action \"Copy as a draft for a what-if\" and edit the "
                    "copy: it applies to no session until it is assigned."))
    draft_file = forms.FileField(required=False, label=_("…or an OCPI 2.2.1 tariff file (JSON)"))
    compared_tariff = forms.ModelChoiceField(queryset=None, required=False, label=_("Only sessions charged with"),
                                             empty_label=_("any tariff"))
    locations = forms.ModelMultipleChoiceField(queryset=None, required=False,
                                               help_text=_("None chosen: every location."))
    field_order = ["operator", "draft_tariff", "draft_file", "compared_tariff", "start_date", "end_date", "locations"]

    @property
    def too_long_message(self):
        return _("Choose at most %(days)s days.") % {"days": MAX_DAYS}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.operators = list(operators_for(user))
        self.fields["operator"].queryset = operators_for(user)
        if len(self.operators) == 1:
            del self.fields["operator"]
        tariffs = scope_to_user(Tariff.objects.all(), user).order_by("name")
        self.fields["draft_tariff"].queryset = tariffs
        self.fields["compared_tariff"].queryset = tariffs
        self.fields["locations"].queryset = scope_to_user(Location.objects.all(), user).order_by("name")

    def clean_draft_file(self):
        upload = self.cleaned_data.get("draft_file")
        if not upload:
            return None
        data = read_ocpi_upload(upload)
        try:
            what_if.draft_from_ocpi(data)
        except what_if.WhatIfError as error:
            raise forms.ValidationError(_("Not an OCPI 2.2.1 tariff: %(error)s") % {"error": error.message}) from None
        return data

    def clean(self):
        data = super().clean()
        tariff, upload = data.get("draft_tariff"), data.get("draft_file")
        if not self.has_error("draft_file") and (tariff is None) == (upload is None):
            self.add_error("draft_tariff", _("Choose a stored tariff or upload a file (one of the two)."))
        operator = self.operators[0] if len(self.operators) == 1 else data.get("operator")
        if operator is None and "operator" in self.fields and not self.has_error("operator"):
            self.add_error("operator", _("Choose the operator whose sessions to compare."))
        data["operator"] = operator
        if operator is not None:
            for name in ("draft_tariff", "compared_tariff"):
                if data.get(name) is not None and data[name].operator_id != operator.pk:
                    self.add_error(name, _("This tariff belongs to another operator."))
            if any(loc.operator_id != operator.pk for loc in data.get("locations") or ()):
                self.add_error("locations", _("Choose locations of the operator only."))
        return data

    def start_kwargs(self) -> dict:
        data = self.cleaned_data
        tariff = data["draft_tariff"]
        if tariff is not None:
            draft, name = ocpi.loads(snapshot(tariff)), tariff.name
        else:
            draft, name = data["draft_file"], f"{data['draft_file']['id']} (uploaded file)"
        return {"operator": data["operator"], "draft": draft, "draft_name": name, "draft_tariff": tariff,
                "compared_tariff": data["compared_tariff"], "start_date": data["start_date"],
                "end_date": data["end_date"], "locations": data["locations"]}


@admin.register(WhatIfRun)
class WhatIfRunAdmin(OperatorScopedAdmin):
    list_display = ["created_at", "draft_name", "start_date", "end_date", "status", "progress", "difference",
                    "operator"]
    list_filter = ["state"]
    list_select_related = ["operator"]

    @admin.display(description=_("state"), ordering="state")
    def status(self, run):
        return _("Stalled") if what_if.what_if_stalled(run) else run.get_state_display()

    @admin.display(description=_("sessions"))
    def progress(self, run):
        return f"{run.sessions_done} of {run.sessions_total}"

    @admin.display(description=_("revenue difference excl. VAT"))
    def difference(self, run):
        if run.state != WhatIfRun.State.DONE:
            return "—"
        return f"{run.summary['difference']['excl_vat']} {run.summary['currency']}"

    def get_urls(self):
        return [
            path("<path:object_id>/sessions.csv", self.admin_site.admin_view(self.csv_view),
                 name="billing_app_whatifrun_csv"),
            path("<path:object_id>/restart/", self.admin_site.admin_view(self.restart_view),
                 name="billing_app_whatifrun_restart"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        initial = {"start_date": today - timedelta(days=30), "end_date": today - timedelta(days=1),
                   **{k: request.GET[k] for k in ("draft_tariff", "compared_tariff") if k in request.GET}}
        form = WhatIfForm(request.POST or None, request.FILES or None, user=request.user, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                run = what_if_start(created_by=request.user, **form.start_kwargs())
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                return redirect("admin:billing_app_whatifrun_change", run.pk)
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.model._meta,
                   "title": "Tariff what-if", "max_days": MAX_DAYS}
        return TemplateResponse(request, "admin/billing_app/whatifrun/add.html", context)

    def _run(self, request, object_id) -> WhatIfRun:
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404("No such what-if run.")
        return run

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self._run(request, object_id)
        summary = run.summary or {}
        top_bucket = max((b["count"] for b in summary.get("buckets", [])), default=0) or 1
        stalled = what_if.what_if_stalled(run)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "run": run, "summary": summary,
            "title": str(run), "locations": list(run.locations.all()), "top_bucket": top_bucket,
            "warnings": what_if.draft_warnings(run),
            "running": run.state in (WhatIfRun.State.QUEUED, WhatIfRun.State.RUNNING) and not stalled,
            "stalled": stalled, "stalled_minutes": int(what_if.stalled_after().total_seconds() // 60),
            "last_progress": run.heartbeat_at or run.created_at,
            "can_restart": (stalled or run.state == WhatIfRun.State.FAILED) and self.has_add_permission(request),
            "restart_url": reverse("admin:billing_app_whatifrun_restart", args=[run.pk]),
            "percent": int(run.sessions_done * 100 / run.sessions_total) if run.sessions_total else 0,
            "csv_url": reverse("admin:billing_app_whatifrun_csv", args=[run.pk]),
        }
        return TemplateResponse(request, "admin/billing_app/whatifrun/result.html", context)

    def restart_view(self, request, object_id):
        """Start a failed or stalled run again (POST; those who may start runs, on their operator's runs)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        run = self._run(request, object_id)
        if message_call(request, what_if_restart, run_id=run.pk):
            messages.success(request, _("The run was queued again; it starts over."))
        return redirect("admin:billing_app_whatifrun_change", run.pk)

    def csv_view(self, request, object_id):
        run = self._run(request, object_id)
        response = StreamingHttpResponse(csv_lines(what_if.what_if_rows(run)), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="what-if-{run.pk}.csv"'
        return response
