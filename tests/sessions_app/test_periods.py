"""derive_periods: when a car charged and when it sat idle; PeriodDeriver: the same, one reading at a time."""
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from sessions_app.periods import CHARGING, IDLE, PeriodDeriver, Reading, derive_periods

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def periods_for(readings, *, stop_min, meter_start=0, meter_stop=None, idle_w=100):
    meter_stop = readings[-1].energy_wh if meter_stop is None else Decimal(meter_stop)
    return derive_periods(
        readings, started_at=T0, stopped_at=at(stop_min), meter_start_wh=Decimal(meter_start),
        meter_stop_wh=meter_stop, idle_power_w=Decimal(idle_w),
    )


def test_charging_then_idle_tail():
    readings = [Reading(at(m), Decimal(e), Decimal(p)) for m, e, p in [
        (15, 2750, 11000), (30, 5500, 11000), (45, 5500, 0), (60, 5500, 0),
    ]]
    periods = periods_for(readings, stop_min=60)
    assert [(p.kind, p.start, p.end, p.energy_wh) for p in periods] == [
        (CHARGING, T0, at(30), Decimal(5500)),
        (IDLE, at(30), at(60), Decimal(0)),
    ]
    assert periods[0].max_power_w == Decimal(11000)
    assert periods[1].hours == Decimal("0.5")


def test_idle_before_charging_starts_is_idle():
    readings = [Reading(at(10), Decimal(0)), Reading(at(20), Decimal(1800))]
    periods = periods_for(readings, stop_min=20)
    assert [p.kind for p in periods] == [IDLE, CHARGING]


def test_no_samples_is_one_period_from_meter_values():
    periods = periods_for([], stop_min=60, meter_start=1000, meter_stop=8000)
    assert len(periods) == 1
    assert periods[0].kind == CHARGING
    assert periods[0].energy_wh == Decimal(7000)


def test_trickle_below_threshold_counts_as_idle():
    # 10 Wh in 15 min is 40 W average: a car keeping its battery warm, not charging.
    readings = [Reading(at(15), Decimal(10))]
    assert [p.kind for p in periods_for(readings, stop_min=15)] == [IDLE]


def test_readings_outside_the_window_and_duplicates_are_ignored():
    readings = [
        Reading(at(-5), Decimal(0)), Reading(at(30), Decimal(5000)), Reading(at(30), Decimal(5000)),
        Reading(at(90), Decimal(9000)),
    ]
    periods = periods_for(readings, stop_min=60, meter_stop=5000)
    assert sum(p.energy_wh for p in periods) == Decimal(5000)
    assert periods[-1].end == at(60)


def test_register_running_backwards_never_counts_negative_energy():
    readings = [Reading(at(15), Decimal(3000)), Reading(at(30), Decimal(2500)), Reading(at(45), Decimal(4000))]
    periods = periods_for(readings, stop_min=45)
    assert all(p.energy_wh >= 0 for p in periods)
    assert sum(p.energy_wh for p in periods) == Decimal(4000)


def test_empty_window_has_no_periods():
    assert periods_for([], stop_min=0, meter_stop=0) == []


@given(st.lists(st.tuples(st.integers(1, 600), st.integers(0, 5000)), max_size=40))
def test_periods_tile_the_session_and_conserve_energy(steps):
    readings, minute, energy = [], 0, 0
    for gap, delta in steps:
        minute += gap
        energy += delta
        readings.append(Reading(at(minute), Decimal(energy)))
    stop = minute + 1
    periods = periods_for(readings, stop_min=stop, meter_stop=energy)
    assert periods[0].start == T0 and periods[-1].end == at(stop)
    for before, after in itertools.pairwise(periods):
        assert before.end == after.start and before.kind != after.kind
    assert sum(p.energy_wh for p in periods) == Decimal(energy)


def _as_rows(periods):
    return [(p.kind, p.start, p.end, p.energy_wh, p.powers_w, p.currents_a) for p in periods]


@given(st.lists(st.tuples(st.integers(1, 30), st.integers(-500, 3000), st.sampled_from([None, 0, 7400, 22000]),
                          st.sampled_from([None, 16, 32])), min_size=1, max_size=30))
def test_the_deriver_gives_at_each_reading_what_deriving_all_readings_gives(steps):
    """The running cost's way (issue 16): the readings so far go in one by one, the latest ends the periods."""
    deriver = PeriodDeriver(started_at=T0, meter_start_wh=Decimal(1000), idle_power_w=Decimal(100))
    readings, minute, energy = [], 0, 1000
    for gap, delta, power, current in steps:
        minute, energy = minute + gap, energy + delta  # one reading an instant, as the database keeps them
        readings.append(Reading(at(minute), Decimal(energy), None if power is None else Decimal(power),
                                None if current is None else Decimal(current)))
        latest = readings[-1]
        if latest.at <= T0:
            continue
        expected = derive_periods(readings, started_at=T0, stopped_at=latest.at, meter_start_wh=Decimal(1000),
                                  meter_stop_wh=latest.energy_wh, idle_power_w=Decimal(100))
        assert _as_rows(deriver.periods_until(latest.at, latest.energy_wh)) == _as_rows(expected)
        assert _as_rows(deriver.periods_until(latest.at, latest.energy_wh)) == _as_rows(expected)  # unchanged
        deriver.add(latest)
