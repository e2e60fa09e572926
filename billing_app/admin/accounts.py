"""Admin for billing accounts."""
from django.contrib import admin

from billing_app.models import BillingAccount
from sessions_app.admin_scope import OperatorScopedAdmin


@admin.register(BillingAccount)
class BillingAccountAdmin(OperatorScopedAdmin):
    list_display = ["__str__", "driver", "company", "payment_mode", "operator", "created_at"]
    list_filter = ["payment_mode", "operator"]
    search_fields = ["driver__username", "driver__email", "driver__driver_profile__company_name",
                     "company__legal_name"]
    autocomplete_fields = ["driver"]
    list_select_related = ["driver", "operator", "company"]
