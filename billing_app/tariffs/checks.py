"""Tariff checks: what a careful operator would want to know about a tariff before drivers meet it.

Warnings, never refusals (a tariff that imports is a tariff the engine prices; these say where it
probably does not price what was meant). Pure functions on the engine's `pricing.Tariff`, each
warning naming the path in the OCPI object (`elements[2].restrictions.min_power`), elements
counted from 0 in tariff order. The list (docs/tariffs.md repeats it for operators):

- `free_sessions`: some moment of a session no element applies to: that part of the session is
  not priced (e.g. every element restricted by power, with no fallback below the lowest power).
- `energy_unpriced`: energy is priced by some elements but at some moments by none, while other
  elements still apply (e.g. ENERGY only by day, TIME at night).
- `element_never_applies`: an element whose restrictions exclude each other (`min_kwh` equal to
  `max_kwh`, `start_date` not before `end_date`).
- `element_unreachable`: wherever an element applies, earlier elements price each of its
  dimensions first (first match wins), so it never prices anything; `component_unreachable` the
  same for one price component of an element that is otherwise used.
- `duplicate_component`: a second component of one type in an element (only the first counts).
- `reservation_component_unused`: ENERGY or PARKING_TIME in an element restricted to
  reservations, which price only reservation time (TIME) and a reservation fee (FLAT).
- `all_day_window`: `start_time` equal to `end_time`, which OCPI readers take as the whole day,
  though it is often meant as an empty window.
- `max_below_min`: `max_price` below `min_price` (excl. or incl. VAT).
- `incl_below_excl`: a price bound whose incl. VAT amount is below its excl. VAT amount.
- `step_size_unusual`: a time step that is neither a divisor nor a multiple of 60 s, an energy
  step neither a divisor nor a multiple of 1000 Wh (61 s, 999 Wh: probably a typo).
- `step_size_ignored`: a FLAT component with a step_size above 1 (steps apply to volumes).
- `vat_missing`: a component without VAT in a tariff whose other components have one.
- `all_prices_zero`: every price is zero and no min_price: every session is free.
- `tariff_ended`: `end_date_time` is past: no new session gets the tariff.
- `not_priceable` (from `tariffs.services.tariff_warnings`, for a stored tariff the engine cannot
  read yet, e.g. an element saved in the admin without price components): the parser's message.

How the coverage checks work (`free_sessions`, `energy_unpriced`, shadowing): restrictions are
intervals on independent axes (local time of day, day of week, date, kWh charged so far, time
elapsed, power, current), lower bounds inclusive and upper bounds exclusive, as in
`pricing.restrictions`. Between two consecutive bounds named anywhere in the tariff every element
either applies or does not, so trying one value per such band on every axis decides coverage
exactly. A period's power is taken as steady (min = max = average); current may be unreported,
which no current restriction matches.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from billing_app.pricing import (
    DAYS_OF_WEEK,
    ENERGY,
    FLAT,
    PARKING_TIME,
    TIME,
    ZERO,
    Tariff,
    TariffElement,
    TariffRestrictions,
)

_DAY_MINUTES = 1440


@dataclass(frozen=True, slots=True)
class TariffWarning:
    code: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}


# ---------------------------------------------------------------------------------------------
# Axes: one representative value per band between consecutive bounds.


@dataclass(frozen=True, slots=True)
class _Axis:
    name: str
    values: tuple  # representatives, in order; each stands for [value, next value)
    matches: Callable[[TariffRestrictions, object], bool]
    describe: Callable[[int, tuple], str]
    used: bool


def _tod_windows(r: TariffRestrictions) -> tuple[tuple[int, int], ...] | None:
    """Time-of-day windows in minutes, as `pricing.restrictions` reads them; None: all day."""
    if r.start_time is None and r.end_time is None:
        return None
    start = _hhmm(r.start_time) if r.start_time is not None else 0
    end = _hhmm(r.end_time) if r.end_time is not None else 0
    end = end or _DAY_MINUTES
    if start == end or (start == 0 and end == _DAY_MINUTES):
        return None
    return ((start, end),) if start < end else ((start, _DAY_MINUTES), (0, end))


def _hhmm(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def _in_tod(r: TariffRestrictions, minute: int) -> bool:
    windows = _tod_windows(r)
    return windows is None or any(a <= minute < b for a, b in windows)


def _in_dow(r: TariffRestrictions, weekday: int) -> bool:
    return not r.day_of_week or DAYS_OF_WEEK[weekday] in r.day_of_week


def _in_dates(r: TariffRestrictions, ordinal: int) -> bool:
    if r.start_date and ordinal < date.fromisoformat(r.start_date).toordinal():
        return False
    return not (r.end_date and ordinal >= date.fromisoformat(r.end_date).toordinal())


def _in_range(low: str, high: str) -> Callable[[TariffRestrictions, object], bool]:
    def matches(r: TariffRestrictions, value) -> bool:
        lo, hi = getattr(r, low), getattr(r, high)
        if (lo is not None or hi is not None) and value is None:
            return False
        return (lo is None or value >= lo) and (hi is None or value < hi)

    return matches


def _fmt_minutes(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _band(unit: Callable[[object], str], lead: str, tail: str = "") -> Callable[[int, tuple], str]:
    def describe(i: int, values: tuple) -> str:
        value = values[i]
        if value is None:
            return "when the charger reports no current"
        rest = [v for v in values[i + 1:] if v is not None]
        if rest:
            return f"{lead} {unit(value)} to {unit(rest[0])}{tail}"
        return f"{lead} {unit(value)} or more{tail}"

    return describe


def _seconds(value) -> str:
    minutes, seconds = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min" if not seconds else f"{int(value)} s"


def _axes(tariff: Tariff) -> list[_Axis]:
    rs = [e.restrictions or TariffRestrictions() for e in tariff.elements]

    def bounds(*names: str) -> list:
        return sorted({getattr(r, n) for r in rs for n in names if getattr(r, n) is not None})

    tod = {0}
    for r in rs:
        for start, end in _tod_windows(r) or ():
            tod.update((start, end % _DAY_MINUTES))
    tod_values = tuple(sorted(tod))

    dates = sorted({date.fromisoformat(d).toordinal() for r in rs for d in (r.start_date, r.end_date) if d})
    date_values: tuple[int, ...] = (0,)
    if dates:
        first, last = _validity(tariff)
        candidates = {dates[0] - 1, *dates, *((first,) if first is not None else ())}
        date_values = tuple(sorted(d for d in candidates
                                   if (first is None or d >= first) and (last is None or d < last))) or (dates[0],)

    def tod_text(i: int, values: tuple) -> str:
        end = values[i + 1] if i + 1 < len(values) else _DAY_MINUTES
        return f"between {_fmt_minutes(values[i])} and {_fmt_minutes(end)}"

    def date_text(i: int, values: tuple) -> str:
        day = date.fromordinal(values[i])
        return f"from {day.isoformat()}" + (f" to {date.fromordinal(values[i + 1])}" if i + 1 < len(values) else "")

    kwh = (ZERO, *[v for v in bounds("min_kwh", "max_kwh") if v > 0])
    duration = (0, *[v for v in bounds("min_duration", "max_duration") if v > 0])
    power = (ZERO, *[v for v in bounds("min_power", "max_power") if v > 0])
    current_bounds = bounds("min_current", "max_current")
    current = (None, ZERO, *[v for v in current_bounds if v > 0]) if current_bounds else (None,)
    uses_dow = any(r.day_of_week for r in rs)
    return [
        _Axis("time", tod_values, _in_tod, tod_text, len(tod_values) > 1),
        _Axis("day", tuple(range(7)) if uses_dow else (0,), _in_dow,
              lambda i, v: f"on {DAYS_OF_WEEK[v[i]].title()}", uses_dow),
        _Axis("date", date_values, _in_dates, date_text, bool(dates)),
        _Axis("kwh", kwh, _in_range("min_kwh", "max_kwh"), _band(lambda v: f"{v:f} kWh", "with", " charged"),
              len(kwh) > 1),
        _Axis("duration", duration, _in_range("min_duration", "max_duration"),
              _band(_seconds, "from", " into the session"), len(duration) > 1),
        _Axis("power", power, _in_range("min_power", "max_power"), _band(lambda v: f"{v:f} kW", "at a power of"),
              len(power) > 1),
        _Axis("current", current, _in_range("min_current", "max_current"),
              _band(lambda v: f"{v:f} A", "at a current of"), bool(current_bounds)),
    ]


def _validity(tariff: Tariff) -> tuple[int | None, int | None]:
    """The tariff's own validity as date ordinals [first, last) (UTC days)."""
    first = tariff.start_date_time.date().toordinal() if tariff.start_date_time else None
    last = None
    if tariff.end_date_time:
        end = tariff.end_date_time
        last = end.date().toordinal() + (0 if end.timetz().replace(tzinfo=None) == datetime.min.time() else 1)
    return first, last


# A box: per axis the set of representative indices an element applies at (None: all of them).
_Box = tuple[frozenset[int] | None, ...]


def _box(r: TariffRestrictions | None, axes: Sequence[_Axis]) -> _Box:
    r = r or TariffRestrictions()
    box = []
    for axis in axes:
        hits = frozenset(i for i, value in enumerate(axis.values) if axis.matches(r, value))
        box.append(None if len(hits) == len(axis.values) else hits)
    return tuple(box)


def _uncovered(region: _Box, boxes: Sequence[_Box], axes: Sequence[_Axis]) -> tuple[int, ...] | None:
    """A point (representative index per axis) inside `region` that none of `boxes` contains, or None."""
    choices = [range(len(a.values)) if r is None else sorted(r) for a, r in zip(axes, region, strict=True)]

    def search(depth: int, active: list[_Box], point: tuple[int, ...]) -> tuple[int, ...] | None:
        if not active:
            return point + tuple(c[0] for c in choices[depth:]) if all(choices[depth:]) else None
        if depth == len(axes) or any(all(b[k] is None for k in range(depth, len(axes))) for b in active):
            return None
        for index in choices[depth]:
            found = search(depth + 1, [b for b in active if b[depth] is None or index in b[depth]], (*point, index))
            if found is not None:
                return found
        return None

    if any(not c for c in choices):
        return None  # the region is empty
    return search(0, list(boxes), ())


def _empty(box: _Box) -> bool:
    return any(r is not None and not r for r in box)


def _situation(point: tuple[int, ...], axes: Sequence[_Axis]) -> str:
    parts = [axis.describe(i, axis.values) for axis, i in zip(axes, point, strict=True) if axis.used]
    return ", ".join(parts) or "at any moment"


# ---------------------------------------------------------------------------------------------
# The checks.


def _components(element: TariffElement, kinds: Iterable[str]) -> dict[str, int]:
    """The dimension -> index of the first component of each kind in the element (the one that counts)."""
    first: dict[str, int] = {}
    for index, component in enumerate(element.price_components):
        if component.type in kinds:
            first.setdefault(component.type, index)
    return first


def check_coverage(tariff: Tariff) -> list[TariffWarning]:
    """`free_sessions` and `energy_unpriced` (the module docstring)."""
    axes = _axes(tariff)
    normal = [e for e in tariff.elements if not (e.restrictions and e.restrictions.reservation)]
    everything = [_box(e.restrictions, axes) for e in normal if e.price_components]
    whole = tuple(None for _ in axes)
    warnings = []
    gap = _uncovered(whole, everything, axes)
    if gap is not None:
        warnings.append(TariffWarning(
            "free_sessions", "elements",
            f"no element applies {_situation(gap, axes)}: that part of a session is not priced (free). "
            "Add an element without restrictions at the end as the fallback.",
        ))
        return warnings
    energy = [_box(e.restrictions, axes) for e in normal if ENERGY in _components(e, (ENERGY,))]
    if energy:
        gap = _uncovered(whole, energy, axes)
        if gap is not None:
            warnings.append(TariffWarning(
                "energy_unpriced", "elements",
                f"no element prices ENERGY {_situation(gap, axes)}: the energy charged then is free.",
            ))
    return warnings


_PAIRS = (("start_date", "end_date"), ("min_kwh", "max_kwh"), ("min_duration", "max_duration"),
          ("min_power", "max_power"), ("min_current", "max_current"))


def _empty_reason(r: TariffRestrictions) -> tuple[str, str]:
    for low, high in _PAIRS:
        lo, hi = getattr(r, low), getattr(r, high)
        if lo is not None and hi is not None and hi <= lo:
            return high, f"{high} {hi} is not above {low} {lo} (the upper bound is exclusive)"
    return "", "its restrictions exclude each other"


def check_reachability(tariff: Tariff) -> list[TariffWarning]:
    """`element_never_applies`, `element_unreachable`, `component_unreachable`, `duplicate_component`,
    `reservation_component_unused` (the module docstring)."""
    axes = _axes(tariff)
    warnings = []
    earlier: list[tuple[int, str | None, _Box, dict[str, int]]] = []
    for index, element in enumerate(tariff.elements):
        path = f"elements[{index}]"
        restrictions = element.restrictions or TariffRestrictions()
        group = restrictions.reservation
        kinds = (TIME, FLAT) if group else (ENERGY, TIME, PARKING_TIME, FLAT)
        first = _components(element, kinds)
        for c_index, component in enumerate(element.price_components):
            where = f"{path}.price_components[{c_index}]"
            if component.type not in kinds:
                warnings.append(TariffWarning(
                    "reservation_component_unused", f"{where}.type",
                    f"{component.type} in an element restricted to reservations is never priced "
                    "(reservations price TIME and a FLAT fee).",
                ))
            elif first[component.type] != c_index:
                warnings.append(TariffWarning(
                    "duplicate_component", where,
                    f"a second {component.type} component in this element is never used "
                    f"(price_components[{first[component.type]}] prices {component.type}).",
                ))
        box = _box(element.restrictions, axes)
        if _empty(box):
            field, reason = _empty_reason(restrictions)
            warnings.append(TariffWarning("element_never_applies",
                                          f"{path}.restrictions" + (f".{field}" if field else ""),
                                          f"this element never applies: {reason}."))
            continue
        shadowed = {}
        for kind, c_index in first.items():
            before = [(i, b) for i, g, b, kinds_before in earlier if g == group and kind in kinds_before]
            if before and _uncovered(box, [b for _, b in before], axes) is None:
                shadowed[kind] = (c_index, [i for i, _ in before])
        if first and len(shadowed) == len(first):
            by = sorted({i for _, ids in shadowed.values() for i in ids})
            warnings.append(TariffWarning(
                "element_unreachable", path,
                "this element never prices anything: wherever it applies, "
                f"{_elements(by)} "
                f"{', '.join(sorted(shadowed))} first (the first matching element wins).",
            ))
        else:
            for kind, (c_index, ids) in sorted(shadowed.items()):
                warnings.append(TariffWarning(
                    "component_unreachable", f"{path}.price_components[{c_index}]",
                    f"{kind} is never priced by this element: wherever it applies, "
                    f"{_elements(ids)} {kind} first.",
                ))
        earlier.append((index, group, box, first))
    return warnings


def _elements(indices: Sequence[int]) -> str:
    """`elements[0] prices` / `elements[0], elements[1] price`."""
    return ", ".join(f"elements[{i}]" for i in indices) + (" prices" if len(indices) == 1 else " price")


def check_time_windows(tariff: Tariff) -> list[TariffWarning]:
    """`all_day_window` (the module docstring)."""
    return [
        TariffWarning("all_day_window", f"elements[{i}].restrictions.end_time",
                      f"start_time and end_time are both {e.restrictions.start_time}: this reads as the whole "
                      "day, not an empty window.")
        for i, e in enumerate(tariff.elements)
        if e.restrictions and e.restrictions.start_time is not None
        and e.restrictions.start_time == e.restrictions.end_time
    ]


def check_price_bounds(tariff: Tariff) -> list[TariffWarning]:
    """`max_below_min` and `incl_below_excl` (the module docstring)."""
    warnings = []
    low, high = tariff.min_price, tariff.max_price
    if low and high:
        for part in ("excl_vat", "incl_vat"):
            lo, hi = getattr(low, part), getattr(high, part)
            if lo is not None and hi is not None and hi < lo:
                warnings.append(TariffWarning(
                    "max_below_min", f"max_price.{part}",
                    f"max_price {hi} is below min_price {lo}: every session would cost the max_price.",
                ))
    for name, bound in (("min_price", low), ("max_price", high)):
        if bound and bound.incl_vat is not None and bound.incl_vat < bound.excl_vat:
            warnings.append(TariffWarning(
                "incl_below_excl", f"{name}.incl_vat",
                f"{bound.incl_vat} incl. VAT is below {bound.excl_vat} excl. VAT: are the two swapped?",
            ))
    return warnings


_STEP_UNITS = {ENERGY: (1000, "Wh", "1000 Wh (1 kWh)"), TIME: (60, "s", "60 s (1 minute)"),
               PARKING_TIME: (60, "s", "60 s (1 minute)")}


def check_step_sizes(tariff: Tariff) -> list[TariffWarning]:
    """`step_size_unusual` and `step_size_ignored` (the module docstring)."""
    warnings = []
    for i, element in enumerate(tariff.elements):
        for k, component in enumerate(element.price_components):
            step, path = component.step_size, f"elements[{i}].price_components[{k}].step_size"
            if component.type == FLAT:
                if step > 1:
                    warnings.append(TariffWarning("step_size_ignored", path,
                                                  f"a FLAT fee is charged once: step_size {step} has no effect."))
                continue
            unit, symbol, whole = _STEP_UNITS[component.type]
            if step > 1 and unit % step and step % unit:
                warnings.append(TariffWarning(
                    "step_size_unusual", path,
                    f"{component.type} step_size {step} {symbol} is neither a divisor nor a multiple of {whole}: "
                    "a typo?",
                ))
    return warnings


def check_vat(tariff: Tariff) -> list[TariffWarning]:
    """`vat_missing` (the module docstring)."""
    components = [(i, k, c) for i, e in enumerate(tariff.elements) for k, c in enumerate(e.price_components)]
    if not any(c.vat is not None for _, _, c in components):
        return []
    return [TariffWarning("vat_missing", f"elements[{i}].price_components[{k}].vat",
                          f"{c.type} has no VAT rate while other components have one: it is priced without VAT.")
            for i, k, c in components if c.vat is None]


def check_prices(tariff: Tariff, *, now: datetime | None = None) -> list[TariffWarning]:
    """`all_prices_zero` and `tariff_ended` (the module docstring)."""
    warnings = []
    prices = [c.price for e in tariff.elements for c in e.price_components]
    if prices and not any(prices) and not (tariff.min_price and tariff.min_price.excl_vat > 0):
        warnings.append(TariffWarning("all_prices_zero", "elements",
                                      "every price is 0 and there is no min_price: every session is free."))
    if now is not None and tariff.end_date_time is not None and tariff.end_date_time <= now:
        warnings.append(TariffWarning("tariff_ended", "end_date_time",
                                      f"the tariff ended at {tariff.end_date_time.isoformat()}: "
                                      "no new session gets it."))
    return warnings


def tariff_checks(tariff: Tariff, *, now: datetime | None = None) -> list[TariffWarning]:
    """Every check, in the order of the module docstring's list."""
    return [
        *check_coverage(tariff), *check_reachability(tariff), *check_time_windows(tariff),
        *check_price_bounds(tariff), *check_step_sizes(tariff), *check_vat(tariff), *check_prices(tariff, now=now),
    ]

