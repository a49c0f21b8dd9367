"""Read-side queries: inboxes, cases, history. Indexed columns only; never a workflow load."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from .errors import Forbidden, InvalidInput, NotFound
from .model import Case, Event, OrgUnit, ProcessDefinition, ProcessInstance, Task, User
from .org import Actor

SCOPES = ("mine", "claimable", "area")
OPEN = ("open", "claimed")
MAX_PER_PAGE = 200


def _area(column, path: str | None):
    """``column`` lies in the subtree at ``path``: a range test the B-tree index serves."""
    if not path:
        return column.is_(None) & column.is_not(None)  # nothing
    return and_(column >= path, column < path + "\uffff")


def _scope_filter(actor: Actor, scope: str):
    """The scope as one condition: the rule that ``_parts`` splits into index-sized parts."""
    if scope == "mine":
        return and_(Task.assignee_id == actor.id, Task.status == "claimed")
    if scope == "claimable":
        by_role = and_(Task.role.in_(actor.roles or ("-",)), Task.candidate_user_id.is_(None),
                       or_(Task.department.is_(None), Task.department == actor.department),
                       or_(Task.org_path.is_(None), _area(Task.org_path, actor.org_path)))
        return and_(Task.status == "open", or_(by_role, Task.candidate_user_id == actor.id))
    if scope == "area":
        if "supervisor" not in actor.roles:
            raise Forbidden("only supervisors see all tasks of their area")
        return and_(Task.status.in_(OPEN), _area(Task.org_path, actor.org_path))
    raise InvalidInput(f"unknown scope '{scope}'", fields={"scope": f"one of {', '.join(SCOPES)}"})


# How the inbox reads a scope at scale (1M cases, 100k open tasks; see bench/inbox_query.py).
#
# ``_parts`` splits the scope into disjoint parts whose conditions pin the leading columns of
# one index of ``Task`` by equality (engine/model.py):
#   mine       assignee, status=claimed                                   ix_task_assignee
#   claimable  per role of hers x (no department | her department):
#                status=open, role, no candidate user, department, then
#                org_path IS NULL  or  org_path in her subtree           ix_task_queue(_due)
#              + status=open, candidate user = her (lane-less tasks)      ix_task_candidate
#   area       per status (open, claimed): org_path in her subtree        ix_task_area / ix_task_due
# A part without a subtree range returns its rows from the index in inbox order (due_at,
# created_at, id). A subtree part is read in whichever way reads fewest rows: one arm per org
# unit of the subtree (org_path = unit: index order again; plus one arm for the rest of the
# range, normally empty); or the due-ordered index (ix_task_queue_due, ix_task_due) filtered by
# the subtree (good when the subtree holds much of the queue); or the range, sorted (small
# scopes). Each arm reads at most offset+per_page rows; the arms are merged by one outer ORDER
# BY. Rows without a due time come last and are read only when a page reaches them.
#
# Counting is a walk over index entries (about 0.1 us each on SQLite, more on PostgreSQL), so
# it stops at COUNT_CAP + 1: a larger scope reports ``Total(COUNT_CAP, capped=True)``, which
# compares and computes as COUNT_CAP and prints as "1000+".
COUNT_CAP = 1000
MAX_UNIT_ARMS = 64      # a wider subtree is never read as one arm per org unit
_SORT_COST = 4          # a row read and sorted costs about as much as this many rows scanned in order
_ARM_COST = 20          # an arm (one more index probe and SQL to build) costs about as much as this many rows
_T = Task.__table__.c   # Core columns: statements built from them skip the ORM's layer
_PAGE_COLUMNS = [c for c in Task.__table__.columns if c.key != "data"]  # data: large, not listed
_ASSIGNEE = User.__table__.alias("assignee")
# status = 'open' with the value in the SQL text: the partial indexes of live tasks require it.
_STATUS = {status: _T.status == literal_column(f"'{status}'") for status in OPEN}


class Total(int):
    """A count that stopped at COUNT_CAP when ``capped``: an int, printed as "1000+"."""

    capped: bool

    def __new__(cls, value: int, capped: bool = False):
        total = super().__new__(cls, value)
        total.capped = capped
        return total

    def __str__(self) -> str:
        return f"{int(self)}+" if self.capped else int.__repr__(self)

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)


def _subtree(s: Session, path: str | None) -> tuple[list[str] | None, float]:
    """The org unit paths at and below ``path`` in the database's order (None past
    MAX_UNIT_ARMS), and the share of all org units they are."""
    if not path:
        return [], 0.0
    rows = s.execute(select(OrgUnit.__table__.c.path,
                            select(func.count()).select_from(OrgUnit.__table__).scalar_subquery())
                     .where(_area(OrgUnit.__table__.c.path, path)).order_by(OrgUnit.__table__.c.path)
                     .limit(MAX_UNIT_ARMS + 1)).all()
    if not rows:
        return [], 0.0
    everything = rows[0][1] or 1
    if len(rows) > MAX_UNIT_ARMS:
        inside = s.scalar(select(func.count()).select_from(OrgUnit.__table__)
                          .where(_area(OrgUnit.__table__.c.path, path)))
        return None, min(1.0, inside / everything)
    return list(dict.fromkeys(p for p, _ in rows)), len(rows) / everything


def _parts(actor: Actor, scope: str) -> list[tuple[tuple, bool]]:
    """The scope as disjoint parts: (conditions, whether org_path must lie in the actor's subtree)."""
    if scope == "mine":
        return [((_T.assignee_id == actor.id, _STATUS["claimed"]), False)]
    if scope == "claimable":
        parts = []
        for role in dict.fromkeys(actor.roles):
            for department in (None, actor.department) if actor.department else (None,):
                base = (_STATUS["open"], _T.role == role, _T.candidate_user_id.is_(None),
                        _T.department.is_(None) if department is None else _T.department == department)
                parts.append((base + (_T.org_path.is_(None),), False))
                if actor.org_path:
                    parts.append((base, True))
        return parts + [((_STATUS["open"], _T.candidate_user_id == actor.id), False)]
    if scope == "area":
        if "supervisor" not in actor.roles:
            raise Forbidden("only supervisors see all tasks of their area")
        return [((_STATUS[status],), True) for status in OPEN] if actor.org_path else []
    raise InvalidInput(f"unknown scope '{scope}'", fields={"scope": f"one of {', '.join(SCOPES)}"})


def _in_range(path: str):
    """The subtree as a filter that no index range serves, so that a due-ordered scan keeps its order."""
    value = func.coalesce(_T.org_path, "")
    return and_(value >= path, value < path + "\uffff")


def _unit_arms(path: str, units: list[str]) -> list:
    """org_path conditions splitting the subtree at ``path`` into one arm per org unit (index
    order) and one arm for the rest of the range (rows whose path is no unit's: normally none)."""
    end = path + "\uffff"
    if not units:
        return [and_(_T.org_path >= path, _T.org_path < end)]
    rest = [and_(_T.org_path >= path, _T.org_path < units[0])] if units[0] != path else []
    rest += [and_(_T.org_path > low, _T.org_path < high) for low, high in zip(units, units[1:])]
    rest.append(and_(_T.org_path > units[-1], _T.org_path < end))
    return [_T.org_path == unit for unit in units] + [or_(*rest)]


def _capped_count(parts: list[tuple[tuple, bool]], path: str | None, extra: list, cap: int | None):
    """A statement counting the rows of the parts, stopping at ``cap`` + 1 (None: exact)."""
    arms = [select(literal_column("1").label("one")).select_from(Task.__table__)
            .where(*conds, *extra, *((_area(_T.org_path, path),) if ranged else ())) for conds, ranged in parts]
    if not arms:
        return select(literal(0))
    rows = union_all(*arms) if len(arms) > 1 else arms[0]
    if cap is not None:
        rows = rows.limit(cap + 1)
    return select(func.count()).select_from(rows.subquery())


def _total(n: int) -> Total:
    return Total(COUNT_CAP, capped=True) if n > COUNT_CAP else Total(n)


def _arms(parts, actor: Actor, subtree, total: Total, need: int, due: bool) -> list[tuple]:
    """The arms to read ``need`` rows from: each a tuple of conditions."""
    ranged = [conds for conds, r in parts if r]
    arms = [conds for conds, r in parts if not r]
    if not ranged:
        return arms
    units, share = subtree
    # The cost of each way: rows read, plus (_SORT_COST - 1) per row the outer merge sorts, plus
    # _ARM_COST per arm; a capped total stands for "many".
    many = float("inf") if total.capped else int(total)
    several = len(arms) + len(ranged) > 1
    costs = {"sort": many * _SORT_COST + _ARM_COST * len(ranged)}
    if units is not None:
        n = len(ranged) * (len(units) + 1)
        rows = min(many, n * need)
        costs["unit"] = rows * (_SORT_COST if several or n > 1 else 1) + _ARM_COST * n
    if due and share > 0:
        rows = len(ranged) * need
        costs["scan"] = rows / share + (rows * (_SORT_COST - 1) if several else 0) + _ARM_COST * len(ranged)
    way = min(costs, key=costs.get)
    for conds in ranged:
        if way == "unit":
            arms += [conds + (cond,) for cond in _unit_arms(actor.org_path, units)]
        elif way == "scan":
            arms.append(conds + (_in_range(actor.org_path),))
        else:
            arms.append(conds + (_area(_T.org_path, actor.org_path),))
    return arms


def _page(s: Session, arms: list[tuple], extra: list, due: bool, offset: int, limit: int, now: datetime):
    """Rows offset..offset+limit of the merged arms among the rows with (without) a due time."""
    if not arms:
        return []
    cond = _T.due_at.is_not(None) if due else _T.due_at.is_(None)
    order = (_T.due_at, _T.created_at, _T.id) if due else (_T.created_at, _T.id)
    columns = (_T.id, _T.due_at, _T.created_at)
    if len(arms) == 1:
        page = (select(*columns).where(*arms[0], *extra, cond).order_by(*order)
                .limit(limit).offset(offset).subquery("page"))
    else:
        merged = union_all(*[select(select(*columns).where(*conds, *extra, cond).order_by(*order)
                                    .limit(offset + limit).subquery()) for conds in arms]).subquery("arms")
        outer = (merged.c.due_at, merged.c.created_at, merged.c.id) if due else (merged.c.created_at, merged.c.id)
        page = select(merged).order_by(*outer).limit(limit).offset(offset).subquery("page")
    outer = (page.c.due_at, page.c.created_at, page.c.id) if due else (page.c.created_at, page.c.id)
    case = Case.__table__
    rows = s.execute(select(*_PAGE_COLUMNS, case.c.number.label("case_number"), case.c.title.label("case_title"),
                            _ASSIGNEE.c.username.label("assignee_name"))
                     .select_from(page.join(Task.__table__, _T.id == page.c.id)
                                  .outerjoin(case, case.c.id == _T.case_id)
                                  .outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == _T.assignee_id))
                     .order_by(*outer)).all()
    return [task_dict(r, now, r.case_number, r.case_title, r.assignee_name) for r in rows]


def _filters(category: str | None, stage: str | None, grid: str | None) -> list:
    extra = []
    if category:
        extra.append(_T.category == category)
    if stage:
        extra.append(_T.stage == stage)
    if grid:
        extra.append(_T.org_unit_code == grid)
    return extra


def inbox(s: Session, actor: Actor, scope: str, *, now: datetime, category: str | None = None,
          stage: str | None = None, grid: str | None = None, page: int = 1, per_page: int = 20
          ) -> tuple[list[dict], int]:
    """A page of tasks in ``scope``, soonest deadline first (none last), and the total count
    (a ``Total``: capped at COUNT_CAP, see above)."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("bad paging", fields={"page": ">= 1", "per_page": f"1..{MAX_PER_PAGE}"})
    parts = _parts(actor, scope)
    extra = _filters(category, stage, grid)
    total = _total(s.scalar(_capped_count(parts, actor.org_path, extra, COUNT_CAP)))
    offset = (page - 1) * per_page
    if not total or (offset >= total and not total.capped):
        return [], total
    subtree = _subtree(s, actor.org_path) if any(r for _c, r in parts) else ([], 0.0)
    items = _page(s, _arms(parts, actor, subtree, total, offset + per_page, True), extra, True, offset, per_page,
                  now)
    if len(items) < per_page and (total.capped or offset + len(items) < total):  # tasks without a due time
        with_due = offset + len(items) if items or not offset else s.scalar(
            _capped_count([(conds + (_T.due_at.is_not(None),), r) for conds, r in parts], actor.org_path, extra,
                          None))
        start = max(0, offset - with_due)
        items += _page(s, _arms(parts, actor, subtree, total, start + per_page - len(items), False), extra, False,
                       start, per_page - len(items), now)
    return items, total


def inbox_counts(s: Session, actor: Actor) -> dict[str, int]:
    """The size of each of the actor's inbox scopes (each a ``Total``), in one statement."""
    scopes = ["mine", "claimable"] + (["area"] if "supervisor" in actor.roles else [])
    counts = s.execute(select(*[_capped_count(_parts(actor, sc), actor.org_path, [], COUNT_CAP)
                                .scalar_subquery() for sc in scopes])).one()
    return {sc: _total(n) for sc, n in zip(scopes, counts)}


def task_dict(t: Task, now: datetime, case_number=None, case_title=None, assignee=None) -> dict[str, Any]:
    return {"id": t.id, "instance_id": t.instance_id, "case_id": t.case_id, "case_number": case_number,
            "case_title": case_title, "process_key": t.process_key, "name": t.name, "name_zh": t.name_zh,
            "element_id": t.element_id, "stage": t.stage, "role": t.role, "org_unit": t.org_unit_code,
            "department": t.department, "assignee": assignee, "status": t.status, "priority": t.priority,
            "category": t.category, "due_at": t.due_at, "created_at": t.created_at, "claimed_at": t.claimed_at,
            "completed_at": t.completed_at, "overdue": bool(t.due_at and t.status in OPEN and t.due_at < now),
            "urge_count": t.urge_count, "urged_at": t.urged_at, "overdue_at": t.overdue_at, "form": t.form}


def task_detail(s: Session, actor: Actor, task_id: str, now: datetime) -> dict[str, Any]:
    """A task, its case summary and its form (JSON Schema), if the actor may see it."""
    task = s.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    if not actor.may_see(task) and not (task.status not in OPEN and task.completed_by_id == actor.id):
        raise Forbidden("this task is not yours and not offered to you")
    forms = instance_forms(s, task.instance_id)
    assignee = s.get(User, task.assignee_id) if task.assignee_id else None
    case = s.get(Case, task.case_id) if task.case_id else None
    result = task_dict(task, now, case.number if case else None, case.title if case else None,
                       assignee.username if assignee else None)
    result["form"] = forms.get(task.form) if task.form else None
    result["form_name"] = task.form
    result["data"] = task.data
    result["case"] = case_summary(case) if case else None
    result["can_act"] = actor.may_act_on(task) and task.status in OPEN
    return result


_forms_by_definition: dict[tuple[str, int, str], dict] = {}


def instance_forms(s: Session, instance_id: int) -> dict[str, Any]:
    """The forms of the definition version an instance runs on. A version never changes, so
    each is read once per process (keyed by database, id and content hash, so two databases
    or a re-created one never mix)."""
    row = s.execute(select(ProcessDefinition.id, ProcessDefinition.content_hash).join(
        ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id).where(
        ProcessInstance.id == instance_id)).first()
    if row is None:
        return {}
    key = (str(s.get_bind().url), row.id, row.content_hash)
    forms = _forms_by_definition.get(key)
    if forms is None:
        forms = _forms_by_definition[key] = s.scalar(
            select(ProcessDefinition.forms).where(ProcessDefinition.id == row.id)) or {}
    return forms


def case_names(s: Session, case_id: int | None) -> tuple[str | None, str | None]:
    """A case's number and title (what task lists show of it)."""
    row = s.execute(select(Case.number, Case.title).where(Case.id == case_id)).first() if case_id else None
    return (row.number, row.title) if row is not None else (None, None)


def case_summary(c: Case) -> dict[str, Any]:
    return {"id": c.id, "number": c.number, "title": c.title, "description": c.description,
            "category": c.category, "urgency": c.urgency, "source": c.source, "grid": c.grid.code,
            "grid_name": c.grid.name, "address": c.address, "lat": c.lat, "lon": c.lon,
            "reporter": {"name": c.reporter_name, "phone": c.reporter_phone}, "department": c.department,
            "stage": c.stage, "status": c.status, "escalation_level": c.escalation_level,
            "consult_unit": c.consult_unit, "rework_count": c.rework_count, "return_count": c.return_count,
            "reported_at": c.reported_at, "dispatched_at": c.dispatched_at, "claimed_at": c.claimed_at,
            "resolved_at": c.resolved_at, "verified_at": c.verified_at, "closed_at": c.closed_at,
            "updated_at": c.updated_at, "satisfaction": c.satisfaction, "feedback_contacted": c.feedback_contacted,
            "feedback_resolved": c.feedback_resolved, "feedback_comment": c.feedback_comment,
            "instance_id": c.instance_id}


def _case_visible(actor: Actor):
    """Staff see the cases of their area; a liaison also those of her department."""
    visible = _area(Case.org_path, actor.org_path)
    if actor.department:
        visible = or_(visible, Case.department == actor.department)
    return visible


def case_list(s: Session, actor: Actor, *, status: str | None = None, stage: str | None = None,
              category: str | None = None, grid: str | None = None, q: str | None = None,
              page: int = 1, per_page: int = 20) -> tuple[list[dict], int]:
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("bad paging", fields={"page": ">= 1", "per_page": f"1..{MAX_PER_PAGE}"})
    where = [_case_visible(actor)]
    if status:
        where.append(Case.status == status)
    if stage:
        where.append(Case.stage == stage)
    if category:
        where.append(Case.category == category)
    if grid:
        where.append(Case.grid_id == select(OrgUnit.id).where(OrgUnit.code == grid).scalar_subquery())
    if q:
        where.append(or_(Case.number == q, Case.title.contains(q)))
    total = s.scalar(select(func.count()).select_from(Case).where(*where))
    rows = s.scalars(select(Case).where(*where).order_by(Case.reported_at.desc(), Case.id.desc())
                     .limit(per_page).offset((page - 1) * per_page))
    return [case_summary(c) for c in rows], total


def get_case(s: Session, actor: Actor, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    holds = s.scalar(select(func.count()).select_from(Task).where(
        Task.case_id == case_id, or_(Task.assignee_id == actor.id, Task.completed_by_id == actor.id)))
    if not (actor.covers(case.org_path) or (actor.department and actor.department == case.department) or holds):
        raise Forbidden("this case is outside your area")
    return case


def case_detail(s: Session, actor: Actor, case_id: int, now: datetime) -> dict[str, Any]:
    """The case with its open tasks (who holds them) and its full timeline."""
    case = get_case(s, actor, case_id)
    result = case_summary(case)
    result["open_tasks"] = open_tasks(s, now, case_id=case_id)
    result["history"] = history(s, case_id=case_id)
    result["feedback_token"] = case.feedback_token if case.feedback_at is None and case.stage == "feedback" else None
    return result


def _open_tasks_of(column):
    table = Task.__table__
    return (select(table, User.username.label("assignee_name")).outerjoin(User, User.id == table.c.assignee_id)
            .where(column == bindparam("key"), table.c.status.in_(OPEN)).order_by(table.c.created_at))


# Built once: a case page and every completion ask for these.
_OPEN_TASKS_OF_CASE = _open_tasks_of(Task.__table__.c.case_id)
_OPEN_TASKS_OF_INSTANCE = _open_tasks_of(Task.__table__.c.instance_id)


def _open_task_rows(s: Session, case_id: int | None, instance_id: int | None) -> list[tuple[Task, str | None]]:
    statement = _OPEN_TASKS_OF_CASE if case_id is not None else _OPEN_TASKS_OF_INSTANCE
    rows = s.connection().execute(statement, {"key": case_id if case_id is not None else instance_id})
    return [(Task(**{k: v for k, v in r._mapping.items() if k != "assignee_name"}), r.assignee_name) for r in rows]


def open_tasks(s: Session, now: datetime, *, case_id: int | None = None, instance_id: int | None = None) -> list[dict]:
    """A case's (or an instance's) open tasks and who holds them."""
    return [task_dict(t, now, assignee=u) for t, u in _open_task_rows(s, case_id, instance_id)]


def actionable_tasks(s: Session, actor: Actor, instance_id: int, now: datetime, *,
                     case_number: str | None = None, case_title: str | None = None) -> list[dict]:
    """The instance's open tasks ``actor`` may act on now (offered to her or held by her):
    what a client continues with after completing a task."""
    return [task_dict(t, now, case_number, case_title, u) for t, u in _open_task_rows(s, None, instance_id)
            if actor.may_act_on(t)]


def history(s: Session, *, case_id: int | None = None, instance_id: int | None = None) -> list[dict]:
    where = Event.case_id == case_id if case_id is not None else Event.instance_id == instance_id
    rows = s.execute(select(Event, User.username, User.display_name).outerjoin(User, User.id == Event.actor_id)
                     .where(where).order_by(Event.id)).all()
    return [{"id": e.id, "type": e.type, "at": e.at, "actor": username, "actor_name": name,
             "task_id": e.task_id, "payload": e.payload} for e, username, name in rows]


def instance_detail(s: Session, actor: Actor, instance_id: int, now: datetime) -> dict[str, Any]:
    inst = s.get(ProcessInstance, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id} not found")
    if inst.case_id is not None:
        get_case(s, actor, inst.case_id)
    elif inst.started_by_id != actor.id and "designer" not in actor.roles and "supervisor" not in actor.roles:
        tasks = s.scalar(select(func.count()).select_from(Task).where(
            Task.instance_id == instance_id, or_(Task.assignee_id == actor.id, Task.completed_by_id == actor.id,
                                                 Task.candidate_user_id == actor.id)))
        if not tasks:
            raise Forbidden("this process instance is not yours")
    return {"id": inst.id, "key": inst.key, "version": inst.definition.version, "status": inst.status,
            "case_id": inst.case_id, "started_at": inst.started_at, "ended_at": inst.ended_at,
            "next_timer_at": inst.next_timer_at, "open_tasks": open_tasks(s, now, instance_id=instance_id),
            "history": history(s, instance_id=instance_id)}


def user_dict(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "roles": list(u.roles or []),
            "org_unit": u.org_unit.code if u.org_unit else None,
            "org_unit_name": u.org_unit.name if u.org_unit else None,
            "org_level": u.org_unit.level if u.org_unit else None,
            "department": u.department.code if u.department else None,
            "department_name": u.department.name if u.department else None}


def feedback_link(s: Session, token: str, now: datetime) -> dict[str, Any]:
    """What the public feedback page may show: the case in brief and whether the link works."""
    case = s.scalars(select(Case).where(Case.feedback_token == token)).first()
    if case is None:
        raise NotFound("unknown feedback link")
    task = s.get(Task, case.feedback_task_id) if case.feedback_task_id else None
    if case.feedback_at is not None:
        state = "used"
    elif task is None or task.status not in OPEN or (task.due_at is not None and task.due_at < now):
        state = "expired"
    else:
        state = "valid"
    form = task.form if task else None
    return {"state": state, "number": case.number, "title": case.title, "category": case.category,
            "reported_at": case.reported_at, "resolved_at": case.resolved_at, "form": form,
            "schema": instance_forms(s, case.instance_id).get(form) if form else None}
