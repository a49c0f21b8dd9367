"""A State Council holiday notice (国务院办公厅关于 N 年部分节假日安排的通知) as a file a designer
loads: checked field by field before anything is stored, because one wrong date moves every
deadline of the year.

The file is one year of ``workflows/calendars/cn.json`` with the year and the notice's name::

    {"year": 2027, "source": "国办发明电〔2026〕… 号",
     "holidays": [{"name": "春节 Spring Festival", "dates": ["2027-02-06", …, "2027-02-13"]}],
     "workdays": ["2027-02-14"]}

Each holiday is a run of consecutive days (the notice's "X月X日至X月X日"), no day in two of
them; a make-up working day (调休上班) is a weekend day that is not also a holiday; every date
lies in the notice's year.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterable, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import InvalidInput

MAX_BYTES = 64 * 1024
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
SCHEMA = {
    "type": "object",
    "required": ["year", "source", "holidays", "workdays"],
    "additionalProperties": False,
    "properties": {
        "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
        "source": {"type": "string", "minLength": 1, "maxLength": 500},
        "holidays": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
            "type": "object", "required": ["name", "dates"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 120},
                           "dates": {"type": "array", "minItems": 1, "maxItems": 31, "items": _DATE}}}},
        "workdays": {"type": "array", "maxItems": 20, "items": _DATE},
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Notice:
    year: int
    content: dict[str, Any]  # source, holidays, workdays: what the calendar reads
    sha256: str


def parse(raw: bytes | str, weekend: Iterable[int]) -> Notice:
    """The checked notice, or ``InvalidInput`` naming every bad field (``holidays[1].dates[0]``)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_BYTES:
        raise InvalidInput(f"a notice file is at most {MAX_BYTES} bytes", fields={"file": f"{len(raw)} bytes"})
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise InvalidInput("the notice is not a JSON file", fields={"file": str(exc)[:200]}) from None
    problems = {_where(list(e.absolute_path), e): _say(e) for e in _VALIDATOR.iter_errors(data)}
    if problems:
        raise InvalidInput("the notice does not have the shape of a holiday notice", fields=problems)
    wrong = _check_dates(data, frozenset(weekend))
    if wrong:
        raise InvalidInput(f"the {data['year']} notice has wrong dates",
                           fields={field: message for field, (message, _) in wrong.items()},
                           field_reasons={field: reason for field, (_, reason) in wrong.items()})
    year = int(data["year"])  # JSON Schema's integer takes 2027.0 too
    content = {"source": data["source"], "holidays": data["holidays"], "workdays": sorted(data["workdays"])}
    digest = hashlib.sha256(json.dumps({"year": year, **content}, sort_keys=True,
                                       ensure_ascii=False).encode("utf-8")).hexdigest()
    return Notice(year, content, digest)


def _where(path: list[str | int], error: ValidationError) -> str:
    if error.validator in ("required", "additionalProperties"):  # the field itself, not its parent
        listed = cast("list[str]", error.validator_value if error.validator == "required" else error.instance)
        names = [n for n in listed if n in error.message.split("'")]  # of the required, or the object's
        path = [*path, *names[:1]]
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "notice"


def _say(error: ValidationError) -> str:
    if error.validator == "required":
        return "required"
    if error.validator == "additionalProperties":
        return "not a field of a holiday notice"
    if error.validator == "pattern":
        return f"{error.instance!r} is not a date written YYYY-MM-DD"
    return str(error.message)


def _check_dates(data: dict[str, Any], weekend: frozenset[int]) -> dict[str, tuple[str, tuple[str, dict[str, Any]]]]:
    """Field -> (message, (reason, params)): the reason names the page's text (web/i18n.py)."""
    year = data["year"]
    problems: dict[str, tuple[str, tuple[str, dict[str, Any]]]] = {}
    holidays: dict[date, str] = {}

    def bad(field: str, reason: str, message: str, **params: Any) -> None:
        problems[field] = (message, (f"notice_{reason}", params))

    def day(text: str, field: str) -> date | None:
        try:
            d = date.fromisoformat(text)
        except ValueError:
            bad(field, "no_date", f"{text} is not a date", date=text)
            return None
        if d.year != year:
            bad(field, "other_year", f"{text} is not in {year}: a notice covers its own year only",
                date=text, year=year)
            return None
        return d

    for i, holiday in enumerate(data["holidays"]):
        previous = None
        for j, text in enumerate(holiday["dates"]):
            field, d = f"holidays[{i}].dates[{j}]", day(text, f"holidays[{i}].dates[{j}]")
            if d is None:
                continue
            if d in holidays:
                bad(field, "overlap", f"{text} is already a day of {holidays[d]}: holidays overlap",
                    date=text, holiday=holidays[d])
            elif previous is not None and d != previous + timedelta(days=1):
                bad(field, "gap", f"{text} does not follow {previous.isoformat()}: a holiday is a run of "
                    "consecutive days, in order", date=text, previous=previous.isoformat())
            holidays.setdefault(d, holiday["name"])
            previous = d
    seen: set[date] = set()
    for i, text in enumerate(data["workdays"]):
        field, d = f"workdays[{i}]", day(text, f"workdays[{i}]")
        if d is None:
            continue
        if d in seen:
            bad(field, "twice", f"{text} is listed twice", date=text)
        elif d in holidays:
            bad(field, "holiday_workday", f"{text} is also a day of {holidays[d]}: a day is a holiday or a "
                "working day", date=text, holiday=holidays[d])
        elif d.weekday() not in weekend:
            bad(field, "weekday", f"{text} is a {_WEEKDAYS[d.weekday()]}, a working day already; a make-up "
                "working day (调休上班) falls on a weekend", date=text)
        seen.add(d)
    return problems
