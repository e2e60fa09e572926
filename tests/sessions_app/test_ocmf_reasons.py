"""A signed-meter-value finding, stored in English, said again in the reader's language (issue 21): every sentence
`verification` writes reads back in German, unchanged in English, and a message it does not know stays as stored."""
from __future__ import annotations

import pytest
from django.utils import translation

from sessions_app.ocmf.reasons import finding_text

FINDINGS = {
    "begin reading of 10:00:00's signature does not match its data": None,  # not one of ours: as stored
    "the begin reading of 10:00:00's signature does not match its data":
        "Die Signatur der Ablesung (Anfang) um 10:00:00 passt nicht zu ihren Daten",
    "the key sent with the end reading of 11:30:00 is not the station's registered meter key":
        "Der mit der Ablesung (Ende) um 11:30:00 gesendete Schlüssel ist nicht der für die Ladesäule registrierte "
        "Zählerschlüssel",
    "no public key of the meter to check the record 2 with":
        "Kein öffentlicher Schlüssel des Zählers, mit dem sich die Ablesung Nr. 2 prüfen ließe",
    "no signed begin reading (TX=B) of the energy register": "Kein signierter Anfangswert (TX=B) des Energieregisters",
    "2 different signed end readings": "2 verschiedene signierte Endwerte",
    "signed by meter 'TM-1', the station's meter is 'TM-2'":
        "Signiert von Zähler 'TM-1', der Zähler der Ladesäule ist 'TM-2'",
    "the meter signed 9000.000 Wh, 11000 Wh were measured for billing (resolution 1 Wh)":
        "Der Zähler hat 9000.000 Wh signiert, für die Abrechnung wurden 11000 Wh gemessen (Auflösung 1 Wh)",
    "the signed end reading was taken at 2026-03-02T13:00:00+00:00, outside the session "
    "(2026-03-02T09:00:00+00:00 to 2026-03-02T10:30:00+00:00)":
        "Die signierte Ablesung (Ende) stammt von 2026-03-02T13:00:00+00:00, außerhalb des Ladevorgangs "
        "(2026-03-02T09:00:00+00:00 bis 2026-03-02T10:30:00+00:00)",
    "Meter status is not 'G' (OK)": None,  # pyocmf's own message
}


@pytest.mark.parametrize(("stored", "german"), FINDINGS.items())
def test_a_finding_reads_in_german_and_stays_as_stored_in_english(stored, german):
    with translation.override("de"):
        assert finding_text(stored) == (german or stored)
    with translation.override("en"):
        assert finding_text(stored) == stored
