from django.urls import path

from billing_app.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/<int:pk>/", views.session_detail, name="session"),
    path("sessions/<int:pk>/live/", views.session_live, name="session_live"),
    path("sessions/<int:pk>/signed-meter-values.xml", views.session_signed_data_download, name="session_signed_data"),
    path("sessions/<int:pk>/meter-public-key.pem", views.session_meter_key_download, name="session_meter_key"),
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<int:pk>/pay/", views.receipt_pay, name="receipt_pay"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:pk>/block/", views.token_block, name="token_block"),
    path("tokens/<int:pk>/unblock/", views.token_unblock, name="token_unblock"),
    path("tokens/<int:pk>/replace/", views.token_replace, name="token_replace"),
    path("profile/", views.profile, name="profile"),
    path("plan/", views.plan_overview, name="plan"),
    path("plan/subscribe/", views.plan_subscribe, name="plan_subscribe"),
    path("plan/<int:pk>/change/", views.plan_change, name="plan_change"),
    path("plan/<int:pk>/cancel/", views.plan_cancel, name="plan_cancel"),
    path("plan/<int:pk>/pay/", views.plan_pay, name="plan_pay"),
    path("plan/<int:pk>/resume/", views.plan_resume, name="plan_resume"),
]
