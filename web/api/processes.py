"""Any deployed process: start an instance, look at it, send it messages and signals."""
from __future__ import annotations

from flask import url_for

from gridloop.engine import queries

from ..services import now, reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Processes", __name__, url_prefix="/api/v1", description="Process instances, messages, signals")


def _instance(instance_id: int) -> dict:
    with reading() as s:
        return queries.instance_detail(s, actor(), instance_id, now())


@blp.route("/process-instances", methods=["POST"])
@blp.arguments(schemas.StartInstance)
@blp.response(201, schemas.StartedInstance, headers={"Location": {"description": "the instance's URL",
                                                                 "schema": {"type": "string"}}})
@errors(403, 404, 422)
def start(body):
    """Start a process by key (newest version unless one is given) with initial data. The
    answer is the instance with its open tasks; its history is at ``Location``."""
    started = runtime().start_process(actor(), body["key"], body["data"], version=body.get("version"))
    current = now()
    answer = {**vars(started), "case_id": None, "error": None,
              "open_tasks": [queries.task_dict(t, current) for t in started.open_tasks]}
    return answer, {"Location": url_for(".instance", instance_id=started.id)}


@blp.route("/process-instances")
@blp.arguments(schemas.InstanceQuery, location="query")
@blp.response(200, schemas.InstancePage)
def instances(query):
    """Process instances, newest first (designers and supervisors: all; others: those they
    started), by process key and status."""
    with reading() as s:
        items, total = queries.instance_list(s, actor(), **query)
    return {"items": items, "total": total, "total_capped": total.capped, "page": query["page"],
            "per_page": query["per_page"]}


@blp.route("/process-instances/<int:instance_id>")
@blp.response(200, schemas.Instance)
@errors(403, 404)
def instance(instance_id):
    """An instance with its open tasks and its history."""
    return _instance(instance_id)


@blp.route("/process-instances/<int:instance_id>/variables")
@blp.response(200, schemas.InstanceVariables)
@errors(403, 404)
def variables(instance_id):
    """An instance's current process data (designers; supervisors of its case's area, or any
    supervisor if it has no case; the user who started it)."""
    with reading() as s:
        return queries.instance_variables(s, actor(), instance_id)


@blp.route("/messages", methods=["POST"])
@blp.arguments(schemas.Message)
@blp.response(200, schemas.Delivered)
@errors(403, 404, 409, 422)
def message(body):
    """Deliver a message to the instances waiting for it with matching correlation, or start the
    processes whose start event catches it (404 if none; 400 if it names no correlation and
    starts nothing; 403 if the catching element's ``senders`` do not include you)."""
    sent = runtime().send_message(actor(), body["name"], body["correlation"], body["payload"],
                                  body.get("instance_id"))
    return {"instances": list(sent), "started": sent.started}


@blp.route("/signals", methods=["POST"])
@blp.arguments(schemas.Signal)
@blp.response(200, schemas.Delivered)
@errors(403, 404, 409, 422)
def signal(body):
    """Broadcast a signal to every instance waiting for it (403 if its ``senders`` do not include you)."""
    sent = runtime().send_signal(actor(), body["name"], body["payload"])
    return {"instances": list(sent), "started": sent.started}
