"""Which streets, communities and grids each department liaison serves (administrators bind;
supervisors may read): a whistle to a department with nobody serving the case's area is refused."""
from __future__ import annotations

from gridloop.engine import liaisons

from ..services import reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Liaisons", __name__, url_prefix="/api/v1", description="Department liaisons' areas")


@blp.route("/liaisons")
@blp.arguments(schemas.LiaisonQuery, location="query")
@blp.response(200, schemas.LiaisonAreas(many=True))
@errors(403)
def liaison_list(query):
    """Each liaison with the areas she serves (administrators and supervisors)."""
    with reading() as s:
        return liaisons.listing(s, actor(), department=query.get("department"))


@blp.route("/liaisons/<username>/areas/<unit>", methods=["PUT"])
@blp.response(200, schemas.LiaisonAreas)
@errors(403, 404)
def bind(username, unit):
    """Bind a liaison to a street, community or grid inside her own area (400 otherwise)."""
    return runtime().bind_liaison(actor(), username, [unit])


@blp.route("/liaisons/<username>/areas/<unit>", methods=["DELETE"])
@blp.response(200, schemas.LiaisonAreas)
@errors(403, 404)
def unbind(username, unit):
    """Release a liaison from an area (404 if she was not bound to it)."""
    return runtime().unbind_liaison(actor(), username, unit)
