"""A tariff import refusal in the reader's language (issue 21). The pricing engine's parser (`pricing.ocpi`)
says what is wrong in English, naming the JSON path (`elements[2].restrictions.start_time: '25:00' is not
HH:MM`): those words also go to machines (OCPI, the `price` command) and stay as they are there. The import
service (`tariffs.services.tariff_import_ocpi`, shown in the admin's import form and the tariff API) says the
sentence again through the catalogue; the path and the quoted values stay as written. A sentence it does not
know is shown as the engine wrote it."""
from __future__ import annotations

import re

from django.utils.translation import gettext

_PATH = re.compile(r"^(?P<path>[\w.\[\]-]+): (?P<sentence>.*)$", re.S)

_SENTENCES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"^must be an object$"), lambda m: gettext("must be an object")),
    (re.compile(r"^must be a string$"), lambda m: gettext("must be a string")),
    (re.compile(r"^must be a number$"), lambda m: gettext("must be a number")),
    (re.compile(r"^must be a finite number$"), lambda m: gettext("must be a finite number")),
    (re.compile(r"^must not be negative$"), lambda m: gettext("must not be negative")),
    (re.compile(r"^must be an integer$"), lambda m: gettext("must be an integer")),
    (re.compile(r"^must be a list$"), lambda m: gettext("must be a list")),
    (re.compile(r"^must not be empty$"), lambda m: gettext("must not be empty")),
    (re.compile(r"^must be true or false$"), lambda m: gettext("must be true or false")),
    (re.compile(r"^unknown field (?P<field>.+)$"), lambda m: gettext("unknown field %(field)s") % {
        "field": m["field"]}),
    (re.compile(r"^missing (?P<field>.+)$"), lambda m: gettext("missing %(field)s") % {"field": m["field"]}),
    (re.compile(r"^unknown value (?P<value>.+) \(expected one of (?P<choices>.+)\)$"),
     lambda m: gettext("unknown value %(value)s (expected one of %(choices)s)") % {
         "value": m["value"], "choices": m["choices"]}),
    (re.compile(r"^(?P<value>.+) is not an RFC 3339 date-time$"),
     lambda m: gettext("%(value)s is not an RFC 3339 date-time") % {"value": m["value"]}),
    (re.compile(r"^unknown time zone (?P<name>.+)$"),
     lambda m: gettext("unknown time zone %(name)s") % {"name": m["name"]}),
    (re.compile(r"^unknown ISO 4217 code (?P<code>.+)$"),
     lambda m: gettext("unknown ISO 4217 code %(code)s") % {"code": m["code"]}),
    (re.compile(r"^only prices excl\. VAT \(OCPI 2\.2\.1\) are supported$"),
     lambda m: gettext("only prices excl. VAT (OCPI 2.2.1) are supported")),
    (re.compile(r"^higher than max_price$"), lambda m: gettext("higher than %(field)s") % {"field": "max_price"}),
    (re.compile(r"^(?P<value>.+) is not HH:MM$"), lambda m: gettext("%(value)s is not HH:MM") % {
        "value": m["value"]}),
    (re.compile(r"^(?P<value>.+) is not a YYYY-MM-DD date$"),
     lambda m: gettext("%(value)s is not a YYYY-MM-DD date") % {"value": m["value"]}),
    (re.compile(r"^duplicate (?P<kind>\w+) dimension$"),
     lambda m: gettext("duplicate %(kind)s dimension") % {"kind": m["kind"]}),
    (re.compile(r"^a state of charge is 0 to 100$"), lambda m: gettext("a state of charge is 0 to 100")),
    (re.compile(r"^(?P<value>.+) is not a JSON number$"),
     lambda m: gettext("%(value)s is not a JSON number") % {"value": m["value"]}),
]


def _sentence(sentence: str) -> str:
    for pattern, say in _SENTENCES:
        if match := pattern.match(sentence):
            return say(match)
    return sentence


def import_error_text(message: str) -> str:
    """The engine's `path: sentence` (or a bare sentence) with the sentence in the active language."""
    if match := _PATH.match(message or ""):
        return f"{match['path']}: {_sentence(match['sentence'])}"
    return _sentence(message or "")


def currency_not_enabled(currency: str, enabled) -> str:
    return gettext("Currency %(currency)s is not enabled (CURRENCIES: %(enabled)s).") % {
        "currency": currency, "enabled": enabled}
