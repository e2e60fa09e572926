from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"

    def ready(self):
        from .audit import audit_register
        from .models import IdToken

        audit_register(IdToken)
