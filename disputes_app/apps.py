from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisputesAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "disputes_app"
    verbose_name = _("Disputes")

    def ready(self):
        from sessions_app.audit import audit_register

        from . import receivers  # noqa: F401 - connects the chargeback receiver
        from .models import DisputeTicket

        audit_register(DisputeTicket, exclude_fields=["updated_at"])
