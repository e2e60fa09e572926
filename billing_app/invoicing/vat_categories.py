"""Who owes the VAT on a document: EN 16931 VAT categories (UNTDID 5305) and exemption reasons (BT-120/121).

A document's treatment is its buyer's, frozen in the buyer snapshot at issue (`buyer["vat_treatment"]`, set from
`Company.vat_treatment`; drivers and any snapshot without it are "standard"):

- **standard**: the VAT of the charger's country as priced: a rate above 0 is category S, 0 % is Z; a component
  priced with no VAT (OCPI: `vat` omitted) is O (not subject to VAT) when the whole document is, else E (exempt)
  with a stated reason, since EN 16931 lets O stand only alone (BR-O-11..14).
- **reverse_charge**: the buyer accounts for the VAT (EU VAT Directive Art. 195/196/199a; German §13b UStG for
  electricity supplied to a reseller): every line is AE at 0 %, no VAT on the document, and both VAT ids and the
  reason (`VATEX-EU-AE`, "Reverse charge") are stated (BR-AE-1..10).
- **exempt**: every line is E at 0 % with the reason the operator entered (BR-E-1..10).

Money rule: a reverse-charged or exempt document's lines are the priced net amounts with VAT 0 at rate 0
(`lines_treated`), so its VAT per rate (BR-CO-17) is one row of 0.00 and its total is its net.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

STANDARD, REVERSE_CHARGE, EXEMPT = "standard", "reverse_charge", "exempt"
TREATMENTS = (STANDARD, REVERSE_CHARGE, EXEMPT)
REVERSE_CHARGE_REASON = "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC; " \
                        "Steuerschuldnerschaft des Leistungsempfängers, §13b UStG)"
REVERSE_CHARGE_CODE = "VATEX-EU-AE"
NO_VAT_REASON = "Not subject to VAT"
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VatCategory:
    """One VAT category of a document: UNTDID 5305 code, the rate the XML states (None: no rate, category O),
    and the exemption reason text and code where the category needs one."""

    code: str
    rate: Decimal | None
    reason: str = ""
    reason_code: str = ""

    @property
    def label(self) -> str:
        """How the PDF's VAT summary names the row."""
        if self.code == "AE":
            return "Reverse charge"
        if self.code in ("E", "O"):
            return self.reason or "Exempt"
        return f"VAT {self.rate.normalize():f} %"


def document_treatment(buyer: dict | None) -> str:
    treatment = (buyer or {}).get("vat_treatment") or STANDARD
    return treatment if treatment in TREATMENTS else STANDARD


def vat_category(rate: Decimal | None, *, buyer: dict | None, only_unrated: bool = False) -> VatCategory:
    """The category of a line or VAT breakdown row of rate `rate` on a document of `buyer`; `only_unrated`: every
    line of the document is priced without VAT."""
    treatment = document_treatment(buyer)
    buyer = buyer or {}
    if treatment == REVERSE_CHARGE:
        return VatCategory("AE", _ZERO, buyer.get("vat_exemption_reason") or REVERSE_CHARGE_REASON,
                           buyer.get("vat_exemption_code") or REVERSE_CHARGE_CODE)
    if treatment == EXEMPT:
        return VatCategory("E", _ZERO, buyer.get("vat_exemption_reason") or "Exempt from VAT",
                           buyer.get("vat_exemption_code") or "")
    if rate is None:
        return VatCategory("O", None, NO_VAT_REASON) if only_unrated else VatCategory("E", _ZERO, NO_VAT_REASON)
    rate = Decimal(rate)
    return VatCategory("Z", _ZERO) if rate == 0 else VatCategory("S", rate)


def lines_treated(lines: list, treatment: str) -> list:
    """`lines` (`LineIn`) as a document of `treatment` carries them: unchanged when standard; otherwise at rate 0
    with no VAT (the buyer accounts for it, or none is due), net amounts as priced."""
    if document_treatment({"vat_treatment": treatment}) == STANDARD:
        return lines
    return [replace(line, vat_rate=_ZERO, vat_amount=_ZERO) for line in lines]
