"""Blocking a card: one service for the portal, the API and the admin; an audit entry with the actor."""
import pytest
from auditlog.models import LogEntry

from evbilling.errors import NotFoundError
from sessions_app.models import IdToken
from sessions_app.services.tokens import TokenError, token_block
from tests import factories

pytestmark = pytest.mark.django_db


def test_owner_blocks_their_card_once_with_one_audit_entry(id_token, driver):
    token_block(token_id=id_token.pk, by=driver)
    token_block(token_id=id_token.pk, by=driver)
    id_token.refresh_from_db()
    assert id_token.status == IdToken.Status.BLOCKED
    entries = LogEntry.objects.get_for_object(id_token).filter(action=LogEntry.Action.UPDATE)
    assert [(e.actor_id, e.changes_dict["status"][1]) for e in entries] == [(driver.pk, "blocked")]


def test_another_drivers_card_is_not_found_and_unchanged(id_token, operator):
    stranger = factories.DriverFactory(operator=operator)
    with pytest.raises(NotFoundError):
        token_block(token_id=id_token.pk, by=stranger)
    id_token.refresh_from_db()
    assert id_token.status != IdToken.Status.BLOCKED


def test_staff_of_another_operator_cannot_block(id_token, other_operator):
    with pytest.raises(NotFoundError):
        token_block(token_id=id_token.pk, by=factories.OperatorStaffFactory(operator=other_operator))


def test_own_operators_staff_can_block(id_token, operator):
    assert token_block(token_id=id_token.pk, by=factories.OperatorStaffFactory(operator=operator)).status == "blocked"


def test_support_staff_cannot_block(id_token):
    support = factories.SupportFactory()
    support.supported_operators.add(id_token.operator)
    with pytest.raises(TokenError, match="Support staff"):
        token_block(token_id=id_token.pk, by=support)
