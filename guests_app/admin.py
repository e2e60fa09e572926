"""Guest sessions in the admin (read-only: they are made by guests, changed by the flow), and the QR codes
operators print: a PNG or SVG per connector and a printable sheet per location, scoped like every admin
page (another operator's connector or location is a 404). The sheet speaks the staff member's language; its
stickers the language of the location's country (`country_language`), since drivers read them at the charger."""
from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from evbilling.languages import country_language
from guests_app.models import GuestSession
from guests_app.qr import connector_path, qr_png, qr_svg
from sessions_app.admin_scope import OperatorScopedAdmin
from sessions_app.models import Connector, Location
from sessions_app.selectors import is_back_office, scope_to_user


@admin.register(GuestSession)
class GuestSessionAdmin(OperatorScopedAdmin):
    list_display = ["pk", "connector", "state", "hold_amount", "currency", "email", "session", "receipt", "created_at"]
    list_filter = ["state", "operator", "currency"]
    search_fields = ["email", "connector__station__ocpp_identity", "id_token__uid", "session__receipts__number"]
    list_select_related = ["connector__station", "session"]
    readonly_fields = [f.name for f in GuestSession._meta.fields]
    staff_may_add = False
    staff_may_delete = False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("receipt"))
    def receipt(self, obj):
        receipt = obj.session.receipts.exclude(number=None).first() if obj.session_id else None
        if receipt is None:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:billing_app_invoice_change", args=[receipt.pk]),
                           receipt.number)

    def changelist_view(self, request, extra_context=None):
        locations = list(scope_to_user(Location.objects.all(), request.user).order_by("name")[:200])
        connectors = Connector.objects.filter(station__location__in=locations).select_related("station").order_by(
            "station__ocpp_identity", "number")
        for location in locations:
            location.qr_connectors = [c for c in connectors if c.station.location_id == location.pk]
        return super().changelist_view(request, {**(extra_context or {}), "qr_locations": locations})

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("qr/connector/<int:connector_id>.<str:kind>", view(self.qr_connector), name="guests_qr_connector"),
            path("qr/location/<int:location_id>/", view(self.qr_sheet), name="guests_qr_sheet"),
            *super().get_urls(),
        ]

    def _scoped(self, request, model, pk):
        if not is_back_office(request.user):
            raise Http404
        obj = scope_to_user(model.objects.all(), request.user).filter(pk=pk).first()
        if obj is None:
            raise Http404(f"No such {model._meta.verbose_name}.")
        return obj

    def qr_connector(self, request, connector_id: int, kind: str):
        connector = self._scoped(request, Connector, connector_id)
        url = request.build_absolute_uri(connector_path(connector))
        if kind == "png":
            response = HttpResponse(qr_png(url), content_type="image/png")
        elif kind == "svg":
            response = HttpResponse(qr_svg(url), content_type="image/svg+xml")
        else:
            raise Http404("PNG or SVG.")
        name = f"{connector.station.ocpp_identity}-{connector.number}.{kind}"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response

    def qr_sheet(self, request, location_id: int):
        location = self._scoped(request, Location, location_id)
        connectors = Connector.objects.filter(station__location=location).select_related("station").order_by(
            "station__ocpp_identity", "number")
        codes = [{"connector": c, "url": request.build_absolute_uri(connector_path(c)),
                  "svg": mark_safe(qr_svg(request.build_absolute_uri(connector_path(c)), inline=True))}  # noqa: S308 - segno's own SVG
                 for c in connectors]
        return render(request, "admin/guests/qr_sheet.html", {
            "location": location, "codes": codes, "sticker_language": country_language(location.country),
            **self.admin_site.each_context(request)})
