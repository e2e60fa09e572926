from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/<int:pk>/", views.session_detail, name="session"),
    path("invoices/", views.invoice_list, name="invoices"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:pk>/block/", views.token_block, name="token_block"),
    path("profile/", views.profile, name="profile"),
]
