"""Photos of a case (evidence): added to a case or one of its open tasks (multipart), listed
per case, fetched (the JPEG or its thumbnail) by those who may see the case."""
from __future__ import annotations

from dataclasses import asdict

from flask import Response, url_for

from gridloop.engine import photos

from ..services import reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Photos", __name__, url_prefix="/api/v1", description="Photos of cases: before and after")
JPEG = {"type": "string", "format": "binary"}


def uploads(files) -> list[photos.Upload]:
    """The request's files as the engine takes them, each named by its file name (or position)."""
    return [photos.Upload(f.filename or f"photos[{i}]", f.read()) for i, f in enumerate(files)]


def with_urls(items: list[photos.PhotoInfo]) -> list[dict]:
    return [{**asdict(p), "url": url_for("Photos.photo_file", photo_id=p.id),
             "thumbnail_url": url_for("Photos.photo_thumbnail", photo_id=p.id)} for p in items]


@blp.route("/cases/<int:case_id>/photos", methods=["POST"])
@blp.arguments(schemas.PhotoUpload, location="files")
@blp.response(201, schemas.Photo(many=True))
@errors(403, 404, 413)
def case_upload(body, case_id):
    """Add photos of what was reported: its reporter, or whoever may report in its grid, while
    the case is open (400 for a file that is no JPEG/PNG or is damaged, 413 for a too large one)."""
    return with_urls(runtime().add_case_photos(actor(), case_id, uploads(body["photos"])))


@blp.route("/tasks/<task_id>/photos", methods=["POST"])
@blp.arguments(schemas.PhotoUpload, location="files")
@blp.response(201, schemas.Photo(many=True))
@errors(403, 404, 413)
def task_upload(body, task_id):
    """Add photos to an open task (its resolution, its verification): only who may act on it."""
    return with_urls(runtime().add_task_photos(actor(), task_id, uploads(body["photos"])))


@blp.route("/cases/<int:case_id>/photos")
@blp.response(200, schemas.Photo(many=True))
@errors(403, 404)
def case_photos(case_id):
    """Every photo of a case, oldest first, with its kind and the task it was added to."""
    with reading() as s:
        return with_urls(photos.case_photos(s, actor(), case_id))


def _file(photo_id: int, thumbnail: bool) -> Response:
    with reading() as s:
        data = photos.photo_file(runtime(), s, actor(), photo_id, thumbnail)
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@blp.route("/photos/<int:photo_id>")
@blp.response(200, JPEG, content_type="image/jpeg")
@errors(403, 404)
def photo_file(photo_id):
    """The photo (JPEG), for those who may see its case."""
    return _file(photo_id, False)


@blp.route("/photos/<int:photo_id>/thumbnail")
@blp.response(200, JPEG, content_type="image/jpeg")
@errors(403, 404)
def photo_thumbnail(photo_id):
    """Its thumbnail (JPEG, at most 320 pixels on the long side)."""
    return _file(photo_id, True)
