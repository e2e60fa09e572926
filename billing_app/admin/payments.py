"""Admin for payments: operators look at payments, their history and refunds; changes go through the
services (refunds from disputes and credit notes), never through edited amounts."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from billing_app.admin.display import money_column
from billing_app.models import Payment, PaymentEvent, Refund
from billing_app.payments.messages import failure_text
from sessions_app.admin_scope import OperatorScopedAdmin, ScopedInline


class PaymentEventInline(ScopedInline, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    can_delete = False
    fields = ["at", "from_status", "to_status", "note", "stripe_event_id"]
    readonly_fields = fields
    staff_may_add = False
    staff_may_delete = False


class RefundInline(ScopedInline, admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["created_at", "amount", "reason", "status", "stripe_refund_id", "failure_shown"]
    readonly_fields = fields

    @admin.display(description=_("failure message"))
    def failure_shown(self, obj):
        return failure_text(obj.failure_message)
    staff_may_add = False
    staff_may_delete = False


@admin.register(Payment)
class PaymentAdmin(OperatorScopedAdmin):
    list_display = ["pk", "driver", "kind", "status", "failure_code", "authorized", "captured", "refunded",
                    "dispute_status", "session", "created_at"]
    authorized = money_column("amount_authorized", description=_("authorized"))
    captured = money_column("amount_captured", description=_("captured"))
    refunded = money_column("amount_refunded", description=_("refunded"))
    list_filter = ["status", "kind", "dispute_status", "operator"]
    search_fields = ["stripe_payment_intent_id", "driver__username", "driver__email", "idempotency_key"]
    list_select_related = ["driver", "session"]
    inlines = [PaymentEventInline, RefundInline]
    staff_may_add = False
    staff_may_delete = False
    readonly_fields = [*(f.name for f in Payment._meta.fields), "failure_shown"]

    def get_fields(self, request, obj=None):
        """The stored (English) failure message said in the reader's language, where the field would be."""
        fields = [name for name in super().get_fields(request, obj) if name != "failure_shown"]
        return ["failure_shown" if name == "failure_message" else name for name in fields]

    @admin.display(description=_("failure message"))
    def failure_shown(self, obj):
        return failure_text(obj.failure_message)

    def has_change_permission(self, request, obj=None):
        return False
