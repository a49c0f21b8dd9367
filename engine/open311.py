"""Open311 GeoReport v2 over the engine: services are the case process's categories (their
attributes are the start form's further fields), a request is a case reported from outside.

Only cases that came in through a public channel (``residents.PUBLIC_SOURCES``) are listed,
and never with the reporter's name or phone. Creating one needs a client application's API
key (``gridloop open311-key``), stored only as a SHA-256 hash.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import casestages, org, policy, residents
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .model import Case, Department, Open311Client, Place

if TYPE_CHECKING:
    from .command import Engine
    from .runtime import Runtime
    from .start_commands import CaseRef

# Start-form fields Open311 fills from its own arguments; the others are a service's attributes.
CORE_FIELDS = ("category", "description", "source", "grid", "reporter", "location")
FILLED_IN = ("title",)  # required by the form, but made from the service's name when not given
MAX_DAYS = 90
MAX_REQUESTS = 1000
STATUSES = ("open", "closed")


# ------------------------------------------------------------------------------ client keys

def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _admin(s: Session, actor: org.Actor | int | None) -> None:
    if not policy.may_administer_access(org.acting(s, actor)):
        raise Forbidden("only administrators manage Open311 client applications")


def create_client(rt: Engine, actor: org.Actor | int | None, name: str) -> str:
    """A new client application (administrators; ``None``: the command line); returns its
    API key (shown once, stored as a hash)."""
    with rt.command() as cmd:
        s = cmd.session
        _admin(s, actor)
        name = name.strip()
        if not name or len(name) > 80:
            raise InvalidInput("a client's name is 1 to 80 characters")
        key = secrets.token_urlsafe(32)
        s.add(Open311Client(name=name, key_hash=_hash(key), created_at=rt.clock.now()))
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"client '{name}' exists already") from None
        return key


def revoke_client(rt: Engine, actor: org.Actor | int | None, name: str) -> None:
    with rt.command() as cmd:
        s = cmd.session
        _admin(s, actor)
        client = s.scalars(select(Open311Client).where(Open311Client.name == name)).first()
        if client is None:
            raise NotFound(f"client '{name}' not found")
        client.revoked_at = client.revoked_at or rt.clock.now()


def clients(s: Session) -> list[dict[str, Any]]:
    return [{"name": c.name, "created_at": c.created_at, "revoked_at": c.revoked_at}
            for c in s.scalars(select(Open311Client).order_by(Open311Client.name))]


def client_for_key(s: Session, key: str | None) -> str:
    """The name of the live client application with this key; Forbidden otherwise."""
    if not key:
        raise Forbidden("api_key is required to create a service request")
    name = s.scalar(select(Open311Client.name).where(Open311Client.key_hash == _hash(key),
                                                      Open311Client.revoked_at.is_(None)))
    if name is None:
        raise Forbidden("invalid api_key")
    return name


# ------------------------------------------------------------------------------ services

def _datatype(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "singlevaluelist"
    if prop.get("type") == "array" and "enum" in prop.get("items", {}):
        return "multivaluelist"
    if prop.get("type") in ("number", "integer"):
        return "number"
    if prop.get("format") == "date-time":
        return "datetime"
    return "text" if (prop.get("maxLength") or 0) > 200 else "string"


def attributes(start_form: dict[str, Any]) -> list[dict[str, Any]]:
    """The start form's fields Open311 has no argument for, as service attributes."""
    required = set(start_form.get("required", [])) - set(FILLED_IN)
    found: list[dict[str, Any]] = []
    for name, prop in start_form.get("properties", {}).items():
        if name in CORE_FIELDS:
            continue
        datatype = _datatype(prop)
        options = prop.get("enum") or prop.get("items", {}).get("enum") or []
        labels = prop.get("x-enum-labels", prop.get("items", {}).get("x-enum-labels", {}))
        found.append({"variable": True, "code": name, "datatype": datatype, "required": name in required,
                      "datatype_description": prop.get("description"), "order": len(found) + 1,
                      "description": " / ".join(t for t in (prop.get("x-title-zh"), prop.get("title")) if t),
                      "values": [{"key": v, "name": " / ".join(labels.get(v, {}).get(k, "") for k in ("zh", "en")
                                                               if labels.get(v, {}).get(k)) or v}
                                 for v in options]})
    return found


def _departments(s: Session) -> dict[str, str]:
    return {code: name for code, name in s.execute(select(Department.code, Department.name))}


def services(rt: Runtime, s: Session) -> list[dict[str, Any]]:
    """Every category of the case process, as an Open311 service (realtime: the request id
    is answered at once)."""
    has_attributes = bool(attributes(rt.case_start_form()))
    departments = _departments(s)
    return [{"service_code": c["code"], "service_name": c["name"], "description": c["name_en"],
             "metadata": has_attributes, "type": "realtime", "keywords": f"{c['name']}, {c['name_en']}",
             "group": departments.get(c["department"], c["department"] or "")}
            for c in rt.categories()]


def service_definition(rt: Runtime, code: str) -> dict[str, Any]:
    if code not in {c["code"] for c in rt.categories()}:
        raise NotFound(f"service_code '{code}' not found")
    return {"service_code": code, "attributes": attributes(rt.case_start_form())}


# ------------------------------------------------------------------------------ creating a request

@dataclass(frozen=True)
class NewRequest:
    """A POST requests body, as the client sent it (``attributes``: code -> one or more values)."""

    service_code: str | None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    attributes: dict[str, list[str]] | None = None


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, not '{value}'", fields={name: "a number"}) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(f"{name} must be a finite number", fields={name: "a number"})
    return number


def _locate(rt: Runtime, s: Session, req: NewRequest) -> tuple[str, dict[str, Any]]:
    """The grid and location of a request: by lat/long (the grid whose boundary holds it),
    else by address_id (a place's code) or address_string (a place's address)."""
    if req.lat or req.long:
        if not (req.lat and req.long):
            raise InvalidInput("lat and long go together", fields={"lat": "with long", "long": "with lat"})
        lat, lon = _number("lat", req.lat), _number("long", req.long)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput("lat/long out of range", fields={"lat": "-90..90", "long": "-180..180"})
        grid = rt.grid_locator.grid_at(s, lat, lon)
        if grid is None:
            raise InvalidInput(f"the location {lat},{lon} lies outside every grid of this jurisdiction",
                               fields={"lat": "outside every grid", "long": "outside every grid"})
        location: dict[str, Any] = {"lat": lat, "lon": lon}
        if req.address_string:
            location["address"] = req.address_string[:200]
        return grid, location
    place = None
    if req.address_id:
        place = s.scalars(select(Place).where(Place.code == req.address_id)).first()
    elif req.address_string:
        place = s.scalars(select(Place).where(Place.address == req.address_string.strip())).first()
    else:
        raise InvalidInput("a location is required: lat and long, address_string or address_id",
                           fields={"lat": "required without an address"})
    if place is None:
        raise InvalidInput("the address is not one of this jurisdiction's compounds or buildings",
                           fields={"address_string": "unknown address"})
    location = {"address": (req.address_string or place.address)[:200]}
    if place.lat is not None and place.lon is not None:
        location.update(lat=place.lat, lon=place.lon)
    return place.grid.code, location


def _attribute_values(start_form: dict[str, Any], given: dict[str, list[str]]) -> dict[str, Any]:
    known = {a["code"]: a for a in attributes(start_form)}
    values: dict[str, Any] = {}
    for code, raw in given.items():
        if code not in known:
            raise InvalidInput(f"unknown attribute '{code}'", fields={f"attribute[{code}]": "unknown attribute"})
        kind = known[code]["datatype"]
        if kind == "multivaluelist":
            values[code] = raw
        elif kind == "number":
            values[code] = _number(f"attribute[{code}]", raw[-1])
        else:
            values[code] = raw[-1]
    return values


def create_request(rt: Runtime, api_key: str | None, req: NewRequest) -> CaseRef:
    """POST requests: check the key, the service, the location; report the case."""
    with rt.db.reading() as s:
        client = client_for_key(s, api_key)
        if not req.service_code:
            raise InvalidInput("service_code is required", fields={"service_code": "required"})
        service = next((c for c in rt.categories() if c["code"] == req.service_code), None)
        if service is None:
            raise NotFound(f"service_code '{req.service_code}' not found")
        grid, location = _locate(rt, s, req)
    start_form = rt.case_start_form()
    body: dict[str, Any] = {"title": service["name"], **_attribute_values(start_form, req.attributes or {}),
                            "category": service["code"], "description": req.description or "", "source": "open311",
                            "grid": grid, "location": location}
    name = " ".join(n.strip() for n in (req.first_name, req.last_name) if n and n.strip())
    reporter = {k: v for k, v in (("name", name), ("phone", (req.phone or "").strip())) if v}
    if reporter:
        body["reporter"] = reporter
    return rt.report_public(body, via={"ref": f"Open311 {client}"})


# ------------------------------------------------------------------------------ reading requests

def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _request(case: Case, departments: dict[str, str], names: dict[str, str], stage: str) -> dict[str, Any]:
    closed = case.status != "open"
    return {"service_request_id": case.number, "status": "closed" if closed else "open", "stage": stage,
            "service_name": names.get(case.category, case.category),
            "service_code": case.category, "description": case.description,
            "agency_responsible": departments.get(case.department or "", case.department),
            "service_notice": None, "requested_datetime": _iso(case.reported_at),
            "updated_datetime": _iso(case.closed_at if closed and case.closed_at else case.updated_at),
            "expected_datetime": _iso(case.due_at), "address": case.address, "address_id": None,
            "zipcode": None, "lat": case.lat, "long": case.lon, "media_url": None}


def _date(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(f"{name} must be a W3C date-time with a time zone, such as 2010-01-01T00:00:00Z",
                           fields={name: "a date-time with a time zone"})
    return parsed


def _codes(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def requests(rt: Runtime, s: Session, now: datetime, *, service_request_id: str | None = None,
             service_code: str | None = None, start_date: str | None = None, end_date: str | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
    """GET requests: by ids (which override every other filter), else the public-channel cases
    of a window of at most 90 days (the last 90 by default), newest first, at most 1000."""
    query = select(Case).where(Case.source.in_(residents.PUBLIC_SOURCES))
    ids = _codes(service_request_id)
    if ids:
        query = query.where(Case.number.in_(ids))
    else:
        start, end = _date("start_date", start_date), _date("end_date", end_date)
        end = end or (start + timedelta(days=MAX_DAYS) if start else now)
        start = start or end - timedelta(days=MAX_DAYS)
        if end < start:
            raise InvalidInput("end_date is before start_date", fields={"end_date": "after start_date"})
        if end - start > timedelta(days=MAX_DAYS):
            raise InvalidInput(f"start_date to end_date may span at most {MAX_DAYS} days",
                               fields={"end_date": f"at most {MAX_DAYS} days after start_date"})
        query = query.where(Case.reported_at >= start, Case.reported_at <= end)
        codes = _codes(service_code)
        if codes:
            query = query.where(Case.category.in_(codes))
        statuses = _codes(status)
        if any(v not in STATUSES for v in statuses):
            raise InvalidInput("status is open, closed or both", fields={"status": "open, closed"})
        if statuses == ["open"]:
            query = query.where(Case.status == "open")
        elif statuses == ["closed"]:
            query = query.where(Case.status != "open")
    rows = s.scalars(query.order_by(Case.reported_at.desc(), Case.id.desc()).limit(MAX_REQUESTS)).all()
    departments, names = _departments(s), {c["code"]: c["name"] for c in rt.categories()}
    stages = casestages.of_instances(s, (c.instance_id for c in rows))
    return [_request(c, departments, names, stages.get(c.instance_id or 0, casestages.NONE).citizen_status(c.stage))
            for c in rows]


def request(rt: Runtime, s: Session, number: str, now: datetime) -> dict[str, Any]:
    found = requests(rt, s, now, service_request_id=number) if "," not in number else []
    if not found:
        raise NotFound(f"service request '{number}' not found")
    return found[0]


def token(s: Session, value: str) -> dict[str, Any]:
    """A status link's token (what a resident got back) -> the request it follows."""
    number = s.scalar(select(Case.number).where(Case.status_token == value))
    if number is None:
        raise NotFound(f"token '{value}' not found")
    return {"service_request_id": number, "token": value}
