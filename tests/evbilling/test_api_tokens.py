"""API tokens (django-rest-knox, evbilling/api_tokens.py): one per sign-in, expiring after API_TOKEN_TTL_HOURS,
revoked by logout, logout-all and any password change."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests import factories

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's
NEW_PASSWORD = "a-brand-new-password-7"


def sign_in(user) -> str:
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()["token"]


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def works(token: str) -> bool:
    status = with_token(token).get("/api/v1/sessions/").status_code
    assert status in (200, 401)
    return status == 200


def test_a_token_expires_after_the_configured_lifetime(driver, monkeypatch):
    issued_at = timezone.now()
    token = sign_in(driver)
    expiry = AuthToken.objects.get(user=driver).expiry
    assert timedelta(hours=24) <= expiry - issued_at < timedelta(hours=24, minutes=1)  # API_TOKEN_TTL_HOURS
    monkeypatch.setattr(timezone, "now", lambda: expiry - timedelta(seconds=1))
    assert works(token)
    monkeypatch.setattr(timezone, "now", lambda: expiry + timedelta(seconds=1))
    assert not works(token)
    assert not AuthToken.objects.filter(user=driver).exists()


def test_logout_revokes_only_the_token_it_is_made_with(driver):
    phone, laptop = sign_in(driver), sign_in(driver)
    assert with_token(phone).post("/api/v1/auth/logout/").status_code == 204
    assert not works(phone)
    assert works(laptop)
    assert with_token(phone).post("/api/v1/auth/logout/").status_code == 401


def test_logout_all_revokes_every_token_of_the_user_only(driver, other_driver):
    phone, laptop, others = sign_in(driver), sign_in(driver), sign_in(other_driver)
    assert with_token(phone).post("/api/v1/auth/logout-all/").status_code == 204
    assert not works(phone) and not works(laptop)
    assert works(others)


def test_a_user_keeps_at_most_the_configured_number_of_tokens(driver, settings):
    settings.API_TOKENS_PER_USER = 3
    first, *later = [sign_in(driver) for _ in range(4)]
    assert AuthToken.objects.filter(user=driver).count() == 3
    assert not works(first)
    assert all(works(token) for token in later)


def _portal_change(client, user):
    client.force_login(user)
    return client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def _reset_by_email(client, user):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = client.get(reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(user)]))
    return client.post(link["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def _admin_form(client, user):
    client.force_login(factories.UserFactory(is_superuser=True, is_staff=True))
    return client.post(reverse("admin:auth_user_password_change", args=[user.pk]),
                       {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


def _set_password(client, user):
    user.set_password(NEW_PASSWORD)
    user.save()


@pytest.mark.parametrize("change", [_portal_change, _reset_by_email, _admin_form, _set_password],
                         ids=["portal", "reset-by-email", "admin", "set_password"])
def test_a_password_change_revokes_every_token(driver, other_driver, client, change):
    phone, laptop, others = sign_in(driver), sign_in(driver), sign_in(other_driver)
    response = change(client, driver)
    assert response is None or response.status_code == 302, response and response.content
    driver.refresh_from_db()
    assert driver.check_password(NEW_PASSWORD)
    assert not works(phone) and not works(laptop)
    assert works(others)


def test_other_saves_of_the_user_revoke_nothing(driver):
    token = sign_in(driver)
    driver.first_name = "Ann"
    driver.save()
    assert works(token)


def test_a_hash_upgrade_at_sign_in_revokes_nothing(driver, settings):
    token = sign_in(driver)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    sign_in(driver)  # rehashes the stored password with PBKDF2
    driver.refresh_from_db()
    assert driver.password.startswith("pbkdf2_sha256$")
    assert works(token)


def test_a_token_that_is_no_utf8_is_refused_as_invalid(db):
    response = with_token("\u00e9\u00ff").get("/api/v1/sessions/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"
