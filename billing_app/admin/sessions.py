"""The session's admin page with what billing knows of it: its cost (in the reader's locale) and the documents
that bill it (receipt, statement, credit notes), each a link. sessions_app never imports billing, so billing
registers its own ChargingSessionAdmin in place of sessions_app's, adding a fieldset."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing_app.models import CreditNote, Invoice, SessionCharge
from billing_app.money import NOTHING, format_money
from sessions_app.admin import ChargingSessionAdmin
from sessions_app.models import ChargingSession


def _link(view: str, obj, text) -> str:
    return format_html('<a href="{}">{}</a>', reverse(f"admin:billing_app_{view}_change", args=[obj.pk]), text)


class BilledSessionAdmin(ChargingSessionAdmin):
    readonly_fields = [*ChargingSessionAdmin.readonly_fields, "cost", "documents"]
    fieldsets = [
        ChargingSessionAdmin.fieldsets[0],
        (_("Cost and documents"), {"fields": ["cost", "documents"]}),
        *ChargingSessionAdmin.fieldsets[1:],
    ]

    @admin.display(description=_("cost"))
    def cost(self, obj):
        charge = SessionCharge.objects.filter(session=obj).select_related("review").first()
        if charge is None:
            return gettext("Not priced (yet).") if obj.state != ChargingSession.State.FAILED else NOTHING
        text = gettext("{incl} incl. VAT ({excl} excl. VAT, {vat} VAT)").format(
            incl=format_money(charge.total_incl_vat, charge.currency),
            excl=format_money(charge.total_excl_vat, charge.currency),
            vat=format_money(charge.total_vat, charge.currency))
        held = getattr(charge, "review", None)
        return format_html("{} · {}{}", text, _link("sessioncharge", charge, gettext("pricing lines")),
                           format_html(" · {}", _link("chargereview", held, held.get_status_display()))
                           if held else "")

    @admin.display(description=_("documents"))
    def documents(self, obj):
        invoices = list(Invoice.objects.filter(session=obj).exclude(number=None).order_by("issued_at"))
        statements = Invoice.objects.filter(lines__session=obj).exclude(session=obj).exclude(number=None).distinct()
        invoices += list(statements.order_by("issued_at"))
        notes = CreditNote.objects.filter(invoice__in=invoices).exclude(number=None).order_by("issued_at")
        rows = [(_link("invoice", i, i.number), i.get_kind_display(), i.get_state_display()) for i in invoices]
        rows += [(_link("creditnote", n, n.number), gettext("credit note"), format_money(n.total_incl_vat, n.currency))
                 for n in notes]
        if not rows:
            return gettext("No receipt or statement issued yet.")
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} ({}, {})</li>", rows))


admin.site.unregister(ChargingSession)
admin.site.register(ChargingSession, BilledSessionAdmin)
