"""Tickets in the admin: an operator-scoped, read-only overview (tickets are worked on the support
pages, through the services); operators edit their SLA here."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from sessions_app.admin_scope import OperatorScopedAdmin, ReadOnlyScopedAdmin, ScopedInline

from .models import DisputeTicket, OperatorSla, TicketTransition


class TicketTransitionInline(ScopedInline, admin.TabularInline):
    model = TicketTransition
    fields = ("at", "kind", "from_status", "to_status", "by", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DisputeTicket)
class DisputeTicketAdmin(ReadOnlyScopedAdmin):
    list_display = ("id", "subject", "operator", "status", "reason", "source", "assignee", "opened_at",
                    "first_response_breached", "resolution_breached", "support_page")
    list_filter = ("status", "reason", "source", "first_response_breached", "resolution_breached", "operator")
    search_fields = ("subject", "driver__username", "driver__email", "stripe_dispute_id")
    date_hierarchy = "opened_at"
    list_select_related = ("operator", "assignee")
    inlines = [TicketTransitionInline]

    @admin.display(description=_("work it"))
    def support_page(self, obj):
        return format_html('<a href="{}">open</a>', reverse("disputes:support_ticket", args=[obj.pk]))


@admin.register(OperatorSla)
class OperatorSlaAdmin(OperatorScopedAdmin):
    list_display = ("operator", "first_response_hours", "resolution_hours")
