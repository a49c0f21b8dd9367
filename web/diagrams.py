"""The diagram of a process instance for the HTML pages (session sign-in, unlike the API's
bearer token): its version's BPMN and where it stands, from the same engine queries as
``GET /api/v1/process-instances/{id}/diagram``, plus each element's history events in the
page's language for the list shown when an element is clicked."""
from __future__ import annotations

from flask import Blueprint, Response, url_for

from gridloop.engine import diagram, queries, versions

from .i18n import localtime, timeline
from .pages import current_actor, login_required
from .services import now, reading

bp = Blueprint("diagrams", __name__)


def element_events(history: list[dict]) -> dict[str, list[dict]]:
    """History events by the BPMN element they concern: a task's events through its
    ``task_created`` event (which names the element), timers by their payload."""
    elements = {e["task_id"]: e["payload"]["element"] for e in history
                if e["type"] == "task_created" and e.get("task_id") and (e.get("payload") or {}).get("element")}
    out: dict[str, list[dict]] = {}
    for event, told in zip(history, timeline(history), strict=True):
        element = (event.get("payload") or {}).get("element") or elements.get(event.get("task_id"))
        if element:
            out.setdefault(element, []).append({"at": event["at"].isoformat(), "when": localtime(event["at"]),
                                                "text": told["text"]})
    return out


@bp.get("/instances/<int:instance_id>/diagram")
@login_required
def state(instance_id: int):
    with reading() as s:
        found = diagram.instance_diagram(s, current_actor(), instance_id, now())
        found["events"] = element_events(queries.history(s, instance_id=instance_id))
    found["xml_url"] = url_for(".xml", instance_id=instance_id)
    return found


@bp.get("/instances/<int:instance_id>/xml")
@login_required
def xml(instance_id: int):
    with reading() as s:
        inst = diagram.visible_instance(s, current_actor(), instance_id)
        _, files = versions.sources(s, inst.key, inst.version)
    return Response(versions.main_file(files, inst.key)[1], mimetype="application/xml")
