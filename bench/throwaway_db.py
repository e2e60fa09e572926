"""A throwaway database for the benches that need Django's models (billing_run, running_cost, what_if)."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


@contextmanager
def throwaway_database(sqlite_name: str) -> Iterator[None]:
    """A test database of the configured kind (`DATABASE_URL`; SQLite in `/tmp/<sqlite_name>.sqlite3`), its
    tables made from the models without running the migrations, dropped afterwards; logging below warnings
    and DEBUG off, as a bench wants them."""
    logging.disable(logging.WARNING)
    settings.DEBUG = False
    test = settings.DATABASES["default"].setdefault("TEST", {})
    test["MIGRATE"] = False
    if connection.vendor == "sqlite":
        test["NAME"] = f"/tmp/{sqlite_name}.sqlite3"  # noqa: S108 - a throwaway file
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
