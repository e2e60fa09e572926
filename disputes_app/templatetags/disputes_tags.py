"""Template filters for the ticket pages."""
from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def time_left(value: timedelta | None) -> str:
    """'3 d 4 h', '2 h 5 min', 'overdue 1 h 10 min'; '—' when no deadline is running."""
    if value is None:
        return "—"
    overdue = value < timedelta(0)
    minutes = int(abs(value).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = f"{days} d {hours} h" if days else f"{hours} h {minutes} min"
    return f"overdue {text}" if overdue else text
