"""Operator scoping for the Django admin, shared by every app's ModelAdmin.

Operator staff see and edit only their operator's rows, and only their operator's rows appear in
foreign-key choices; a row of another operator reached by URL is a 404 (the admin looks objects up
through get_queryset). Support staff may look, not touch. Superusers see everything.
"""
from django.contrib import admin

from .selectors import is_back_office, scope_to_user


def _scope_choices(db_field, request, kwargs: dict) -> dict:
    related = db_field.remote_field.model
    if hasattr(related, "OWNER_PATH") and "queryset" not in kwargs:
        kwargs["queryset"] = scope_to_user(related._default_manager.all(), request.user)
    return kwargs


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices limited to the operators the user may see; for
    ModelAdmins and inlines alike."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **_scope_choices(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **_scope_choices(db_field, request, kwargs))


class RolePermissionsMixin:
    """Permissions by role, for ModelAdmins and inlines alike: operator staff edit (add and delete
    as `staff_may_add` / `staff_may_delete` say), support staff look, superusers do anything.
    Accounts without one of our roles fall back to Django's model permissions."""

    staff_may_add = True
    staff_may_delete = True

    def has_view_permission(self, request, obj=None):
        user = request.user
        if is_back_office(user):
            return True
        if not (user.is_active and user.is_staff):
            return False
        return super().has_view_permission(request, obj)

    def _role_allows(self, request, *, staff_allowed: bool) -> bool | None:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_superuser:
            return True
        if user.is_operator_staff:
            return staff_allowed
        if user.is_support:
            return False
        return None

    def has_add_permission(self, request, *args):
        allowed = self._role_allows(request, staff_allowed=self.staff_may_add)
        return super().has_add_permission(request, *args) if allowed is None else allowed

    def has_change_permission(self, request, obj=None):
        allowed = self._role_allows(request, staff_allowed=True)
        return super().has_change_permission(request, obj) if allowed is None else allowed

    def has_delete_permission(self, request, obj=None):
        allowed = self._role_allows(request, staff_allowed=self.staff_may_delete)
        return super().has_delete_permission(request, obj) if allowed is None else allowed


class ScopedInline(RolePermissionsMixin, ScopedChoicesMixin):
    """Base for inlines of scoped models: mix in before TabularInline / StackedInline."""


class OperatorScopedAdmin(RolePermissionsMixin, ScopedChoicesMixin, admin.ModelAdmin):
    def get_queryset(self, request):
        return scope_to_user(super().get_queryset(request), request.user)

    def _owns_operator_field(self) -> bool:
        return getattr(self.model, "OWNER_PATH", None) == "operator"

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if self._owns_operator_field() and request.user.is_operator_staff:
            exclude.append("operator")
        return exclude

    def save_model(self, request, obj, form, change):
        if self._owns_operator_field() and request.user.is_operator_staff:
            obj.operator_id = request.user.operator_id
        super().save_model(request, obj, form, change)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

class ReadOnlyScopedAdmin(OperatorScopedAdmin):
    """For records that only the system writes (sessions, samples): staff look, nobody edits."""

    staff_may_add = False
    staff_may_delete = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
