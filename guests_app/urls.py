from django.urls import path

from guests_app import apis, views

app_name = "guests"

urlpatterns = [
    path("charge/<str:identity>/<int:number>/", views.connector_page, name="connector"),
    path("charge/<str:identity>/<int:number>/checkout/", views.checkout, name="checkout"),
    path("charge-session/<str:key>/", views.live_page, name="live"),
    path("charge-session/<str:key>/pay/", views.pay, name="pay"),
    path("charge-session/<str:key>/status/", views.status, name="status"),
    path("charge-session/<str:key>/stop/", views.stop, name="stop"),
    path("charge-session/<str:key>/receipt.pdf", views.receipt_pdf, name="receipt"),
    path("charge-session/<str:key>/dispute/", views.dispute, name="dispute"),
    path("support/guest-receipts/", views.support_guest_dispute, name="support_dispute"),
    path("charge-session/<str:key>/signed-meter-values.xml", views.signed_data, name="signed_data"),
    path("charge-session/<str:key>/meter-public-key.pem", views.meter_key, name="meter_key"),
    path("api/public/prices/connectors/<str:identity>/<int:number>/", apis.connector_price, name="api_connector"),
    path("api/public/prices/locations/<int:location_id>/", apis.location_prices, name="api_location"),
]
