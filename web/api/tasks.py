"""Tasks: the inbox by scope, one task with its form, and the claim / unclaim / complete commands."""
from __future__ import annotations

from engine import queries

from ..services import now, reading, runtime
from . import schemas
from .core import ApiBlueprint, actor

blp = ApiBlueprint("Tasks", __name__, url_prefix="/api/v1", description="The task inbox")


def _task(task_id: str) -> dict:
    with reading() as s:
        return queries.task_detail(s, actor(), task_id, now())


@blp.route("/tasks")
@blp.arguments(schemas.TaskQuery, location="query")
@blp.response(200, schemas.TaskPage)
def inbox(query):
    """mine: claimed by me; claimable: offered to my role in my area; area: all open (supervisors).
    Soonest deadline first."""
    with reading() as s:
        items, total = queries.inbox(s, actor(), now=now(), **query)
    return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}


@blp.route("/tasks/<task_id>")
@blp.response(200, schemas.TaskDetail)
def detail(task_id):
    """A task, its case summary and its form (JSON Schema)."""
    return _task(task_id)


@blp.route("/tasks/<task_id>/claim", methods=["POST"])
@blp.response(200, schemas.Task)
def claim(task_id):
    """Claim (a liaison's "report in"): of concurrent claims exactly one wins, the rest get 409."""
    runtime().claim(actor().id, task_id)
    return _task(task_id)


@blp.route("/tasks/<task_id>/unclaim", methods=["POST"])
@blp.response(200, schemas.Task)
def unclaim(task_id):
    """Put a claimed task back into its queue (its holder, or a supervisor of the area)."""
    runtime().unclaim(actor().id, task_id)
    return _task(task_id)


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
@blp.arguments(schemas.Complete)
@blp.response(200, schemas.Task)
def complete(body, task_id):
    """Complete with form data; 400 names each invalid field, 409 if someone else was first."""
    runtime().complete_task(actor().id, task_id, body["data"])
    return _task(task_id)
