from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GuestsAppConfig(AppConfig):
    """Guest charging (AFIR ad hoc payment): the QR code's page, pay and start, the live session, the receipt."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "guests_app"
    verbose_name = _("Guest charging")

    def ready(self):
        from guests_app import receivers  # noqa: F401 - connects the session signal receivers
