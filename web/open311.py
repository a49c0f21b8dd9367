"""Open311 GeoReport v2 at /open311/v2: ``.json`` or ``.xml`` (the spec's required format),
the spec's list-of-errors body on every error; a thin layer over ``engine.open311``."""
from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request
from lxml import etree

from gridloop.engine import open311

from .i18n import t
from .security import external_url
from .services import now, reading, runtime

PREFIX = "/open311/v2"
bp = Blueprint("open311", __name__, url_prefix=PREFIX)
FORMAT = "<any(json, xml):fmt>"
ITEM = {"attributes": "attribute", "values": "value"}  # the XML element of a list's items
ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")


def _fill(element, value) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(etree.SubElement(element, key), child)
    elif isinstance(value, list):
        for child in value:
            _fill(etree.SubElement(element, ITEM.get(element.tag, "item")), child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def _xml(root: str, item: str | None, data) -> Response:
    tree = etree.Element(root)
    if item is None:
        _fill(tree, data)
    else:
        for entry in data:
            _fill(etree.SubElement(tree, item), entry)
    body = etree.tostring(tree, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return Response(body, content_type="text/xml; charset=utf-8")


def answer(fmt: str, root: str, item: str | None, data, status: int = 200) -> Response:
    """``data`` in the format asked for: a list of ``item`` elements under ``root`` in XML
    (``item`` None: one object as ``root``), the list or object itself in JSON."""
    response = _xml(root, item, data) if fmt == "xml" else jsonify(data)
    response.status_code = status
    return response


def error_response(status: int, description: str) -> Response:
    """The spec's error body, in the format the URL names (XML unless it ends in .json)."""
    fmt = "json" if request.path.endswith(".json") else "xml"
    return answer(fmt, "errors", "error", [{"code": status, "description": description}], status)


def _notes(item: dict) -> dict:
    """A request as the spec lists it: the citizen's words for its stage as status_notes."""
    stage = item.pop("stage")
    return {**item, "status_notes": t(f"status.explain.{stage}")}


@bp.get(f"/services.{FORMAT}")
def services(fmt: str):
    with reading() as s:
        return answer(fmt, "services", "service", open311.services(runtime(), s))


@bp.get(f"/services/<code>.{FORMAT}")
def service_definition(code: str, fmt: str):
    return answer(fmt, "service_definition", None, open311.service_definition(runtime(), code))


def _new_request() -> open311.NewRequest:
    form = request.form
    attributes: dict[str, list[str]] = {}
    for key in form:
        match = ATTRIBUTE.match(key)
        if match:
            attributes.setdefault(match.group(1), []).extend(v for v in form.getlist(key) if v != "")
    value = {name: (form.get(name) or "").strip() or None
             for name in ("service_code", "lat", "long", "address_string", "address_id", "description",
                          "first_name", "last_name", "phone")}
    return open311.NewRequest(**value, attributes={k: v for k, v in attributes.items() if v})


@bp.post(f"/requests.{FORMAT}")
def create_request(fmt: str):
    case = open311.create_request(runtime(), request.form.get("api_key"), _new_request())
    notice = t("open311.notice", number=case.number,
               url=external_url("residents.status", token=case.status_token))
    return answer(fmt, "service_requests", "request",
                  [{"service_request_id": case.number, "service_notice": notice, "account_id": None}])


@bp.get(f"/requests.{FORMAT}")
def requests(fmt: str):
    filters = {name: request.args.get(name) for name in
               ("service_request_id", "service_code", "start_date", "end_date", "status")}
    with reading() as s:
        found = open311.requests(runtime(), s, now(), **filters)
    return answer(fmt, "service_requests", "request", [_notes(r) for r in found])


@bp.get(f"/requests/<number>.{FORMAT}")
def request_by_id(number: str, fmt: str):
    with reading() as s:
        found = open311.request(runtime(), s, number, now())
    return answer(fmt, "service_requests", "request", [_notes(found)])


@bp.get(f"/tokens/<token>.{FORMAT}")
def token(token: str, fmt: str):
    with reading() as s:
        return answer(fmt, "service_requests", "request", [open311.token(s, token)])

