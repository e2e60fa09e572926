"""Support pages under /support/tickets/, the driver's under /disputes/."""
from django.urls import path

from . import views

app_name = "disputes"

urlpatterns = [
    path("support/tickets/", views.support_queue, name="support_queue"),
    path("support/tickets/<int:pk>/", views.support_ticket, name="support_ticket"),
    path("support/tickets/<int:pk>/files/<int:attachment_pk>/", views.support_attachment, name="support_attachment"),
    path("disputes/", views.driver_tickets, name="list"),
    path("disputes/new/", views.driver_ticket_new, name="new"),
    path("disputes/<int:pk>/", views.driver_ticket, name="detail"),
    path("disputes/<int:pk>/files/<int:attachment_pk>/", views.driver_attachment, name="attachment"),
]
