"""The one date-range filter: both days included, counted in the zone the caller names, end before start refused."""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing_app.date_range import DateRangeForm, day_start
from sessions_app.models import ChargingSession
from tests.factories import ChargingSessionFactory

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


class TwoYears(DateRangeForm):
    max_days = 731


def test_end_before_start_is_refused_on_the_end_field():
    form = DateRangeForm({"start": "2026-03-02", "end": "2026-03-01"})
    assert not form.is_valid()
    assert form.errors["end"] == ["The end date is before the start date."]


def test_max_days_bounds_the_period():
    assert TwoYears({"start": "2024-01-01", "end": "2025-12-31"}).is_valid()
    long = TwoYears({"start": "2024-01-01", "end": "2026-01-03"})
    assert not long.is_valid() and long.errors["end"] == ["Choose a shorter period."]


class NamedLikeAModel(DateRangeForm):
    start_field, end_field = "start_date", "end_date"
    max_days = 9


def test_a_form_may_name_its_dates_otherwise_with_the_same_checks():
    backwards = NamedLikeAModel({"start_date": "2026-03-02", "end_date": "2026-03-01"})
    assert list(backwards.fields) == ["start_date", "end_date"]
    assert not backwards.is_valid() and backwards.errors == {"end_date": ["The end date is before the start date."]}
    long = NamedLikeAModel({"start_date": "2026-03-01", "end_date": "2026-03-11"})
    assert not long.is_valid() and long.errors == {"end_date": ["Choose a shorter period."]}
    ten_days = NamedLikeAModel({"start_date": "2026-03-01", "end_date": "2026-03-10", "start": "2026-01-01"})
    assert ten_days.is_valid()
    assert ten_days.cleaned_data == {"start_date": date(2026, 3, 1), "end_date": date(2026, 3, 10)}
    # the others keep `start` / `end`
    assert list(DateRangeForm().fields) == ["start", "end"] and list(TwoYears().fields) == ["start", "end"]


def test_empty_dates_filter_nothing():
    form = DateRangeForm({})
    assert form.is_valid()
    rows = object()
    assert form.within(rows, "started_at", BERLIN) is rows


@pytest.mark.django_db
def test_days_are_counted_in_the_named_zone_and_both_days_are_included():
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin; 22:30 UTC on 3 March is 23:30 in Berlin (still the 3rd)
    inside_first = ChargingSessionFactory(started_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    inside_last = ChargingSessionFactory(started_at=datetime(2026, 3, 3, 22, 30, tzinfo=UTC))
    ChargingSessionFactory(started_at=datetime(2026, 3, 1, 22, 30, tzinfo=UTC))  # 23:30 on 1 March in Berlin
    ChargingSessionFactory(started_at=datetime(2026, 3, 3, 23, 0, tzinfo=UTC))  # midnight of 4 March in Berlin
    form = DateRangeForm({"start": "2026-03-02", "end": "2026-03-03"})
    assert form.is_valid()
    found = set(form.within(ChargingSession.objects.all(), "started_at", BERLIN).values_list("pk", flat=True))
    assert found == {inside_first.pk, inside_last.pk}
    renamed = NamedLikeAModel({"start_date": "2026-03-02", "end_date": "2026-03-03"})
    assert renamed.is_valid()
    assert set(renamed.within(ChargingSession.objects.all(), "started_at", BERLIN)) == {inside_first, inside_last}


def test_day_start_is_local_midnight():
    assert day_start(date(2026, 3, 29), BERLIN).utcoffset() == timedelta(hours=1)  # the DST night starts at CET
