from django.apps import AppConfig


class OcpiAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ocpi_app"
    verbose_name = "OCPI roaming"

    def ready(self):
        from sessions_app.audit import audit_register

        from . import receivers  # noqa: F401 - connects the signal receivers
        from .models import Partner

        audit_register(Partner, exclude_fields=["token_hash", "token_theirs"])
