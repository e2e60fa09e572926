"""A verification finding (`verification.verify_session`'s reasons and notes, stored in English with the check) said
in the reader's language. The stored detail is the record; this reads its parts back by the sentence `verification`
wrote for each code and says it again through the catalogue. A detail it does not know (pyocmf's own messages for
the Transparenzsoftware's rules) is shown as stored."""
from __future__ import annotations

import re

from django.utils.translation import gettext, pgettext

_NAME = re.compile(r"^(?P<context>[\w-]+) reading of (?P<time>\d\d:\d\d:\d\d)$")
_RECORD = re.compile(r"^record (?P<number>\d+)$")
_CONTEXTS = {"begin": lambda: pgettext("signed reading", "begin"), "end": lambda: pgettext("signed reading", "end"),
             "signed": lambda: pgettext("signed reading", "signed")}


def _name(name: str) -> str:
    """"begin reading of 10:00:00" (the label `signed_values` gives a record), "record 2"."""
    if match := _NAME.match(name):
        context = _CONTEXTS.get(match["context"])
        return gettext("%(context)s reading of %(time)s") % {
            "context": context() if context else match["context"], "time": match["time"]}
    if match := _RECORD.match(name):
        return gettext("record %(number)s") % {"number": match["number"]}
    return name


def _which(value: str) -> str:
    return pgettext("signed reading", "begin") if value == "begin" else pgettext("signed reading", "end")


_SENTENCES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"^(?P<name>.+) is not OCMF: (?P<error>.*)$", re.S),
     lambda m: gettext("%(name)s is not OCMF: %(error)s") % {"name": _name(m["name"]), "error": m["error"]}),
    (re.compile(r"^the key sent with the (?P<name>.+) is not the station's registered meter key$"),
     lambda m: gettext("the key sent with the %(name)s is not the station's registered meter key") % {
         "name": _name(m["name"])}),
    (re.compile(r"^the key sent with the (?P<name>.+) is unreadable$"),
     lambda m: gettext("the key sent with the %(name)s is unreadable") % {"name": _name(m["name"])}),
    (re.compile(r"^no public key of the meter to check the (?P<name>.+) with$"),
     lambda m: gettext("no public key of the meter to check the %(name)s with") % {"name": _name(m["name"])}),
    (re.compile(r"^the (?P<name>.+)'s signature cannot be checked: (?P<error>.*)$", re.S),
     lambda m: gettext("the %(name)s's signature cannot be checked: %(error)s") % {
         "name": _name(m["name"]), "error": m["error"]}),
    (re.compile(r"^the (?P<name>.+)'s signature does not match its data$"),
     lambda m: gettext("the %(name)s's signature does not match its data") % {"name": _name(m["name"])}),
    (re.compile(r"^the charger's signed data is in no format this platform verifies$"),
     lambda m: gettext("the charger's signed data is in no format this platform verifies")),
    (re.compile(r"^no signed begin reading \(TX=B\) of the energy register$"),
     lambda m: gettext("no signed begin reading (TX=B) of the energy register")),
    (re.compile(r"^no signed end reading of the energy register$"),
     lambda m: gettext("no signed end reading of the energy register")),
    (re.compile(r"^(?P<count>\d+) different signed begin readings$"),
     lambda m: gettext("%(count)s different signed begin readings") % {"count": m["count"]}),
    (re.compile(r"^(?P<count>\d+) different signed end readings$"),
     lambda m: gettext("%(count)s different signed end readings") % {"count": m["count"]}),
    (re.compile(r"^the signed (?P<which>begin|end) reading was taken at (?P<at>\S+), outside the session "
                r"\((?P<start>\S+) to (?P<stop>\S+)\)$"),
     lambda m: gettext("the signed %(which)s reading was taken at %(at)s, outside the session (%(start)s to "
                       "%(stop)s)") % {"which": _which(m["which"]), "at": m["at"], "start": m["start"],
                                        "stop": m["stop"]}),
    (re.compile(r"^signed by meter (?P<signed>.+), the station's meter is (?P<station>.+)$"),
     lambda m: gettext("signed by meter %(signed)s, the station's meter is %(station)s") % {
         "signed": m["signed"], "station": m["station"]}),
    (re.compile(r"^the meter signed (?P<signed>\S+) Wh, (?P<billed>\S+) Wh were measured for billing "
                r"\(resolution (?P<resolution>\S+) Wh\)$"),
     lambda m: gettext("the meter signed %(signed)s Wh, %(billed)s Wh were measured for billing (resolution "
                       "%(resolution)s Wh)") % {"signed": m["signed"], "billed": m["billed"],
                                                 "resolution": m["resolution"]}),
]


def finding_text(detail: str) -> str:
    """A stored finding's detail in the active language (as stored when it is not one of ours)."""
    for pattern, say in _SENTENCES:
        if match := pattern.match(detail or ""):
            return say(match)
    return detail
