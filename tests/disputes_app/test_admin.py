"""Tickets in the admin: scoped to the operator, read-only (they are worked on the support pages)."""
from django.urls import reverse

from tests import factories


def test_operator_staff_see_only_their_tickets_read_only(client, ticket, operator, other_operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    changelist = client.get(reverse("admin:disputes_app_disputeticket_changelist"))
    assert changelist.status_code == 200
    assert ticket.subject in changelist.content.decode()
    change = client.get(reverse("admin:disputes_app_disputeticket_change", args=[ticket.pk]))
    assert change.status_code == 200
    assert b'name="status"' not in change.content  # read-only
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert ticket.subject not in client.get(reverse("admin:disputes_app_disputeticket_changelist")).content.decode()
    assert client.get(reverse("admin:disputes_app_disputeticket_change", args=[ticket.pk])).status_code == 302


def test_support_staff_see_supported_tickets(client, ticket, support):
    client.force_login(support)
    assert ticket.subject in client.get(reverse("admin:disputes_app_disputeticket_changelist")).content.decode()
