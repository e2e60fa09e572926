"""The German Leitweg-ID (routing id of a public buyer, XRechnung's buyer reference BT-10): coarse address of 2 to 12
digits, an optional fine address of up to 30 letters and digits, and two check digits (ISO/IEC 7064 MOD 97-10 over
the rest, letters counted as 10..35, as KoSIT's format specification says)."""
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

LEITWEG_ID = re.compile(r"^(\d{2,12})(?:-([A-Za-z0-9]{1,30}))?-(\d{2})$")


def leitweg_id_clean(value: str) -> str:
    """`value` as a valid Leitweg-ID (upper case), else a ValidationError saying what is wrong."""
    value = value.strip().upper()
    match = LEITWEG_ID.match(value)
    if not match:
        raise ValidationError(_("A Leitweg-ID looks like 04011000-1234512345-06: digits, an optional fine address and "
                                "two check digits, separated by hyphens."))
    coarse, fine, check = match.groups()
    digits = "".join(str(int(c, 36)) for c in coarse + (fine or "")) + check
    if int(digits) % 97 != 1:
        raise ValidationError(_("The check digits of the Leitweg-ID %(value)s do not match: please check it.") % {
            "value": value})
    return value
