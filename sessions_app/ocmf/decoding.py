"""What chargers send, made comparable: signed data in any of the encodings seen in the field (plain
`OCMF|...`, hex, base64) decoded to the plain OCMF record, and public keys (hex or base64 DER, PEM) to
lower-case hex DER. Pure."""
from __future__ import annotations

import base64
import binascii
import re

from pyocmf import PublicKey, PyOCMFError

OCMF_PREFIX = "OCMF|"
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_PEM = re.compile(r"-----(BEGIN|END) [A-Z ]+-----")


class KeyFormatError(ValueError):
    """A public key that is not an elliptic-curve DER key in hex, base64 or PEM."""


def decode_signed_data(data: str) -> tuple[str, str]:
    """(encoding, plain OCMF record) of what the charger sent; the record is "" when the data is not OCMF
    (another vendor format: kept as sent, never verified here)."""
    text = (data or "").strip()
    if text.startswith(OCMF_PREFIX):
        return "plain", text
    if _HEX.match(text) and len(text) % 2 == 0:
        decoded = _utf8(bytes.fromhex(text))
        return "hex", decoded if decoded.startswith(OCMF_PREFIX) else ""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "unknown", ""
    decoded = _utf8(raw)
    return "base64", decoded if decoded.startswith(OCMF_PREFIX) else ""


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return ""


def public_key_hex(text: str) -> tuple[str, str]:
    """(lower-case hex DER, curve name) of a public key given as hex, base64 or PEM."""
    cleaned = "".join(_PEM.sub("", text or "").split())
    if not cleaned:
        raise KeyFormatError("The public key is empty.")
    try:
        key = PublicKey.from_string(cleaned)
    except (PyOCMFError, ValueError, TypeError) as error:
        raise KeyFormatError(f"Not an elliptic-curve public key (DER as hex, base64 or PEM): {error}") from None
    return key.key.lower(), str(key.curve)


def public_key_base64(hex_key: str) -> str:
    """The hex DER key as base64 (what the transparency software's container and OCPI carry)."""
    return base64.b64encode(bytes.fromhex(hex_key)).decode("ascii")
