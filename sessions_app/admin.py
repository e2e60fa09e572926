"""Admin for the charging domain, scoped to the operator of the staff member who asks."""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .admin_scope import OperatorScopedAdmin, ReadOnlyScopedAdmin
from .forms import ChargingStationForm
from .models import (
    ChargingSession,
    ChargingStation,
    Connector,
    DriverProfile,
    IdToken,
    Location,
    MeterSample,
    Operator,
    User,
)


@admin.register(Operator)
class OperatorAdmin(OperatorScopedAdmin):
    staff_may_add = False
    staff_may_delete = False
    list_display = ["name", "legal_name", "country", "default_currency", "invoice_prefix", "vat_id"]
    list_filter = ["country", "default_currency"]
    search_fields = ["name", "legal_name", "vat_id"]


class DriverProfileInline(admin.StackedInline):
    model = DriverProfile
    can_delete = False
    extra = 0


@admin.register(User)
class UserAdmin(OperatorScopedAdmin, DjangoUserAdmin):
    staff_may_add = False
    staff_may_delete = False
    list_display = ["username", "email", "role", "operator", "is_staff", "is_active", "last_login"]
    list_filter = ["role", "operator", "is_staff", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name", "driver_profile__full_name"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("evbilling", {"fields": ("role", "operator", "supported_operators")}),
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


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    fields = ["number", "standard", "power_type", "max_power_kw", "status"]
    readonly_fields = ["status"]


@admin.register(Location)
class LocationAdmin(OperatorScopedAdmin):
    list_display = ["name", "city", "country", "time_zone", "operator"]
    list_filter = ["operator", "country", "time_zone"]
    search_fields = ["name", "city", "address", "postal_code"]


@admin.register(ChargingStation)
class ChargingStationAdmin(OperatorScopedAdmin):
    form = ChargingStationForm
    list_display = ["ocpp_identity", "location", "vendor", "model", "status", "last_seen_at"]
    list_filter = ["status", "vendor", "location__operator", "location"]
    search_fields = ["ocpp_identity", "serial_number", "vendor", "model", "location__name"]
    readonly_fields = ["status", "last_seen_at", "last_boot_at", "firmware_version"]
    inlines = [ConnectorInline]
    list_select_related = ["location"]


@admin.register(Connector)
class ConnectorAdmin(OperatorScopedAdmin):
    list_display = ["__str__", "standard", "power_type", "max_power_kw", "status"]
    list_filter = ["standard", "power_type", "status", "station__location__operator"]
    search_fields = ["station__ocpp_identity"]
    list_select_related = ["station"]


@admin.register(IdToken)
class IdTokenAdmin(OperatorScopedAdmin):
    list_display = ["uid", "type", "driver", "status", "expires_at", "operator"]
    list_filter = ["status", "type", "operator"]
    search_fields = ["uid", "driver__username", "driver__email"]
    autocomplete_fields = ["driver"]
    list_select_related = ["driver", "operator"]


class MeterSampleInline(admin.TabularInline):
    model = MeterSample
    extra = 0
    can_delete = False
    fields = ["taken_at", "energy_wh", "power_w", "current_a", "soc_percent"]
    readonly_fields = fields
    max_num = 0


@admin.register(ChargingSession)
class ChargingSessionAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "id", "started_at", "stopped_at", "connector", "driver", "state", "energy_kwh_display", "stop_reason",
    ]
    list_filter = ["state", "operator", "started_at", "connector__station__location"]
    search_fields = ["transaction_ref", "id_token__uid", "driver__username", "connector__station__ocpp_identity"]
    date_hierarchy = "started_at"
    list_select_related = ["connector__station", "driver"]
    inlines = [MeterSampleInline]

    @admin.display(description="kWh", ordering="energy_wh")
    def energy_kwh_display(self, obj):
        return f"{obj.energy_kwh:.3f}"


@admin.register(MeterSample)
class MeterSampleAdmin(ReadOnlyScopedAdmin):
    list_display = ["session", "taken_at", "energy_wh", "power_w", "current_a", "soc_percent"]
    list_filter = ["session__operator"]
    search_fields = ["session__transaction_ref"]
    list_select_related = ["session__connector__station"]
    show_full_result_count = False
