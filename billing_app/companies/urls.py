"""The fleet portal (included under /fleet/)."""
from django.urls import path

from billing_app.companies import views

app_name = "fleet"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("members/", views.member_list, name="members"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("cards/", views.card_list, name="cards"),
    path("cards/add/", views.card_add, name="card_add"),
    path("cards/<int:pk>/", views.card_update, name="card_update"),
    path("cards/<int:pk>/block/", views.card_block, name="card_block"),
    path("sessions/", views.session_list, name="sessions"),
    path("sessions.csv", views.session_csv, name="sessions_csv"),
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<int:pk>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:pk>/sessions.csv", views.invoice_sessions_csv, name="invoice_sessions_csv"),
    path("invoices/<int:pk>/e-invoice/<slug:fmt>/", views.invoice_einvoice, name="invoice_einvoice"),
    path("credit-notes/<int:pk>/pdf/", views.credit_note_pdf, name="credit_note_pdf"),
    path("credit-notes/<int:pk>/e-invoice/<slug:fmt>/", views.credit_note_einvoice, name="credit_note_einvoice"),
]
