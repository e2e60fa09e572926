from django.apps import AppConfig


class DisputesAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "disputes_app"
