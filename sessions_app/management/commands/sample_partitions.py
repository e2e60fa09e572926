"""python manage.py sample_partitions: list, create ahead, or archive the meter samples' monthly partitions."""
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from sessions_app import partitions


def _month(value: str) -> date:
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise CommandError(f"{value!r} is not a month: use YYYY-MM, e.g. 2026-01.") from None


class Command(BaseCommand):
    help = ("Meter samples are partitioned by month on PostgreSQL. `list` shows the partitions, `ensure` "
            "creates the coming months' (what the beat task does), `detach --older-than YYYY-MM` detaches "
            "the months before that one so they can be dumped (pg_dump -t NAME) and dropped.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "ensure", "detach"])
        parser.add_argument("--months-ahead", type=int, default=partitions.MONTHS_AHEAD,
                            help=f"ensure: months after the current one (default {partitions.MONTHS_AHEAD})")
        parser.add_argument("--older-than", type=_month, help="detach: months that end before this month (YYYY-MM)")
        parser.add_argument("--drop", action="store_true", help="detach: drop the detached tables too")

    def handle(self, *args, action: str, months_ahead: int, older_than: date | None, drop: bool, **options):
        if not partitions.sample_table_is_partitioned():
            raise CommandError("The meter samples table is not partitioned (SQLite, or migrations not applied).")
        if action == "list":
            for p in partitions.sample_partitions_list():
                label = f"{p.month:%Y-%m}" if p.month else "DEFAULT"
                self.stdout.write(f"{p.name:<42} {label:<8} ~{p.rows_estimate:>12,} rows "
                                  f"{p.total_bytes / 2**20:>10,.1f} MiB  {p.bound}")
        elif action == "ensure":
            if months_ahead < 0:
                raise CommandError("--months-ahead cannot be negative.")
            created = partitions.sample_partitions_ensure(months_ahead=months_ahead)
            self.stdout.write(f"created: {', '.join(created)}" if created else "nothing to create")
        else:
            if older_than is None:
                raise CommandError("detach needs --older-than YYYY-MM.")
            detached = partitions.sample_partitions_detach(older_than=older_than, drop=drop)
            verb = "detached and dropped" if drop else "detached (dump with pg_dump -t NAME, then DROP TABLE)"
            self.stdout.write(f"{verb}: {', '.join(detached)}" if detached else "no month to detach")
