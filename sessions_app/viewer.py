"""Who is looking decides the clock and the language: each request runs in the viewer's time zone and, when
they chose one, in their stored language (`User.language`; otherwise LocaleMiddleware's pick from the
language cookie or the browser's Accept-Language).

Drivers and operator staff see their operator's zone, support staff that of the first operator they
support, superusers UTC. Times elsewhere than the viewer's zone are named where they are shown
(`sessions_app.local_time`). The zone is looked up once per sign-in and kept in the session.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation

from sessions_app.selectors import operator_time_zone

SESSION_KEY = "viewer_time_zone"


def viewer_time_zone(user) -> ZoneInfo:
    """The time zone a signed-in user reads times in."""
    operator_id = getattr(user, "operator_id", None)
    if operator_id is None and getattr(user, "is_support", False):
        first = user.supported_operators.order_by("pk").values_list("pk", flat=True).first()
        operator_id = first
    if operator_id is None or user.is_superuser:
        return ZoneInfo(settings.TIME_ZONE)
    return operator_time_zone(operator_id)


class ViewerTimeZoneMiddleware:
    """Activates the viewer's time zone for the request (after AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
            name = request.session.get(SESSION_KEY)
            if not name:
                name = str(viewer_time_zone(user))
                request.session[SESSION_KEY] = name
            timezone.activate(ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
