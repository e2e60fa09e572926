from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"

    def ready(self):
        from .audit import audit_register
        from .models import IdToken, Operator

        audit_register(IdToken)
        audit_register(Operator, include_fields=["max_off_session_charge"])  # who changed the off-session cap
