"""Operator scoping for the Django admin, shared by every app's ModelAdmin.

Operator staff see and edit only their operator's rows, and only their operator's rows appear in
foreign-key choices; a row of another operator reached by URL is a 404 (the admin looks objects up
through get_queryset). Support staff may look, not touch. Superusers see everything.

The changelists' filter sidebars are scoped too: a filter on a relation to a scoped model (`operator`,
`location`, `connector__station__location`, `plan`, `partner`...) offers only the rows the user may see,
and a filter on the values of a related scoped model's column only those rows' values. Both filters are
registered with Django's FieldListFilter ahead of its own, so every list_filter of every ModelAdmin gets
them without naming them (an operator's staff then sees no operator filter at all: one choice is no choice).
"""
from django.contrib import admin
from django.contrib.admin.filters import AllValuesFieldListFilter, FieldListFilter, RelatedFieldListFilter
from django.contrib.admin.utils import reverse_field_path
from django.db import models

from .selectors import is_back_office, scope_to_user


class ScopedRelatedFieldListFilter(RelatedFieldListFilter):
    """A relation's choices limited to the operators the user may see (Django lists every row)."""

    def field_choices(self, field, request, model_admin):
        related = field.remote_field.model
        ordering = self.field_admin_ordering(field, request, model_admin) or related._meta.ordering or ["pk"]
        rows = scope_to_user(related._default_manager.all(), request.user).order_by(*ordering)
        return [(row.pk, str(row)) for row in rows]


class ScopedAllValuesFieldListFilter(AllValuesFieldListFilter):
    """The values of a related model's column (`event__type`) from the rows the user may see; Django reads
    them from the whole table when the column is not on the listed model itself."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        parent_model, _ = reverse_field_path(model, field_path)
        if parent_model is not model:
            rows = scope_to_user(parent_model._default_manager.all(), request.user)
            self.lookup_choices = rows.distinct().order_by(field.name).values_list(field.name, flat=True)


def _is_scoped(model) -> bool:
    return hasattr(model, "OWNER_PATH")


FieldListFilter.register(lambda f: f.remote_field and _is_scoped(f.remote_field.model),
                         ScopedRelatedFieldListFilter, take_priority=True)
FieldListFilter.register(lambda f: not f.remote_field and not f.choices and _is_scoped(f.model)
                         and not isinstance(f, models.DateField | models.BooleanField),
                         ScopedAllValuesFieldListFilter, take_priority=True)


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

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not (self._owns_operator_field() and request.user.is_operator_staff):
            return fieldsets
        return [(name, {**options, "fields": [f for f in options["fields"] if f != "operator"]})
                for name, options in fieldsets]

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
