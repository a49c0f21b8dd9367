"""Photos on the pages: the files of a request's photo field as the engine takes them, and a
photo or its thumbnail for the signed-in user who may see its case."""
from __future__ import annotations

from flask import Blueprint, Response, request

from gridloop.engine import photos
from gridloop.engine.errors import EngineError

from . import refusals
from .pages import current_actor, login_required
from .services import reading, runtime

bp = Blueprint("photos", __name__)
FIELD = "photos"


def uploads() -> list[photos.Upload]:
    """The files chosen in the form's photo field (a browser sends an empty part for none)."""
    return [photos.Upload(f.filename or FIELD, f.read()) for f in request.files.getlist(FIELD) if f.filename]


def errors_of(exc: EngineError) -> dict[str, str]:
    """A photo's refusal on the form, in the page's language: under the photo field, naming the file."""
    messages = refusals.field_messages(exc)
    return {FIELD: "; ".join(f"{name}: {why}" if name != FIELD else why for name, why in messages.items())
            or refusals.explain(exc)}


def _file(photo_id: int, thumbnail: bool) -> Response:
    with reading() as s:
        data = photos.photo_file(runtime(), s, current_actor(), photo_id, thumbnail)
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@bp.get("/photos/<int:photo_id>")
@login_required
def photo(photo_id: int):
    return _file(photo_id, False)


@bp.get("/photos/<int:photo_id>/thumbnail")
@login_required
def thumbnail(photo_id: int):
    return _file(photo_id, True)
