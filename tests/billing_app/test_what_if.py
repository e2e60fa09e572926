"""Tariff what-if (billing_app.tariffs.what_if and its admin): sessions of a range priced again with a draft and
compared with their charges, to the cent; stored charges never change; bad input is a form error; scoped to the
operator; the computation runs on a real Celery worker through Redis."""
import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from billing_app.admin.what_if import WhatIfForm
from billing_app.date_range import DateRangeForm
from billing_app.models import Invoice, SessionCharge, Tariff, TariffAssignment, WhatIfRun, WhatIfSession
from billing_app.pricing import ocpi
from billing_app.settlement import services as settlement
from billing_app.tariffs import what_if
from billing_app.tariffs.checks import tariff_checks
from billing_app.tariffs.services import snapshot, tariff_for_session
from sessions_app import services as session_services
from sessions_app.models import ChargingSession, User
from sessions_app.services import SampleIn
from tests import factories

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin


@pytest.fixture(autouse=True)
def _no_receipts(settings):
    settings.INVOICE_RECEIPTS_ON_SETTLE = False


def _priced(connector, token, *, start: datetime, idle_quarters: int = 0) -> ChargingSession:
    """11 kWh at 11 kW over an hour, then `idle_quarters` idle quarter hours, completed and settled."""
    session = factories.ChargingSessionFactory(connector=connector, id_token=token, started_at=start,
                                               meter_start_wh=Decimal(1000))
    samples, energy = [], Decimal(1000)
    for q in range(1, 5):
        energy += 2750
        samples.append(SampleIn(start + timedelta(minutes=15 * q), energy, Decimal(11000), Decimal(16)))
    for q in range(5, 5 + idle_quarters):
        samples.append(SampleIn(start + timedelta(minutes=15 * q), energy, Decimal(0), Decimal(0)))
    session_services.session_record_samples(session=session, samples=samples)
    ChargingSession.objects.filter(pk=session.pk).update(
        state=ChargingSession.State.COMPLETED, stopped_at=start + timedelta(minutes=15 * (4 + idle_quarters)),
        meter_stop_wh=energy)
    settlement.session_settle(session_id=session.pk)
    return session


def _tariff(operator, *, energy="0.39", ocpi_id="STD", assign=True) -> Tariff:
    tariff = factories.TariffFactory(operator=operator, ocpi_id=ocpi_id, name=ocpi_id)
    factories.PriceComponentFactory(element__tariff=tariff, price=Decimal(energy), vat=Decimal(19))
    parking = factories.TariffElementFactory(tariff=tariff, position=1)
    factories.PriceComponentFactory(element=parking, type="PARKING_TIME", price=Decimal("6.00"), vat=Decimal(19),
                                    step_size=60)
    if assign:
        TariffAssignment.objects.create(tariff=tariff)
    return tariff


@pytest.fixture
def site(operator, id_token):
    """Two stations at one location and one at another, a standard tariff, and sessions priced with it:
    at station A 11 kWh (4.29 + VAT 0.82 = 5.11) and 11 kWh with 30 min idle (7.29 + 1.39 = 8.68), at station B
    11 kWh (5.11); one at the other location (5.11); one the day after the range."""
    tariff = _tariff(operator)
    a = factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="VOL-A")
    b = factories.ConnectorFactory(station__location=a.station.location, station__ocpp_identity="VOL-B")
    elsewhere = factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="VOL-X")
    sessions = {
        "a1": _priced(a, id_token, start=DAY),
        "a2": _priced(a, id_token, start=DAY + timedelta(hours=3), idle_quarters=2),
        "b1": _priced(b, id_token, start=DAY + timedelta(hours=5)),
        "x1": _priced(elsewhere, id_token, start=DAY),
        "later": _priced(a, id_token, start=DAY + timedelta(days=1)),
    }
    draft = _tariff(operator, energy="0.49", ocpi_id="STD-D1", assign=False)
    return {"tariff": tariff, "draft": draft, "location": a.station.location, "other": elsewhere.station.location,
            "sessions": sessions}


def _run(site, operator, **kwargs) -> WhatIfRun:
    params = {"operator": operator, "created_by": None, "draft": ocpi.loads(snapshot(site["draft"])),
              "draft_name": "draft", "draft_tariff": site["draft"], "start_date": date(2026, 3, 2),
              "end_date": date(2026, 3, 2), "locations": [site["location"]]} | kwargs
    run = what_if.what_if_create(**params)
    return what_if.what_if_compute(run_id=run.pk)


def test_sessions_of_the_range_and_locations_are_compared_to_the_cent(site, operator):
    run = _run(site, operator)
    assert run.state == WhatIfRun.State.DONE
    s = run.summary
    # draft: 11 kWh x 0.49 = 5.39 + VAT 1.02 = 6.41 (was 5.11); with 0.5 h idle 8.39 + 1.59 = 9.98 (was 8.68)
    assert (s["sessions"], s["currency"]) == (3, "EUR")
    assert s["charged"] == {"excl_vat": "15.87", "incl_vat": "18.90"}
    assert s["draft"] == {"excl_vat": "19.17", "incl_vat": "22.80"}
    assert s["difference"] == {"excl_vat": "3.30", "incl_vat": "3.90"}
    assert s["difference_percent"] == "20.8"
    assert s["more"] == {"count": 3, "amount": "3.90"} and s["less"]["count"] == 0 and s["same"]["count"] == 0
    buckets = {b["label"]: b["count"] for b in s["buckets"]}
    assert buckets["more by 1.00 to 1.99"] == 3 and sum(buckets.values()) == 3
    stations = {row["station"]: row for row in s["stations"]}
    assert stations["VOL-A"]["sessions"] == 2 and stations["VOL-A"]["difference"]["incl_vat"] == "2.60"
    assert stations["VOL-B"]["difference"] == {"excl_vat": "1.10", "incl_vat": "1.30"}
    # every session changes by 1.30: the tie goes to the older session
    assert [t["session_id"] for t in s["top"]] == [site["sessions"][k].pk for k in ("a1", "a2", "b1")]
    top = s["top"][1]
    assert top["charged"]["total_cost"]["incl_vat"] == "8.68" and top["draft"]["total_cost"]["incl_vat"] == "9.98"
    assert {line["dimension"] for line in top["draft"]["lines"]} == {"ENERGY", "PARKING_TIME"}
    assert WhatIfSession.objects.filter(run=run).count() == 3
    assert (run.sessions_done, run.sessions_total) == (3, 3)


def test_every_location_and_only_sessions_charged_with_a_tariff(site, operator):
    assert _run(site, operator, locations=[]).summary["sessions"] == 4
    assert _run(site, operator, locations=[], compared_tariff=site["draft"]).summary["sessions"] == 0


def test_plan_and_other_currency_sessions_are_counted_not_compared(site, operator):
    charge = site["sessions"]["a1"].charge
    SessionCharge.objects.filter(pk=charge.pk).update(breakdown={**charge.breakdown, "plan": {"period_id": 1}})
    run = _run(site, operator)
    assert run.summary["sessions"] == 2 and run.summary["skipped"]["plan"] == 1
    pounds = ocpi.loads(snapshot(site["draft"])) | {"currency": "GBP"}
    run = _run(site, operator, draft=pounds, draft_tariff=None)
    assert run.summary["sessions"] == 0
    assert run.summary["skipped"] == {"plan": 1, "currency": 2, "unpriceable": 0}


def test_a_run_never_changes_a_stored_charge(site, operator):
    before = list(SessionCharge.objects.order_by("pk").values())
    invoices = Invoice.objects.count()
    _run(site, operator, locations=[])
    assert list(SessionCharge.objects.order_by("pk").values()) == before
    assert Invoice.objects.count() == invoices
    # and the draft, unassigned, prices no real session
    assert tariff_for_session(site["sessions"]["a1"]) == site["tariff"]


def test_a_repeated_task_computes_once(site, operator):
    run = _run(site, operator)
    again = what_if.what_if_compute(run_id=run.pk)
    assert again.finished_at == run.finished_at
    assert WhatIfSession.objects.filter(run=run).count() == 3


def test_distribution_buckets():
    labels = what_if.bucket_labels()
    assert labels[0] == "less by 5.00 or more" and labels[5] == "the same" and labels[-1] == "more by 5.00 or more"
    for amount, label in [("-7", "less by 5.00 or more"), ("-0.01", "less by 0.01 to 0.49"), ("0", "the same"),
                          ("0.49", "more by 0.01 to 0.49"), ("0.50", "more by 0.50 to 0.99"),
                          ("4.99", "more by 2.00 to 4.99"), ("5", "more by 5.00 or more")]:
        assert labels[what_if.bucket_of(Decimal(amount))] == label


# The admin: form, result page, CSV, scoping.

@pytest.fixture
def staff_client(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    return client


def _form(site, **overrides):
    return {"draft_tariff": site["draft"].pk, "compared_tariff": "", "start_date": "2026-03-02",
            "end_date": "2026-03-02", "locations": [site["location"].pk]} | overrides


def test_admin_runs_a_what_if_and_shows_the_result(staff_client, site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:billing_app_whatifrun_add"), _form(site))
    run = WhatIfRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:billing_app_whatifrun_change",
                                                                    args=[run.pk])
    page = staff_client.get(response.url)  # eager Celery: computed when the run committed
    content = page.content.decode()
    assert page.status_code == 200 and "3 sessions compared" in content and "20.8 %" in content
    assert "VOL-B" in content and "<h4>With the draft</h4>" in content
    csv = b"".join(staff_client.get(reverse("admin:billing_app_whatifrun_csv", args=[run.pk])).streaming_content)
    lines = csv.decode().splitlines()
    assert lines[0].startswith("session_id,started_at,location,station")
    assert len(lines) == 4 and lines[1].endswith(",EUR,11.000,4.29,5.11,5.39,6.41,1.10,1.30")


def test_admin_uploaded_draft(staff_client, site, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("draft.json", snapshot(site["draft"]).encode())
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:billing_app_whatifrun_add"),
                                     _form(site, draft_tariff="", draft_file=upload))
    assert response.status_code == 302
    run = WhatIfRun.objects.get()
    assert run.draft_name == "STD-D1 (uploaded file)" and run.draft_tariff is None
    assert run.summary["difference"]["incl_vat"] == "3.90"


def test_csv_cells_are_spreadsheet_safe(staff_client, site, django_capture_on_commit_callbacks):
    site["location"].name = "=HYPERLINK(1)"
    site["location"].save()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("admin:billing_app_whatifrun_add"), _form(site))
    run = WhatIfRun.objects.get()
    csv = b"".join(staff_client.get(reverse("admin:billing_app_whatifrun_csv", args=[run.pk])).streaming_content)
    assert ",'=HYPERLINK(1),VOL-A," in csv.decode()


def test_progress_is_shown_while_running(staff_client, operator, site):
    run = what_if.what_if_create(operator=operator, created_by=None, draft=ocpi.loads(snapshot(site["draft"])),
                                 draft_name="big", start_date=date(2026, 1, 1), end_date=date(2026, 3, 31))
    WhatIfRun.objects.filter(pk=run.pk).update(state=WhatIfRun.State.RUNNING, sessions_total=4000,
                                               sessions_done=1000)
    content = staff_client.get(reverse("admin:billing_app_whatifrun_change", args=[run.pk])).content.decode()
    assert "1000 of 4000 sessions" in content and 'http-equiv="refresh"' in content and 'value="25"' in content


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"start_date": "2026-03-05", "end_date": "2026-03-02"}, "end_date", "before the start date"),
    ({"end_date": "2027-06-01"}, "end_date", "at most 366 days"),
    ({"draft_tariff": ""}, "draft_tariff", "one of the two"),
    ({"draft_file": b"{\"id\": 1,"}, "draft_file", "Not JSON: Expecting property name enclosed in double quotes: "
                                                    "line 1 column 10"),
    ({"draft_file": json.dumps({"country_code": "DE", "party_id": "VOL", "id": "X", "currency": "EUR",
                                "last_updated": "2026-01-01T00:00:00Z", "elements": [{"price_components": [
                                    {"type": "ENERGY", "price": "cheap", "step_size": 1}]}]}).encode()},
     "draft_file", "elements[0].price_components[0].price: must be a number"),
])
def test_bad_input_is_a_form_error_and_starts_nothing(staff_client, site, overrides, field, message):
    if "draft_file" in overrides:
        overrides = {**overrides, "draft_tariff": "", "draft_file": SimpleUploadedFile("d.json",
                                                                                       overrides["draft_file"])}
    response = staff_client.post(reverse("admin:billing_app_whatifrun_add"), _form(site, **overrides))
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert not WhatIfRun.objects.exists()


def test_the_dates_are_checked_by_the_one_date_range_form_in_german_too(staff_client, site):
    assert issubclass(WhatIfForm, DateRangeForm)
    response = staff_client.post(reverse("admin:billing_app_whatifrun_add"),
                                 _form(site, start_date="2026-03-05", end_date="2026-03-02"),
                                 headers={"accept-language": "de"})
    assert response.context["form"].errors["end_date"] == ["Das Enddatum liegt vor dem Anfangsdatum."]
    response = staff_client.post(reverse("admin:billing_app_whatifrun_add"), _form(site, start_date="", end_date=""))
    assert set(response.context["form"].errors) == {"start_date", "end_date"}
    # 366 days with both ends included is the most
    assert staff_client.post(reverse("admin:billing_app_whatifrun_add"),
                             _form(site, start_date="2025-03-01", end_date="2026-03-02")).status_code == 200
    assert not WhatIfRun.objects.exists()
    assert staff_client.post(reverse("admin:billing_app_whatifrun_add"),
                             _form(site, start_date="2025-03-02", end_date="2026-03-02")).status_code == 302


def test_another_operators_location_or_tariff_is_a_form_error(staff_client, site, other_operator):
    foreign_location = factories.LocationFactory(operator=other_operator)
    foreign_tariff = _tariff(other_operator, ocpi_id="THEIRS")
    for overrides, field in [({"locations": [foreign_location.pk]}, "locations"),
                             ({"draft_tariff": foreign_tariff.pk}, "draft_tariff"),
                             ({"compared_tariff": foreign_tariff.pk}, "compared_tariff")]:
        response = staff_client.post(reverse("admin:billing_app_whatifrun_add"), _form(site, **overrides))
        assert response.status_code == 200 and field in response.context["form"].errors
    assert not WhatIfRun.objects.exists()


def test_another_operators_runs_are_invisible(staff_client, site, other_operator):
    theirs = what_if.what_if_create(
        operator=other_operator, created_by=None, draft=ocpi.loads(snapshot(_tariff(other_operator, ocpi_id="T"))),
        draft_name="their secret draft", start_date=date(2026, 3, 1), end_date=date(2026, 3, 2))
    assert staff_client.get(reverse("admin:billing_app_whatifrun_change", args=[theirs.pk])).status_code == 404
    assert staff_client.get(reverse("admin:billing_app_whatifrun_csv", args=[theirs.pk])).status_code == 404
    listing = staff_client.get(reverse("admin:billing_app_whatifrun_changelist"))
    assert listing.status_code == 200 and b"their secret draft" not in listing.content


def test_support_staff_look_but_do_not_start(client, site, operator):
    support = factories.SupportFactory()
    support.supported_operators.add(operator)
    client.force_login(support)
    assert client.get(reverse("admin:billing_app_whatifrun_add")).status_code == 403
    assert client.get(reverse("admin:billing_app_whatifrun_changelist")).status_code == 200


def test_copy_as_draft_makes_an_unassigned_copy_to_try(staff_client, site):
    response = staff_client.post(reverse("admin:billing_app_tariff_changelist"),
                                 {"action": "copy_as_draft", "_selected_action": [site["tariff"].pk]}, follow=True)
    copy = Tariff.objects.get(ocpi_id="STD-D2")  # STD-D1 is the fixture's draft
    assert copy.name == "Draft: STD" and not copy.assignments.exists()
    assert ocpi.loads(snapshot(copy))["elements"] == ocpi.loads(snapshot(site["tariff"]))["elements"]
    assert f"draft_tariff={copy.pk}&amp;compared_tariff={site['tariff'].pk}" in response.content.decode()


# A real worker: the admin queues the run, a Celery worker consuming Redis computes it.

@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL), as in CI")
@pytest.mark.django_db(transaction=True)
def test_the_run_is_computed_by_a_real_worker(celery_worker_redis, client, operator, id_token):
    tariff = _tariff(operator)
    connector = factories.ConnectorFactory(station__location__operator=operator)
    sessions = [_priced(connector, id_token, start=DAY + timedelta(hours=h)) for h in range(5)]
    draft = _tariff(operator, energy="0.29", ocpi_id="CHEAPER", assign=False)
    before = list(SessionCharge.objects.order_by("pk").values())
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    response = client.post(reverse("admin:billing_app_whatifrun_add"),
                           {"draft_tariff": draft.pk, "compared_tariff": tariff.pk, "start_date": "2026-03-02",
                            "end_date": "2026-03-02"})
    assert response.status_code == 302
    run = WhatIfRun.objects.get()
    deadline = time.monotonic() + 30
    while run.state in (WhatIfRun.State.QUEUED, WhatIfRun.State.RUNNING) and time.monotonic() < deadline:
        time.sleep(0.2)
        run.refresh_from_db()
    assert run.state == WhatIfRun.State.DONE, run.error
    # 11 kWh x 0.29 = 3.19 + VAT 0.61 = 3.80 instead of 5.11: 1.31 less each
    assert run.summary["less"] == {"count": 5, "amount": "-6.55"}
    assert (run.sessions_done, run.sessions_total) == (5, 5)
    assert list(SessionCharge.objects.order_by("pk").values()) == before
    assert len(sessions) == WhatIfSession.objects.filter(run=run).count()


def test_the_demo_operator_can_try_the_demo_draft(db, client, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    call_command("load_demo", days=3, no_progress=True)
    call_command("load_demo", days=3, no_progress=True)  # idempotent: one draft
    draft = Tariff.objects.get(ocpi_id="VOLTARA-STANDARD-D1")
    assert not draft.assignments.exists() and draft.operator.name == "Voltara Charging"
    assert tariff_checks(ocpi.tariff_from_ocpi(ocpi.loads(snapshot(draft)))) == []
    operator_staff = User.objects.get(username="operator")
    assert operator_staff.check_password("operator")
    client.force_login(operator_staff)
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:billing_app_whatifrun_add"), {
            "draft_tariff": draft.pk, "compared_tariff": Tariff.objects.get(ocpi_id="VOLTARA-STANDARD").pk,
            "start_date": (today - timedelta(days=4)).isoformat(), "end_date": today.isoformat()})
    run = WhatIfRun.objects.get()
    assert response.status_code == 302 and run.state == WhatIfRun.State.DONE, run.error
    assert run.summary["sessions"] > 0 and run.summary["more"]["count"] + run.summary["less"]["count"] > 0
    assert client.get(response.url).status_code == 200


# A run whose worker died or whose task was lost: shown as stalled, started again without duplicated rows.


def _stalled(site, operator, *, state=WhatIfRun.State.RUNNING, minutes=11) -> WhatIfRun:
    """A run some worker took (attempt 1) and left after writing one row, with no progress for `minutes`."""
    run = what_if.what_if_create(operator=operator, created_by=None, draft=ocpi.loads(snapshot(site["draft"])),
                                 draft_name="stuck draft", draft_tariff=site["draft"], start_date=date(2026, 3, 2),
                                 end_date=date(2026, 3, 2), locations=[site["location"]])
    a1 = site["sessions"]["a1"]
    WhatIfSession.objects.create(run=run, session=a1, station="VOL-A", currency="EUR", energy_kwh=Decimal(11),
                                 charged_excl_vat=Decimal("4.29"), charged_incl_vat=Decimal("5.11"),
                                 draft_excl_vat=Decimal("5.39"), draft_incl_vat=Decimal("6.41"),
                                 difference_incl_vat=Decimal("1.30"))
    WhatIfRun.objects.filter(pk=run.pk).update(state=state, attempt=1, sessions_total=3, sessions_done=1,
                                               heartbeat_at=timezone.now() - timedelta(minutes=minutes))
    run.refresh_from_db()
    return run


def _restart_url(run) -> str:
    return reverse("admin:billing_app_whatifrun_restart", args=[run.pk])


def test_a_run_without_progress_for_the_set_time_is_stalled(site, operator, settings):
    settings.WHAT_IF_STALLED_AFTER_MINUTES = 10
    assert what_if.what_if_stalled(_stalled(site, operator, minutes=11))
    assert not what_if.what_if_stalled(_stalled(site, operator, minutes=9))
    assert what_if.what_if_stalled(_stalled(site, operator, state=WhatIfRun.State.QUEUED))  # its task was lost
    settings.WHAT_IF_STALLED_AFTER_MINUTES = 30
    assert not what_if.what_if_stalled(_stalled(site, operator, minutes=11))
    assert not what_if.what_if_stalled(_stalled(site, operator, state=WhatIfRun.State.FAILED, minutes=60))
    assert not what_if.what_if_stalled(_run(site, operator))  # done


def test_the_admin_shows_a_stalled_run_in_english_and_german_and_stops_refreshing(staff_client, site, operator):
    run = _stalled(site, operator)
    page = staff_client.get(reverse("admin:billing_app_whatifrun_change", args=[run.pk]))
    content = page.content.decode()
    assert "This run is stalled: it has made no progress since" in content and "(more than 10 minutes)" in content
    assert 'id="what-if-restart"' in content and 'http-equiv="refresh"' not in content
    german = staff_client.get(reverse("admin:billing_app_whatifrun_change", args=[run.pk]),
                              headers={"accept-language": "de"}).content.decode()
    assert "Dieser Lauf hängt" in german and "Erneut ausführen" in german
    listing = staff_client.get(reverse("admin:billing_app_whatifrun_changelist")).content.decode()
    assert "Stalled" in listing
    # a run still making progress is not stalled and offers no restart
    WhatIfRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    content = staff_client.get(reverse("admin:billing_app_whatifrun_change", args=[run.pk])).content.decode()
    assert "stalled" not in content and 'http-equiv="refresh"' in content and "what-if-restart" not in content


def test_a_stalled_run_started_again_replaces_its_rows_and_changes_no_charge(
        staff_client, site, operator, django_capture_on_commit_callbacks):
    run = _stalled(site, operator)
    charges = list(SessionCharge.objects.order_by("pk").values())
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(_restart_url(run))
    assert response.status_code == 302 and response.url == reverse("admin:billing_app_whatifrun_change",
                                                                    args=[run.pk])
    run.refresh_from_db()
    assert run.state == WhatIfRun.State.DONE and run.attempt == 2, run.error
    assert WhatIfSession.objects.filter(run=run).count() == 3 and (run.sessions_done, run.sessions_total) == (3, 3)
    assert run.summary["difference"] == {"excl_vat": "3.30", "incl_vat": "3.90"}
    assert list(SessionCharge.objects.order_by("pk").values()) == charges
    page = staff_client.get(response.url).content.decode()
    assert "3 sessions compared" in page and "queued again" in page


def test_a_failed_run_may_be_started_again(staff_client, site, operator, django_capture_on_commit_callbacks):
    run = _stalled(site, operator, state=WhatIfRun.State.FAILED, minutes=0)
    WhatIfRun.objects.filter(pk=run.pk).update(error="the database went away")
    assert 'id="what-if-restart"' in staff_client.get(
        reverse("admin:billing_app_whatifrun_change", args=[run.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(_restart_url(run))
    run.refresh_from_db()
    assert run.state == WhatIfRun.State.DONE and run.error == "" and run.sessions.count() == 3


def test_a_run_making_progress_or_done_is_not_started_again(staff_client, site, operator):
    busy = _stalled(site, operator, minutes=1)
    done = _run(site, operator)
    for run in (busy, done):
        before = WhatIfRun.objects.filter(pk=run.pk).values().get()
        rows = run.sessions.count()
        response = staff_client.post(_restart_url(run), follow=True)
        assert response.status_code == 200 and "Only a failed or stalled run can be started again." in (
            response.content.decode())
        assert WhatIfRun.objects.filter(pk=run.pk).values().get() == before and run.sessions.count() == rows


def test_another_operator_cannot_see_or_restart_a_run_and_support_only_looks(
        client, staff_client, site, operator, other_operator):
    run = _stalled(site, operator)
    before = WhatIfRun.objects.filter(pk=run.pk).values().get()
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert client.get(reverse("admin:billing_app_whatifrun_change", args=[run.pk])).status_code == 404
    assert client.post(_restart_url(run)).status_code == 404
    support = factories.SupportFactory()
    support.supported_operators.add(operator)
    client.force_login(support)
    page = client.get(reverse("admin:billing_app_whatifrun_change", args=[run.pk])).content.decode()
    assert "This run is stalled" in page and "what-if-restart" not in page
    assert client.post(_restart_url(run)).status_code == 403
    assert staff_client.get(_restart_url(run)).status_code == 405
    assert WhatIfRun.objects.filter(pk=run.pk).values().get() == before and run.sessions.count() == 1


def test_a_redelivered_task_takes_over_a_stalled_run_but_not_a_live_one(site, operator):
    live = _stalled(site, operator, minutes=1)
    assert what_if.what_if_compute(run_id=live.pk).state == WhatIfRun.State.RUNNING and live.sessions.count() == 1
    stalled = _stalled(site, operator)
    run = what_if.what_if_compute(run_id=stalled.pk)
    assert (run.state, run.attempt, run.sessions.count()) == (WhatIfRun.State.DONE, 2, 3)


def test_an_attempt_that_wakes_up_after_a_restart_writes_nothing(site, operator):
    run = _stalled(site, operator, state=WhatIfRun.State.QUEUED)
    first = what_if._claim(run.pk)
    WhatIfRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=11))
    what_if.what_if_requeue(run_id=run.pk)
    assert what_if.what_if_compute(run_id=run.pk).attempt == first + 1
    late = WhatIfSession(run=run, session=site["sessions"]["b1"], station="VOL-B", currency="EUR",
                         energy_kwh=Decimal(11), charged_excl_vat=Decimal(1), charged_incl_vat=Decimal(1),
                         draft_excl_vat=Decimal(1), draft_incl_vat=Decimal(1), difference_incl_vat=Decimal(0))
    with pytest.raises(what_if._Superseded):
        what_if._flush(run, first, [late], 3)
    run.refresh_from_db()
    assert run.state == WhatIfRun.State.DONE and run.sessions.count() == 3
    assert run.sessions.get(session=site["sessions"]["b1"]).charged_excl_vat == Decimal("4.29")


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL), as in CI")
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_task_was_lost_is_queued_again_to_a_real_worker(celery_worker_redis, client, operator, id_token):
    tariff = _tariff(operator)
    connector = factories.ConnectorFactory(station__location__operator=operator)
    sessions = [_priced(connector, id_token, start=DAY + timedelta(hours=h)) for h in range(3)]
    draft = _tariff(operator, energy="0.29", ocpi_id="CHEAPER", assign=False)
    # stored, but its task never reached a worker; a row of an earlier attempt is left behind
    run = what_if.what_if_create(operator=operator, created_by=None, draft=ocpi.loads(snapshot(draft)),
                                 draft_name="lost", compared_tariff=tariff, start_date=date(2026, 3, 2),
                                 end_date=date(2026, 3, 2))
    WhatIfSession.objects.create(run=run, session=sessions[0], station="X", currency="EUR", energy_kwh=Decimal(11),
                                 charged_excl_vat=Decimal(1), charged_incl_vat=Decimal(1), draft_excl_vat=Decimal(1),
                                 draft_incl_vat=Decimal(1), difference_incl_vat=Decimal(0))
    WhatIfRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=11))
    before = list(SessionCharge.objects.order_by("pk").values())
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    assert client.post(_restart_url(run)).status_code == 302
    deadline = time.monotonic() + 30
    run.refresh_from_db()
    while run.state in (WhatIfRun.State.QUEUED, WhatIfRun.State.RUNNING) and time.monotonic() < deadline:
        time.sleep(0.2)
        run.refresh_from_db()
    assert run.state == WhatIfRun.State.DONE, run.error
    assert run.summary["less"] == {"count": 3, "amount": "-3.93"}
    assert WhatIfSession.objects.filter(run=run).count() == 3
    assert not WhatIfSession.objects.filter(run=run, station="X").exists()
    assert list(SessionCharge.objects.order_by("pk").values()) == before
