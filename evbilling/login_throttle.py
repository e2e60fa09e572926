"""Sign-in rate limiting for the HTML login forms (portal and admin): at most LOGIN_ATTEMPTS_PER_MINUTE
POSTs per client address and minute, counted in the shared cache (Redis in production, so every web
process sees the same count). The API's token login has DRF's own throttle with the same rate."""
from __future__ import annotations

import functools

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse


def _client(request) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


def rate_limited(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            key = f"login-attempts:{_client(request)}"
            cache.add(key, 0, timeout=60)
            try:
                attempts = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=60)
                attempts = 1
            if attempts > settings.LOGIN_ATTEMPTS_PER_MINUTE:
                response = HttpResponse("Too many sign-in attempts. Wait a minute and try again.",
                                        status=429, content_type="text/plain")
                response["Retry-After"] = "60"
                return response
        return view(request, *args, **kwargs)

    return wrapped
