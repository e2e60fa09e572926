"""Cards and app tokens: blocking a lost one, unblocking it, registering its replacement; a company's cards.

`token_block` is the one way a token becomes blocked, from the portal, the fleet portal, the API or the admin.
It checks who may do it (the driver who owns it, the fleet manager of its company, or back-office staff of its
operator; support staff look but do not block), locks the row and changes it once: a second block changes
nothing and writes no second audit entry. The audit log (django-auditlog) records the change with the acting
user. `company_card_add` and `company_card_update` are how a fleet manager issues a card to a member and sets
who pays (business or private), its cost centre, licence plate and monthly cap.
"""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from evbilling.errors import ApplicationError, NotFoundError

from ..audit import acting
from ..models import Company, IdToken, User
from ..selectors import operator_ids_for


class TokenError(ApplicationError):
    """A token operation the user may not do; the message says why."""


def _may_see(user: User, token: IdToken) -> bool:
    if token.driver_id is not None and token.driver_id == user.pk:
        return True
    if getattr(user, "is_fleet_manager", False):
        return token.company_id is not None and token.company_id == user.company_id
    allowed = operator_ids_for(user)
    return allowed is None or token.operator_id in allowed


@transaction.atomic
def token_block(*, token_id: int, by: User) -> IdToken:
    """Block the token so chargers refuse it from now on. Another driver's token is "not found"."""
    token = IdToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or not _may_see(by, token):
        raise NotFoundError(_("No such card."))
    if getattr(by, "is_support", False) and token.driver_id != by.pk:
        raise TokenError(_("Support staff cannot block tokens."))
    if token.status != IdToken.Status.BLOCKED:
        with acting(by):
            token.status = IdToken.Status.BLOCKED
            token.blocked_by = by
            token.save(update_fields=["status", "blocked_by"])
    return token


def _own_blocked_card(token_id: int, by: User) -> IdToken:
    token = IdToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or not _may_see(by, token):
        raise NotFoundError(_("No such card."))
    if getattr(by, "is_support", False):
        raise TokenError(_("Support staff cannot change cards."))
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
        raise TokenError(_("This card was replaced; use the new card."))
    if token.driver_id == by.pk and token.blocked_by_id != by.pk:
        raise TokenError(_("Your operator blocked this card; please contact their support to unblock it."))
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
        raise TokenError(_("This card was already replaced."))
    new = IdToken(operator_id=token.operator_id, uid=uid, type=token.type, driver_id=token.driver_id,
                  company_id=token.company_id, charging=token.charging, cost_centre=token.cost_centre,
                  licence_plate=token.licence_plate, monthly_cap=token.monthly_cap)  # a company card stays one
    try:
        new.full_clean(exclude=["operator", "driver"], validate_unique=False)
    except ValidationError as error:
        raise TokenError(" ".join(error.messages)) from None
    if IdToken.objects.filter(operator_id=token.operator_id, uid__iexact=uid).exists():
        raise TokenError(_("This card number is already registered."))
    with acting(by):
        new.save()
        token.status = IdToken.Status.BLOCKED
        token.blocked_by = token.blocked_by or by
        token.replaced_by = new
        token.save(update_fields=["status", "blocked_by", "replaced_by"])
    return new


def _manager_company(by: User) -> Company:
    if not (by.is_active and by.is_fleet_manager and by.company_id):
        raise NotFoundError(_("No such company."))
    return by.company


def _card_fields_check(token: IdToken) -> None:
    try:
        token.full_clean(exclude=["operator", "driver", "company"], validate_unique=False)
    except ValidationError as error:
        raise TokenError(" ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
                                  for k, v in error.message_dict.items())) from None


@transaction.atomic
def company_card_add(*, by: User, uid: str, driver: User, charging: str = IdToken.Charging.BUSINESS,
                     cost_centre: str = "", licence_plate: str = "", monthly_cap: Decimal | None = None) -> IdToken:
    """A new RFID card of the fleet manager's company for one of its member drivers. A uid the operator knows
    already is refused (a card is never taken over from its holder)."""
    company = _manager_company(by)
    if driver.company_id != company.pk or not driver.is_driver:
        raise NotFoundError(_("No such member."))
    token = IdToken(operator_id=company.operator_id, uid=uid.strip().upper(), driver=driver, company=company,
                    charging=charging, cost_centre=cost_centre.strip(), licence_plate=licence_plate.strip().upper(),
                    monthly_cap=monthly_cap)
    _card_fields_check(token)
    try:
        with transaction.atomic(), acting(by):
            token.save()
    except IntegrityError:
        raise TokenError(_("Card %(card)s is known already: choose another card.") % {"card": token.uid}) from None
    return token


@transaction.atomic
def company_card_update(*, token_id: int, by: User, charging: str, cost_centre: str, licence_plate: str,
                        monthly_cap: Decimal | None) -> IdToken:
    """Change who pays for a company card's charging from now on, its cost centre, plate or cap. Sessions already
    started keep the company and cost centre they started with (`ChargingSession.company`)."""
    company = _manager_company(by)
    token = IdToken.objects.select_for_update().filter(pk=token_id, company=company).first()
    if token is None:
        raise NotFoundError(_("No such card."))
    token.charging, token.cost_centre = charging, cost_centre.strip()
    token.licence_plate, token.monthly_cap = licence_plate.strip().upper(), monthly_cap
    _card_fields_check(token)
    with acting(by):
        token.save(update_fields=["charging", "cost_centre", "licence_plate", "monthly_cap"])
    return token
