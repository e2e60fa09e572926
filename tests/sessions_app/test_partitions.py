"""Meter samples partitioned by month on PostgreSQL: where rows land, partitions made ahead, old months
detached, duplicates still refused. The suite runs without migrations, so each test converts the plain
table with the migration's own function inside its transaction (rolled back afterwards)."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from sessions_app import partitions, services
from sessions_app.models import MeterSample
from sessions_app.selectors import session_samples
from tests import factories

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="table partitioning is PostgreSQL's; SQLite keeps one plain table")


def _at(year: int, month: int, day: int = 10, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _partition_of(sample_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM sessions_app_metersample WHERE id = %s", [sample_id])
        return cursor.fetchone()[0]


def _sample(session, at: datetime, wh: str = "1500") -> MeterSample:
    return MeterSample.objects.create(session=session, taken_at=at, energy_wh=Decimal(wh))


@pytest.fixture
def partitioned(db):
    """The samples table as migration 0003 leaves it, with March to June 2026 partitions."""
    partitions.sample_table_partition(now=NOW)
    partitions.sample_partitions_ensure(since=date(2026, 3, 1), now=NOW)


@pytest.fixture
def session(partitioned, connector):
    return factories.ChargingSessionFactory(connector=connector, started_at=_at(2026, 3, 31, 23))


@postgresql_only
def test_samples_table_is_partitioned_by_range_of_taken_at(partitioned):
    with connection.cursor() as cursor:
        cursor.execute("SELECT partstrat, a.attname FROM pg_partitioned_table p JOIN pg_attribute a "
                       "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
                       "WHERE partrelid = 'sessions_app_metersample'::regclass")
        assert cursor.fetchone() == ("r", "taken_at")
    names = [p.name for p in partitions.sample_partitions_list()]
    assert names[-1] == partitions.DEFAULT_PARTITION
    assert {"sessions_app_metersample_p2026_03", "sessions_app_metersample_p2026_06"} <= set(names)


@postgresql_only
def test_sample_lands_in_the_partition_of_its_utc_month(session):
    march = _sample(session, _at(2026, 3, 31, 23))
    april = _sample(session, _at(2026, 4, 1, 0))
    assert _partition_of(march.pk) == "sessions_app_metersample_p2026_03"
    assert _partition_of(april.pk) == "sessions_app_metersample_p2026_04"
    assert MeterSample.objects.get(pk=april.pk).taken_at == _at(2026, 4, 1, 0)


@postgresql_only
def test_sample_of_a_month_without_partition_lands_in_default_without_error(session):
    far = _sample(session, _at(2031, 1, 5))
    assert _partition_of(far.pk) == partitions.DEFAULT_PARTITION


@postgresql_only
def test_ensure_creates_the_coming_months_once(partitioned):
    created = partitions.sample_partitions_ensure(months_ahead=3, now=_at(2026, 5, 20))
    assert created == ["sessions_app_metersample_p2026_07", "sessions_app_metersample_p2026_08"]
    assert partitions.sample_partitions_ensure(months_ahead=3, now=_at(2026, 5, 20)) == []


@postgresql_only
def test_ensure_moves_rows_waiting_in_default_into_their_new_partition(session):
    far = _sample(session, _at(2031, 1, 5))
    created = partitions.sample_partitions_ensure(now=NOW)
    assert created == ["sessions_app_metersample_p2031_01"]
    assert _partition_of(far.pk) == "sessions_app_metersample_p2031_01"
    assert list(session_samples(session).values_list("pk", flat=True)) == [far.pk]


@postgresql_only
def test_detaching_an_old_month_keeps_newer_samples_queryable(session):
    old = _sample(session, _at(2026, 3, 31, 23))
    new = _sample(session, _at(2026, 4, 2), wh="2500")
    detached = partitions.sample_partitions_detach(older_than=date(2026, 4, 1))
    assert detached == ["sessions_app_metersample_p2026_03"]
    assert list(session_samples(session).values_list("pk", flat=True)) == [new.pk]
    with connection.cursor() as cursor:  # the detached month keeps its rows for the dump
        cursor.execute("SELECT id FROM sessions_app_metersample_p2026_03")
        assert cursor.fetchall() == [(old.pk,)]
    assert "sessions_app_metersample_p2026_03" not in [p.name for p in partitions.sample_partitions_list()]


@postgresql_only
def test_detach_with_drop_removes_the_old_months_only(session):
    _sample(session, _at(2026, 3, 31, 23))
    kept = _sample(session, _at(2026, 5, 2))
    with connection.cursor() as cursor:  # in production the rows were committed long ago
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert partitions.sample_partitions_detach(older_than=date(2026, 4, 1), drop=True) == [
        "sessions_app_metersample_p2026_03"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('sessions_app_metersample_p2026_03')")
        assert cursor.fetchone() == (None,)
    assert list(MeterSample.objects.values_list("pk", flat=True)) == [kept.pk]


@postgresql_only
def test_sample_writer_ignores_a_duplicate_sample_on_the_partitioned_table(session):
    sample = services.SampleIn(taken_at=_at(2026, 4, 1, 1), energy_wh=Decimal("1800"), power_w=Decimal("7000"))
    report = services.SampleReport(session.connector.station_id, session.pk, (sample,))
    assert services.session_samples_record_many(reports=[report, report]) == [True, True]
    assert services.session_samples_record_many(reports=[report]) == [True]
    assert services.session_record_samples(session=session, samples=[sample]) == 0
    assert MeterSample.objects.filter(session=session).count() == 1


@postgresql_only
def test_conversion_keeps_rows_ids_and_the_id_sequence(db, connector):
    if partitions.sample_table_is_partitioned():
        pytest.skip("the test database was migrated: the table is partitioned already")
    session = factories.ChargingSessionFactory(connector=connector, started_at=_at(2026, 3, 1))
    before = [_sample(session, _at(2026, 3, 2)), _sample(session, _at(2026, 4, 2), wh="3000")]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending on the table
    assert partitions.sample_table_partition(now=NOW) is True
    assert partitions.sample_table_partition(now=NOW) is False
    assert [(s.pk, s.energy_wh) for s in session_samples(session)] == [(s.pk, s.energy_wh) for s in before]
    assert _partition_of(before[1].pk) == "sessions_app_metersample_p2026_04"
    assert _sample(session, _at(2026, 5, 1)).pk > before[1].pk


@postgresql_only
def test_command_lists_and_refuses_detach_without_a_month(partitioned, capsys):
    call_command("sample_partitions", "list")
    assert "sessions_app_metersample_p2026_04" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--older-than"):
        call_command("sample_partitions", "detach")
    with pytest.raises(CommandError, match="not a month"):
        call_command("sample_partitions", "detach", "--older-than", "March")


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite behaviour")
def test_on_sqlite_there_is_nothing_to_partition(db):
    assert partitions.sample_table_partition() is False
    assert partitions.sample_partitions_ensure() == []
    with pytest.raises(CommandError, match="not partitioned"):
        call_command("sample_partitions", "list")
