"""Cards and app tokens: blocking a lost one, unblocking it, registering its replacement.

`token_block` is the one way a token becomes blocked, from the portal, the API or the admin. It checks
who may do it (the driver who owns it, or back-office staff of its operator; support staff look but do
not block), locks the row and changes it once: a second block changes nothing and writes no second
audit entry. The audit log (django-auditlog) records the change with the acting user.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
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
            token.blocked_by = by
            token.save(update_fields=["status", "blocked_by"])
    return token


def _own_blocked_card(token_id: int, by: User) -> IdToken:
    token = IdToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or not _may_see(by, token):
        raise NotFoundError("No such card.")
    if getattr(by, "is_support", False):
        raise TokenError("Support staff cannot change cards.")
    return token


@transaction.atomic
def token_unblock(*, token_id: int, by: User) -> IdToken:
    """Accept a blocked card again (found after all). A driver may unblock only a card they blocked
    themselves and that was not replaced; what the operator blocked stays blocked until the operator says
    otherwise. Unblocking an accepted card changes nothing."""
    token = _own_blocked_card(token_id, by)
    if token.status != IdToken.Status.BLOCKED:
        return token
    if token.replaced_by_id is not None:
        raise TokenError("This card was replaced; use the new card.")
    if token.driver_id == by.pk and token.blocked_by_id != by.pk:
        raise TokenError("Your operator blocked this card; please contact their support to unblock it.")
    with acting(by):
        token.status = IdToken.Status.ACCEPTED
        token.blocked_by = None
        token.save(update_fields=["status", "blocked_by"])
    return token


@transaction.atomic
def token_replace(*, token_id: int, uid: str, by: User) -> IdToken:
    """Register a new card in place of a lost one: the old card is blocked (if it was not) and stays
    blocked; the new one, with the UID printed on it, is accepted for the same driver. A UID already
    registered with the operator is refused."""
    token = _own_blocked_card(token_id, by)
    uid = (uid or "").strip()
    if token.replaced_by_id is not None:
        raise TokenError("This card was already replaced.")
    new = IdToken(operator_id=token.operator_id, uid=uid, type=token.type, driver_id=token.driver_id)
    try:
        new.full_clean(exclude=["operator", "driver"], validate_unique=False)
    except ValidationError as error:
        raise TokenError(" ".join(error.messages)) from None
    if IdToken.objects.filter(operator_id=token.operator_id, uid__iexact=uid).exists():
        raise TokenError("This card number is already registered.")
    with acting(by):
        new.save()
        token.status = IdToken.Status.BLOCKED
        token.blocked_by = token.blocked_by or by
        token.replaced_by = new
        token.save(update_fields=["status", "blocked_by", "replaced_by"])
    return new
