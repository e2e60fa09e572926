from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import import_string


class DisputesAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "disputes_app"

    def ready(self):
        """Wire billing into the resolver and evidence registries from settings (dotted paths), so
        billing_app never has to import disputes_app."""
        from . import billing_bridge
        from .evidence import register_evidence_provider
        from .resolution import register_resolver

        billing_bridge.register()

        from sessions_app.audit import audit_register

        from .models import DisputeTicket

        audit_register(DisputeTicket, exclude_fields=["updated_at"])

        for kind, path in getattr(settings, "DISPUTE_RESOLVERS", {}).items():
            register_resolver(kind, import_string(path))
        for name, path in getattr(settings, "DISPUTE_EVIDENCE_PROVIDERS", {}).items():
            register_evidence_provider(name, import_string(path))
