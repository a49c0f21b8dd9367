"""Tasks: the inbox by scope (and a supervisor's overdue view), one task with its form, and the
claim / unclaim / complete / urge / assign commands."""
from __future__ import annotations

from gridloop.engine import casebrief, inbox_plan, queries, saved_filters

from ..services import local_tz, now, reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Tasks", __name__, url_prefix="/api/v1", description="The task inbox")


def _task(task_id: str) -> dict:
    with reading() as s:
        return queries.task_detail(s, actor(), task_id, now())


def _task_with_brief(task_id: str) -> dict:
    with reading() as s:
        task = queries.task_detail(s, actor(), task_id, now())
        task["brief"] = casebrief.task_brief(s, actor(), task_id)
    return task


@blp.route("/tasks")
@blp.arguments(schemas.TaskQuery, location="query")
@blp.response(200, schemas.TaskPage)
@errors(403)
def inbox(query):
    """mine: claimed by me; claimable: offered to my role in my area; area: all open (supervisors);
    overdue: open tasks of my area a time limit marked overdue or past their due time
    (supervisors); unassignable: open tasks offered to a role or group no active user has
    (supervisors and designers). Soonest deadline first unless ``sort`` says otherwise. The
    default view's count stops at 1000 (``total_capped``); any other filter, search or sort
    counts exactly."""
    scope, page, per_page = query.pop("scope"), query["page"], query["per_page"]
    with reading() as s:
        items, total = inbox_plan.inbox(s, actor(), scope, now=now(), tz=local_tz(), **query)
    return {"items": items, "total": total, "total_capped": total.capped, "page": page, "per_page": per_page}


@blp.route("/tasks/counts")
@blp.response(200, schemas.TaskCounts)
def counts():
    """How many tasks each of my inbox scopes holds (for badges), capped like the inbox totals."""
    with reading() as s:
        found = inbox_plan.tab_counts(s, actor(), now())
    return {scope: {"count": int(n), "capped": n.capped} for scope, n in found.items()}


@blp.route("/tasks/filters")
@blp.response(200, schemas.SavedFilter(many=True))
def filter_list():
    """My saved inbox filters, by name."""
    with reading() as s:
        return saved_filters.list_filters(s, actor())


@blp.route("/tasks/filters", methods=["POST"])
@blp.arguments(schemas.SavedFilterInput)
@blp.response(201, schemas.SavedFilter)
@errors(409)
def filter_create(body):
    """Save an inbox view under a name (400 for a scope I lack or an unknown filter, 409 for a
    name I already use)."""
    return runtime().save_filter(actor(), body["name"], body["scope"], body["params"])


@blp.route("/tasks/filters/<int:filter_id>", methods=["PATCH"])
@blp.arguments(schemas.SavedFilterRename)
@blp.response(200, schemas.SavedFilter)
@errors(403, 404, 409)
def filter_rename(body, filter_id):
    """Rename one of my saved filters (403 for anyone else's)."""
    return runtime().rename_filter(actor(), filter_id, body["name"])


@blp.route("/tasks/filters/<int:filter_id>", methods=["DELETE"])
@blp.response(204)
@errors(403, 404)
def filter_delete(filter_id):
    """Delete one of my saved filters (403 for anyone else's)."""
    runtime().delete_filter(actor(), filter_id)


@blp.route("/tasks/<task_id>")
@blp.response(200, schemas.TaskDetail)
@errors(403, 404)
def detail(task_id):
    """A task, its case summary, its form (JSON Schema) and ``brief``: what came before it on
    its case (recent history; the newest resolution, complaint, escalation or return reason)."""
    return _task_with_brief(task_id)


@blp.route("/tasks/<task_id>/claim", methods=["POST"])
@blp.response(200, schemas.Task)
@errors(403, 404, 409, 422)
def claim(task_id):
    """Claim (a liaison's "report in"): of concurrent claims exactly one wins, the rest get 409."""
    runtime().claim(actor(), task_id)
    return _task(task_id)


@blp.route("/tasks/<task_id>/unclaim", methods=["POST"])
@blp.response(200, schemas.Task)
@errors(403, 404, 409)
def unclaim(task_id):
    """Put a claimed task back into its queue (its holder, or a supervisor of the area)."""
    runtime().unclaim(actor(), task_id)
    return _task(task_id)


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
@blp.arguments(schemas.Complete)
@blp.response(200, schemas.Completed)
@errors(403, 404, 409, 422)
def complete(body, task_id):
    """Complete with form data; 400 names each invalid field, 409 if someone else was first.
    ``next_tasks`` are the instance's open tasks the caller may act on now."""
    who = actor()
    done = runtime().complete_task(who, task_id, body["data"])
    current, names = now(), (done.case_number, done.case_title)
    task = queries.task_dict(done.task, current, *names, who.username)
    task["next_tasks"] = [queries.task_dict(t, current, *names, who.username if t.assignee_id else None)
                          for t in done.next_for(who)]
    return task


@blp.route("/tasks/<task_id>/urge", methods=["POST"])
@blp.arguments(schemas.Urge)
@blp.response(200, schemas.Task)
@errors(403, 404, 409)
def urge(body, task_id):
    """Urge (催办) an open task of my area, with an optional note for its holder (supervisors;
    403 outside the area, 409 for a finished task, 400 for a note over 500 characters)."""
    runtime().urge(actor(), task_id, body.get("note"))
    return _task(task_id)


@blp.route("/tasks/<task_id>/assign", methods=["POST"])
@blp.arguments(schemas.Assign)
@blp.response(200, schemas.Task)
@errors(403, 404, 409)
def assign(body, task_id):
    """Assign (派单) an open or claimed task of my area to a user it is offered to; she holds it
    and is told (supervisors and coordinators; 400 for someone it is not offered to, 409 for a
    finished task or one she already holds)."""
    runtime().assign(actor(), task_id, body["user"])
    return _task(task_id)
