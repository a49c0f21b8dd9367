"""SQLAlchemy tables: definitions, instances, the read model (cases, tasks) and history.

The serialized workflow lives only in ``process_instance.state``; everything a screen or a
report needs is denormalized into indexed columns so that reads never deserialize it.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, ClassVar

from sqlalchemy import (DDL, JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer,
                        String, Table, Text, TypeDecorator, UniqueConstraint, func, literal_column, text)
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None) if dialect.name == "sqlite" \
            else value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None \
            else value.astimezone(timezone.utc)


IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}
    __table__: ClassVar[Table]  # every model maps one table (SQLAlchemy types it as any FromClause)


class OrgUnit(Base):
    """A node of the grid tree: city → district → street → community → grid."""

    __tablename__ = "org_unit"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    # Materialized path of codes, "/city/district/.../self/": "in my area" is a prefix test.
    path: Mapped[str] = mapped_column(String(400), index=True)
    # A grid's area as a GeoJSON Polygon's rings ([[lon, lat], ...]): a reported location
    # finds its grid (engine/places.py). None: the grid has no drawn area.
    boundary: Mapped[list[Any] | None]

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])


class Place(Base):
    """A residential compound (小区) or one of its buildings: where a resident's QR code points.
    Each lies in one grid, so a report from its code needs no map."""

    __tablename__ = "place"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # compound / building
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)

    grid: Mapped[OrgUnit] = relationship()


class Department(Base):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(120))


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    display_name_en: Mapped[str | None] = mapped_column(String(120))  # English pages' name for her
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    org_unit: Mapped[OrgUnit | None] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship(lazy="joined")


class UserGroup(Base):
    """A group an administrator made (engine/groups.py); its members carry its name in ``roles``."""

    __tablename__ = "user_group"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(80))


class LiaisonArea(Base):
    """A department liaison bound to a grid, community or street she serves (定人定岗定责):
    a department task there reaches somebody only if such a binding covers it."""

    __tablename__ = "liaison_area"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), primary_key=True, index=True)
    bound_at: Mapped[datetime]


class Open311Client(Base):
    """A client application of the Open311 API; its key is stored only as a SHA-256 hash."""

    __tablename__ = "open311_client"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiToken(Base):
    """Bearer tokens, stored only as SHA-256 hashes."""

    __tablename__ = "api_token"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ProcessDefinition(Base):
    """One deployed version of one executable process (with the specs of what it calls)."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"), Index("ix_definition_hash", "key", "content_hash"))
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    sources: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)  # file name -> BPMN/DMN text
    forms: Mapped[dict[str, Any]]            # form file name -> JSON Schema
    properties: Mapped[dict[str, Any]]       # process-level extension properties
    spec: Mapped[str] = mapped_column(Text, deferred=True)  # serialized spec + subprocess specs
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str | None] = mapped_column(String(80))


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running/completed/error
    state: Mapped[str] = mapped_column(Text, deferred=True)
    # The process data as JSON text, written with the state (see readmodel.process_data).
    data: Mapped[str | None] = mapped_column(Text, deferred=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    definition: Mapped[ProcessDefinition] = relationship()

    # A stale writer (another command saved first) gets StaleDataError instead of a lost update.
    __mapper_args__ = {"version_id_col": revision}


class Case(Base):
    """The business object the citizen and the bureau see; one per case-process instance."""

    __tablename__ = "case"
    # The figures (engine/metrics.py) read the cases closed, or reported, in a period.
    # ix_case_path_closed serves a small area's closed cases (exact medians, drill-down lists);
    # ix_case_suspended_closed the few closed cases that were suspended (suspension_rate).
    __table_args__ = (Index("ix_case_path_status", "org_path", "status"),
                      Index("ix_case_suspended_closed", "closed_at", postgresql_where=text("suspension_count >= 1"),
                            sqlite_where=text("suspension_count >= 1")),
                      Index("ix_case_status_reported", "status", "reported_at"),
                      Index("ix_case_closed", "closed_at"), Index("ix_case_reported", "reported_at"),
                      Index("ix_case_path_closed", "org_path", "closed_at"),
                      Index("uq_case_source_ref", "source", "external_ref", unique=True))
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40), index=True)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    source: Mapped[str] = mapped_column(String(16))
    # The case's number in the system it came from (the 12345 hotline's ticket): one case per
    # (source, number), so importing a ticket again creates nothing (engine/hotline.py).
    external_ref: Mapped[str | None] = mapped_column(String(64))
    # The instance whose script reported the case (a patrol's hazard_inspection), if any.
    source_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(400))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    reporter_name: Mapped[str | None] = mapped_column(String(80))
    reporter_phone: Mapped[str | None] = mapped_column(String(40))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    department: Mapped[str | None] = mapped_column(String(40), index=True)
    stage: Mapped[str] = mapped_column(String(32), default="reported", index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open/closed/rejected
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    consult_unit: Mapped[str | None] = mapped_column(String(40))
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    # Handling limits missed (each one escalated the case by a timer); see docs/modelling.md.
    timeout_count: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # First whistle (department handling offered): report-in time is claimed_at - whistled_at.
    whistled_at: Mapped[datetime | None]
    # The whole case's deadline (time_limits.dmn case_limit, set by the process).
    due_at: Mapped[datetime | None]
    # When the case-deadline timer (marksOverdue=case) found it still open past due_at.
    overdue_at: Mapped[datetime | None]
    # Approved extensions that moved due_at (engine/deadlines.py).
    extension_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Approved suspensions (挂账): while ``suspended_at`` is set the case's clock stops
    # (engine/exceptions.py); a merged duplicate points at its original (合并).
    suspension_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    suspended_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", name="fk_case_merged_into"))
    updated_at: Mapped[datetime]
    feedback_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The reporter's status link (/s/<token>) of a case reported from outside (no account).
    status_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    feedback_task_id: Mapped[str | None] = mapped_column(String(36))
    feedback_contacted: Mapped[bool | None] = mapped_column(Boolean)
    feedback_resolved: Mapped[bool | None] = mapped_column(Boolean)
    # satisfied / basically_satisfied / unsatisfied from the reporter; no_feedback when the
    # feedback limit passed without an answer (the case closed by its timer).
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    feedback_comment: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[datetime | None]

    grid: Mapped[OrgUnit] = relationship()


# PostgreSQL: the closed cases that were open at a cut-off t (reported before t, closed at or
# after it) are those whose (reported_at, closed_at] contains t: a GiST lookup finds those few
# among millions (engine/metrics.py, open_span), where a closed_at range would read every case
# closed since.
OPEN_SPAN = func.tstzrange(Case.reported_at, Case.closed_at, literal_column("'(]'"))
Index("ix_case_open_span", OPEN_SPAN, postgresql_using="gist",
      postgresql_where=Case.status == "closed").ddl_if(dialect="postgresql")


# What a case_rollup row counts (engine/rollups.py): its cases and, of the closed ones, those
# with each property the figures count; then the two histograms' buckets.
CASE_ROLLUP_COUNTS = ("cases", "valid", "contacted", "resolved", "satisfied", "basically", "on_time", "rework",
                      "returned", "returns", "escalated", "level_2", "level_3", "level_4", "extended", "report_in")
CLOSE_BUCKETS = tuple(f"close_h{k:02d}" for k in range(29))
REPORT_IN_BUCKETS = tuple(f"report_in_h{k:02d}" for k in range(29))


class CaseRollup(Base):
    """Cases of one day or month × org unit (a case's own and each above it) × department ×
    category × source, counted for the figures and kept current by every command that changes
    a case (engine/rollups.py)."""

    __tablename__ = "case_rollup"
    __table_args__ = (UniqueConstraint("grain", "kind", "period", "since", "org_path", "department", "category",
                                       "source", name="uq_case_rollup_cell"),
                      Index("ix_case_rollup_unit", "org_path", "kind", "grain", "period"))  # an area's own rows
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    grain: Mapped[str] = mapped_column(String(5))    # day / month
    kind: Mapped[str] = mapped_column(String(8))     # reported / closed
    period: Mapped[date]                             # the local day, or the month's first day
    since: Mapped[date]                              # closed rows: when reported (same grain)
    org_path: Mapped[str] = mapped_column(String(400))
    department: Mapped[str] = mapped_column(String(40))  # "" for none
    category: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16))


for _column in (*CASE_ROLLUP_COUNTS, *CLOSE_BUCKETS, *REPORT_IN_BUCKETS):
    setattr(CaseRollup, _column, mapped_column(_column, Integer, nullable=False, default=0, server_default="0"))


# What a case_backlog row counts (engine/rollups.py): closed cases open at the cut-off, those
# overdue then, and those by time past the deadline (engine/metrics.py's age bands).
BACKLOG_BANDS = (("lt_1d", 0, 1), ("1d_3d", 1, 3), ("3d_7d", 3, 7), ("ge_7d", 7, None))
CASE_BACKLOG_COUNTS = ("cases", "overdue", *(f"band_{name}" for name, _low, _high in BACKLOG_BANDS))


class CaseBacklog(Base):
    """The closed cases that were open at the start (local midnight) of one day × org unit
    (a case's own and each above it) × department × category × source, kept current by the
    commands with the rollup (engine/rollups.py): the figures' backlog at a past cut-off
    without reading the case rows, whose number at a cut-off grows with the volume."""

    __tablename__ = "case_backlog"
    __table_args__ = (UniqueConstraint("day", "org_path", "department", "category", "source",
                                       name="uq_case_backlog_cell"),
                      Index("ix_case_backlog_unit", "org_path", "day"))  # an area's rows of a cut-off
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    day: Mapped[date]                                    # the cut-off is this day's local midnight
    org_path: Mapped[str] = mapped_column(String(400))
    department: Mapped[str] = mapped_column(String(40))  # "" for none
    category: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16))


for _column in CASE_BACKLOG_COUNTS:
    setattr(CaseBacklog, _column, mapped_column(_column, Integer, nullable=False, default=0, server_default="0"))


def _live(condition: str = "") -> dict[str, Any]:
    """Partial-index options: only the rows of live tasks (and ``condition``)."""
    where = text(f"{condition}(status = 'open' OR status = 'claimed')")
    return {"sqlite_where": where, "postgresql_where": where}


_LIVE = _live()
_FILTERS = ("category", "stage", "org_unit_code")  # the inbox filters, evaluated inside the index


class Task(Base):
    """One row per human task the engine ever offered; the id is SpiffWorkflow's task id."""

    __tablename__ = "task"
    # The inbox (engine/inbox_plan.py) reads each scope as arms that pin the leading columns of one
    # of these by equality: rows come out in inbox order (due_at, created_at, id) and counts are
    # ranges of a covering index (the trailing columns serve the inbox filters). The *_due ones
    # read a wide subtree in due order. They hold only live tasks (open/claimed: ~100k rows, not
    # the millions of completed ones); a query uses them when it says ``status = 'open'`` (or
    # 'claimed') literally. ix_task_area keeps serving queries over ``status IN (...)``.
    __table_args__ = (
        Index("ix_task_assignee", "assignee_id", "status", "due_at", "created_at", "id", **_LIVE),
        Index("ix_task_queue", "status", "role", "candidate_user_id", "department", "org_path", "due_at",
              "created_at", "id", *_FILTERS, **_LIVE),
        Index("ix_task_queue_due", "status", "role", "candidate_user_id", "department", "due_at", "created_at",
              "id", "org_path", *_FILTERS, **_LIVE),
        Index("ix_task_area_live", "status", "org_path", "due_at", "created_at", "id", *_FILTERS, **_LIVE),
        Index("ix_task_due", "status", "due_at", "created_at", "id", "org_path", *_FILTERS, **_LIVE),
        Index("ix_task_candidate", "candidate_user_id", "status", "due_at", "created_at", "id",
              **_live("candidate_user_id IS NOT NULL AND ")),
        Index("ix_task_area", "status", "org_path", "due_at"),
        Index("ix_task_instance", "instance_id", "status"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(120))
    element_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    form: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str | None] = mapped_column(String(40))
    org_unit_code: Mapped[str | None] = mapped_column(String(40))
    org_path: Mapped[str | None] = mapped_column(String(400))
    department: Mapped[str | None] = mapped_column(String(40))
    candidate_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # Who may not take it though a candidate (the task's ``notBy``: e.g. the case's resolver
    # never verifies it); refused when claiming or completing, left out of her queue.
    excluded_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open/claimed/completed/cancelled
    priority: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str | None] = mapped_column(String(40))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    data: Mapped[dict[str, Any] | None]
    # The task's data when it became ready, as JSON text; only the task's own page reads it.
    input: Mapped[str | None] = mapped_column(Text, deferred=True)
    urged_at: Mapped[datetime | None]
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    overdue_at: Mapped[datetime | None]

    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    case: Mapped[Case | None] = relationship()


class Event(Base):
    """Append-only history: who did what when, to which instance / case / task."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_case", "case_id", "id"), Index("ix_event_instance", "instance_id", "id"),
                      Index("ix_event_type_at", "type", "at"))
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime]
    payload: Mapped[dict[str, Any] | None]
    # The actor of the command that recorded it (also of the events the engine recorded in it
    # without one: a task it created); no foreign key, users are never deleted.
    caused_by_id: Mapped[int | None] = mapped_column(Integer)

    actor: Mapped[User | None] = relationship()


# JSONB on PostgreSQL: a sender's correlation values are found with an indexed containment
# query (``@>``, GIN) however many instances wait for the same message.
CorrelationJSON = JSON().with_variant(JSONB(), "postgresql")


class MessageWait(Base):
    """A message an instance waits for, with its correlation values, so senders find it by query."""

    __tablename__ = "message_wait"
    __table_args__ = (Index("ix_message_wait_name", "name"),
                      Index("ix_message_wait_correlation", "correlation", postgresql_using="gin",
                            postgresql_ops={"correlation": "jsonb_path_ops"}).ddl_if(dialect="postgresql"))
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # message / signal
    correlation: Mapped[dict[str, Any]] = mapped_column(CorrelationJSON)


class Incident(Base):
    """An instance that cannot go on by itself: a script over its budget, a process that
    stalled (running with nothing ready, waiting, timed or correlated), timers that kept
    failing. Open until a retry gets the instance moving again; listed for designers and
    supervisors (``engine/incidents.py``)."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_status", "status", "id"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    org_path: Mapped[str | None] = mapped_column(String(400))  # the case's, for area scoping
    kind: Mapped[str] = mapped_column(String(16))  # budget / stuck / timer
    element: Mapped[str | None] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open / resolved
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class OutboxEvent(Base):
    """Something users may be told about, written in the transaction of the command that caused
    it (the transactional outbox) by the database itself: a trigger copies each history event
    of a type in ``NOTIFIED`` (:data:`OUTBOX_TRIGGER`), so a command pays no statement of its
    own. The worker fans them out into notifications (engine/notifications.py)."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_pending", "expanded_at", "id"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # engine/notify.py EVENTS
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    payload: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    expanded_at: Mapped[datetime | None]


# History event type -> the notification event users subscribe to (engine/notifications.py).
NOTIFIED = {"task_created": "task_offered", "task_assigned": "task_assigned", "task_overdue": "overdue",
            "case_overdue": "overdue", "task_urged": "urged", "escalated": "escalated", "case_closed": "case_closed"}
_TYPES = ", ".join(f"'{t}'" for t in NOTIFIED)
_OUTBOX_ROW = ("INSERT INTO outbox_event (kind, case_id, task_id, actor_id, payload, created_at, expanded_at) "
               "VALUES (CASE NEW.type " + " ".join(f"WHEN '{t}' THEN '{k}'" for t, k in NOTIFIED.items())
               + " END, NEW.case_id, NEW.task_id, COALESCE(NEW.actor_id, NEW.caused_by_id), NEW.payload, NEW.at, "
               "NULL);")
# The statements that make the trigger, by dialect. A migration that changes NOTIFIED drops
# and creates it again with these (migration ecb025a12cd4 made it).
OUTBOX_TRIGGER = {
    "sqlite": [f"CREATE TRIGGER event_outbox AFTER INSERT ON event WHEN NEW.type IN ({_TYPES}) "
               f"BEGIN {_OUTBOX_ROW} END"],
    "postgresql": [f"CREATE OR REPLACE FUNCTION event_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN {_OUTBOX_ROW} RETURN NULL; END $$",
                   f"CREATE TRIGGER event_outbox AFTER INSERT ON event FOR EACH ROW WHEN (NEW.type IN ({_TYPES})) "
                   f"EXECUTE FUNCTION event_outbox()"]}
for _dialect, _statements in OUTBOX_TRIGGER.items():
    for _statement in _statements:
        sa_event.listen(Base.metadata, "after_create",
                        DDL(_statement).execute_if(dialect=_dialect))  # type: ignore[no-untyped-call]


class Notification(Base):
    """One delivery of one outbox event over one channel (an email to a user, a POST to a
    webhook): pending until sent, retried with backoff, then failed with the reason."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "status", "next_attempt_at"),
                      Index("ix_notification_user", "user_id", "id"))
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_event.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # email / webhook
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhook.id"))
    target: Mapped[str] = mapped_column(String(400))  # the address or URL at fan-out time
    # Rendered at fan-out (the recipient's language, the case as it was): an email's subject
    # and text, a webhook's JSON body.
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/sending/sent/failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class NotificationSetting(Base):
    """A user's own choice: her email address, the language of her messages and, per event,
    the channels she wants (an event absent from ``channels`` goes to every channel)."""

    __tablename__ = "notification_setting"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class Webhook(Base):
    """An endpoint an administrator registered: bound to a user (her webhook channel) or to
    nobody (it receives every event it subscribes to). POSTs are signed with ``secret``."""

    __tablename__ = "webhook"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    url: Mapped[str] = mapped_column(String(400))
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[list[Any]] = mapped_column(default=list)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(80))


class Photo(Base):
    """A photo of a case (evidence, before/after): reported with it, or added to one of its
    tasks (the resolution, the verification). The file and its thumbnail are in the photo
    store (``engine/photostore.py``) under content-hash keys; of its metadata only when and
    where it was taken are kept (``engine/images.py``)."""

    __tablename__ = "photo"
    __table_args__ = (Index("ix_photo_case", "case_id", "id"), Index("ix_photo_task", "task_id"))
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # report / resolution / verification
    file_key: Mapped[str] = mapped_column(String(80))
    thumb_key: Mapped[str] = mapped_column(String(80))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)  # bytes of the stored (re-encoded) file
    taken_at: Mapped[datetime | None]
    gps: Mapped[dict[str, Any] | None]  # {"lat", "lon", "alt"?} from the photo's EXIF
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # None: a resident
    uploaded_at: Mapped[datetime]


class SavedFilter(Base):
    """An inbox view a user saved under a name of hers: the scope and its filters, sort and
    search (``engine/inbox_filters.py``), offered as a tab-like link above her inbox."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filter_user_name"),)
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    name: Mapped[str] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class CaseException(Base):
    """A request to step outside the case's normal course (延期 extension, 挂账 suspension, 作废
    void, 合并 merge): who asked, why, and what the approval process (``exception_approval``,
    its rules in ``exceptions.dmn``) decided. One row per request; the case's history has the
    same steps as events (engine/exceptions.py)."""

    __tablename__ = "case_exception"
    __table_args__ = (Index("ix_case_exception_case", "case_id", "kind", "status"),
                      Index("ix_case_exception_original", "original_case_id"))  # merges into a case
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    kind: Mapped[str] = mapped_column(String(16))  # extension / suspension / void / merge
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/approved/refused/cancelled
    task_id: Mapped[str | None] = mapped_column(String(36))  # the task an extension is for
    approval_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime | None]  # an extension's new due time
    days: Mapped[int | None] = mapped_column(Integer)  # calendar days an extension adds (rounded up)
    original_case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))  # a merge's original
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class CalendarNotice(Base):
    """A State Council holiday notice loaded by a designer (``gridloop calendar load``, ``POST
    /calendar/notices``): every load is kept, the newest of a year wins over the shipped
    ``workflows/calendars/`` file for that year, and every process reads them from here."""

    __tablename__ = "calendar_notice"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    notice: Mapped[dict[str, Any]]  # the validated file: source, holidays, workdays
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    loaded_at: Mapped[datetime]
