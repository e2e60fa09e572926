"""Cards and app tokens: blocking a lost one.

`token_block` is the one way a token becomes blocked, from the portal, the API or the admin. It checks
who may do it (the driver who owns it, or back-office staff of its operator; support staff look but do
not block), locks the row and changes it once: a second block changes nothing and writes no second
audit entry. The audit log (django-auditlog) records the change with the acting user.
"""
from __future__ import annotations

from django.db import transaction

from evbilling.errors import ApplicationError, NotFoundError

from ..audit import acting
from ..models import IdToken, User
from ..selectors import operator_ids_for


class TokenError(ApplicationError):
    """A token operation the user may not do; the message says why."""


def _may_see(user: User, token: IdToken) -> bool:
    if token.driver_id is not None and token.driver_id == user.pk:
        return True
    allowed = operator_ids_for(user)
    return allowed is None or token.operator_id in allowed


@transaction.atomic
def token_block(*, token_id: int, by: User) -> IdToken:
    """Block the token so chargers refuse it from now on. Another driver's token is "not found"."""
    token = IdToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or not _may_see(by, token):
        raise NotFoundError("No such card.")
    if getattr(by, "is_support", False) and token.driver_id != by.pk:
        raise TokenError("Support staff cannot block tokens.")
    if token.status != IdToken.Status.BLOCKED:
        with acting(by):
            token.status = IdToken.Status.BLOCKED
            token.save(update_fields=["status"])
    return token
