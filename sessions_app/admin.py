"""Admin for the charging domain, scoped to the operator of the staff member who asks."""
from decimal import Decimal

from babel.numbers import format_decimal
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from evbilling.languages import babel_locale

from . import audit  # noqa: F401 - registers the scoped audit log admin
from .admin_paginator import EstimatedCountPaginator
from .admin_scope import OperatorScopedAdmin, ReadOnlyScopedAdmin, ScopedInline
from .forms import ChargingStationForm, MeterPublicKeyForm, RemoteStartForm
from .local_time import format_local_datetime, format_local_time
from .models import (
    ChargingSession,
    ChargingStation,
    Connector,
    ConnectorStatusEvent,
    DriverProfile,
    IdToken,
    Location,
    MeterPublicKey,
    MeterSample,
    MeterSignatureCheck,
    Operator,
    SignedMeterValue,
    User,
)
from .power_chart import Reading, power_chart_svg
from .services import meter_key_register, session_signatures_verify


def local_time_column(field: str, zone_path: str, *, description):
    """A changelist column: the time in the charger's (location's) zone, the zone named when not the viewer's."""

    @admin.display(description=description, ordering=field)
    def show(self, obj):
        location = obj
        for step in zone_path.split("__"):
            location = getattr(location, step)
        return format_local_datetime(getattr(obj, field), location.time_zone)

    return show


@admin.register(Operator)
class OperatorAdmin(OperatorScopedAdmin):
    staff_may_add = False
    staff_may_delete = False
    list_display = ["name", "legal_name", "country", "default_currency", "invoice_prefix", "vat_id"]
    list_filter = ["country", "default_currency"]
    search_fields = ["name", "legal_name", "vat_id"]


class DriverProfileInline(ScopedInline, admin.StackedInline):
    staff_may_add = False
    staff_may_delete = False
    model = DriverProfile
    can_delete = False
    extra = 0


@admin.register(User)
class UserAdmin(OperatorScopedAdmin, DjangoUserAdmin):
    staff_may_add = False
    staff_may_delete = False
    list_display = ["username", "email", "role", "operator", "company", "is_staff", "is_active", "last_login"]
    list_filter = ["role", "operator", "is_staff", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name", "driver_profile__full_name"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("evbilling", {"fields": ("role", "operator", "company", "supported_operators")}),
    )
    inlines = [DriverProfileInline]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        # Operator staff may correct a driver's details, never grant roles or permissions.
        return [
            "role", "operator", "supported_operators", "is_staff", "is_superuser",
            "groups", "user_permissions", "last_login", "date_joined", "password",
        ]

    def user_change_password(self, request, id, form_url=""):
        # Setting someone's password is taking over their account: superusers only, or the user themself.
        if not (request.user.is_superuser or str(request.user.pk) == unquote(id)):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


class ConnectorInline(ScopedInline, admin.TabularInline):
    model = Connector
    extra = 0
    fields = ["number", "standard", "power_type", "max_power_kw", "status"]
    readonly_fields = ["status"]


@admin.register(Location)
class LocationAdmin(OperatorScopedAdmin):
    list_display = ["name", "city", "country", "time_zone", "calibration_law", "operator"]
    list_filter = ["operator", "country", "time_zone", "calibration_law"]
    search_fields = ["name", "city", "address", "postal_code"]


def _report_command(modeladmin, request, label: str, send) -> None:
    """Run one remote command (a commands.* call) and tell the user what became of it."""
    from .ocpp.commands import CommandsUnavailable

    try:
        sent = send()
    except CommandsUnavailable as error:
        modeladmin.message_user(request, str(error), messages.ERROR)
        return False
    if sent.delivered:
        modeladmin.message_user(request, gettext("{label}: sent to the charger (command {command}).").format(
            label=label, command=sent.command_id))
    else:
        not_sent = gettext("{label}: not sent, the charger is not connected.").format(label=label)
        modeladmin.message_user(request, not_sent, messages.WARNING)
    return True


@admin.register(ChargingStation)
class ChargingStationAdmin(OperatorScopedAdmin):
    form = ChargingStationForm
    list_display = ["ocpp_identity", "location", "vendor", "model", "status", "online", "ocpp_version", "last_seen"]
    last_seen = local_time_column("last_seen_at", "location", description=_("last seen"))
    list_filter = ["status", "ocpp_version", "vendor", "location__operator", "location"]
    search_fields = ["ocpp_identity", "serial_number", "vendor", "model", "location__name"]
    readonly_fields = ["status", "last_seen_at", "last_boot_at", "firmware_version", "ocpp_version", "connected_to",
                       "meter_keys"]
    inlines = [ConnectorInline]

    @admin.display(description=_("meter keys"))
    def meter_keys(self, obj):
        """The station's meter keys, history included (entered on the meter key page)."""
        keys = MeterPublicKey.objects.filter(station=obj) if obj.pk else []
        return "; ".join(
            f"connector {k.evse_number or 'all'}: meter {k.meter_serial or '?'} ({k.get_source_display().lower()}) "
            f"from {k.valid_from:%Y-%m-%d}" + (f" until {k.valid_until:%Y-%m-%d}" if k.valid_until else "")
            for k in keys) or "none"
    list_select_related = ["location"]
    actions = ["remote_start", "reset_soft", "reset_hard"]

    @admin.display(boolean=True, description=_("online"))
    def online(self, obj):
        return obj.is_online

    def _reset(self, request, queryset, *, hard: bool):
        from .ocpp.commands import station_reset

        for station in queryset:
            label = gettext("Reset {station}").format(station=station)
            if not _report_command(self, request, label, lambda s=station: station_reset(station=s, hard=hard)):
                return

    @admin.action(description=_("Reset (soft: when idle)"), permissions=["change"])
    def reset_soft(self, request, queryset):
        self._reset(request, queryset, hard=False)

    @admin.action(description=_("Reset (hard: now)"), permissions=["change"])
    def reset_hard(self, request, queryset):
        self._reset(request, queryset, hard=True)

    @admin.action(description=_("Start charging remotely"), permissions=["change"])
    def remote_start(self, request, queryset):
        from .ocpp.commands import station_remote_start

        if queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one station to start a charge on."), messages.WARNING)
            return None
        station = queryset.get()
        form = RemoteStartForm(request.POST if "id_token" in request.POST else None, station=station, user=request.user)
        if form.is_valid():
            label = gettext("Remote start on {station}").format(station=station)
            _report_command(self, request, label, lambda: station_remote_start(
                station=station, id_token=form.cleaned_data["id_token"], connector=form.cleaned_data["connector"],
            ))
            return None
        title = gettext("Start charging on {station}").format(station=station)
        return TemplateResponse(request, "admin/sessions_app/remote_start.html", {
            **self.admin_site.each_context(request), "title": title, "form": form,
            "station": station, "opts": self.model._meta, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        })


@admin.register(Connector)
class ConnectorAdmin(OperatorScopedAdmin):
    list_display = ["__str__", "standard", "power_type", "max_power_kw", "status"]
    list_filter = ["standard", "power_type", "status", "station__location__operator"]
    search_fields = ["station__ocpp_identity"]
    list_select_related = ["station"]


@admin.register(IdToken)
class IdTokenAdmin(OperatorScopedAdmin):
    list_display = ["uid", "type", "driver", "status", "company", "charging", "cost_centre", "expires_at", "operator"]
    list_filter = ["status", "type", "charging", "operator"]
    search_fields = ["uid", "driver__username", "driver__email", "cost_centre", "licence_plate"]
    autocomplete_fields = ["driver"]
    list_select_related = ["driver", "operator", "company"]


class MeterSampleInline(ScopedInline, admin.TabularInline):
    """The readings under the chart, folded: times in the charger's zone, energy in kWh, power in kW."""

    staff_may_add = False
    staff_may_delete = False
    model = MeterSample
    verbose_name = _("meter reading")
    verbose_name_plural = _("meter readings")
    template = "admin/edit_inline/tabular_untitled.html"
    classes = ["collapse"]
    extra = 0
    can_delete = False
    fields = ["taken", "energy", "power", "current_a", "soc_percent"]
    readonly_fields = fields
    max_num = 0

    @admin.display(description=_("taken"))
    def taken(self, sample):
        return format_local_time(sample.taken_at, sample.session.connector.station.location.time_zone, seconds=True)

    @admin.display(description=_("energy register"))
    def energy(self, sample):
        return _energy_text(sample.energy_wh)

    @admin.display(description=_("power"))
    def power(self, sample):
        if sample.power_w is None:
            return "\u2013"
        return f"{format_decimal(Decimal(sample.power_w) / 1000, '#,##0.###', locale=babel_locale())}\u00a0kW"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("session__connector__station__location")


class SignedMeterValueInline(ScopedInline, admin.TabularInline):
    staff_may_add = False
    staff_may_delete = False
    model = SignedMeterValue
    verbose_name = _("signed meter value")
    verbose_name_plural = _("signed meter values")
    template = "admin/edit_inline/tabular_untitled.html"
    classes = ["collapse"]
    extra = 0
    can_delete = False
    fields = ["taken_at", "context", "format", "encoding", "signing_method", "ocmf"]
    readonly_fields = fields
    max_num = 0


def _energy_text(wh) -> str:
    return f"{format_decimal(Decimal(wh) / 1000, '#,##0.000', locale=babel_locale())}\u00a0kWh"


@admin.register(ChargingSession)
class ChargingSessionAdmin(ReadOnlyScopedAdmin):
    """A session as the operator reads it: times in the charger's zone (named when not the viewer's), energy in
    kWh, the power and energy curve drawn from its readings; billing_app's admin adds its cost and documents."""

    list_display = [
        "id", "started_local", "stopped_local", "connector", "driver", "state", "energy_kwh_display", "stop_reason",
    ]
    list_filter = ["state", "operator", "started_at", "connector__station__location"]
    search_fields = ["transaction_ref", "id_token__uid", "driver__username", "connector__station__ocpp_identity"]
    # No date_hierarchy: it lists the years and months present with a DISTINCT over every session (0.3-1 s
    # at a million); the started_at filter gives the same ranges without reading the table.
    list_select_related = ["connector__station__location", "driver"]
    paginator = EstimatedCountPaginator  # a million sessions: no COUNT(*) per page view
    show_full_result_count = False
    inlines = [SignedMeterValueInline, MeterSampleInline]
    readonly_fields = ["started_local", "stopped_local", "energy_kwh_display", "meter_start_kwh", "meter_stop_kwh",
                       "power_chart", "meter_signatures"]
    fieldsets = [
        (None, {"fields": [("state", "stop_reason"), ("connector", "operator"), ("id_token", "driver"),
                           ("company", "cost_centre"), "transaction_ref"]}),
        (_("Time (the charger's time zone)"), {"fields": [("started_local", "stopped_local")]}),
        (_("Energy"), {"fields": [("energy_kwh_display", "meter_start_kwh", "meter_stop_kwh"), "power_chart"]}),
        (_("Meter signatures"), {"fields": ["meter_signatures"], "classes": ["collapse"]}),
    ]
    actions = ["remote_stop", "signatures_verify"]
    chart_samples = 600  # at most this many readings drawn (evenly picked); a chart has ~500 px

    def get_actions(self, request):
        # Sessions are read-only here, but stopping a charge or checking signatures is an operation, not an edit.
        actions = super().get_actions(request)
        if not (request.user.is_superuser or request.user.is_operator_staff):
            actions.pop("remote_stop", None)
            actions.pop("signatures_verify", None)
        return actions

    @staticmethod
    def _zone(obj):
        return obj.connector.station.location.time_zone

    @admin.display(description=_("started"), ordering="started_at")
    def started_local(self, obj):
        return format_local_datetime(obj.started_at, self._zone(obj))

    @admin.display(description=_("stopped"), ordering="stopped_at")
    def stopped_local(self, obj):
        return format_local_datetime(obj.stopped_at, self._zone(obj))

    @admin.display(description=_("meter at start"))
    def meter_start_kwh(self, obj):
        return _energy_text(obj.meter_start_wh)

    @admin.display(description=_("meter at stop"))
    def meter_stop_kwh(self, obj):
        return _energy_text(obj.meter_stop_wh) if obj.meter_stop_wh is not None else "\u2013"

    @admin.display(description=_("power and energy"))
    def power_chart(self, obj):
        readings = list(MeterSample.objects.filter(session=obj).order_by("taken_at")
                        .values_list("taken_at", "energy_wh", "power_w"))
        if len(readings) > self.chart_samples:
            step = len(readings) / self.chart_samples
            readings = [readings[int(i * step)] for i in range(self.chart_samples)] + [readings[-1]]
        zone = self._zone(obj)
        chart = power_chart_svg(
            [Reading(at, energy, power) for at, energy, power in readings],
            start_label=format_local_time(readings[0][0], zone) if readings else "",
            end_label=format_local_time(readings[-1][0], zone) if readings else "",
            title=gettext("Power (kW, solid) and energy since the start (kWh, dashed)"))
        if not chart:
            return gettext("Fewer than two meter readings: no curve to draw.")
        return format_html("{}<div class=\"help\">{}</div>", chart,
                           gettext("Power (kW, solid, left scale) and energy since the start (kWh, dashed, right "
                                   "scale); times in {zone}.").format(zone=zone))

    @admin.display(description=_("meter signatures"))
    def meter_signatures(self, obj):
        check = MeterSignatureCheck.objects.filter(session=obj).first()
        if check is None:
            return "not checked yet"
        reasons = "; ".join(r["detail"] for r in check.reasons)
        serial = f" by meter {check.meter_serial}" if check.meter_serial else ""
        energy = f", {check.signed_energy_wh} Wh signed" if check.signed_energy_wh is not None else ""
        return f"{check.get_status_display()}{serial}{energy}" + (f": {reasons}" if reasons else "")

    @admin.action(description=_("Check meter signatures again (after entering a meter key)"))
    def signatures_verify(self, request, queryset):
        done = 0
        for session in queryset.filter(state=ChargingSession.State.COMPLETED).select_related("connector__station"):
            session_signatures_verify(session=session)
            done += 1
        checked = ngettext("Signatures of {count} completed session checked.",
                           "Signatures of {count} completed sessions checked.", done).format(count=done)
        self.message_user(request, checked)

    @admin.action(description=_("Stop charging remotely"))
    def remote_stop(self, request, queryset):
        from .ocpp.commands import session_remote_stop

        for session in queryset.select_related("connector__station"):
            if session.state != ChargingSession.State.ACTIVE:
                inactive = gettext("{session} is not active.").format(session=session)
                self.message_user(request, inactive, messages.WARNING)
                continue
            label = gettext("Stop {session}").format(session=session)
            if not _report_command(self, request, label, lambda s=session: session_remote_stop(session=s)):
                return

    @admin.display(description=_("energy"), ordering="energy_wh")
    def energy_kwh_display(self, obj):
        return _energy_text(obj.energy_wh)


@admin.register(MeterSample)
class MeterSampleAdmin(ReadOnlyScopedAdmin):
    list_display = ["session", "taken", "energy_wh", "power_w", "current_a", "soc_percent"]
    taken = local_time_column("taken_at", "session__connector__station__location", description=_("taken"))
    list_filter = ["session__operator"]
    search_fields = ["session__transaction_ref"]
    list_select_related = ["session__connector__station__location"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(ConnectorStatusEvent)
class ConnectorStatusEventAdmin(ReadOnlyScopedAdmin):
    list_display = ["reported", "station", "connector_number", "status", "error_code", "info", "vendor_error_code",
                    "received"]
    reported = local_time_column("timestamp", "station__location", description=_("reported"))
    received = local_time_column("received_at", "station__location", description=_("received"))
    list_filter = ["status", "error_code", "station__location__operator"]
    search_fields = ["station__ocpp_identity", "vendor_error_code", "info"]
    date_hierarchy = "timestamp"
    list_select_related = ["station__location"]
    show_full_result_count = False


@admin.register(MeterPublicKey)
class MeterPublicKeyAdmin(OperatorScopedAdmin):
    """Meter keys per station and connector. A key is entered (or pasted from the manufacturer's file) and
    never edited: a replaced meter gets a new key, which ends the old one's service where it begins."""

    form = MeterPublicKeyForm
    staff_may_delete = False
    list_display = ["station", "evse_number", "meter_serial", "source", "valid_from", "valid_until", "curve"]
    list_filter = ["source", "station__location"]
    search_fields = ["meter_serial", "station__ocpp_identity", "public_key"]
    list_select_related = ["station"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["station", "evse_number", "public_key", "curve", "source", "valid_from", "valid_until"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["station", "evse_number", "meter_serial", "public_key", "valid_from"]
        return ["station", "evse_number", "meter_serial", "public_key", "curve", "source", "valid_from", "valid_until"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        registered = meter_key_register(
            station=obj.station, evse_number=obj.evse_number, public_key=obj.public_key, meter_serial=obj.meter_serial,
            source=MeterPublicKey.Source.OPERATOR, valid_from=obj.valid_from)
        obj.pk = registered.pk
        obj.refresh_from_db()
        return None
