"""load_demo: the promised logins and shapes, and nothing duplicated on a second run."""
import pytest
from django.core.management import call_command

from sessions_app.models import ChargingSession, ChargingStation, IdToken, Location, MeterSample, Operator, User


@pytest.mark.django_db
def test_load_demo_builds_the_demo_and_is_idempotent():
    call_command("load_demo", days=4, no_progress=True)
    counts = [Operator.objects.count(), Location.objects.count(), ChargingStation.objects.count(),
              User.objects.filter(role=User.Role.DRIVER, is_superuser=False).count(), IdToken.objects.count(),
              ChargingSession.objects.count(), MeterSample.objects.count()]
    assert counts[:5] == [2, 6, 12, 40, 42]  # 40 drivers' cards and the company members' two private cards
    assert counts[5] > 0 and counts[6] > counts[5]

    call_command("load_demo", days=4, no_progress=True)
    assert [Operator.objects.count(), Location.objects.count(), ChargingStation.objects.count(),
            User.objects.filter(role=User.Role.DRIVER, is_superuser=False).count(), IdToken.objects.count(),
            ChargingSession.objects.count(), MeterSample.objects.count()] == counts


@pytest.mark.django_db
def test_demo_logins_and_roles():
    call_command("load_demo", days=2, no_progress=True)
    for username in ("admin", "operator", "support", "driver"):
        assert User.objects.get(username=username).check_password(username)
    assert User.objects.get(username="admin").is_superuser
    first = Operator.objects.get(name="Voltara Charging")
    assert User.objects.get(username="operator").operator == first
    assert set(User.objects.get(username="support").supported_operators.all()) == set(Operator.objects.all())
    assert {o.default_currency for o in Operator.objects.all()} == {"EUR", "GBP"}
    assert Location.objects.values("time_zone").distinct().count() == 6


# The fleet manager and the company's statements: tests/billing_app/test_demo_history.py (one 35-day load).


@pytest.mark.django_db
def test_demo_sessions_are_consistent():
    call_command("load_demo", days=6, no_progress=True)
    assert ChargingSession.objects.filter(driver__username="driver").exists()
    for session in ChargingSession.objects.prefetch_related("samples")[:50]:
        samples = list(session.samples.all())
        assert session.stopped_at >= session.started_at
        assert session.energy_wh == session.meter_stop_wh - session.meter_start_wh
        assert all(session.started_at < s.taken_at <= session.stopped_at for s in samples)
        assert [s.energy_wh for s in samples] == sorted(s.energy_wh for s in samples)


@pytest.mark.django_db
def test_load_demo_rejects_bad_days():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--days"):
        call_command("load_demo", days=-1, no_progress=True)


@pytest.mark.django_db
def test_german_demo_sites_run_in_calibration_law_mode_with_signed_sessions():
    from billing_app.models import ChargeReview, SessionCharge
    from sessions_app.models import MeterSignatureCheck

    call_command("load_demo", days=3, no_progress=True)
    berlin = Location.objects.get(name="Berlin Hauptbahnhof P2")
    assert berlin.calibration_law and not Location.objects.filter(calibration_law=True).exclude(country="DE").exists()
    signed = ChargingSession.objects.filter(connector__station__location=berlin, state="completed")
    assert signed.exists() and all(s.signed_values.count() == 2 for s in signed)
    charges = SessionCharge.objects.filter(session__in=signed)
    assert charges.count() == signed.count() and not ChargeReview.objects.filter(charge__in=charges).exists()
    assert set(MeterSignatureCheck.objects.filter(session__in=signed).values_list("status", flat=True)) == {"verified"}
