"""The receiver's side of the signature: what we sign verifies with the secret, and nothing else does."""
import pytest

from webhooks_app import signing

SECRET = "whsec_" + "ab" * 32
BODY = b'{"id":"5f0c","type":"invoice.issued","data":{"invoice":{"total_incl_vat":{"amount":"5.11"}}}}'
NOW = 1_800_000_000


def test_signed_body_verifies_with_the_secret():
    header = signing.sign(secret=SECRET, payload=BODY, timestamp=NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert signing.verify(payload=BODY, header=header, secret=SECRET, now=NOW + 10) == NOW


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    header = signing.sign(secret=SECRET, payload=BODY, timestamp=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_tampered_body_fails():
    header = signing.sign(secret=SECRET, payload=BODY, timestamp=NOW)
    with pytest.raises(signing.SignatureError, match="No signature matches"):
        signing.verify(payload=BODY.replace(b"5.11", b"0.01"), header=header, secret=SECRET, now=NOW)


def test_other_secret_fails():
    header = signing.sign(secret=SECRET, payload=BODY, timestamp=NOW)
    with pytest.raises(signing.SignatureError):
        signing.verify(payload=BODY, header=header, secret="whsec_other", now=NOW)


def test_old_timestamp_fails_even_with_a_valid_signature():
    header = signing.sign(secret=SECRET, payload=BODY, timestamp=NOW)
    with pytest.raises(signing.SignatureError, match="away from now"):
        signing.verify(payload=BODY, header=header, secret=SECRET, now=NOW + signing.DEFAULT_TOLERANCE + 1)


def test_replayed_timestamp_with_a_forged_signature_fails():
    header = signing.sign(secret=SECRET, payload=BODY, timestamp=NOW)
    forged = header.replace(f"t={NOW}", f"t={NOW + 600}")
    with pytest.raises(signing.SignatureError):
        signing.verify(payload=BODY, header=forged, secret=SECRET, now=NOW + 600)


@pytest.mark.parametrize("header", ["", "v1=abc", f"t={NOW}", "t=soon,v1=abc", "garbage"])
def test_malformed_headers_fail(header):
    with pytest.raises(signing.SignatureError, match="Malformed"):
        signing.verify(payload=BODY, header=header, secret=SECRET, now=NOW)


def test_any_of_several_v1_signatures_may_match():
    good = signing.sign(secret=SECRET, payload=BODY, timestamp=NOW).split(",v1=")[1]
    header = f"t={NOW},v1={'0' * 64},v1={good}"
    assert signing.verify(payload=BODY, header=header, secret=SECRET, now=NOW) == NOW
