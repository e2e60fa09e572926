"""Conventions every API view follows, named in REST_FRAMEWORK settings: pagination and one JSON
error shape, {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {...}}}.
Objects a caller may not see are 404, as if they did not exist."""
from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from evbilling.errors import ApplicationError
from sessions_app.admin_paginator import EstimatedCountPaginator


class IdFilter(django_filters.NumberFilter):
    """A filter on an object id: a whole number a database key can hold, else a 400 (a huge number
    would overflow SQLite's INTEGER in the query and end as a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time turned to UTC here: an offset the database cannot store (PostgreSQL stops at
    ±15:59) or a conversion that leaves the calendar is a 400, not a 500."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class Pagination(PageNumberPagination):
    """Page numbers, with the count PostgreSQL estimates once a list passes 10,000 rows (an exact COUNT of
    an operator's 600,000 sessions costs a quarter of a second on every page); `count_is_exact` says which.
    To walk a long history, narrow it with the list's date filters rather than going to page 1,000."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = EstimatedCountPaginator

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count_is_exact"] = self.page.paginator.count_is_exact
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["count_is_exact"] = {
            "type": "boolean", "description": "false when `count` is PostgreSQL's estimate (lists over 10,000 rows)"}
        paginated["required"] = [*paginated.get("required", []), "count_is_exact"]
        return paginated


def exception_handler(exc, context):
    """The API's one error format; an ApplicationError raised by a service answers its own status."""
    if isinstance(exc, ApplicationError):
        set_rollback()
        fields = {"non_field_errors": [exc.message]} if exc.status_code == 400 else {}
        return Response({"error": {"status": exc.status_code, "code": exc.code, "message": exc.message,
                                   "fields": fields}}, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    fields = {}
    if isinstance(detail, dict) and "detail" not in detail:
        fields, message = detail, "Some fields are invalid."
        code = "invalid"
    elif isinstance(detail, list):
        message, code = " ".join(str(d) for d in detail), "invalid"
    else:
        message = str(detail.get("detail", detail)) if isinstance(detail, dict) else str(detail)
        code = getattr(getattr(exc, "detail", None), "code", None) or getattr(exc, "default_code", "error")
    response.data = {"error": {"status": response.status_code, "code": code, "message": message,
                               "fields": fields}}
    return response
