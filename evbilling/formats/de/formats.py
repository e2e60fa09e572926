"""German dates as the product writes them everywhere (Django's templates and the admin): `29.11.2026, 14:05`,
the same as Babel's de_DE in `sessions_app.local_time`, not Django's `29. November 2026 14:05`."""
from django.conf.locale.de.formats import *  # noqa: F403  (input formats, separators, first day of week)

DATE_FORMAT = "d.m.Y"
DATETIME_FORMAT = "d.m.Y, H:i"
TIME_FORMAT = "H:i"
