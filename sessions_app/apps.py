from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SessionsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"
    verbose_name = _("Charging")

    def ready(self):
        from .audit import audit_register
        from .models import IdToken, Operator

        audit_register(IdToken)
        # who changed the off-session cap, or when overdue drivers are refused
        audit_register(Operator, include_fields=["max_off_session_charge", "overdue_refusal_days"])
