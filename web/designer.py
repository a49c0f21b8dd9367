"""The process designer's read-only view of what is deployed (newest version of each key)."""
from __future__ import annotations

from flask import Blueprint, render_template

from engine import definitions
from engine.errors import Forbidden

from .pages import current_actor, login_required
from .services import reading

bp = Blueprint("designer", __name__)


@bp.get("/designer")
@login_required
def index():
    if not current_actor().has_role("designer"):
        raise Forbidden("only process designers see the deployed definitions")
    with reading() as s:
        rows = [{"key": d.key, "name": d.name, "version": d.version, "deployed_at": d.deployed_at,
                 "deployed_by": d.deployed_by, "forms": sorted(d.forms or {}),
                 "case_process": (d.properties or {}).get("caseProcess", "").lower() == "true"}
                for d in definitions.list_definitions(s)]
    return render_template("designer.html", active="designer", definitions=rows)
