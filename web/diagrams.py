"""The diagram of a process instance for the HTML pages (session sign-in, unlike the API's
bearer token): its version's BPMN and where it stands, from the same engine queries as
``GET /api/v1/process-instances/{id}/diagram``, plus each element's history events in the
page's language for the list shown when an element is clicked."""
from __future__ import annotations

from flask import Blueprint, Response, url_for

from gridloop.engine import diagram, queries, versions
from gridloop.engine import timeline as timelines

from .i18n import localtime, timeline
from .pages import current_actor, login_required
from .services import now, reading

bp = Blueprint("diagrams", __name__)


def element_events(items: list[dict]) -> dict[str, list[dict]]:
    """Timeline items (engine/timeline.py) by the BPMN element they concern, in the page's language."""
    out: dict[str, list[dict]] = {}
    for told in timeline(items):
        if told["element"]:
            out.setdefault(told["element"], []).append({"at": told["at"].isoformat(), "when": localtime(told["at"]),
                                                        "text": told["text"]})
    return out


@bp.get("/instances/<int:instance_id>/diagram")
@login_required
def state(instance_id: int):
    with reading() as s:
        found = diagram.instance_diagram(s, current_actor(), instance_id, now())
        found["events"] = element_events(timelines.read(s, queries.history(s, instance_id=instance_id)))
    found["xml_url"] = url_for(".xml", instance_id=instance_id)
    return found


@bp.get("/instances/<int:instance_id>/xml")
@login_required
def xml(instance_id: int):
    with reading() as s:
        inst = diagram.visible_instance(s, current_actor(), instance_id)
        _, files = versions.sources(s, inst.key, inst.version)
    return Response(versions.main_file(files, inst.key)[1], mimetype="application/xml")
