"""The XML container the S.A.F.E. e.V. Transparenzsoftware opens: `<values>` holding one `<value>` per
signed record, each with its OCMF record (`<signedData format="OCMF" encoding="plain">`) and the meter's
public key (`<publicKey encoding="base64">`). Records of one transaction share a `transactionId`; the
begin and end records carry the contexts `Transaction.Begin` / `Transaction.End` the software pairs them
by (a record holding both readings stands alone). Pure."""
from __future__ import annotations

import warnings
from xml.etree import ElementTree

from pyocmf import OCMF, PyOCMFError
from pyocmf.enums.reading import MeterReadingReason

from .decoding import public_key_base64

BEGIN, END, OTHER = "Transaction.Begin", "Transaction.End", "Sample.Periodic"


def _context(ocmf_text: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reasons = {r.TX for r in OCMF.from_string(ocmf_text).payload.RD}
    except PyOCMFError:
        return OTHER
    has_begin = MeterReadingReason.BEGIN in reasons
    has_end = any(isinstance(r, MeterReadingReason) and r.is_end_reading() for r in reasons)
    if has_begin and has_end:
        return None
    return BEGIN if has_begin else END if has_end else OTHER


def transparency_xml(*, records: list[str], public_key_hex: str, transaction_id: int) -> bytes:
    """The container for `records` (plain OCMF, in the order taken; each once) signed with the key."""
    root = ElementTree.Element("values")
    for text in dict.fromkeys(r for r in records if r):
        attributes = {"transactionId": str(transaction_id)}
        context = _context(text)
        if context:
            attributes["context"] = context
        value = ElementTree.SubElement(root, "value", attributes)
        ElementTree.SubElement(value, "signedData", {"format": "OCMF", "encoding": "plain"}).text = text
        if public_key_hex:
            key = ElementTree.SubElement(value, "publicKey", {"encoding": "base64"})
            key.text = public_key_base64(public_key_hex)
    ElementTree.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="utf-8") + b"\n"
