"""The admin as operators see it: named evbilling, its home page with the day's and month's figures for the
signed-in person's operators, and dj-stripe's forty mirror models folded into one line for superusers (their
own app page still lists them) instead of filling the home page and the sidebar.

`evbilling.apps.EvbillingAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS, so `admin.site`
(where every app registers) is an `EvbillingAdminSite`."""
from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing_app.reporting.analytics import home_summary
from sessions_app.selectors import is_back_office

STRIPE_MIRROR = "djstripe"


class EvbillingAdminSite(admin.AdminSite):
    site_header = _("evbilling")
    site_title = _("evbilling back office")
    index_title = _("Back office")

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is None:
            apps = [app for app in apps if app["app_label"] != STRIPE_MIRROR]
        return apps

    def index(self, request, extra_context=None):
        context = dict(extra_context or {})
        if is_back_office(request.user):
            now = timezone.now()
            context["summary"] = home_summary(request.user, today=timezone.localdate(now),
                                              zone=timezone.get_current_timezone(), now=now)
            context["summary_zone"] = timezone.get_current_timezone_name()
        stripe = self._build_app_dict(request, STRIPE_MIRROR)
        if stripe:
            context["stripe_mirror"] = stripe
        return super().index(request, context)
