"""Bearer tokens and the signed-in user."""
from __future__ import annotations

from flask import current_app, g
from werkzeug.exceptions import Unauthorized

from gridloop.engine import org, queries
from gridloop.engine.model import User

from ..services import now, reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors, public

blp = ApiBlueprint("Auth", __name__, url_prefix="/api/v1", description="Tokens and the current user")


@blp.route("/auth/token", methods=["POST"])
@public
@blp.arguments(schemas.TokenRequest)
@blp.response(200, schemas.Token)
@errors(401, 429)
def token(body):
    """Exchange username and password for a bearer token (valid for 7 days). Failed attempts
    are limited per username and per client address (429 with Retry-After)."""
    signed = org.sign_in(runtime().db, body["username"], body["password"], now())
    if signed is None:
        raise Unauthorized("wrong username or password")
    user, issued = signed
    return {"token": issued, "user": queries.user_dict(user)}


@blp.route("/auth/token", methods=["DELETE"])
@blp.response(204)
def revoke():
    """Sign out: the token in use stops working (at once on this server process, on the
    others within GRIDLOOP_API_TOKEN_CACHE_SECONDS)."""
    org.revoke_token(runtime().db, g.api_token)
    current_app.extensions["gridloop_tokens"].drop(g.api_token)


@blp.route("/me")
@blp.response(200, schemas.User)
def me():
    """The user the token belongs to: roles, org unit and department."""
    with reading() as s:
        return queries.user_dict(s.get(User, actor().id))
