"""Admin for company (fleet) customers: their buyer details; opening one opens its postpaid billing account.
Members and cards are managed by the company's fleet manager in the fleet portal, or here through users and
ID tokens."""
from django.contrib import admin

from billing_app.companies.services import company_account_open
from sessions_app.admin_scope import OperatorScopedAdmin
from sessions_app.models import Company


@admin.register(Company)
class CompanyAdmin(OperatorScopedAdmin):
    list_display = ["legal_name", "vat_id", "city", "country", "billing_email", "payment_terms_days", "operator"]
    list_filter = ["operator", "country"]
    search_fields = ["legal_name", "vat_id", "billing_email", "buyer_reference"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        company_account_open(company=obj)
