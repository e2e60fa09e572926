"""Fast constructors for frozen slots dataclasses (records built in hot paths: the pricing engine's output,
the money module's VAT breakdown)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

_Record = TypeVar("_Record")


def positional_constructor(cls: type[_Record]) -> Callable[..., _Record]:
    """A constructor of the frozen slots dataclass `cls` taking every field positionally, in order.

    The `__init__` that dataclasses write for a frozen class sets each field through
    `object.__setattr__`, some 2,000 CPU instructions a field; the pricing engine builds a dozen such
    records per session (issue 16). This one sets the same slots on a plain twin class (same `__slots__`
    in the same order, so the same memory layout) and then gives the object its real class: about a
    sixth of the cost, and the object is an ordinary, frozen `cls` (equality, hash, `replace`).
    """
    names = tuple(f.name for f in fields(cls))
    if cls.__slots__ != names:
        raise TypeError(f"{cls.__name__} is not a slots dataclass")
    arguments = ", ".join(names)
    body = "".join(f"    self.{name} = {name}\n" for name in names)
    source = f"def __init__(self, {arguments}):\n{body}    self.__class__ = cls\n"
    namespace: dict[str, Any] = {"cls": cls}
    exec(source, namespace)  # noqa: S102 (source built from the dataclass's own field names)
    return type(f"_{cls.__name__}Fields", (), {"__slots__": names, "__init__": namespace["__init__"]})
