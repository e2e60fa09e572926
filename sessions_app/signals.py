"""Signals sessions_app sends; billing listens, sessions_app never imports billing."""
from django.dispatch import Signal

# Sent inside the transaction that completes a session, with `session=`. Receivers that start
# external work must defer it with transaction.on_commit.
session_completed = Signal()
