"""The audit log: who changed a tariff, blocked a card, moved a dispute or refunded, with before and
after values; scoped to the operator in the admin and never editable."""
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from billing_app.models import PriceComponent
from sessions_app.audit import operator_id_of
from tests import factories


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator)


def test_price_change_in_the_admin_is_logged_with_actor_and_values(client, staff, operator):
    component = factories.PriceComponentFactory(element__tariff__operator=operator, price=Decimal("0.39"))
    element = component.element
    client.force_login(staff)
    response = client.post(reverse("admin:billing_app_tariffelement_change", args=[element.pk]), {
        "tariff": element.tariff_id, "position": 0,
        "price_components-TOTAL_FORMS": 1, "price_components-INITIAL_FORMS": 1,
        "price_components-0-id": component.pk, "price_components-0-element": element.pk,
        "price_components-0-position": 0, "price_components-0-type": "ENERGY",
        "price_components-0-price": "0.45", "price_components-0-vat": "19", "price_components-0-step_size": 1,
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = LogEntry.objects.get_for_object(PriceComponent.objects.get(pk=component.pk)).latest("timestamp")
    assert entry.actor == staff
    assert [Decimal(v) for v in entry.changes_dict["price"]] == [Decimal("0.39"), Decimal("0.45")]
    assert entry.additional_data == {"operator_id": operator.pk}


def test_blocking_a_card_is_logged(client, driver, id_token):
    client.force_login(driver)
    client.post(reverse("portal:token_block", args=[id_token.pk]))
    entry = LogEntry.objects.get_for_object(id_token).latest("timestamp")
    assert entry.actor == driver and entry.changes_dict["status"] == ["accepted", "blocked"]


def test_operator_path_is_followed_to_the_operator(operator):
    component = factories.PriceComponentFactory(element__tariff__operator=operator)
    assert operator_id_of(component) == operator.pk
    assert operator_id_of(operator) == operator.pk


def test_audit_log_admin_is_scoped_and_read_only(client, staff, operator, other_operator):
    own = factories.TariffFactory(operator=operator, name="Own tariff")
    foreign = factories.TariffFactory(operator=other_operator, name="Foreign tariff")
    client.force_login(staff)
    listing = client.get(reverse("admin:auditlog_logentry_changelist"))
    assert listing.status_code == 200
    assert b"Own tariff" in listing.content and b"Foreign tariff" not in listing.content
    foreign_entry = LogEntry.objects.get_for_object(foreign).get()
    assert client.get(reverse("admin:auditlog_logentry_change", args=[foreign_entry.pk])).status_code == 302
    own_entry = LogEntry.objects.get_for_object(own).get()
    assert client.post(reverse("admin:auditlog_logentry_delete", args=[own_entry.pk]), {"post": "yes"}).status_code \
        == 403
    assert LogEntry.objects.filter(pk=own_entry.pk).exists()


def test_drivers_cannot_read_the_audit_log(client, driver):
    client.force_login(driver)
    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 302
