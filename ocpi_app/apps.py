from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OcpiAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ocpi_app"
    verbose_name = _("OCPI roaming")

    def ready(self):
        from sessions_app.audit import audit_register
        from sessions_app.hooks import remote_authorization_set

        from . import receivers, settlement  # noqa: F401 - connects the signal receivers; the settlement task
        from .authorization import remote_verdict
        from .models import Partner

        audit_register(Partner, exclude_fields=["token_hash", "token_theirs"])
        remote_authorization_set(remote_verdict)  # roaming tokens: the eMSP's real-time authorization
