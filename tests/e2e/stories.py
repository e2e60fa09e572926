"""Steps the browser stories share: signing in through the real login form."""
from __future__ import annotations

import re

PASSWORD = "pw-for-tests"  # the factories' password


def sign_in(page, shot, username: str, *, lands_on: str):
    page.goto("/")
    assert "/accounts/login/" in page.url  # anonymous: sent to sign in
    shot(page, f"login-{username}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(re.escape(lands_on) + "$"))
    shot(page, f"home-{username}")


def expect_ok(response):
    assert response is not None and response.status == 200, (response.status if response else None, response.url)
