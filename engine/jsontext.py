"""JSON text of what every command stores, written with orjson.

Each command writes its workflow's whole state, the process data, the input of the tasks it
creates and the payloads of its history events as JSON: with the standard library that was
the largest single cost of a command after SpiffWorkflow's own steps. orjson writes the same
JSON several times faster. What it would write differently is kept as the standard library
writes it: dates and times go to ``default`` like any other type (the state's serializer
types them, the read model writes ISO 8601), keys that are not strings become strings, and a
value orjson refuses (an integer beyond 64 bits) is written by the standard library instead.
JSON has no NaN or infinity: orjson writes them as ``null``.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Compact JSON text of ``value`` (``default`` converts what JSON has no type for)."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))
