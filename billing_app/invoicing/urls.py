"""Driver-facing invoice URLs (included under /invoices/)."""
from django.urls import path

from billing_app.invoicing import views as views_invoices

app_name = "invoices"

urlpatterns = [
    path("<int:pk>/pdf/", views_invoices.invoice_pdf, name="invoice_pdf"),
    path("<int:pk>/e-invoice/<slug:fmt>/", views_invoices.invoice_einvoice, name="invoice_einvoice"),
    path("credit-notes/<int:pk>/pdf/", views_invoices.credit_note_pdf, name="credit_note_pdf"),
    path("credit-notes/<int:pk>/e-invoice/<slug:fmt>/", views_invoices.credit_note_einvoice,
         name="credit_note_einvoice"),
]
