"""Monthly partitions of the meter samples table on PostgreSQL (SQLite: one plain table, nothing to do).

Meter samples are the one table that grows by tens of millions of rows a year, and nothing reads a
month-old sample but a dispute or an audit. `sessions_app_metersample` is therefore
`PARTITION BY RANGE (taken_at)` with one partition per calendar month (UTC), named
`sessions_app_metersample_pYYYY_MM`, plus a DEFAULT partition so that an insert never fails, whatever
the charger's clock says. A month is then a table of its own: it can be detached (a short lock, no
rewrite), dumped and dropped, while newer months stay queryable and the indexes of the live months
stay small.

Why the database's primary key is (id, taken_at): PostgreSQL wants the partition key in every unique
index of a partitioned table. Ids still come from one sequence (`sessions_app_metersample_id_seq`,
owned by the column, so Django's sequence resets find it) and are unique in practice; Django keeps
treating `id` as the primary key, so `MeterSample.objects.get(pk=...)` works unchanged. The unique
(session_id, taken_at) constraint contains the partition key, so `bulk_create(ignore_conflicts=True)`
(ON CONFLICT DO NOTHING) still refuses a sample stored twice. The plain index Django makes for the
session foreign key is not recreated: (session_id, taken_at) serves every lookup by session.

Partitions are created ahead of time by the `sessions_app.tasks.ensure_sample_partitions` beat task
(MONTHS_AHEAD months). Should samples land in DEFAULT all the same (the task did not run for months,
or a charger's clock is far off), `sample_partitions_ensure` moves them into their month's new
partition in the same transaction that creates it. DDL here takes PostgreSQL locks only: a
transaction-level advisory lock serializes concurrent callers (several beat or worker processes),
and `lock_timeout` makes a call that would wait behind long transactions fail and retry on the next
run rather than stall the inserts queued behind it.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection as default_connection
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

TABLE = "sessions_app_metersample"
DEFAULT_PARTITION = f"{TABLE}_default"
SEQUENCE = f"{TABLE}_id_seq"
MONTHS_AHEAD = 3
LOCK_TIMEOUT = "5s"
_ADVISORY_LOCK_KEY = 0x5A4D_5053  # "partition maintenance" for this table, any process
_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})_(\d{{2}})$")


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    month: date | None  # None: the DEFAULT partition
    bound: str  # as PostgreSQL prints it
    rows_estimate: int
    total_bytes: int


def month_start(value: date | datetime) -> date:
    return date(value.year, value.month, 1)


def month_add(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def _bounds(month: date) -> tuple[str, str]:
    """The partition's [start, end) as UTC timestamptz literals."""
    return f"{month:%Y-%m-%d} 00:00:00+00", f"{month_add(month, 1):%Y-%m-%d} 00:00:00+00"


def is_postgresql(connection=default_connection) -> bool:
    return connection.vendor == "postgresql"


def sample_table_is_partitioned(connection=default_connection) -> bool:
    if not is_postgresql(connection):
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE])
        return cursor.fetchone() is not None


# --- Creating partitions ---------------------------------------------------------------------------

def _existing_names(cursor) -> set[str]:
    cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                   "WHERE i.inhparent = to_regclass(%s)", [TABLE])
    return {row[0] for row in cursor.fetchall()}


def _table_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return cursor.fetchone()[0]


def _months_in_default(cursor) -> list[date]:
    cursor.execute(f"SELECT DISTINCT date_trunc('month', taken_at AT TIME ZONE 'UTC')::date "  # noqa: S608
                   f"FROM {DEFAULT_PARTITION} ORDER BY 1")
    return [row[0] for row in cursor.fetchall()]


def _partition_create(cursor, month: date) -> None:
    """Create the month's partition; rows of that month waiting in DEFAULT move into it (PostgreSQL
    refuses a new partition whose rows sit in DEFAULT, so they go in before it is attached)."""
    name, (start, end) = partition_name(month), _bounds(month)
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} "  # noqa: S608
                   "WHERE taken_at >= %s AND taken_at < %s)", [start, end])
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {TABLE} "
                       f"FOR VALUES FROM ('{start}') TO ('{end}')")
        return
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE taken_at >= %s AND taken_at < %s "  # noqa: S608
                   f"RETURNING *) INSERT INTO {name} SELECT * FROM moved", [start, end])
    moved = cursor.rowcount
    cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ('{start}') TO ('{end}')")
    logger.warning("meter samples: %d rows of %s moved out of the DEFAULT partition", moved, f"{month:%Y-%m}")


def sample_partitions_ensure(*, months_ahead: int = MONTHS_AHEAD, since: date | None = None,
                             now: datetime | None = None, connection=default_connection) -> list[str]:
    """Create the partitions of this month (or from the month of `since`, e.g. before loading
    history) to `months_ahead` months ahead, and of any month whose rows wait in DEFAULT;
    idempotent, safe from several processes at once. Returns the names created (none on SQLite or
    while the table is not partitioned)."""
    if not sample_table_is_partitioned(connection):
        return []
    current = month_start(timezone.now() if now is None else now.astimezone(UTC))
    first = min(month_start(since), current) if since else current
    created = []
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        existing = _existing_names(cursor)
        wanted = set(_months_in_default(cursor))
        month = first
        while month <= month_add(current, months_ahead):
            wanted.add(month)
            month = month_add(month, 1)
        for month in sorted(wanted):
            name = partition_name(month)
            if name in existing:
                continue
            if _table_exists(cursor, name):  # a detached month not dropped yet: its rows stay in DEFAULT
                logger.warning("meter samples: %s exists detached; rows of that month stay in DEFAULT", name)
                continue
            _partition_create(cursor, month)
            created.append(name)
    return created


# --- Listing and archiving -------------------------------------------------------------------------

def sample_partitions_list(*, connection=default_connection) -> list[Partition]:
    """The attached partitions, oldest month first, DEFAULT last."""
    if not sample_table_is_partitioned(connection):
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint, "
                       "pg_total_relation_size(c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = to_regclass(%s)", [TABLE])
        rows = cursor.fetchall()
    partitions = []
    for name, bound, estimate, size in rows:
        match = _NAME.match(name)
        month = date(int(match[1]), int(match[2]), 1) if match else None
        partitions.append(Partition(name, month, bound, max(estimate, 0), size))
    return sorted(partitions, key=lambda p: (p.month is None, p.month or date.min, p.name))


def sample_partitions_detach(*, older_than: date, drop: bool = False,
                             connection=default_connection) -> list[str]:
    """Detach every monthly partition that ends on or before the first day of `older_than`'s month.

    The detached tables keep their rows (dump them with `pg_dump -t <name>`); with `drop=True` they
    are dropped at once. Newer months and the DEFAULT partition are never touched. PostgreSQL only
    allows the locking form of DETACH next to a DEFAULT partition: it holds the table briefly (no
    rewrite), and `lock_timeout` keeps it from stalling inserts behind a long transaction."""
    if not sample_table_is_partitioned(connection):
        return []
    limit = month_start(older_than)
    old = [p.name for p in sample_partitions_list(connection=connection)
           if p.month is not None and month_add(p.month, 1) <= limit]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        for name in old:
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
            if drop:
                cursor.execute(f"DROP TABLE {name}")
    return old


# --- The one-time conversion (migration sessions_app 0003) ----------------------------------------

def sample_table_partition(*, connection=default_connection, months_ahead: int = MONTHS_AHEAD,
                           now: datetime | None = None) -> bool:
    """Turn the plain samples table into the partitioned one, rows, names and constraints kept.

    Runs inside the caller's transaction (the migration's): the table is locked, renamed aside, the
    partitioned table is created with the same columns, CHECK, UNIQUE and FOREIGN KEY constraints
    under the same names, the rows are copied into monthly partitions and the old table is dropped.
    False when there is nothing to do (not PostgreSQL, or partitioned already)."""
    if not is_postgresql(connection) or sample_table_is_partitioned(connection):
        return False
    old = f"{TABLE}_unpartitioned"
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
        cursor.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', 'f') ORDER BY conname", [old])
        constraints = cursor.fetchall()
        for name, kind, definition in constraints:
            if kind == "u" and "taken_at" not in definition:
                raise RuntimeError(f"{name}: a unique constraint without taken_at cannot exist on the "
                                   "partitioned table; add taken_at to it first.")
        cursor.execute(f"SELECT MAX(id), MIN(taken_at), MAX(taken_at) FROM {old}")  # noqa: S608
        max_id, first_at, last_at = cursor.fetchone()
        # Free the names the new table takes: the identity sequence, the PK and UNIQUE indexes, the rest.
        cursor.execute(f"ALTER TABLE {old} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        cursor.execute(f"ALTER TABLE {old} ALTER COLUMN id DROP DEFAULT")
        cursor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")
        for name, kind, _definition in constraints:
            if kind in ("p", "u"):
                cursor.execute(f'ALTER TABLE {old} DROP CONSTRAINT "{name}"')
        cursor.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = to_regclass(%s)", [old])
        for (index,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX {index}")

        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                       "PARTITION BY RANGE (taken_at)")
        cursor.execute(f"CREATE SEQUENCE {SEQUENCE} AS bigint OWNED BY {TABLE}.id")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{SEQUENCE}')")
        if max_id is not None:
            cursor.execute("SELECT setval(%s, %s)", [SEQUENCE, max_id])
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, taken_at)")
        for name, kind, definition in constraints:
            if kind in ("u", "f"):
                cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")

        current = month_start(timezone.now() if now is None else now.astimezone(UTC))
        # Partitions for the months that hold rows (at most three years back and one ahead: rows with
        # stranger clocks go to DEFAULT) up to `months_ahead` months from now.
        month = max(month_start(first_at.astimezone(UTC)) if first_at else current, month_add(current, -36))
        last = max(month_add(current, months_ahead),
                   min(month_start(last_at.astimezone(UTC)) if last_at else current, month_add(current, 12)))
        while month <= last:
            _partition_create(cursor, month)
            month = month_add(month, 1)
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {old}")  # noqa: S608
        cursor.execute(f"DROP TABLE {old}")
        cursor.execute(f"ANALYZE {TABLE}")
    return True
