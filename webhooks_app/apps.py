from django.apps import AppConfig


class WebhooksAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks_app"
    verbose_name = "Webhooks"

    def ready(self):
        from sessions_app.audit import audit_register

        from . import receivers  # noqa: F401 - connects the signal receivers
        from .models import WebhookEndpoint

        audit_register(WebhookEndpoint, exclude_fields=["secret"])
