"""Sign-in lockout with django-axes, for every password sign-in (portal, admin, API token).

Failed sign-ins are recorded in the database (axes' database handler: no Redis needed) and counted in two
buckets, each with its own limit:

- an account: SIGNIN_FAILURES_PER_ACCOUNT failures from any addresses lock that account (one account
  guessed from many addresses);
- a client address: SIGNIN_FAILURES_PER_ADDRESS failures on any accounts lock that address (one address
  guessing many accounts). It is set well above the account limit, so one person mistyping their
  password behind a shared proxy or office NAT locks only their own account, not their colleagues.

A failure counts until SIGNIN_LOCKOUT_MINUTES pass without another one for the same account from the same
address, so a lock lasts up to that long after the failure that set it. Attempts refused during a lock are
not counted: they neither prolong it nor count against the account they name (a colleague trying to sign
in while the office's address is locked does not lock their own account). A successful sign-in does not
clear earlier failures: it would let someone who owns one account clear their address's count between
guesses at others. `manage.py axes_reset` (or axes_reset_username / axes_reset_ip) lifts a lock at once.

The client address is REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT reverse proxies, the address the
outermost of them saw: the TRUSTED_PROXY_COUNT-th entry of X-Forwarded-For counted from the right. What a
client writes into X-Forwarded-For itself stays to the left of it and is never read.
"""
from __future__ import annotations

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit, get_lockout_parameters
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render

LOCKOUT_MESSAGE = "Too many failed sign-ins. Sign-in is paused for this account or network; try again later."


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def client_address(request) -> str | None:
    """The client's IP address as our own proxies saw it (AXES_CLIENT_IP_CALLABLE)."""
    remote = request.META.get("REMOTE_ADDR")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            remote = hops[-min(trusted, len(hops))]
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:  # not an address (a proxy misconfigured, a test client): counted as unknown
        return None


class SignInLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit of its own for each bucket (see the module docstring).

    Axes compares one number, the fullest bucket's failures, with one limit (AXES_FAILURE_LIMIT, set to
    the account limit). The address bucket's failures are put on that scale here, so it reaches the limit
    exactly when it reaches SIGNIN_FAILURES_PER_ADDRESS."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        limit = get_failure_limit(request, credentials)
        bucket_limits = {"username": settings.SIGNIN_FAILURES_PER_ACCOUNT,
                         "ip_address": settings.SIGNIN_FAILURES_PER_ADDRESS}
        buckets = zip(get_lockout_parameters(request, credentials), self.get_user_attempts(request, credentials),
                      strict=True)
        fullest = 0
        for parameter, attempts in buckets:
            failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            fullest = max(fullest, failures * limit // bucket_limits[parameter])
        return fullest


def lockout_response(request, original_response=None, credentials=None):
    """The HTML sign-in forms' answer to a locked account or address (AXES_LOCKOUT_CALLABLE): HTTP 429 with
    a page that says what happened and when to try again. The API's token login answers in its own JSON."""
    response = render(request, "registration/locked_out.html", {
        "message": LOCKOUT_MESSAGE, "minutes": max(1, lockout_seconds() // 60),
    }, status=429)
    response["Retry-After"] = str(lockout_seconds())
    return response
