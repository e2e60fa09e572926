"""API tokens (django-rest-knox): one per sign-in (device), stored hashed, valid for API_TOKEN_TTL_HOURS.

A user holds at most API_TOKENS_PER_USER live tokens: signing in once more revokes the oldest. Knox reads
all of a user's tokens on each request it authenticates, so their number must stay small."""
from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.models import AuthToken
from rest_framework import exceptions


class TokenAuthentication(auth.TokenAuthentication):
    """Knox's `Authorization: Token <key>`, with a key that is no UTF-8 refused as invalid (knox 5.1 lets the
    UnicodeDecodeError through: a 500)."""

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return super().authenticate_credentials(token)


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of that class (drf-spectacular matches knox's own class only)."""

    target_class = "evbilling.api_tokens.TokenAuthentication"
    name = "tokenAuth"


def api_token_create(*, user) -> str:
    """A new token for `user`; the key is only ever seen here (the database keeps its hash)."""
    AuthToken.objects.filter(user=user, expiry__lte=timezone.now()).delete()
    _, key = AuthToken.objects.create(user=user)
    surplus = list(AuthToken.objects.filter(user=user).order_by("-created", "-pk")
                   .values_list("pk", flat=True)[settings.API_TOKENS_PER_USER:])
    if surplus:
        AuthToken.objects.filter(pk__in=surplus).delete()
    return key


def api_token_revoke(*, token: AuthToken) -> None:
    token.delete()


def api_tokens_revoke_all(*, user) -> int:
    """Revoke every token of `user` (every device signs in again); the number revoked."""
    count, _ = AuthToken.objects.filter(user=user).delete()
    return count
