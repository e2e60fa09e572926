"""Sign-in lockout (django-axes, evbilling/signin.py): per account and per client address, on the portal,
admin and API token logins; X-Forwarded-For only behind trusted proxies; no Redis needed."""
from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import redis
from axes.models import AccessAttempt
from django.core.cache import cache
from django.core.management import call_command
from django.db.models import F
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from evbilling.signin import client_address
from tests import factories

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's


@pytest.fixture(autouse=True)
def _limits(settings):
    """The shipped defaults, spelled out so the tests read on their own."""
    settings.SIGNIN_FAILURES_PER_ACCOUNT = settings.AXES_FAILURE_LIMIT = 5
    settings.SIGNIN_FAILURES_PER_ADDRESS = 30
    settings.TRUSTED_PROXY_COUNT = 0


def api_login(username: str, password: str, *, address: str = "127.0.0.1", forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": address}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, **extra)


def form_login(url_name: str, username: str, password: str, *, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(reverse(url_name), {"username": username, "password": password})


# --- the API token login ----------------------------------------------------------------------------------


def test_api_guesses_at_one_account_with_changing_forwarded_for_are_locked_out(driver):
    codes = [api_login(driver.username, f"guess-{n}", forwarded_for=f"198.51.100.{n}").status_code
             for n in range(40)]
    assert codes == [400] * 4 + [429] * 36
    assert api_login(driver.username, PASSWORD, forwarded_for="198.51.100.200").status_code == 429


def test_api_guesses_at_many_accounts_from_one_address_lock_that_address(driver):
    codes = [api_login(f"someone-{n}", "guess", forwarded_for=f"198.51.100.{n}").status_code for n in range(40)]
    assert codes == [400] * 29 + [429] * 11
    assert api_login(driver.username, PASSWORD).status_code == 429  # the address is locked, for every account
    assert api_login(driver.username, PASSWORD, address="203.0.113.7").status_code == 200  # other addresses are not


def test_api_guesses_at_one_account_from_many_addresses_lock_the_account(driver, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    codes = [api_login(driver.username, "guess", address="10.0.0.2", forwarded_for=f"203.0.113.{n}").status_code
             for n in range(6)]
    assert codes == [400] * 4 + [429] * 2


def test_api_lockout_answers_429_in_the_error_format_with_retry_after(driver):
    for _ in range(5):
        response = api_login(driver.username, "guess")
    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    error = response.json()["error"]
    assert (error["status"], error["code"], error["fields"]) == (429, "throttled", {})
    assert "Too many failed sign-ins" in error["message"]


# --- the HTML forms -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_sign_in_forms_lock_after_the_account_limit_with_a_readable_429_page(url_name, operator):
    staff = factories.OperatorStaffFactory(operator=operator)
    codes = [form_login(url_name, staff.username, "guess").status_code for _ in range(6)]
    assert codes == [200] * 4 + [429] * 2
    locked = form_login(url_name, staff.username, PASSWORD)  # the right password waits too
    assert locked.status_code == 429 and locked["Retry-After"] == str(15 * 60)
    page = locked.content.decode()
    assert "<h1>Sign-in paused</h1>" in page and "Too many failed sign-ins" in page and "15 minutes" in page


def test_one_person_failing_behind_a_shared_address_does_not_lock_out_the_others(driver, other_driver):
    """Every driver of an office behind one NAT address: Dora's five wrong passwords lock Dora only."""
    assert [form_login("login", other_driver.username, "guess").status_code for _ in range(5)][-1] == 429
    assert form_login("login", driver.username, PASSWORD).status_code == 302
    assert api_login(driver.username, PASSWORD).status_code == 200


def test_attempts_refused_while_an_address_is_locked_do_not_count_against_the_account(driver):
    for n in range(30):
        api_login(f"someone-{n}", "guess")
    assert [api_login(driver.username, "typo").status_code for _ in range(6)] == [429] * 6
    assert api_login(driver.username, PASSWORD, address="203.0.113.7").status_code == 200


def test_a_lock_lifts_after_the_lockout_minutes(driver):
    for _ in range(5):
        api_login(driver.username, "guess")
    assert api_login(driver.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    assert api_login(driver.username, PASSWORD).status_code == 200


def test_axes_reset_lifts_every_lock(driver):
    for _ in range(5):
        api_login(driver.username, "guess")
    call_command("axes_reset", verbosity=0)
    assert api_login(driver.username, PASSWORD).status_code == 200


def test_a_new_password_lifts_the_account_lock(driver):
    for _ in range(5):
        api_login(driver.username, "guess")
    driver.set_password("a-brand-new-password-7")
    driver.save()
    assert api_login(driver.username, "a-brand-new-password-7").status_code == 200


# --- the client address ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("proxies", "forwarded_for", "address"), [
    (0, "198.51.100.9", "10.0.0.2"),  # no trusted proxy: the header is the client's own word, ignored
    (1, "6.6.6.6, 198.51.100.9", "198.51.100.9"),  # what our proxy appended; the client's own entry is not read
    (2, "6.6.6.6, 198.51.100.9, 10.0.0.1", "198.51.100.9"),
    (2, "198.51.100.9", "198.51.100.9"),  # fewer hops than proxies: the left-most there is
    (1, "", "10.0.0.2"),
    (1, "not-an-address", None),
])
def test_forwarded_for_is_read_only_as_far_as_the_trusted_proxies(settings, proxies, forwarded_for, address):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)
    assert client_address(request) == address


def test_behind_a_trusted_proxy_each_client_has_its_own_address_bucket(driver, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(30):
        api_login(f"someone-{n}", "guess", address="10.0.0.2", forwarded_for=f"1.2.3.{n}, 198.51.100.66")
    assert api_login(driver.username, PASSWORD, address="10.0.0.2", forwarded_for="198.51.100.66").status_code == 429
    assert api_login(driver.username, PASSWORD, address="10.0.0.2", forwarded_for="198.51.100.67").status_code == 200


# --- without Redis -------------------------------------------------------------------------------------------------


@pytest.fixture
def redis_down(settings):
    """The cache points at a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{port}/0"}}


def test_sign_in_works_with_redis_down(redis_down, operator, driver):
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get("anything")
    staff = factories.OperatorStaffFactory(operator=operator)
    assert form_login("login", driver.username, PASSWORD).status_code == 302
    assert form_login("admin:login", staff.username, PASSWORD).status_code == 302
    assert api_login(driver.username, PASSWORD).status_code == 200
    assert form_login("login", driver.username, "guess").status_code == 200
    assert [api_login(staff.username, "guess").status_code for _ in range(5)][-1] == 429
