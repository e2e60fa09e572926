"""Paginated GET lists (transport_and_format, Pagination): `offset`, `limit`, `date_from` (inclusive) and
`date_to` (exclusive) on `last_updated`; the answer carries `X-Total-Count`, `X-Limit` and, unless it
is the last page, `Link: <next page URL>; rel="next"` keeping the client's filters.

Objects come oldest first with the primary key as tie-breaker, so the same URL gives the same page.
A bad parameter is HTTP 400 with status 2001.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from billing_app.pricing import ocpi

from . import envelope
from .envelope import OcpiError


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None


def _int(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise OcpiError(f"{name}: {raw!r} is not an integer.") from None
    if value < 0:
        raise OcpiError(f"{name}: must not be negative.")
    return value


def _moment(request: HttpRequest, name: str) -> datetime | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    try:
        return ocpi.parse_datetime(raw, name)
    except ocpi.OcpiError as error:
        raise OcpiError(str(error)) from None


def page_from(request: HttpRequest) -> Page:
    maximum = settings.OCPI_PAGE_LIMIT
    limit = _int(request, "limit", maximum)
    if limit == 0:
        raise OcpiError("limit: must be at least 1.")
    page = Page(offset=_int(request, "offset", 0), limit=min(limit, maximum),
                date_from=_moment(request, "date_from"), date_to=_moment(request, "date_to"))
    if page.date_from and page.date_to and page.date_from >= page.date_to:
        raise OcpiError("date_from must be before date_to.")
    return page


def paginated(request: HttpRequest, queryset: QuerySet, *, serialize: Callable[[Any], dict[str, Any]],
              date_field: str = "last_updated", prepare: Callable[[list], Iterable] | None = None) -> HttpResponse:
    """One page of `queryset` (already scoped to the partner) as the OCPI answer with its headers."""
    page = page_from(request)
    if page.date_from:
        queryset = queryset.filter(**{f"{date_field}__gte": page.date_from})
    if page.date_to:
        queryset = queryset.filter(**{f"{date_field}__lt": page.date_to})
    queryset = queryset.order_by(date_field, "pk")
    total = queryset.count()
    rows = list(queryset[page.offset:page.offset + page.limit])
    objects = list(prepare(rows)) if prepare else rows
    response = envelope.success([serialize(row) for row in objects])
    response["X-Total-Count"] = str(total)
    response["X-Limit"] = str(page.limit)
    if page.offset + page.limit < total:
        query = {key: value for key, value in request.GET.items() if key not in ("offset", "limit")}
        query.update(offset=page.offset + page.limit, limit=page.limit)
        response["Link"] = f'<{request.build_absolute_uri(request.path)}?{urlencode(query)}>; rel="next"'
    return response
