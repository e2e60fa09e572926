"""Frames the gateway must not decode, found before decoding them.

Python's json module (and the `ocpp` library's key conversion and schema validation after it) recurses
once per level of nesting: a frame of 5,000 levels raised RecursionError, which ended the connection
instead of getting a CallError. An integer of more than 4,300 digits raises ValueError in json.loads, which
the library does not catch either. Such frames are answered from what their start says (`[2, "id", ...`).
"""
from __future__ import annotations

import json
import re
import sys

#: Deepest nesting of arrays and objects a frame may have. The frame itself is one level, its payload a
#: second; the deepest OCPP 1.6 and 2.0.1 payloads (charging profiles, tariffs, reports) stay below 12.
MAX_NESTING = 64

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_HEAD = re.compile(r'\s*\[\s*(\d{1,3})\s*,\s*("[^"\\]*(?:\\.[^"\\]*)*")')


def _text(raw: str | bytes) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _nesting_exceeds(text: str, limit: int) -> bool:
    depth = 0
    for bracket in _NOT_BRACKET.sub("", text):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def undecodable(raw: str | bytes) -> str | None:
    """Why the JSON text `raw` must not be decoded (the cause to send back), or None. Brackets and digits
    inside strings do not count. Linear in the frame's length; most frames are not scanned at all."""
    text = _text(raw)
    max_digits = sys.get_int_max_str_digits()
    long_number = re.compile(r"\d{%d}" % (max_digits + 1)) if max_digits else None  # noqa: UP031 - regex braces
    maybe_deep = text.count("[") + text.count("{") > MAX_NESTING
    maybe_long = long_number is not None and long_number.search(text) is not None
    if not (maybe_deep or maybe_long):
        return None
    bare = _STRING.sub('""', text)
    if maybe_deep and _nesting_exceeds(bare, MAX_NESTING):
        return f"JSON nested deeper than {MAX_NESTING} levels"
    if maybe_long and long_number.search(bare):
        return f"a number of more than {max_digits} digits"
    return None


def frame_head(raw: str | bytes) -> tuple[int | None, str | None]:
    """(MessageTypeId, unique id) read from the start of the frame alone; None for what cannot be read."""
    head = _HEAD.match(_text(raw))
    if head is None:
        return None, None
    try:
        return int(head.group(1)), json.loads(head.group(2))
    except ValueError:  # an invalid escape in the id
        return int(head.group(1)), None
