"""A ticket's subject in the reader's language. Subjects the services write are stored in the default language
(`services.tickets._subject`: "<reason> — session 12", "— invoice VOLT-2026-000001", "— account"; a chargeback's
"Chargeback on payment 7"); this reads their parts back and says them again through the catalogue. A subject
somebody typed is shown as typed."""
from __future__ import annotations

import re

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from .models import DisputeTicket

_GENERATED = re.compile(r"^(?P<reason>.+) — (?:session (?P<session>\d+)|invoice (?P<invoice>\S+)|"
                        r"(?P<account>account))$")
_CHARGEBACK = re.compile(r"^Chargeback on payment (?P<payment>\d+)$")


def _reasons() -> dict[str, str]:
    """Each reason's label as stored (the default language) -> its value."""
    with translation.override(settings.LANGUAGE_CODE):
        return {str(label): value for value, label in DisputeTicket.Reason.choices}


def subject_text(subject: str) -> str:
    if match := _CHARGEBACK.match(subject or ""):
        return gettext("Chargeback on payment %(number)s") % {"number": match["payment"]}
    match = _GENERATED.match(subject or "")
    reason = _reasons().get(match["reason"]) if match else None
    if reason is None:
        return subject
    label = DisputeTicket.Reason(reason).label
    if match["session"]:
        return gettext("%(reason)s — session %(number)s") % {"reason": label, "number": match["session"]}
    if match["invoice"]:
        return gettext("%(reason)s — invoice %(number)s") % {"reason": label, "number": match["invoice"]}
    return gettext("%(reason)s — account") % {"reason": label}
