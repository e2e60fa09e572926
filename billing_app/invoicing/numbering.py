"""Gapless document numbers: `<prefix>-<year>-<seq>` for invoices, `<prefix>-CN-<year>-<seq>` for credit notes.

A number is taken inside the transaction that issues the document, with the counter row of
(operator, year, kind) locked by SELECT ... FOR UPDATE: concurrent issuers queue on that row, and a
rolled-back issue rolls its number back with it, so the sequence has no gap and no repeat. The
unique constraints on the documents are the backstop.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction

from billing_app.models import NumberSequence

SEQUENCE_DIGITS = 6


def number_format(*, prefix: str, year: int, sequence: int, kind: str) -> str:
    infix = "-CN" if kind == NumberSequence.Kind.CREDIT_NOTE else ""
    return f"{prefix}{infix}-{year}-{sequence:0{SEQUENCE_DIGITS}d}"


def _locked_counter(*, operator_id: int, year: int, kind: str) -> NumberSequence:
    counters = NumberSequence.objects.select_for_update()
    try:
        return counters.get(operator_id=operator_id, year=year, kind=kind)
    except NumberSequence.DoesNotExist:
        pass
    try:
        with transaction.atomic():  # a savepoint: losing the race to create the row is not fatal
            return NumberSequence.objects.create(operator_id=operator_id, year=year, kind=kind, last_value=0)
    except IntegrityError:
        return counters.get(operator_id=operator_id, year=year, kind=kind)


def number_take(*, operator_id: int, year: int, kind: str, count: int = 1) -> int:
    """Reserve the next `count` numbers of (operator, year, kind); returns the first one.

    Must run inside the issuing transaction (the lock and the increment belong to it)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_take must run inside the issuing transaction")
    counter = _locked_counter(operator_id=operator_id, year=year, kind=kind)
    first = counter.last_value + 1
    counter.last_value += count
    NumberSequence.objects.filter(pk=counter.pk).update(last_value=counter.last_value)
    return first
