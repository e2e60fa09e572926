"""Read queries about settled sessions, scoped to who asks."""
from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from billing_app.models import ChargeReview, SessionCharge
from sessions_app.models import MeterSignatureCheck, User
from sessions_app.selectors import scope_to_user


def held_reviews(user: User) -> QuerySet[ChargeReview]:
    """Session charges held for review of the operators `user` works for, oldest first."""
    return (scope_to_user(ChargeReview.objects.filter(status=ChargeReview.Status.HELD), user)
            .select_related("charge__session__operator", "charge__session__connector__station")
            .order_by("opened_at", "pk"))


def charge_vat_breakdown(charge: SessionCharge) -> list[dict]:
    """The VAT per rate of a priced session as its breakdown stores it (rate, taxable_amount, vat_amount
    as strings; rate None: no VAT), what "explain my bill", the API and the receipt show. A charge
    priced before VAT per rate (no "vat_breakdown" key) was totalled with each line's VAT: its rows are
    those sums per rate, so they add up to its stored total VAT."""
    breakdown = charge.breakdown or {}
    if "vat_breakdown" in breakdown:
        return breakdown["vat_breakdown"]
    sums: dict[Decimal | None, list[Decimal]] = {}
    for line in breakdown.get("lines", []):
        rate = None if line.get("vat_rate") is None else Decimal(line["vat_rate"]).normalize()
        row = sums.setdefault(rate, [Decimal(0), Decimal(0)])
        row[0] += Decimal(line["amount_excl_vat"])
        row[1] += Decimal(line["vat_amount"])
    ordered = sorted(sums.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return [{"rate": None if rate is None else format(rate, "f"), "taxable_amount": str(net), "vat_amount": str(vat)}
            for rate, (net, vat) in ordered]


def charge_energy_proven(charge: SessionCharge) -> bool:
    """Whether the meter's verified signatures prove the energy the charge billed: the signed energy
    (end - begin) equals it to the meter's resolution. Dispute evidence shows it; a re-pricing with
    corrected energy is refused while it holds, unless overridden with a reason."""
    check = MeterSignatureCheck.objects.filter(session_id=charge.session_id).first()
    if check is None or check.status != MeterSignatureCheck.Status.VERIFIED or check.signed_energy_wh is None:
        return False
    return abs(charge.total_energy_kwh * 1000 - check.signed_energy_wh) <= (check.resolution_wh or 0)
