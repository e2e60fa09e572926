"""Times as people read them: in the charger's (location's) time zone, named where it differs from the
viewer's, written in the viewer's locale (Babel). Storage and CSV stay UTC / ISO 8601.

The viewer's zone is Django's current time zone, which `sessions_app.viewer.ViewerMiddleware` sets per
request (a driver's or operator staff's operator zone); documents and e-mails activate the operator's.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from django.utils import timezone

from evbilling.languages import babel_locale

NOTHING = "\u2013"  # shown for a missing time (an en dash)


def _zone(zone: ZoneInfo | str | None) -> ZoneInfo:
    if zone is None or zone == "":
        return timezone.get_current_timezone()
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(str(zone))


def _moment(value: datetime | date | str | None):
    """Datetimes as they come, also from frozen JSON (evidence): ISO 8601 strings are read back."""
    if isinstance(value, str):
        if not value:
            return None
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value


def _is_viewers(zone: ZoneInfo) -> bool:
    return str(zone) == str(timezone.get_current_timezone())


def format_local_datetime(moment: datetime | str | None, zone: ZoneInfo | str | None = None, *,
                          locale: str | None = None, seconds: bool = False) -> str:
    """`29 Nov 2026, 16:05` in the zone given (the viewer's when none), followed by the zone's name when it
    is not the viewer's: `29 Nov 2026, 16:05 (Europe/Helsinki)`; German `29.11.2026, 16:05`."""
    moment = _moment(moment)
    if moment is None:
        return NOTHING
    tz = _zone(zone)
    local = moment.astimezone(tz) if timezone.is_aware(moment) else moment.replace(tzinfo=tz)
    locale = locale or babel_locale()
    clock = format_time(local, "medium" if seconds else "short", locale=locale)
    text = f"{format_date(local, 'medium', locale=locale)}, {clock}"
    return text if _is_viewers(tz) else f"{text} ({tz})"


def format_local_time(moment: datetime | str | None, zone: ZoneInfo | str | None = None, *,
                      locale: str | None = None, seconds: bool = False) -> str:
    """The clock time only (`16:05`, `16:05:30`), in the zone given; for a table under a heading that
    already names the day and the zone."""
    moment = _moment(moment)
    if moment is None:
        return NOTHING
    local = moment.astimezone(_zone(zone))
    return format_time(local, "medium" if seconds else "short", locale=locale or babel_locale())


def format_local_date(value: date | datetime | str | None, zone: ZoneInfo | str | None = None, *,
                      locale: str | None = None) -> str:
    """A calendar day in the reader's locale (`29 Nov 2026`, `29.11.2026`); a datetime is first put in the
    zone given (the viewer's when none)."""
    value = _moment(value)
    if value is None:
        return NOTHING
    if isinstance(value, datetime):
        value = value.astimezone(_zone(zone)).date() if timezone.is_aware(value) else value.date()
    return format_date(value, "medium", locale=locale or babel_locale())
