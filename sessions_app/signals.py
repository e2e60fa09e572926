"""Signals sessions_app sends; billing listens, sessions_app never imports billing."""
from django.dispatch import Signal

# Sent inside the transaction that completes a session, with `session=`. Receivers that start
# external work must defer it with transaction.on_commit.
session_completed = Signal()

# Sent inside the transaction in which a session gets its token: when it starts with one, or when a
# transaction that started at plug-in (OCPP 2.0.1) is authorized later; with `session=`. Sent robustly: a
# failing receiver is logged and never fails the start. Billing ties the token's payment hold to the session.
session_authorized = Signal()
