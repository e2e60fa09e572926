"""What follows a password change, on every path that sets one (portal password change, password reset by
email, the admin's password form, `manage.py changepassword`): the user's API tokens are revoked, and
failed sign-ins on their account are forgotten, so a new password lifts the account's sign-in lock.

Connected in `evbilling.apps`. Each of those paths calls `set_password()` then `save()`; Django marks that
save (`_password`, the same mark it uses to call the password validators' `password_changed`). A save
that only upgrades the stored hash at sign-in is not marked, and revokes nothing."""
from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler

from evbilling.api_tokens import api_tokens_revoke_all


def on_user_saved(sender, instance, created: bool, **kwargs) -> None:
    if created or getattr(instance, "_password", None) is None:
        return
    api_tokens_revoke_all(user=instance)
    AxesProxyHandler.reset_attempts(username=instance.get_username())
