from django.apps import AppConfig


class BillingAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing_app"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the signal receivers
