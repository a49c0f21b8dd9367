"""Incidents: instances that cannot go on by themselves (engine/incidents.py), for designers and
supervisors to look at and retry."""
from __future__ import annotations

from gridloop.engine import incidents

from ..services import reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Incidents", __name__, url_prefix="/api/v1", description="Instances that need a person")


@blp.route("/incidents")
@blp.arguments(schemas.IncidentQuery, location="query")
@blp.response(200, schemas.IncidentPage)
@errors(403)
def incident_list(query):
    """Incidents newest first (designers: all; supervisors: their area's and those of
    instances without a case; others 403), by status (default open), kind and instance."""
    with reading() as s:
        items, total = incidents.incident_list(s, actor(), **query)
    return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}


@blp.route("/incidents/<int:incident_id>")
@blp.response(200, schemas.Incident)
@errors(403, 404)
def incident(incident_id):
    """One incident."""
    with reading() as s:
        return incidents.incident_detail(s, actor(), incident_id)


@blp.route("/incidents/<int:incident_id>/retry", methods=["POST"])
@blp.response(200, schemas.Incident)
@errors(403, 404, 409, 422)
def retry(incident_id):
    """Run the instance again from where it failed (after a fix or a migration): the answer is
    the incident, resolved if the instance moved on; 422 if it fails again (counted)."""
    return runtime().retry_incident(actor(), incident_id)
