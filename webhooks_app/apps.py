from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks_app"
    verbose_name = _("Webhooks")

    def ready(self):
        from sessions_app.audit import audit_register

        from . import receivers  # noqa: F401 - connects the signal receivers
        from .models import WebhookEndpoint

        audit_register(WebhookEndpoint, exclude_fields=["secret"])
