from django.apps import AppConfig


class DisputesAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "disputes_app"

    def ready(self):
        from sessions_app.audit import audit_register

        from . import receivers  # noqa: F401 - connects the chargeback receiver
        from .models import DisputeTicket

        audit_register(DisputeTicket, exclude_fields=["updated_at"])
