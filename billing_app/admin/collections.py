"""Admin for receipt collections: which unpaid receipts are in dunning or overdue, and why. Read-only:
the sweep (`invoicing.collection`) writes them."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from billing_app.models import ReceiptCollection
from sessions_app.admin_scope import ReadOnlyScopedAdmin


@admin.register(ReceiptCollection)
class ReceiptCollectionAdmin(ReadOnlyScopedAdmin):
    list_display = ["invoice", "driver", "status", "attempts", "failure_message", "next_attempt_at", "overdue_at",
                    "updated_at"]
    list_filter = ["status", "invoice__operator"]
    search_fields = ["invoice__number", "invoice__driver__username", "invoice__driver__email"]
    list_select_related = ["invoice__driver"]
    readonly_fields = [f.name for f in ReceiptCollection._meta.fields]

    @admin.display(description=_("driver"))
    def driver(self, obj):
        return obj.invoice.driver
