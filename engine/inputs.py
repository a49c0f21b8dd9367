"""Limits on data from outside (request bodies, form fields, messages), so that every database
answers alike: PostgreSQL refuses NUL characters and lone surrogates that SQLite would store,
both refuse integers beyond 64 bits, JSON columns cannot hold NaN or infinities, and deep
nesting exhausts the recursion of the code that copies, validates and stores the data."""
from __future__ import annotations

import math
import re
from typing import Any

from . import jsontext
from .errors import InvalidInput

MAX_DEPTH = 32                  # nesting levels of objects and arrays
INT_MIN, INT_MAX = -2 ** 63, 2 ** 63 - 1
INT32_MAX = 2 ** 31 - 1         # Integer columns (a definition's version) on PostgreSQL
MAX_FREE_KEYS = 64              # data without a form: at most this many variables ...
MAX_FREE_BYTES = 64 * 1024      # ... of at most this size as JSON
MAX_REPORTED = 20               # bad fields named in one answer
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """What no database stores alike in a string, or None."""
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    return "contains a NUL character" if found.group() == "\x00" else "is not valid Unicode (lone surrogate)"


def int_problem(value: int) -> str | None:
    return None if INT_MIN <= value <= INT_MAX else "is outside the 64-bit integer range"


def check_text(field: str, value: str | None) -> None:
    problem = value and text_problem(value)
    if problem:
        raise InvalidInput(f"{field} {problem}", fields={field: problem})


def check_json(value: Any, field: str = "") -> None:
    """Raise InvalidInput naming each bad place of a JSON-like value (``a.b.3``; ``field``
    prefixes them, the whole value is ``field`` or "body"): bad strings (keys too), integers
    beyond 64 bits, non-finite numbers, nesting deeper than MAX_DEPTH, non-JSON types."""
    problems: dict[str, str] = {}
    stack = [(field, value, 0)]
    while stack and len(problems) < MAX_REPORTED:
        path, item, depth = stack.pop()
        name = path or "body"
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                problems[name] = f"nested deeper than {MAX_DEPTH} levels"
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and text_problem(key):
                    problems[name] = f"has a key that {text_problem(key)}"
                    continue
                stack.append((f"{path}.{key}" if path else str(key), child, depth + 1))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                problems[name] = problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            problem = int_problem(item)
            if problem:
                problems[name] = problem
        elif isinstance(item, float):
            if not math.isfinite(item):
                problems[name] = "is not a finite number"
        else:
            problems[name] = f"is not a JSON value ({type(item).__name__})"
    if problems:
        ordered = dict(sorted(problems.items()))
        raise InvalidInput("invalid data: " + "; ".join(f"{k}: {v}" for k, v in ordered.items()), fields=ordered)


_WORD_KEY = re.compile(r"\w+")
MAX_KEY_LENGTH = 100


def check_free_data(data: dict[str, Any]) -> None:
    """Data no form describes (a process without a start form, a task without a form) becomes
    process variables as it is: keys of word characters (letters, digits, ``_``; a list's
    positions "0", "1" … too, as SpiffWorkflow's own tests use them) not starting with ``_``,
    and bounded in number and size."""
    bad = {key: "is not a variable name" for key in data
           if not _WORD_KEY.fullmatch(key) or key.startswith("_") or len(key) > MAX_KEY_LENGTH}
    if bad:
        raise InvalidInput("invalid data: " + "; ".join(f"{k}: {v}" for k, v in bad.items()), fields=bad)
    if len(data) > MAX_FREE_KEYS:
        raise InvalidInput(f"at most {MAX_FREE_KEYS} variables without a form",
                           fields={"data": f"at most {MAX_FREE_KEYS} keys"})
    size = len(jsontext.dumps(data).encode())
    if size > MAX_FREE_BYTES:
        raise InvalidInput(f"data without a form is {size} bytes as JSON, at most {MAX_FREE_BYTES}",
                           fields={"data": f"at most {MAX_FREE_BYTES} bytes as JSON"})
