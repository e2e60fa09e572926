"""A guest checks the meter's signatures too (issue 18): their session page says what the signatures prove and
offers the Transparenzsoftware's XML container and the meter's key, by their unguessable link only."""
import pytest
from django.urls import reverse
from pyocmf import PublicKey

from tests.guests_app.conftest import GUEST_KEY as KEY
from tests.guests_app.conftest import GUEST_METER as METER

pytestmark = pytest.mark.django_db


def test_the_guest_page_says_verified_and_the_downloads_verify(client, signed_guest):
    page = client.get(reverse("guests:live", args=[KEY])).content.decode()
    assert "Signed by meter TM-GUEST, verified." in page
    xml = client.get(reverse("guests:signed_data", args=[KEY]))
    assert xml.status_code == 200 and b'context="Transaction.End"' in xml.content
    pem = client.get(reverse("guests:meter_key", args=[KEY]))
    assert PublicKey.from_string("".join(pem.content.decode().splitlines()[1:-1])).key.lower() == METER.public_key_hex


def test_another_key_finds_nothing(client, signed_guest):
    for name in ("guests:signed_data", "guests:meter_key"):
        assert client.get(reverse(name, args=["not-the-key"])).status_code == 404
