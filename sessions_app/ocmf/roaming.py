"""A session's signed readings as OCPI 2.2.1 `SignedData` (the CDR's `signed_data`): encoding_method "OCMF",
the meter's public key (base64 DER) and one `SignedValue` per record: its nature (Start, End, Intermediate),
the reading in plain text and the whole OCMF record, base64-encoded, as the roaming partner verifies it. Pure."""
from __future__ import annotations

import base64
import warnings

from pyocmf import OCMF, PyOCMFError
from pyocmf.enums.reading import MeterReadingReason

from .decoding import public_key_base64

PLAIN_DATA_MAX = 512  # OCPI SignedValue.plain_data is string(512)


def _nature_and_plain(record: str) -> tuple[str, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            readings = OCMF.from_string(record).payload.RD
    except PyOCMFError:
        return "Intermediate", ""
    has_begin = any(r.TX == MeterReadingReason.BEGIN for r in readings)
    has_end = any(isinstance(r.TX, MeterReadingReason) and r.TX.is_end_reading() for r in readings)
    nature = "Start" if has_begin and not has_end else "End" if has_end and not has_begin else (
        "Start and End" if has_begin else "Intermediate")
    plain = "; ".join(f"{r.TX} {r.RI} {r.RV} {r.RU} {r.TM}" for r in readings)
    return nature, plain[:PLAIN_DATA_MAX]


def ocpi_signed_data(*, records: list[str], public_key_hex: str) -> dict | None:
    """OCPI SignedData for the records (plain OCMF, in order), None when there are none."""
    if not records:
        return None
    values = []
    for record in records:
        nature, plain = _nature_and_plain(record)
        values.append({"nature": nature, "plain_data": plain,
                       "signed_data": base64.b64encode(record.encode("utf-8")).decode("ascii")})
    data = {"encoding_method": "OCMF", "signed_values": values}
    if public_key_hex:
        data["public_key"] = public_key_base64(public_key_hex)
    return data
