"""Evidence: photos of a case as reported, of its resolution and of its verification (before
and after). Each upload is checked and re-encoded (``engine/images.py``) and written to the
photo store before the command that records it; the command checks who may add it
(``engine/policy.py``) and writes the photo rows and a history event in one transaction.
Seeing a photo takes what seeing its case takes (``queries.get_case``)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from . import casestages, images, org, policy, queries
from .errors import Forbidden, InvalidInput, NotFound
from .model import Case, Photo, Task, User

if TYPE_CHECKING:
    from .command import Command, Engine

MAX_PER_UPLOAD = 6   # photos per upload by staff
PUBLIC_MAX = 3       # photos with a resident's report


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the form field or file name (errors name it) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Stored:
    """A processed photo whose files are in the store, ready to be recorded."""

    photo: images.Processed
    file_key: str
    thumb_key: str


@dataclass(frozen=True)
class PhotoInfo:
    """A recorded photo as its commands answer and its pages list it: what it shows and who
    added it (None: a resident), not where its files are."""

    id: int
    case_id: int
    task_id: str | None
    kind: str
    width: int
    height: int
    size: int
    taken_at: datetime | None
    gps: dict[str, Any] | None
    uploaded_at: datetime
    uploaded_by: str | None

    @classmethod
    def of(cls, photo: Photo, uploaded_by: str | None) -> PhotoInfo:
        return cls(photo.id, photo.case_id, photo.task_id, photo.kind, photo.width, photo.height, photo.size,
                   photo.taken_at, photo.gps, photo.uploaded_at, uploaded_by)


def file_keys(image: bytes) -> tuple[str, str]:
    digest = hashlib.sha256(image).hexdigest()
    return f"{digest[:2]}/{digest}.jpg", f"{digest[:2]}/{digest}-thumb.jpg"


def prepare(rt: Engine, uploads: list[Upload], most: int = MAX_PER_UPLOAD) -> list[Stored]:
    """Check and re-encode every upload, then store their files: one bad file refuses them
    all (InvalidInput or TooLarge naming it) and nothing is stored."""
    if len(uploads) > most:
        raise InvalidInput(f"at most {most} photos at a time", fields={"photos": f"at most {most} photos"},
                           reason="photo_count", field_reasons={"photos": ("photo_count", {"limit": most})})
    processed = [images.process(u.data, rt.photo_limits, rt.calendar.tz, u.name) for u in uploads]
    stored = []
    for photo in processed:
        file_key, thumb_key = file_keys(photo.image)
        rt.photo_store.put(file_key, photo.image)
        rt.photo_store.put(thumb_key, photo.thumbnail)
        stored.append(Stored(photo, file_key, thumb_key))
    return stored


def record(cmd: Command, case_id: int, instance_id: int | None, task_id: str | None, kind: str,
           stored: list[Stored], user_id: int | None) -> list[Photo]:
    """Write the photo rows and a ``photos_added`` event, in the caller's command."""
    s, now = cmd.session, cmd.now()
    rows = [Photo(case_id=case_id, task_id=task_id, kind=kind, file_key=p.file_key, thumb_key=p.thumb_key,
                  width=p.photo.width, height=p.photo.height, size=len(p.photo.image), taken_at=p.photo.taken_at,
                  gps=p.photo.gps, uploaded_by_id=user_id, uploaded_at=now) for p in stored]
    s.add_all(rows)
    s.flush()
    if rows:
        cmd.event("photos_added", instance_id, case_id, task_id, user_id,
                  {"kind": kind, "count": len(rows), "photos": [r.id for r in rows]})
    return rows


def _case_target(s: Session, who: org.Actor, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    if not policy.may_add_case_photo(who, case):
        raise Forbidden("you may not add photos to this case" if case.status == "open"
                        else f"case is {case.status}; photos can no longer be added")
    return case


def _task_target(s: Session, who: org.Actor, task_id: str) -> Task:
    task = s.get(Task, task_id)
    if task is None or task.case_id is None:
        raise NotFound(f"task {task_id} not found" if task is None else "this task belongs to no case")
    if not policy.may_add_task_photo(who, task):
        raise Forbidden("only who may act on this open task may add photos to it")
    return task


def add_to_case(rt: Engine, actor: org.Actor | int, case_id: int, uploads: list[Upload]) -> list[PhotoInfo]:
    """Add photos of what was reported (by its reporter, or anyone who may report there).
    Rights are checked before the files are processed and again in the command."""
    with rt.db.reading() as s:
        _case_target(s, org.actor(s, actor), case_id)
    stored = prepare(rt, uploads)
    with rt.command() as cmd:
        who = org.actor(cmd.session, actor)
        case = _case_target(cmd.session, who, case_id)
        rows = record(cmd, case.id, case.instance_id, None, "report", stored, who.id)
        return [PhotoInfo.of(r, who.username) for r in rows]


def add_to_task(rt: Engine, actor: org.Actor | int, task_id: str, uploads: list[Upload]) -> list[PhotoInfo]:
    """Add photos to an open task (its resolution, its verification): who may act on it only."""
    with rt.db.reading() as s:
        _task_target(s, org.actor(s, actor), task_id)
    stored = prepare(rt, uploads)
    with rt.command() as cmd:
        who = org.actor(cmd.session, actor)
        task = _task_target(cmd.session, who, task_id)
        assert task.case_id is not None  # _task_target refuses a task of no case
        kind = casestages.of_case(cmd.session, task.case_id).photo_kind(task.stage)  # the process's photoKinds
        rows = record(cmd, task.case_id, task.instance_id, task.id, kind, stored, who.id)
        return [PhotoInfo.of(r, who.username) for r in rows]


# ------------------------------------------------------------------------------ reading

def _listed(s: Session, where: ColumnElement[bool]) -> list[PhotoInfo]:
    rows = s.execute(select(Photo, User.username).outerjoin(User, User.id == Photo.uploaded_by_id)
                     .where(where).order_by(Photo.id))
    return [PhotoInfo.of(photo, username) for photo, username in rows]


def case_photos(s: Session, actor: org.Actor, case_id: int) -> list[PhotoInfo]:
    """Every photo of a case, oldest first, for those who may see the case."""
    queries.get_case(s, actor, case_id)
    return _listed(s, Photo.case_id == case_id)


def task_photos(s: Session, task_id: str) -> list[PhotoInfo]:
    """The photos added to one task (its page checked who may see it)."""
    return _listed(s, Photo.task_id == task_id)


def photo_file(rt: Engine, s: Session, actor: org.Actor, photo_id: int, thumbnail: bool = False) -> bytes:
    """A photo's JPEG (or thumbnail), for those who may see its case."""
    photo = s.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"photo {photo_id} not found")
    queries.get_case(s, actor, photo.case_id)
    return rt.photo_store.get(photo.thumb_key if thumbnail else photo.file_key)
