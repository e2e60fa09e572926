"""Work to do once the current transaction has committed, robustly.

`transaction.on_commit(..., robust=True)` logs a failing hook by its `__qualname__`; a
`functools.partial` has none, so the logging itself raised AttributeError, which escaped and skipped
every later hook of the transaction (a 500 after a committed refund, an email never sent). Every
deferred call goes through `after_commit`, which hands Django a real function.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction


def after_commit(func: Callable[..., Any], /, *args: Any, using: str | None = None, **kwargs: Any) -> None:
    """Call `func(*args, **kwargs)` after the commit; a failure is logged and never stops the other hooks."""

    def hook() -> None:
        func(*args, **kwargs)

    target = func.func if isinstance(func, partial) else func
    name = getattr(target, "__qualname__", None) or getattr(target, "name", None) or repr(target)
    hook.__qualname__ = hook.__name__ = f"after_commit({name})"
    transaction.on_commit(hook, using=using, robust=True)
