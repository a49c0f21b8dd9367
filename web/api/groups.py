"""Groups of users that lanes and process properties can name (administrators only)."""
from __future__ import annotations

from gridloop.engine import groups

from ..services import reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Groups", __name__, url_prefix="/api/v1", description="Groups of users (administrators)")


@blp.route("/groups")
@blp.response(200, schemas.Group(many=True))
@errors(403)
def group_list():
    """Every group with its members (403 for anyone but an administrator)."""
    with reading() as s:
        return groups.list_groups(s, actor())


@blp.route("/groups", methods=["POST"])
@blp.arguments(schemas.GroupCreate)
@blp.response(201, schemas.Group)
@errors(403, 409)
def create(body):
    """A new, empty group (409 if the name is taken; 400 for a built-in role's name)."""
    return runtime().create_group(actor(), body["name"], body.get("title"))


@blp.route("/groups/<name>/members/<username>", methods=["PUT"])
@blp.response(200, schemas.Group)
@errors(403, 404)
def add_member(name, username):
    """Put a user into the group (a no-op if she is in it)."""
    return runtime().add_group_members(actor(), name, [username])


@blp.route("/groups/<name>/members/<username>", methods=["DELETE"])
@blp.response(200, schemas.Group)
@errors(403, 404)
def remove_member(name, username):
    """Take a user out of the group (404 if she is not in it)."""
    return runtime().remove_group_members(actor(), name, [username])
