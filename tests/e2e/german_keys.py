"""Key strings of each page area in English and German (issue 21): a German page shows the German one and not
the English one. The browser walk (tests/e2e) and the Django-client tests of each area assert these pairs.

Each English string is one that no German page contains by accident (not "Status", not "Info"), each German
one is what the page says in the catalogue (`locale/de`). Keep a pair only where the page always shows it.
"""
from __future__ import annotations

GERMAN_KEYS: dict[str, list[tuple[str, str]]] = {
    # every page: the header
    "header": [("Sign out", "Abmelden"), ("Change language", "Sprache wechseln")],
    # driver portal (/portal/...)
    "portal": [("Dashboard", "Übersicht"), ("Payment methods", "Zahlungsmittel")],
    # support desk: the ticket queue (/support/tickets/) and its navigation
    "support_queue": [("Ticket queue", "Vorgänge"), ("Time left", "Verbleibend"), ("Guest receipt", "Gastbeleg"),
                      ("any status", "alle Status"), ("Assignee", "Bearbeiter")],
    # support desk: one ticket (/support/tickets/<id>/)
    "support_ticket": [("First response due", "Erste Antwort fällig"), ("Resolution due", "Lösung fällig"),
                       ("Conversation and internal notes", "Nachrichten und interne Notizen"),
                       ("Audit trail", "Verlauf"), ("Internal note (not shown to the driver)",
                                                    "Interne Notiz (für den Fahrer nicht sichtbar)"),
                       ("Meter samples", "Messwerte")],
    # support desk: a dispute for a guest receipt (/support/guest-receipts/)
    "support_guest_dispute": [("Open a dispute for a guest", "Reklamation für einen Gast eröffnen"),
                              ("Receipt number", "Belegnummer")],
    # fleet portal (/fleet/...): navigation on every page, then per page
    "fleet": [("Business sessions", "Dienstliche Ladevorgänge"), ("Fleet portal", "Flottenportal")],
    "fleet_dashboard": [("business charging", "dienstliches Laden"),
                        ("Only business sessions", "Gezeigt werden nur dienstliche Ladevorgänge")],
    "fleet_members": [("Invite a driver", "Fahrer einladen"), ("Send invitation", "Einladung senden")],
    "fleet_cards": [("Issue a card", "Karte ausgeben"), ("Business (the company pays)",
                                                        "Dienstlich (das Unternehmen zahlt)")],
    "fleet_sessions": [("Download CSV", "CSV herunterladen"), ("All cost centres", "Alle Kostenstellen")],
    "fleet_invoices": [("Monthly invoices of", "Monatsrechnungen von"), ("Total incl. VAT", "Summe inkl. USt.")],
    # anonymous pages: the browser's Accept-Language decides
    "sign_in": [("Forgot your password?", "Passwort vergessen?")],
    "password_reset": [("Reset your password", "Passwort zurücksetzen")],
    "not_found": [("Page not found", "Seite nicht gefunden")],
    # evidence of a ticket (driver's and support's ticket page)
    "evidence": [("Meter samples", "Messwerte"), ("Charging and idle periods", "Lade- und Standzeiten")],
}
