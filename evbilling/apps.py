"""The project package as an app, for the receivers of its own modules."""
from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_save


class EvbillingConfig(AppConfig):
    name = "evbilling"

    def ready(self) -> None:
        from evbilling.password_changed import on_user_saved

        post_save.connect(on_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="evbilling.password_changed")


class EvbillingAdminConfig(AdminConfig):
    """django.contrib.admin with evbilling's site (evbilling/admin_site.py) as `admin.site`."""

    default_site = "evbilling.admin_site.EvbillingAdminSite"
