"""A TEST meter that signs OCMF records with a real ECDSA key (secp256r1, SHA-256), for the charger
simulator, the demo data and the tests. Its private key is derived from a public name, so anyone can sign
as it: it proves the plumbing, never a reading. Real meters sign inside their calibrated hardware."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNING_METHOD = "ECDSA-secp256r1-SHA256"
_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


def ocmf_time(at: datetime) -> str:
    """OCMF's time format: milliseconds after a comma, a +hhmm offset, then the time status (synchronized)."""
    text = at.strftime("%Y-%m-%dT%H:%M:%S,") + f"{at.microsecond // 1000:03d}" + at.strftime("%z")
    return f"{text} S"


class TestMeter:
    """A meter (`serial`) whose key comes from `name`: the same name gives the same key pair."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str, *, serial: str, vendor: str = "evbilling TEST meter"):
        secret = int.from_bytes(hashlib.sha256(f"evbilling TEST meter key {name}".encode()).digest(), "big")
        self.private_key = ec.derive_private_key(secret % (_ORDER - 1) + 1, ec.SECP256R1())
        self.serial, self.vendor = serial, vendor
        self.pagination = 0

    @property
    def public_key_hex(self) -> str:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()

    def sign(self, payload_json: str) -> str:
        """`OCMF|payload|{"SA":...,"SD":...}` for the payload exactly as given."""
        signature = self.private_key.sign(payload_json.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
        section = json.dumps({"SA": SIGNING_METHOD, "SD": signature.hex().upper()}, separators=(",", ":"))
        return f"OCMF|{payload_json}|{section}"

    def payload(self, *, at: datetime, wh: Decimal | int, tx: str, id_tag: str, page: int | None = None) -> str:
        """A reading of the import register in kWh (1 Wh resolution) as OCMF payload JSON."""
        if page is None:
            self.pagination += 1
            page = self.pagination
        kwh = (Decimal(wh) / 1000).quantize(Decimal("0.001"))  # written with its 3 decimals: the resolution
        return json.dumps({
            "FV": "1.0", "GI": "evbilling simulator", "GS": self.serial, "GV": "1.0", "PG": f"T{page}",
            "MV": self.vendor, "MS": self.serial, "IS": True, "IL": "TRUSTED", "IF": ["RFID_PLAIN", "OCPP_AUTH"],
            "IT": "LOCAL", "ID": id_tag,
            "RD": [{"TM": ocmf_time(at), "TX": tx, "RV": "__RV__", "RI": "1-b:1.8.0", "RU": "kWh", "RT": "AC",
                    "EF": "", "ST": "G"}],
        }, separators=(",", ":")).replace('"__RV__"', str(kwh))

    def reading(self, *, at: datetime, wh: Decimal | int, tx: str, id_tag: str, page: int | None = None) -> str:
        """A signed reading: TX "B" (begin), "E" (end) or "C" (during charging)."""
        return self.sign(self.payload(at=at, wh=wh, tx=tx, id_tag=id_tag, page=page))
