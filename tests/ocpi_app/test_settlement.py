"""Monthly settlement with roaming partners (issue 19 item 5): one invoice per partner and month from the CDRs it
has, VAT per rate on the document, credit CDRs as credit notes, the CDR list attached, numbered in the operator's
sequence, PDF and EN 16931 XML by billing's own path; idempotent; refused for an open month or a partner without a
billing company; scoped to the operator. Exact cents throughout."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from facturx import xml_check_xsd

from billing_app import invoicing
from billing_app.invoicing.einvoice import cii_xml
from billing_app.models import CreditNote, Invoice, NumberSequence
from billing_app.pricing import ocpi
from ocpi_app.models import CdrRecord, Partner
from ocpi_app.settlement import SettlementError, partner_settle, settlements_run
from ocpi_app.settlement import cdr_credit_in_full as settlement_credit
from tests import factories
from tests.billing_app.invoice_fixtures import pdf_text
from tests.ocpi_app.conftest import registered_partner

pytestmark = pytest.mark.django_db
D = Decimal
OCT = date(2026, 10, 1)
NOV_5 = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)


def make_cdr(partner: Partner, *, net: dict[str, str], at: datetime, state=CdrRecord.State.ACKNOWLEDGED,
             location=None, cancels: CdrRecord | None = None, cdr_id: str | None = None) -> CdrRecord:
    """A CDR as `cdrs.cdr_issue_for_charge` stores it (net per VAT rate as issued), for a session at `location`."""
    if cancels is not None:
        session, kind = cancels.session, CdrRecord.Kind.CREDIT
    else:
        location = location or factories.LocationFactory(operator=partner.operator)
        session = factories.ChargingSessionFactory(connector__station__location=location, started_at=at,
                                                   stopped_at=at + timedelta(hours=1))
        kind = CdrRecord.Kind.CDR
    total = sum((D(v) for v in net.values()), D(0))
    gross = sum((D(v) * (1 + D(k or 0) / 100) for k, v in net.items()), D(0)).quantize(D("0.01"))
    cdr_id = cdr_id or (f"{cancels.cdr_id}-C1" if cancels else f"VOLT-CDR-{session.pk}")
    body = {"id": cdr_id, "start_date_time": ocpi.format_datetime_seconds(at),
            "end_date_time": ocpi.format_datetime_seconds(at + timedelta(hours=1)), "total_energy": D("10.5"),
            "currency": "EUR", "total_cost": {"excl_vat": total, "incl_vat": gross},
            "cdr_location": {"name": session.connector.station.location.name, "evse_id": "DE*VOL*E1*1"}}
    return CdrRecord.objects.create(partner=partner, session=session, cdr_id=cdr_id, kind=kind,
                                    credit_reference=cancels, currency="EUR", total_excl_vat=total,
                                    total_incl_vat=gross, body=ocpi.dumps(body), state=state, last_updated=at,
                                    net_by_rate=net)


@pytest.fixture
def scenario(operator, cpo_party):
    """Voltara (Berlin) and two eMSPs. Roam eMSP: three CDRs at 19 % (Berlin) and one at 20 % (Vienna) in October,
    one failed push, a credit CDR cancelling the 5.03 CDR and its replacement; Second eMSP: one CDR in October
    and one in November."""
    berlin = factories.LocationFactory(operator=operator, name="Berlin Mitte")
    vienna = factories.LocationFactory(operator=operator, name="Wien Prater", country="AT", time_zone="Europe/Vienna")
    roam, _ = registered_partner(operator)
    second, _ = registered_partner(operator, name="Second eMSP", party_id="SEC")
    roam.company = factories.CompanyFactory(operator=operator, legal_name="Roam eMSP B.V.", country="NL",
                                            billing_email="ap@roam.example")
    second.company = factories.CompanyFactory(operator=operator, legal_name="Second eMSP GmbH")
    roam.save()
    second.save()
    day = datetime(2026, 10, 3, 10, 0, tzinfo=UTC)
    cdrs = {
        "a1": make_cdr(roam, net={"19": "2.50"}, at=day, location=berlin),
        "a2": make_cdr(roam, net={"19": "5.03"}, at=day + timedelta(days=1), location=berlin),
        "a3": make_cdr(roam, net={"20": "7.77"}, at=day + timedelta(days=2), location=vienna),
        "a4": make_cdr(roam, net={"19": "3.00"}, at=day + timedelta(days=3), location=berlin,
                       state=CdrRecord.State.FAILED),
        "b1": make_cdr(second, net={"19": "12.34"}, at=day + timedelta(days=4), location=berlin),
        "b2": make_cdr(second, net={"19": "1.00"}, at=datetime(2026, 11, 2, 10, 0, tzinfo=UTC), location=berlin),
    }
    cdrs["a2c"] = make_cdr(roam, net={"19": "-5.03"}, at=day + timedelta(days=10), cancels=cdrs["a2"])
    cdrs["a2r"] = make_cdr(roam, net={"19": "2.50"}, at=day + timedelta(days=10), location=berlin,
                           cdr_id=f"{cdrs['a2'].cdr_id}-R2")
    # the last evening of October in Berlin is November in UTC: still October's
    cdrs["late"] = make_cdr(second, net={"19": "0.00"}, at=datetime(2026, 10, 31, 22, 30, tzinfo=UTC), location=berlin)
    return roam, second, cdrs


def test_one_invoice_per_partner_and_month_with_vat_per_rate_on_the_document(scenario, operator):
    roam, second, cdrs = scenario
    result = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5)
    invoice = result.invoice
    assert (invoice.kind, invoice.number, invoice.period_start, invoice.period_end) == (
        Invoice.Kind.SETTLEMENT, "VOLT-2026-000001", OCT, date(2026, 10, 31))
    assert invoice.driver is None and invoice.buyer["name"] == "Roam eMSP B.V."
    lines = list(invoice.lines.values_list("description", "vat_rate", "amount_excl_vat"))
    assert [(rate, net) for _, rate, net in lines] == [(D(19), D("2.50")), (D(19), D("5.03")), (D(20), D("7.77")),
                                                       (D(19), D("2.50"))]
    assert lines[0][0] == f"CDR {cdrs['a1'].cdr_id} (10.5 kWh)"
    # 19 %: 10.03 net -> 1.9057 -> 1.91 once on the document (the lines' own VAT would add up to 1.92);
    # 20 %: 7.77 -> 1.554 -> 1.55
    assert [(s.vat_rate, s.taxable_amount, s.vat_amount) for s in invoice.vat_subtotals.all()] == [
        (D(19), D("10.03"), D("1.91")), (D(20), D("7.77"), D("1.55"))]
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (D("17.80"), D("3.46"), D("21.26"))
    # the credit CDR of October is a credit note on the invoice holding the CDR it cancels, exactly that CDR
    [note] = result.credit_notes
    assert (note.number, note.invoice_id, note.total_excl_vat, note.total_vat, note.total_incl_vat) == (
        "VOLT-CN-2026-000001", invoice.pk, D("5.03"), D("0.96"), D("5.99"))
    assert note.lines.get().description == f"Credit CDR {cdrs['a2c'].cdr_id} (cancels {cdrs['a2'].cdr_id}) (VAT 19 %)"
    assert result.waiting == 1  # the CDR whose push failed is not invoiced
    assert set(invoice.ocpi_cdrs.values_list("cdr_id", flat=True)) == {
        cdrs[k].cdr_id for k in ("a1", "a2", "a3", "a2r")}
    assert CdrRecord.objects.get(pk=cdrs["a2c"].pk).credit_note == note

    other = partner_settle(partner_id=second.pk, period=OCT, now=NOV_5).invoice
    assert other.number == "VOLT-2026-000002"  # the operator's one invoice sequence
    assert (other.total_excl_vat, other.total_vat, other.total_incl_vat) == (D("12.34"), D("2.34"), D("14.68"))
    assert other.lines.count() == 2  # the November CDR waits for November; the late-evening one is October's


def test_the_cdr_list_is_attached_and_mailed_with_the_pdf(scenario, django_capture_on_commit_callbacks):
    roam, _, cdrs = scenario
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: PDF, then e-mail
        invoice = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5).invoice
    attachment = invoice.attachments.get()
    assert attachment.name == "VOLT-2026-000001-cdrs.csv"
    rows = [line.split(",") for line in attachment.content.splitlines()]
    assert rows[0][:3] == ["cdr_id", "session_id", "start_date_time"]
    assert [(r[0], r[7], r[8]) for r in rows[1:]] == [
        (cdrs["a1"].cdr_id, "19", "2.50"), (cdrs["a2"].cdr_id, "19", "5.03"), (cdrs["a3"].cdr_id, "20", "7.77"),
        (cdrs["a2r"].cdr_id, "19", "2.50")]
    [message, *_] = [m for m in mail.outbox if "VOLT-2026-000001" in m.subject]
    assert message.to == ["ap@roam.example"] and message.subject.startswith("Invoice VOLT-2026-000001")
    names = [name for name, _, _ in message.attachments]
    assert names == ["VOLT-2026-000001.pdf", "VOLT-2026-000001-cdrs.csv"]


def test_the_pdf_and_the_e_invoice_state_the_settlement_figures(scenario):
    roam, _, cdrs = scenario
    invoice = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5).invoice
    text = pdf_text(invoicing.document_pdf_bytes(invoice))
    for expected in ("Invoice VOLT-2026-000001", "Roam eMSP B.V.", cdrs["a1"].cdr_id, cdrs["a3"].cdr_id,
                     "€17.80", "€3.46", "€21.26", "VAT 19 %", "VAT 20 %", "Wien Prater"):
        assert expected in text, expected
    assert "Receipt" not in text
    xml = cii_xml(invoice)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert b"<ram:GrandTotalAmount>21.26</ram:GrandTotalAmount>" in xml
    assert b"<ram:BasisAmount>10.03</ram:BasisAmount>" in xml and b"<ram:CalculatedAmount>1.91" in xml


def test_re_running_a_month_doubles_nothing(scenario):
    roam, _, _ = scenario
    first = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5)
    again = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5 + timedelta(days=1))
    assert again.invoice.pk == first.invoice.pk and again.credit_notes == []
    settlements_run(now=NOV_5 + timedelta(days=2))  # the beat's run: October for both, once
    assert Invoice.objects.filter(kind=Invoice.Kind.SETTLEMENT).count() == 2
    assert CreditNote.objects.count() == 1
    assert NumberSequence.objects.get(kind=NumberSequence.Kind.INVOICE).last_value == 2


def test_a_cdr_acknowledged_late_and_a_credit_for_a_settled_month_come_next_month(scenario):
    roam, _, cdrs = scenario
    october = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5).invoice
    CdrRecord.objects.filter(pk=cdrs["a4"].pk).update(state=CdrRecord.State.ACKNOWLEDGED)
    credit = make_cdr(roam, net={"20": "-7.77"}, at=datetime(2026, 11, 9, tzinfo=UTC), cancels=cdrs["a3"])
    result = partner_settle(partner_id=roam.pk, period=date(2026, 11, 1), now=datetime(2026, 12, 2, tzinfo=UTC))
    assert list(result.invoice.ocpi_cdrs.values_list("cdr_id", flat=True)) == [cdrs["a4"].cdr_id]
    assert result.invoice.total_incl_vat == D("3.57")  # 3.00 + 0.57
    [note] = result.credit_notes  # on October's invoice, never edited: 7.77 + 1.55, all of its 20 %
    assert (note.invoice_id, note.total_excl_vat, note.total_vat) == (october.pk, D("7.77"), D("1.55"))
    assert CdrRecord.objects.get(pk=credit.pk).credit_note == note
    october.refresh_from_db()
    assert october.total_incl_vat == D("21.26")


def test_an_open_month_or_a_partner_without_company_is_refused_and_nothing_written(scenario):
    roam, _, _ = scenario
    with pytest.raises(SettlementError, match="has not ended"):
        partner_settle(partner_id=roam.pk, period=date(2026, 11, 1), now=datetime(2026, 11, 30, 22, tzinfo=UTC))
    roam.company = None
    roam.save()
    with pytest.raises(SettlementError, match="no billing company"):
        partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5)
    assert not Invoice.objects.exists() and not CdrRecord.objects.filter(invoice__isnull=False).exists()


def test_another_operators_staff_cannot_settle_its_partners(scenario, other_operator):
    roam, _, _ = scenario
    with pytest.raises(SettlementError, match="No such OCPI partner"):
        partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5, operator=other_operator)
    assert not Invoice.objects.exists()


def test_the_command_settles_a_partner_and_answers_bad_input_with_a_message(scenario, capsys):
    roam, _, _ = scenario
    call_command("ocpi_settle", "--period", "2026-10", "--partner", roam.name)
    assert "VOLT-2026-000001" in capsys.readouterr().out
    for bad in (["--period", "October"], ["--partner", "Nobody"], ["--period", "2099-01"]):
        with pytest.raises(CommandError):
            call_command("ocpi_settle", *bad)
    assert Invoice.objects.count() == 1


RECONCILIATION = "/admin/ocpi_app/partner/reconciliation/"


def test_the_reconciliation_shows_each_partners_month_and_settles_it(client, scenario, operator):
    roam, _, cdrs = scenario
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    page = client.get(RECONCILIATION, {"month": "2026-10"})
    assert page.status_code == 200
    rows = {item["row"].partner.name: {c["bucket"].key: c["bucket"] for c in item["cells"]}
            for item in page.context["rows"]}
    assert set(rows) == {"Roam eMSP", "Second eMSP"}
    roam_row = rows["Roam eMSP"]
    assert (roam_row["sent"].count, roam_row["sent"].net) == (5, D("20.80"))
    assert (roam_row["acknowledged"].count, roam_row["failed"].count, roam_row["failed"].net) == (4, 1, D("3.00"))
    assert (roam_row["invoiced"].count, roam_row["credits"].count, roam_row["credits"].net) == (0, 1, D("-5.03"))
    response = client.post(RECONCILIATION, {"month": "2026-10", "settle": roam.pk})
    assert response.status_code == 302
    page = client.get(RECONCILIATION, {"month": "2026-10"})
    [roam_item] = [item for item in page.context["rows"] if item["row"].partner == roam]
    buckets = {c["bucket"].key: c["bucket"] for c in roam_item["cells"]}
    assert (buckets["invoiced"].count, buckets["invoiced"].net, buckets["not_invoiced"].count) == (4, D("17.80"), 1)
    assert buckets["credited"].count == 1 and roam_item["row"].invoice.number == "VOLT-2026-000001"
    assert b"VOLT-CN-2026-000001" in page.content
    failed_link = next(c["url"] for c in roam_item["cells"] if c["bucket"].key == "failed")
    listed = client.get(failed_link)
    assert listed.status_code == 200 and list(listed.context["cl"].queryset) == [cdrs["a4"]]


def test_the_reconciliation_counts_a_disputed_session(client, scenario, operator):
    from disputes_app.models import DisputeTicket

    roam, _, cdrs = scenario
    now = datetime(2026, 10, 20, tzinfo=UTC)
    DisputeTicket.objects.create(operator=operator, session=cdrs["a1"].session, source="support", reason="wrong_amount",
                                 subject="eMSP questions the energy", opened_at=now, first_response_due=now,
                                 resolution_due=now)
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    [row] = [item for item in client.get(RECONCILIATION, {"month": "2026-10"}).context["rows"]
             if item["row"].partner == roam]
    disputed = next(c for c in row["cells"] if c["bucket"].key == "disputed")
    assert (disputed["bucket"].count, disputed["bucket"].gross) == (1, D("2.98"))
    assert list(client.get(disputed["url"]).context["cl"].queryset) == [cdrs["a1"]]


def test_another_operators_staff_see_and_settle_nothing_of_ours(client, scenario, operator, other_operator):
    roam, _, _ = scenario
    invoice = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5).invoice
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert client.get(RECONCILIATION, {"month": "2026-10"}).context["rows"] == []
    client.post(RECONCILIATION, {"month": "2026-09", "settle": roam.pk})
    assert Invoice.objects.count() == 1
    for url in (f"/admin/billing_app/invoice/{invoice.pk}/change/", f"/admin/ocpi_app/partner/{roam.pk}/change/"):
        assert client.get(url).status_code in (302, 404)
    assert client.post("/admin/ocpi_app/partner/", {"action": "settle_previous_month",
                                                    "_selected_action": [roam.pk]}).status_code in (200, 302)
    assert Invoice.objects.count() == 1


def test_a_bad_month_is_a_form_error_and_support_may_only_look(client, scenario, operator):
    roam, _, _ = scenario
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    page = client.get(RECONCILIATION, {"month": "October"})
    assert page.status_code == 200 and page.context["form"].errors
    assert client.post(RECONCILIATION, {"month": "2026-13", "settle": roam.pk}).status_code == 302
    support = factories.SupportFactory()
    support.supported_operators.add(operator)
    client.force_login(support)
    assert client.get(RECONCILIATION, {"month": "2026-10"}).status_code == 200
    client.post(RECONCILIATION, {"month": "2026-10", "settle": roam.pk})
    assert not Invoice.objects.exists()


def test_the_partners_billing_company_is_one_of_its_operators(client, scenario, operator, other_operator):
    roam, _, _ = scenario
    foreign = factories.CompanyFactory(operator=other_operator)
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    response = client.post(f"/admin/ocpi_app/partner/{roam.pk}/change/", {"name": roam.name, "company": foreign.pk,
                                                                        **_inline_management()})
    assert response.status_code == 200 and "company" in response.context["adminform"].form.errors
    roam.refresh_from_db()
    assert roam.company.operator == operator


def _inline_management() -> dict:
    prefix = "tariff_links"
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000"}


def test_staff_download_the_cdr_list_of_their_settlement_only(client, scenario, operator, other_operator):
    roam, _, cdrs = scenario
    invoice = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5).invoice
    action = {"action": "download_attachment", "_selected_action": [invoice.pk]}
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    response = client.post("/admin/billing_app/invoice/", action)
    assert response["Content-Disposition"] == 'attachment; filename="VOLT-2026-000001-cdrs.csv"'
    assert cdrs["a1"].cdr_id in response.content.decode()
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    response = client.post("/admin/billing_app/invoice/", action)
    assert cdrs["a1"].cdr_id.encode() not in response.content


def test_a_reverse_charged_emsp_is_invoiced_the_net_without_vat(scenario):
    roam, _, _ = scenario
    roam.company.vat_id, roam.company.vat_treatment = "NL123456789B01", "reverse_charge"
    roam.company.save()
    result = partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5)
    invoice = result.invoice
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (D("17.80"), D(0), D("17.80"))
    [note] = result.credit_notes  # the credit CDR credits the net it was invoiced with, at 0 % too
    assert (note.total_excl_vat, note.total_vat, note.total_incl_vat) == (D("5.03"), D(0), D("5.03"))
    xml = cii_xml(invoice)
    assert b"<ram:CategoryCode>AE</ram:CategoryCode>" in xml
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")


# --- A roaming session end to end: priced, its CDR settled, a dispute's credit note sent to the eMSP as CDRs ---

from tests.ocpi_app.test_tokens_sessions_cdrs import roaming_session  # noqa: E402, F401 - the priced session


def test_a_dispute_credit_on_a_roaming_session_sends_a_credit_cdr_and_a_corrected_one(
        roaming_session, partner, operator, django_capture_on_commit_callbacks):  # noqa: F811
    from disputes_app import services as disputes

    roam = partner[0]
    roam.company = factories.CompanyFactory(operator=operator, legal_name="Roam eMSP B.V.")
    roam.save()
    CdrRecord.objects.update(state=CdrRecord.State.ACKNOWLEDGED)
    issued = CdrRecord.objects.get().last_updated  # CDRs are issued now (the session's own date does not matter)
    month_after = (issued.replace(day=1) + timedelta(days=32)).replace(day=2)
    invoice = partner_settle(partner_id=roam.pk, period=issued.date(), now=month_after).invoice
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (D("5.00"), D("0.95"), D("5.95"))
    agent = factories.SupportFactory()
    agent.supported_operators.add(operator)
    ticket = disputes.ticket_open(by=agent, session=roaming_session, reason="wrong_amount",
                                  description="The eMSP's driver says the charger stopped early")
    ticket = disputes.ticket_transition(ticket=ticket, by=agent, to_status="in_progress")
    with django_capture_on_commit_callbacks(execute=True):
        disputes.ticket_resolve(ticket=ticket, by=agent, kind="credit_note", amount=D("1.19"), explanation="Goodwill")
    note = CreditNote.objects.get()
    assert (note.invoice, note.total_excl_vat, note.total_vat) == (invoice, D("1.00"), D("0.19"))
    live, credit, corrected = CdrRecord.objects.order_by("pk")
    assert (credit.kind, credit.credit_reference, credit.total_excl_vat, credit.total_incl_vat) == (
        "credit", live, D("-5.00"), D("-5.95"))
    assert (corrected.kind, corrected.total_excl_vat, corrected.total_incl_vat) == ("cdr", D("4.00"), D("4.76"))
    assert corrected.net_by_rate == {"19": "4.00"}
    assert ocpi.loads(corrected.body)["remark"].startswith(f"Corrected by credit note {note.number}")
    assert credit.credit_note == note and corrected.credit_note == note  # settled by the dispute's credit note
    assert {p.object_id for p in credit.partner.pushes.filter(module="cdrs")} >= {credit.cdr_id, corrected.cdr_id}
    result = partner_settle(partner_id=roam.pk, period=month_after.date(), now=month_after + timedelta(days=40))
    assert result.invoice is None and result.credit_notes == []  # nothing invoiced or credited twice


def test_roaming_sessions_show_in_analytics_exports_and_the_session_admin(client, roaming_session, operator,  # noqa: F811
                                                                          other_operator):
    from billing_app.reporting import analytics, exports

    staff = factories.OperatorStaffFactory(operator=operator)
    march = analytics.Filters(start=date(2026, 3, 1), end=date(2026, 3, 31))
    [row] = analytics.roaming_revenue(staff, march)
    assert (row["partner"], row["sessions"], row["energy_kwh"], row["excl"], row["incl"]) == (
        "Roam eMSP", 1, D(10), D("5.00"), D("5.95"))
    assert analytics.roaming_revenue(factories.OperatorStaffFactory(operator=other_operator), march) == []
    header, line = list(exports.sessions_rows(staff, march))
    assert (line[header.index("payer")], line[header.index("partner")]) == ("roaming", "Roam eMSP")
    client.force_login(staff)
    cdr = CdrRecord.objects.get()
    page = client.get(f"/admin/sessions_app/chargingsession/{roaming_session.pk}/change/")
    assert page.status_code == 200 and cdr.cdr_id.encode() in page.content
    listed = client.get("/admin/sessions_app/chargingsession/", {"roaming_cdr": cdr.state})
    assert list(listed.context["cl"].queryset) == [roaming_session]
    assert list(client.get("/admin/sessions_app/chargingsession/",
                           {"roaming_cdr": "acknowledged"}).context["cl"].queryset) == []
    dashboard = client.get("/admin/analytics/", {"start": "2026-03-01", "end": "2026-03-31"})
    assert dashboard.status_code == 200 and b"Roaming revenue per partner" in dashboard.content


def test_a_cdr_whose_vat_split_is_unknown_waits_and_the_others_are_invoiced(scenario, operator, other_operator):
    roam, second, cdrs = scenario
    CdrRecord.objects.filter(pk=cdrs["b1"].pk).update(net_by_rate={})  # issued before the split was kept, no charge
    result = partner_settle(partner_id=second.pk, period=OCT, now=NOV_5)
    # what is left is the 0.00 CDR: nothing to bill, no 0.00 invoice
    assert (result.invoice, result.nothing_to_bill, result.waiting) == (None, 1, 1)
    assert CdrRecord.objects.get(pk=cdrs["late"].pk).nothing_to_bill_period == OCT
    roam.company = factories.CompanyFactory(operator=other_operator)  # a superuser's slip
    roam.save()
    with pytest.raises(SettlementError, match="another operator"):
        partner_settle(partner_id=roam.pk, period=OCT, now=NOV_5)


def test_the_demo_emsp_has_a_billing_company(operator, capsys):
    call_command("ocpi_demo")
    call_command("ocpi_demo")
    partner = Partner.objects.get(name="Demo eMSP")
    assert partner.company.legal_name == "Demo eMSP B.V." and partner.company.billing_account.payment_mode == "postpaid"
    assert "ocpi_settle" in capsys.readouterr().out


def test_the_reconciliation_opens_on_the_previous_month_for_a_superuser(client, scenario):
    client.force_login(factories.UserFactory(is_superuser=True, is_staff=True))
    page = client.get(RECONCILIATION)
    assert page.status_code == 200 and page.context["period"].day == 1
    assert page.context["period"] < datetime.now(UTC).date().replace(day=1)


# --- Every credit note on a settlement invoice that reduces a CDR's line reaches the eMSP as CDRs ---

def _second_roaming_session(connector, capture):
    """Another session of the same roaming driver (5.00 + 0.95, like the first)."""
    from sessions_app.models import IdToken
    from sessions_app.services import session_start, session_stop
    from tests.ocpi_app.test_tokens_sessions_cdrs import T0

    start = T0 + timedelta(days=1)
    with capture(execute=True):
        session = session_start(connector=connector, started_at=start, meter_start_wh=D(20000), transaction_ref="r2",
                                id_token=IdToken.objects.get(uid="04ABCDEF"))
    with capture(execute=True):
        return session_stop(session=session, stopped_at=start + timedelta(hours=1), meter_stop_wh=D(30000))


def _settled(partner, operator, capture, *, connector=None):
    """The partner's month settled: one invoice holding the CDR(s) of its session(s)."""
    roam = partner[0]
    roam.company = factories.CompanyFactory(operator=operator, legal_name="Roam eMSP B.V.")
    roam.save()
    if connector is not None:
        _second_roaming_session(connector, capture)
    CdrRecord.objects.update(state=CdrRecord.State.ACKNOWLEDGED)
    issued = CdrRecord.objects.latest("last_updated").last_updated
    month_after = (issued.replace(day=1) + timedelta(days=32)).replace(day=2)
    invoice = partner_settle(partner_id=roam.pk, period=issued.date(), now=month_after).invoice
    return roam, invoice, month_after


CDR_ADMIN = "/admin/ocpi_app/cdrrecord/"


def test_staff_crediting_a_cdr_by_hand_sends_the_partner_a_credit_cdr_once(
        client, roaming_session, partner, operator, other_operator, django_capture_on_commit_callbacks):  # noqa: F811
    from ocpi_app.cdrs import cdr_correct_for_credit_note, cdr_corrections_sweep

    roam, invoice, month_after = _settled(partner, operator, django_capture_on_commit_callbacks)
    live = CdrRecord.objects.get()
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    action = {"action": "credit_in_full", "_selected_action": [live.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CDR_ADMIN, action, follow=True)
    note = CreditNote.objects.get()
    assert (note.invoice, note.session, note.total_excl_vat, note.total_vat, note.total_incl_vat) == (
        invoice, roaming_session, D("5.00"), D("0.95"), D("5.95"))
    assert f"{note.number} credits CDR {live.cdr_id} on {invoice.number}" in response.content.decode()
    _, credit = CdrRecord.objects.order_by("pk")
    assert (credit.kind, credit.credit_reference, credit.total_excl_vat, credit.total_incl_vat, credit.credit_note) == (
        "credit", live, D("-5.00"), D("-5.95"), note)  # all of it credited: no corrected CDR
    assert roam.pushes.filter(module="cdrs", object_id=credit.cdr_id).count() == 1
    # issued once: the action again is refused, the correction, the sweep and a re-save send nothing more
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(CDR_ADMIN, action, follow=True)
        note.save()
    assert "cancelled by a credit CDR already" in again.content.decode()
    assert cdr_correct_for_credit_note(credit_note_id=note.pk) == [] and cdr_corrections_sweep() == 0
    assert (CreditNote.objects.count(), CdrRecord.objects.count(), roam.pushes.filter(module="cdrs").count()) == (
        1, 2, 2)
    result = partner_settle(partner_id=roam.pk, period=month_after.date(), now=month_after + timedelta(days=40))
    assert result.invoice is None and result.credit_notes == []  # nothing invoiced or credited twice
    page = client.get(f"/admin/billing_app/creditnote/{note.pk}/change/")  # the note names the session it reduces
    assert page.status_code == 200 and str(roaming_session) in page.content.decode()
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert client.get(f"/admin/billing_app/creditnote/{note.pk}/change/").status_code in (302, 404)


def test_another_operators_staff_and_support_cannot_credit_our_cdrs(
        client, roaming_session, partner, operator, other_operator, django_capture_on_commit_callbacks):  # noqa: F811
    _settled(partner, operator, django_capture_on_commit_callbacks)
    live = CdrRecord.objects.get()
    action = {"action": "credit_in_full", "_selected_action": [live.pk]}
    support = factories.SupportFactory()
    support.supported_operators.add(operator)
    for user in (factories.OperatorStaffFactory(operator=other_operator), support):
        client.force_login(user)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(CDR_ADMIN, action)
    assert client.get(CDR_ADMIN).status_code == 200  # support looks
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert client.get(f"{CDR_ADMIN}{live.pk}/change/").status_code in (302, 404)
    with pytest.raises(SettlementError, match="No such CDR"):
        settlement_credit(cdr_pk=live.pk, reason="x", operator=other_operator)
    assert not CreditNote.objects.exists() and CdrRecord.objects.count() == 1


def test_crediting_what_remains_by_hand_cancels_every_cdr_the_settlement_invoice_holds(
        client, roaming_session, partner, operator, connector, django_capture_on_commit_callbacks):  # noqa: F811
    from disputes_app import services as disputes

    roam, invoice, _ = _settled(partner, operator, django_capture_on_commit_callbacks, connector=connector)
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (D("10.00"), D("1.90"), D("11.90"))
    _, second = CdrRecord.objects.order_by("pk")
    agent = factories.SupportFactory()
    agent.supported_operators.add(operator)
    ticket = disputes.ticket_open(by=agent, session=roaming_session, reason="wrong_amount", description="Stopped early")
    ticket = disputes.ticket_transition(ticket=ticket, by=agent, to_status="in_progress")
    with django_capture_on_commit_callbacks(execute=True):  # 1.19 off the first: it becomes a corrected 4.00 CDR
        disputes.ticket_resolve(ticket=ticket, by=agent, kind="credit_note", amount=D("1.19"), explanation="Goodwill")
    corrected = CdrRecord.objects.get(kind="cdr", credit_note__isnull=False)
    assert corrected.total_excl_vat == D("4.00")
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/billing_app/invoice/", {"action": "credit_remaining", "_selected_action": [invoice.pk]})
    full = CreditNote.objects.latest("pk")
    assert (full.session, full.total_excl_vat, full.total_vat, full.total_incl_vat) == (
        None, D("9.00"), D("1.71"), D("10.71"))
    credits = list(CdrRecord.objects.filter(credit_note=full).order_by("pk"))
    assert [(c.kind, c.credit_reference, c.total_excl_vat, c.total_incl_vat) for c in credits] == [
        ("credit", second, D("-5.00"), D("-5.95")), ("credit", corrected, D("-4.00"), D("-4.76"))]
    assert not CdrRecord.objects.filter(kind="cdr", credited_by__isnull=True).exists()  # the eMSP owes nothing
    assert set(roam.pushes.filter(module="cdrs").values_list("object_id", flat=True)) >= {c.cdr_id for c in credits}


def test_a_partial_credit_on_the_whole_settlement_invoice_sends_no_cdr(
        roaming_session, partner, operator, django_capture_on_commit_callbacks, caplog):  # noqa: F811
    from ocpi_app.cdrs import cdr_corrections_sweep

    _, invoice, _ = _settled(partner, operator, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        note = invoicing.credit_note_issue(invoice_id=invoice.pk, amount_incl_vat=D("1.19"), reason="Goodwill")
    assert (note.session, note.total_excl_vat) == (None, D("1.00"))
    assert CdrRecord.objects.count() == 1 and cdr_corrections_sweep() == 0
    assert f"credit note {note} on {invoice} is tied to no CDR" in caplog.text


def test_a_lost_hook_is_caught_by_the_beats_sweep(roaming_session, partner, operator,  # noqa: F811
                                                  django_capture_on_commit_callbacks):
    from ocpi_app.cdrs import cdr_corrections_sweep

    _, invoice, _ = _settled(partner, operator, django_capture_on_commit_callbacks)
    live = CdrRecord.objects.get()
    with django_capture_on_commit_callbacks(execute=False):  # the process died after the commit
        note = settlement_credit(cdr_pk=live.pk, reason="Wrong tariff", operator=operator)
    assert CdrRecord.objects.count() == 1
    assert cdr_corrections_sweep() == 1 and cdr_corrections_sweep() == 0
    assert CdrRecord.objects.get(kind="credit").credit_note == note
    with pytest.raises(invoicing.CreditNoteError, match="no line of that session"):
        invoicing.credit_note_issue(invoice_id=invoice.pk, amount_incl_vat=D("1.19"), reason="x",
                                    session_id=factories.ChargingSessionFactory().pk)


# --- A month with nothing to bill issues no invoice, and never bills those CDRs later ---

NOV, DEC_2 = date(2026, 11, 1), datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def cancelled_month(operator, cpo_party):
    """Quiet eMSP: in October one CDR of 4.20 (19 %), cancelled by a credit CDR within the month and replaced by a
    0.00 CDR (re-priced to nothing): the month nets to nothing."""
    quiet, _ = registered_partner(operator, name="Quiet eMSP", party_id="QUI")
    quiet.company = factories.CompanyFactory(operator=operator, legal_name="Quiet eMSP B.V.")
    quiet.save()
    day = datetime(2026, 10, 6, 10, 0, tzinfo=UTC)
    first = make_cdr(quiet, net={"19": "4.20"}, at=day)
    credit = make_cdr(quiet, net={"19": "-4.20"}, at=day + timedelta(days=3), cancels=first)
    zero = make_cdr(quiet, net={"19": "0.00"}, at=day + timedelta(days=3), cdr_id=f"{first.cdr_id}-R2")
    return quiet, first, credit, zero


def test_a_month_whose_cdrs_cancel_out_issues_no_invoice_and_never_bills_them(cancelled_month):
    quiet, first, credit, zero = cancelled_month
    result = partner_settle(partner_id=quiet.pk, period=OCT, now=NOV_5)
    assert (result.invoice, result.credit_notes, result.nothing_to_bill, result.waiting) == (None, [], 2, 0)
    assert str(result) == ("Quiet eMSP 2026-10: no invoice: nothing to bill (2 CDRs cancel out), 0 credit note(s), "
                           "0 CDR(s) waiting")
    assert set(CdrRecord.objects.filter(nothing_to_bill_period=OCT).values_list("pk", flat=True)) == {
        first.pk, credit.pk, zero.pk}
    assert not Invoice.objects.exists() and not NumberSequence.objects.exists()  # no number spent on it
    with pytest.raises(SettlementError, match="settled with nothing to bill \\(2026-10\\): nothing to credit"):
        settlement_credit(cdr_pk=zero.pk, reason="by hand")
    again = partner_settle(partner_id=quiet.pk, period=OCT, now=NOV_5 + timedelta(days=1))
    assert (again.invoice, again.nothing_to_bill, again.waiting) == (None, 0, 0)
    # November: a new CDR, and the 0.00 one re-priced (a credit of 0.00 and a CDR of 3.00): only November's
    # CDRs are invoiced; October's stay settled with nothing to bill, never on an invoice or a credit note
    later = make_cdr(quiet, net={"19": "1.50"}, at=datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    zero_credit = make_cdr(quiet, net={"19": "0.00"}, at=datetime(2026, 11, 4, tzinfo=UTC), cancels=zero)
    repriced = make_cdr(quiet, net={"19": "3.00"}, at=datetime(2026, 11, 4, tzinfo=UTC), cdr_id=f"{first.cdr_id}-R4")
    november = partner_settle(partner_id=quiet.pk, period=NOV, now=DEC_2)
    assert set(november.invoice.ocpi_cdrs.values_list("pk", flat=True)) == {later.pk, repriced.pk}
    assert (november.invoice.total_excl_vat, november.invoice.total_vat, november.invoice.total_incl_vat) == (
        D("4.50"), D("0.86"), D("5.36"))
    assert (november.credit_notes, november.waiting, november.nothing_to_bill) == ([], 0, 0)
    assert CdrRecord.objects.get(pk=zero_credit.pk).nothing_to_bill_period == NOV
    assert not CdrRecord.objects.filter(nothing_to_bill_period__isnull=False, invoice__isnull=False).exists()
    assert not CreditNote.objects.exists()


def test_the_command_and_the_admin_say_there_is_nothing_to_bill(cancelled_month, client, operator, capsys):
    quiet, *_ = cancelled_month
    call_command("ocpi_settle", "--period", "2026-10", "--partner", quiet.name)
    assert "Quiet eMSP 2026-10: no invoice: nothing to bill (2 CDRs cancel out)" in capsys.readouterr().out
    zeros, _ = registered_partner(operator, name="Zero eMSP", party_id="ZER")
    zeros.company = factories.CompanyFactory(operator=operator, legal_name="Zero eMSP GmbH")
    zeros.save()
    make_cdr(zeros, net={"19": "0.00"}, at=datetime(2026, 10, 8, tzinfo=UTC))  # a free session
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    response = client.post(RECONCILIATION, {"month": "2026-10", "settle": zeros.pk}, follow=True,
                           HTTP_ACCEPT_LANGUAGE="de")
    assert "Zero eMSP 2026-10: keine Rechnung: nichts abzurechnen (1 CDR hebt sich auf)" in response.content.decode()
    assert not Invoice.objects.exists()


def test_the_reconciliation_of_a_month_with_nothing_to_bill_adds_up(cancelled_month, scenario, client, operator):
    quiet, first, _, _ = cancelled_month
    roam, _, _ = scenario
    for partner in (quiet, roam):
        partner_settle(partner_id=partner.pk, period=OCT, now=NOV_5)
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    page = client.get(RECONCILIATION, {"month": "2026-10"})
    rows = {item["row"].partner.name: item for item in page.context["rows"]}
    buckets = {c["bucket"].key: c["bucket"] for c in rows["Quiet eMSP"]["cells"]}
    assert (buckets["sent"].count, buckets["sent"].net) == (2, D("4.20"))
    assert (buckets["nothing_to_bill"].count, buckets["nothing_to_bill"].net) == (2, D("4.20"))
    assert (buckets["credits"].count, buckets["credits"].net) == (1, D("-4.20"))
    assert (buckets["invoiced"].count, buckets["not_invoiced"].count, buckets["credited"].count) == (0, 0, 0)
    assert rows["Quiet eMSP"]["row"].invoice is None and rows["Quiet eMSP"]["row"].nothing_to_bill
    assert b"none: nothing to bill" in page.content
    for item in rows.values():  # every CDR sent is invoiced, waiting, or settled with nothing to bill
        b = {c["bucket"].key: c["bucket"] for c in item["cells"]}
        assert b["sent"].count == b["invoiced"].count + b["not_invoiced"].count + b["nothing_to_bill"].count
        assert b["sent"].net == b["invoiced"].net + b["not_invoiced"].net + b["nothing_to_bill"].net
    link = next(c["url"] for c in rows["Quiet eMSP"]["cells"] if c["bucket"].key == "nothing_to_bill")
    assert {cdr.kind for cdr in client.get(link).context["cl"].queryset} == {"cdr"}
    assert first in client.get(link).context["cl"].queryset
