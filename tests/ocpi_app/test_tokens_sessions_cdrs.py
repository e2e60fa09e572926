"""Tokens (Receiver), Sessions and CDRs (Sender): a partner's pushed token charges at our charger as the
partner's roaming driver (no card hold, no receipt), priced with the tariff the partner is shown; the
partner reads its sessions and CDRs and nobody else's; a correction is a credit CDR, never an edit."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing_app.models import BillingAccount, Invoice, Payment, PriceComponent, SessionCharge, TariffElement
from billing_app.settlement.services import charge_energy_correct
from ocpi_app.models import CdrRecord, PartnerTariff, PartnerToken, PushDelivery
from sessions_app.models import IdToken
from sessions_app.services import SampleIn, session_record_samples, session_start, session_stop, token_authorize
from tests import factories
from tests.ocpi_app.conftest import auth_header, registered_partner

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def token_body(uid="04ABCDEF", *, valid=True, whitelist="ALWAYS", last_updated="2026-03-01T10:00:00Z",
               country_code="NL", party_id="RMS", type_="RFID"):
    return {"country_code": country_code, "party_id": party_id, "uid": uid, "type": type_,
            "contract_id": f"NL-RMS-{uid}", "issuer": "Roam eMSP", "valid": valid, "whitelist": whitelist,
            "last_updated": last_updated}


def put_token(client, token, body, *, path=None):
    path = path or f"/ocpi/2.2.1/tokens/{body['country_code']}/{body['party_id']}/{body['uid']}"
    return client.put(f"{path}?type={body['type']}", body, content_type="application/json", **auth_header(token))


def _tariff(operator, ocpi_id, price):
    tariff = factories.TariffFactory(operator=operator, ocpi_id=ocpi_id, party_id="VOL")
    element = TariffElement.objects.create(tariff=tariff, position=0)
    PriceComponent.objects.create(element=element, position=0, type="ENERGY", price=Decimal(price), vat=Decimal(19),
                                  step_size=1)
    return tariff


def test_a_pushed_token_is_stored_and_accepted_at_our_charger(client, partner, connector):
    response = put_token(client, partner[1], token_body())
    assert (response.status_code, response.json()["status_code"]) == (201, 1000)
    assert put_token(client, partner[1], token_body(last_updated="2026-03-02T10:00:00Z")).status_code == 200
    stored = PartnerToken.objects.get()
    partner[0].refresh_from_db()
    assert (stored.partner, stored.id_token.driver, stored.id_token.status) == (
        partner[0], partner[0].roaming_driver, IdToken.Status.ACCEPTED)
    assert token_authorize(station=connector.station, uid="04abcdef").accepted
    got = client.get("/ocpi/2.2.1/tokens/NL/RMS/04ABCDEF?type=RFID", **auth_header(partner[1])).json()
    assert got["data"]["contract_id"] == "NL-RMS-04ABCDEF"


@pytest.mark.parametrize("whitelist, valid, accepted", [("ALWAYS", True, True), ("ALLOWED", True, True),
                                                          ("ALLOWED_OFFLINE", True, True), ("NEVER", True, False),
                                                          ("ALWAYS", False, False)])
def test_whitelist_and_validity_decide_the_verdict(client, partner, connector, whitelist, valid, accepted):
    put_token(client, partner[1], token_body(whitelist=whitelist, valid=valid))
    assert token_authorize(station=connector.station, uid="04ABCDEF").accepted is accepted


def test_patch_blocks_a_token_and_an_older_replay_changes_nothing(client, partner, connector):
    put_token(client, partner[1], token_body())
    change = {"valid": False, "last_updated": "2026-03-03T00:00:00Z"}
    response = client.patch("/ocpi/2.2.1/tokens/NL/RMS/04ABCDEF", change, content_type="application/json",
                            **auth_header(partner[1]))
    assert response.status_code == 200
    assert not token_authorize(station=connector.station, uid="04ABCDEF").accepted
    replay = put_token(client, partner[1], token_body(last_updated="2026-03-02T00:00:00Z"))
    assert (replay.status_code, replay.json()["status_code"]) == (400, 2001)
    assert "older" in replay.json()["status_message"]
    assert not token_authorize(station=connector.station, uid="04ABCDEF").accepted


@pytest.mark.parametrize("change, field", [({"valid": "yes"}, "valid"), ({"whitelist": "SOMETIMES"}, "whitelist"),
                                           ({"type": "PASSPORT"}, "type"), ({"last_updated": "soon"}, "last_updated"),
                                           ({"contract_id": None}, "contract_id"), ({"uid": "OTHER"}, "URL")])
def test_bad_tokens_are_2001_and_store_nothing(client, partner, change, field):
    body = {**token_body(), **change}
    response = put_token(client, partner[1], body, path="/ocpi/2.2.1/tokens/NL/RMS/04ABCDEF")
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    assert field in response.json()["status_message"]
    assert not PartnerToken.objects.exists() and not IdToken.objects.exists()


def test_a_partner_cannot_store_or_read_tokens_as_another_party(client, partner, other_partner, operator):
    _, second_token = registered_partner(operator, name="Second", party_id="SEC")
    put_token(client, partner[1], token_body())
    response = put_token(client, second_token, token_body())  # NL*RMS with SEC's credentials
    assert response.status_code == 404
    assert client.get("/ocpi/2.2.1/tokens/NL/RMS/04ABCDEF", **auth_header(second_token)).status_code == 404
    assert client.get("/ocpi/2.2.1/tokens/NL/RMS/04ABCDEF", **auth_header(other_partner[1])).status_code == 404


def test_a_roaming_uid_cannot_take_over_an_operators_own_card(client, partner, id_token):
    response = put_token(client, partner[1], token_body(uid=id_token.uid))
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    id_token.refresh_from_db()
    assert id_token.driver.username != "ocpi" and not PartnerToken.objects.exists()


@pytest.fixture
def roaming_session(client, partner, connector, operator, django_capture_on_commit_callbacks):
    """A finished session of the partner's driver, priced with the tariff the partner is shown (the after-commit
    work of each step runs, as it would in production)."""
    from billing_app.models import TariffAssignment

    with django_capture_on_commit_callbacks(execute=True):
        TariffAssignment.objects.create(tariff=_tariff(operator, "EVERYONE", "0.39"))
        PartnerTariff.objects.create(partner=partner[0], tariff=_tariff(operator, "ROAM", "0.50"))
        put_token(client, partner[1], token_body())
    id_token = IdToken.objects.get(uid="04ABCDEF")
    with django_capture_on_commit_callbacks(execute=True):
        session = session_start(connector=connector, started_at=T0, meter_start_wh=Decimal(1000),
                                transaction_ref="r1", id_token=id_token)
        session_record_samples(session=session, samples=[SampleIn(taken_at=T0 + timedelta(minutes=30),
                                                                  energy_wh=Decimal(6000), power_w=Decimal(10000))])
    with django_capture_on_commit_callbacks(execute=True):
        return session_stop(session=session, stopped_at=T0 + timedelta(hours=1), meter_stop_wh=Decimal(11000))


def test_a_roaming_session_is_priced_with_the_partners_tariff_without_hold_or_receipt(roaming_session):
    charge = SessionCharge.objects.get(session=roaming_session)
    assert charge.tariff.ocpi_id == "ROAM"
    assert (charge.total_excl_vat, charge.total_incl_vat) == (Decimal("5.00"), Decimal("5.95"))
    assert not Payment.objects.exists() and not Invoice.objects.exists()
    assert not BillingAccount.objects.filter(driver=roaming_session.driver).exists()


def test_the_partner_reads_its_sessions_and_cdrs_and_no_one_elses(client, partner, other_partner, operator,
                                                                   roaming_session):
    factories.ChargingSessionFactory(connector__station__location__operator=operator)  # a local driver's session
    data = client.get("/ocpi/2.2.1/sessions", **auth_header(partner[1])).json()["data"]
    assert [s["id"] for s in data] == [str(roaming_session.pk)]
    assert data[0]["status"] == "COMPLETED" and data[0]["kwh"] == 10.0
    assert data[0]["total_cost"] == {"excl_vat": 5.0, "incl_vat": 5.95}
    assert data[0]["cdr_token"]["contract_id"] == "NL-RMS-04ABCDEF"
    cdrs = client.get("/ocpi/2.2.1/cdrs", **auth_header(partner[1])).json()["data"]
    assert [c["id"] for c in cdrs] == [f"VOLT-CDR-{roaming_session.pk}"]
    assert cdrs[0]["total_cost"] == {"excl_vat": 5.0, "incl_vat": 5.95} and cdrs[0]["total_energy"] == 10.0
    assert cdrs[0]["tariffs"][0]["id"] == "ROAM"
    _, second_token = registered_partner(operator, name="Second", party_id="SEC")
    for token in (second_token, other_partner[1]):
        assert client.get("/ocpi/2.2.1/sessions", **auth_header(token)).json()["data"] == []
        assert client.get("/ocpi/2.2.1/cdrs", **auth_header(token)).json()["data"] == []


def test_the_cdr_is_pushed_and_a_correction_is_a_credit_cdr_then_a_new_one(client, partner, roaming_session,
                                                                            django_capture_on_commit_callbacks):
    first = CdrRecord.objects.get()
    push = PushDelivery.objects.get(module="cdrs")
    assert (push.method, push.url) == ("POST", "https://emsp.example.com/ocpi/2.2.1/cdrs")
    assert first.body == push.body
    with django_capture_on_commit_callbacks(execute=True):
        charge_energy_correct(charge_id=roaming_session.charge.pk, corrected_energy_kwh=Decimal(8))
    records = list(CdrRecord.objects.order_by("pk"))
    assert [(r.kind, r.cdr_id) for r in records] == [
        ("cdr", first.cdr_id), ("credit", f"{first.cdr_id}-C1"), ("cdr", f"{first.cdr_id}-R2")]
    assert records[0].body == first.body  # never edited
    credit = client.get("/ocpi/2.2.1/cdrs", **auth_header(partner[1])).json()["data"][1]
    assert (credit["credit"], credit["credit_reference_id"]) == (True, first.cdr_id)
    assert credit["total_cost"] == {"excl_vat": -5.0, "incl_vat": -5.95}
    assert records[2].total_excl_vat == Decimal("4.00")
    # net per VAT rate as issued, what the monthly settlement invoices and credits
    assert [r.net_by_rate for r in records] == [{"19": "5.00"}, {"19": "-5.00"}, {"19": "4.00"}]
    with django_capture_on_commit_callbacks(execute=True):  # the same figures again: nothing new
        charge_energy_correct(charge_id=roaming_session.charge.pk, corrected_energy_kwh=Decimal(8))
    assert CdrRecord.objects.count() == 3
