"""One application error family for every app.

Services refuse an operation by raising `ApplicationError` or a subclass named for their domain
(`PlanError`, `RefundError`, `DisputeError`, ...). Each kind of edge maps the family once:

- the REST API: `evbilling.api_conventions.exception_handler` answers `status_code` with the project's
  JSON error body (`{"error": {"status", "code", "message", "fields"}}`);
- HTML views: `form_call` puts the message on a form, `message_call` on the next page
  (django.contrib.messages); a `NotFoundError` is a 404 in both;
- OCPP handlers, Celery tasks and admin actions catch the classes they react to.

The pure pricing engine (`billing_app.pricing`) keeps `ValueError`s of its own: it imports nothing of
Django, and the services that call it turn its refusals into this family.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404


class ApplicationError(Exception):
    """An operation refused for a reason the user can act on; `message` is shown to them."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str = "", *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    """The object does not exist for the asking user (another owner's object included)."""

    status_code = 404
    code = "not_found"


class ConflictError(ApplicationError):
    """The object is not in a state that allows the operation (already done, in progress...)."""

    status_code = 409
    code = "conflict"


class UnavailableError(ApplicationError):
    """A service we depend on (Stripe, the broker, the gateway) cannot be reached now; try again later."""

    status_code = 503
    code = "unavailable"


def form_call(form, call: Callable[..., Any], /, **kwargs: Any) -> bool:
    """Run a service for an HTML form: True when it went through, else its message is a form error."""
    try:
        call(**kwargs)
    except NotFoundError as error:
        raise Http404(error.message) from error
    except ApplicationError as error:
        form.add_error(None, error.message)
        return False
    return True


def message_call(request, call: Callable[..., Any], /, **kwargs: Any) -> bool:
    """Run a service for an HTML view: True when it went through, else its message is shown as an error."""
    try:
        call(**kwargs)
    except NotFoundError as error:
        raise Http404(error.message) from error
    except ApplicationError as error:
        messages.error(request, error.message)
        return False
    return True
