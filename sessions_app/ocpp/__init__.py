"""The OCPP central system: a websocket gateway (`python manage.py run_ocpp`) that turns charger
messages (OCPP 1.6J and 2.0.1) into sessions_app service calls. See docs/ocpp.md."""
