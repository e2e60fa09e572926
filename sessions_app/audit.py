"""The audit log (django-auditlog): who changed what, with before and after values, per operator.

Apps register their models with `audit_register`; every entry records the operator the row belongs to
(reached through the model's OWNER_PATH) so the admin can scope the log like everything else. Entries
are written by auditlog's signal handlers, with the acting user from its middleware (none for Celery
tasks and the gateway: shown as "system"). Nobody edits or deletes an entry.
"""
from __future__ import annotations

import contextlib

from auditlog.context import auditlog_value, set_actor
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .selectors import is_back_office, operator_ids_for

NOTHING = "\u2013"  # an en dash, as billing_app.money shows a missing value


def operator_id_of(instance) -> int | None:
    """Follow OWNER_PATH ("element__tariff__operator") from a row to its operator's id."""
    path = getattr(type(instance), "OWNER_PATH", None)
    if path is None:
        return None
    if path == "":
        return instance.pk
    target = instance
    for step in path.split("__"):
        target = getattr(target, step, None)
        if target is None:
            return None
    return target.pk


def _additional_data(self) -> dict:
    return {"operator_id": operator_id_of(self)}


def audit_register(model, **options) -> None:
    """Audit `model`; its entries carry {"operator_id": ...} (auditlog asks the instance for
    `get_additional_data`, which is set here so the models stay free of audit code)."""
    model.get_additional_data = _additional_data
    auditlog.register(model, **options)


@contextlib.contextmanager
def acting(user):
    """Name `user` as the actor of the audit entries written inside (a service acting for someone, also
    from a task), keeping the request's address when auditlog's middleware set one, and give the request's
    own context back afterwards (auditlog's set_actor replaces it and never restores it)."""
    previous = auditlog_value.get(None)
    address = {key: previous.get(key) for key in ("remote_addr", "remote_port")} if previous else {}
    try:
        with set_actor(user, **address):
            yield
    finally:
        if previous is not None:
            auditlog_value.set(previous)


if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "actor_display", "action", "content_type", "object_repr", "changes_summary"]
    list_filter = ["action", "content_type", "timestamp"]
    search_fields = ["object_repr", "actor__username", "changes_text"]
    date_hierarchy = "timestamp"
    fields = ["timestamp", "actor_display", "action", "content_type", "object_pk", "object_repr", "changes_table",
              "remote_addr", "additional_data"]
    readonly_fields = fields

    def get_queryset(self, request):
        entries = super().get_queryset(request).select_related("actor", "content_type")
        allowed = operator_ids_for(request.user)
        return entries if allowed is None else entries.filter(additional_data__operator_id__in=list(allowed))

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_back_office(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("who"))
    def actor_display(self, entry):
        return entry.actor.get_username() if entry.actor else _("system")

    @staticmethod
    def readable_changes(entry) -> list[tuple[str, str, str]]:
        """(field, before, after) as people read them: a related row by its name (`assignee: anna -> ben`, not
        `None -> 43`), a choice by its label, nothing for an empty value; reverse relations, which auditlog
        records as `disputes_app.TicketMessage.None` when a row is created, are left out."""
        model = entry.content_type.model_class() if entry.content_type_id else None
        concrete = {f.name for f in model._meta.concrete_fields} if model else None
        changes = {name: values for name, values in (entry.changes_dict or {}).items()
                   if concrete is None or name in concrete}
        shown = type(entry)(pk=entry.pk, content_type=entry.content_type, changes=changes).changes_display_dict
        return [(str(field), *(NOTHING if v in ("None", "", None) else str(v) for v in values[:2]))
                for field, values in shown.items() if len(values) == 2]

    @admin.display(description=_("changes"))
    def changes_summary(self, entry):
        return "; ".join(f"{field}: {before} → {after}" for field, before, after in self.readable_changes(entry)[:4])

    @admin.display(description=_("before → after"))
    def changes_table(self, entry):
        rows = self.readable_changes(entry)
        if not rows:
            return NOTHING
        return format_html("<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
                           _("field"), _("before"), _("after"),
                           format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows))
