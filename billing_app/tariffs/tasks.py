"""Celery tasks of tariffs: thin, take ids, safe to run twice (the what-if run is claimed once)."""
from __future__ import annotations

from celery import shared_task

from billing_app.models import WhatIfRun
from billing_app.tariffs import what_if
from evbilling.on_commit import after_commit


@shared_task(name="billing_app.tasks.tariff_what_if")
def tariff_what_if(run_id: int) -> str:
    return what_if.what_if_compute(run_id=run_id).state


def what_if_start(**kwargs) -> WhatIfRun:
    """Store a what-if run (`what_if.what_if_create`) and queue its computation once the run commits."""
    run = what_if.what_if_create(**kwargs)
    after_commit(tariff_what_if.delay, run.pk)
    return run


def what_if_restart(*, run_id: int) -> WhatIfRun:
    """Queue a failed or stalled run again (`what_if.what_if_requeue`: its rows discarded) once that commits."""
    run = what_if.what_if_requeue(run_id=run_id)
    after_commit(tariff_what_if.delay, run.pk)
    return run
