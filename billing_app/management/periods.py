"""The `--period YYYY-MM` argument of the commands that close or settle a month (billing_run, ocpi_settle)."""
from datetime import date

from django.core.management.base import CommandError


def month_argument(value: str) -> date:
    """The first day of the month `value` names (YYYY-MM), or a CommandError saying what is expected."""
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise CommandError(f"--period must look like 2026-10, not {value!r}.") from None
