"""Admin for subscription plans (operators edit them) and subscriptions (the system writes them)."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from billing_app.admin.display import money_column
from billing_app.models import Plan, Subscription, SubscriptionPeriod
from sessions_app.admin_scope import OperatorScopedAdmin, ReadOnlyScopedAdmin


@admin.register(Plan)
class PlanAdmin(OperatorScopedAdmin):
    list_display = ["name", "period", "fee_shown", "vat_rate", "included_kwh", "active", "operator"]
    fee_shown = money_column("fee_excl_vat", description=_("fee excl. VAT"))
    list_filter = ["active", "period", "operator"]
    search_fields = ["name"]
    staff_may_delete = False  # subscriptions point at plans: deactivate instead
    fieldsets = [
        (None, {"fields": ["operator", "name", "description", "active"]}),
        ("Fee", {"fields": ["period", "fee_excl_vat", "vat_rate", "currency"]}),
        ("Benefits", {"fields": ["included_kwh", "member_tariff", "energy_discount_percent", "time_discount_percent",
                                 "waive_flat_fee", "idle_fee_policy", "idle_grace_minutes"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_operator_staff:
            first = {**fieldsets[0][1], "fields": [f for f in fieldsets[0][1]["fields"] if f != "operator"]}
            return [(None, first), *fieldsets[1:]]
        return fieldsets


class SubscriptionPeriodInline(admin.TabularInline):
    model = SubscriptionPeriod
    extra = 0
    can_delete = False
    fields = ["period_start", "period_end", "plan", "status", "fee_incl_vat", "currency", "used_kwh", "included_kwh",
              "attempts", "next_attempt_at", "payment", "invoice"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyScopedAdmin):
    list_display = ["driver", "plan", "status", "current_period_start", "current_period_end",
                    "cancel_at_period_end", "pending_plan"]
    list_filter = ["status", "plan__operator", "plan"]
    search_fields = ["driver__username", "driver__email"]
    list_select_related = ["driver", "plan", "pending_plan"]
    inlines = [SubscriptionPeriodInline]
