"""Template filters for the ticket pages."""
from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def time_left(value: timedelta | None) -> str:
    """'3 d 4 h', '2 h 5 min', 'overdue 1 h 10 min' (German '3 T 4 Std.'...); '—' when no deadline is running."""
    if value is None:
        return "—"
    overdue = value < timedelta(0)
    minutes = int(abs(value).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = (_("%(days)s d %(hours)s h") % {"days": days, "hours": hours} if days
            else _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes})
    return _("overdue %(time)s") % {"time": text} if overdue else text
