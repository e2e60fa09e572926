"""The admin's password form (UserAdmin.user_change_password): a superuser, or the user themself; operator
staff never set another person's password (that would be taking over their account)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from tests import factories

NEW_PASSWORD = "a-brand-new-password-7"


def password_form(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize("whose", ["driver", "colleague"])
def test_operator_staff_cannot_open_or_post_another_users_password_form(staff_client, operator, driver, whose):
    target = driver if whose == "driver" else factories.OperatorStaffFactory(operator=operator)
    stored = target.password
    assert staff_client.get(password_form(target)).status_code == 403
    response = staff_client.post(password_form(target), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.password == stored


def test_operator_staff_can_change_their_own_password(staff_client, staff):
    assert staff_client.get(password_form(staff)).status_code == 200
    response = staff_client.post(password_form(staff), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.check_password(NEW_PASSWORD)


def test_a_superuser_can_set_a_drivers_password(client, driver):
    client.force_login(factories.UserFactory(is_superuser=True, is_staff=True))
    response = client.post(password_form(driver), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    driver.refresh_from_db()
    assert driver.check_password(NEW_PASSWORD)
