"""Template filters for the ticket pages."""
from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

from billing_app.portal.views import LINE_LABELS
from disputes_app.subjects import subject_text

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


@register.filter
def dimension_label(dimension: str) -> str:
    """A pricing line's dimension (ENERGY, PARKING_TIME...) as the portal names it, in the reader's language."""
    return LINE_LABELS.get(dimension, dimension)


_NOTES = {"answered": lambda: _("answered"), "driver replied": lambda: _("driver replied"),
          "reopened by driver": lambda: _("reopened by driver"), "unassigned": lambda: _("unassigned"),
          "opened (driver)": lambda: _("opened by the driver"), "opened (support)": lambda: _("opened by support"),
          "opened (chargeback)": lambda: _("opened by a chargeback")}


@register.filter
def transition_note(note: str) -> str:
    """An audit-trail note the services wrote (stored in English) in the reader's language; others as written."""
    if note in _NOTES:
        return _NOTES[note]()
    if note.startswith("assigned to "):
        return _("assigned to %(name)s") % {"name": note.removeprefix("assigned to ")}
    return note


@register.filter
def ticket_subject(subject: str) -> str:
    """The subject in the reader's language (`disputes_app.subjects`)."""
    return subject_text(subject)
