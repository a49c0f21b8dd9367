"""The inbox's index-shaped reading (engine/inbox_plan.py: arms per org unit, due-ordered scans,
sorted ranges, capped counts, tasks without a due time last) returns exactly what the
permission rule says, in order, whichever way it reads: checked against ``policy.is_candidate``
on a random read model, page by page."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from gridloop.engine import definitions, inbox_plan, org, paging, policy, queries
from gridloop.engine.model import Case, OrgUnit, ProcessInstance, Task, User
from gridloop.engine.runtime import Runtime
from gridloop.engine.seed import seed_demo

USERS = ["grid1", "community1", "street1", "district1", "acceptor1", "supervisor1", "liaison_power"]


@pytest.fixture
def world(any_db, clock):
    rt = Runtime(any_db, clock=clock)
    rt.deploy()
    with rt.db.transaction() as s:
        seed_demo(s)
    inbox_plan._subtrees.clear()
    return rt


def fill(rt: Runtime, n: int, seed: int) -> None:
    """``n`` tasks with every combination that matters, including ties, no due time, no org
    unit, paths that are no org unit's (inside and outside subtrees) and personal offers."""
    rng = random.Random(seed)
    now = rt.clock.now()
    with rt.db.transaction() as s:
        paths = list(s.scalars(select(OrgUnit.path)))
        users = dict(s.execute(select(User.username, User.id)).all())
        definition = definitions.find_definition(s, "closed_loop").id
        grid = s.scalars(select(OrgUnit).where(OrgUnit.level == "grid")).first()
    odd = [p + "x/" for p in rng.sample(paths, 5)] + ["/2101/2101029/", "/9999/", "/2101/210102/210102001/0/"]
    instances, cases, tasks = [], [], []
    for i in range(1, n + 1):
        role = rng.choice(["grid_worker", "coordinator", "dept_liaison", "acceptor", "supervisor", None])
        status = rng.choice(["open", "open", "open", "claimed", "completed", "cancelled"])
        instances.append({"id": i, "definition_id": definition, "key": "closed_loop", "case_id": i,
                          "status": "running", "state": "{}", "revision": 1, "started_at": now})
        cases.append({"id": i, "number": f"T{i:06d}", "instance_id": i, "title": f"Case {i}", "description": "",
                      "category": "garbage", "urgency": "normal", "source": "patrol", "grid_id": grid.id,
                      "org_path": grid.path, "stage": "grid_handling", "status": "open", "reported_at": now,
                      "updated_at": now})
        tasks.append({
            "id": f"t{rng.randrange(10 ** 6):06d}-{i:05d}", "instance_id": i, "case_id": i, "process_key": "closed_loop",
            "element_id": "e", "name": "Task", "name_zh": None, "form": None, "stage": rng.choice(["a", "b"]),
            "role": role, "org_unit_code": None,
            "org_path": rng.choice(paths + paths + odd + [None]),
            "department": rng.choice([None, None, "power", "gas"]),
            "candidate_user_id": rng.choice([None] * 8 + [users["grid1"], users["street1"]]),
            "assignee_id": rng.choice(list(users.values())[:12]) if status != "open" else None,
            "status": status, "priority": 0, "category": rng.choice(["garbage", "noise"]),
            "due_at": None if rng.random() < 0.15 else now + timedelta(hours=rng.randrange(-5, 30)),
            "created_at": now - timedelta(hours=rng.randrange(4)), "urge_count": 0})
    with rt.db.transaction() as s:
        s.execute(insert(ProcessInstance), instances)
        s.execute(insert(Case), cases)
        s.execute(insert(Task), tasks)


def expected(rt: Runtime, actor: org.Actor, scope: str, category: str | None = None) -> list[str]:
    """The scope by the permission rule, in inbox order (due time, none last; created; id)."""
    with rt.db.reading() as s:
        rows = list(s.scalars(select(Task)))
    if scope == "mine":
        keep = [t for t in rows if t.status == "claimed" and t.assignee_id == actor.id]
    elif scope == "claimable":
        keep = [t for t in rows if t.status == "open" and policy.is_candidate(actor, t)]
    else:
        keep = [t for t in rows if t.status in queries.OPEN and actor.covers(t.org_path)]
    keep = [t for t in keep if category is None or t.category == category]
    keep.sort(key=lambda t: (t.due_at is None, t.due_at or rt.clock.now(), t.created_at, t.id))
    return [t.id for t in keep]


def read_all(rt: Runtime, actor: org.Actor, scope: str, per_page: int, **filters) -> tuple[list[str], list[int]]:
    ids, totals, page = [], [], 1
    while True:
        with rt.db.reading() as s:
            items, total = inbox_plan.inbox(s, actor, scope, now=rt.clock.now(), page=page, per_page=per_page, **filters)
        totals.append(total)
        ids += [t["id"] for t in items]
        if len(items) < per_page:
            return ids, totals
        page += 1


def scopes_of(actor: org.Actor) -> list[str]:
    return ["mine", "claimable"] + (["area"] if "supervisor" in actor.roles else [])


@pytest.mark.parametrize("way", [None, "unit", "scan", "sort", "wide"])
def test_every_way_reads_exactly_the_permitted_tasks_in_order(world, monkeypatch, way):
    fill(world, 400, seed=7)
    if way == "wide":  # subtrees of more than 3 org units are read as one range
        monkeypatch.setattr(inbox_plan, "MAX_UNIT_ARMS", 3)
        way = None
    if way is not None:  # force one way of reading subtree parts (it falls back to "sort" if unavailable)
        monkeypatch.setattr(inbox_plan, "_way", lambda parts, units, share, total, need, due:
                            way if (way != "unit" or units is not None) and (way != "scan" or due) else "sort")
    with world.db.reading() as s:
        ids = dict(s.execute(select(User.username, User.id)).all())
        actors = {u: org.actor(s, ids[u]) for u in USERS}
    street = actors["street1"]
    actors["several roles"] = org.Actor(ids["grid1"], "x", "x", ("grid_worker", "coordinator", "dept_liaison",
                                        "supervisor", "grid_worker"), street.org_unit, street.org_path, "street", "power")
    actors["no unit"] = org.Actor(ids["street1"], "y", "y", ("coordinator", "supervisor"), None, None, None, None)
    actors["no roles"] = org.Actor(ids["street1"], "z", "z", (), street.org_unit, street.org_path, "street", None)
    for username, actor in actors.items():
        for scope in scopes_of(actor):
            want = expected(world, actor, scope)
            with world.db.reading() as s:  # the same rule as one SQL condition
                assert set(s.scalars(select(Task.id).where(inbox_plan._scope_filter(actor, scope)))) == set(want)
            for per_page in (7, 40) if way != "unit" else (40,):  # forced arms per unit: slow to build
                got, totals = read_all(world, actor, scope, per_page)
                assert got == want, (username, scope, per_page)
                assert {int(t) for t in totals} == {min(len(want), paging.COUNT_CAP)}
        with world.db.reading() as s:
            counts = inbox_plan.inbox_counts(s, actor)
        assert counts == {sc: len(expected(world, actor, sc)) for sc in scopes_of(actor)}


def test_filters_and_pages_past_the_tasks_with_a_due_time(world):
    fill(world, 400, seed=11)
    with world.db.reading() as s:
        supervisor = org.actor(s, s.scalar(select(User.id).where(User.username == "supervisor1")))
    want = expected(world, supervisor, "area", category="noise")
    got, _ = read_all(world, supervisor, "area", 3, category="noise")
    assert got == want
    # Jump straight to each page (no earlier page read): the offset into the undated tasks is counted.
    for page in range(1, len(want) // 3 + 2):
        with world.db.reading() as s:
            items, _ = inbox_plan.inbox(s, supervisor, "area", now=world.clock.now(), page=page, per_page=3,
                                     category="noise")
        assert [t["id"] for t in items] == want[(page - 1) * 3:page * 3]
    # Filter values are written into the SQL text: quoted, whatever they hold.
    assert read_all(world, supervisor, "area", 20, category="50% o'clock \\ \"x\"", stage="%s", grid="?")[0] == []


def test_a_large_scope_counts_up_to_the_cap(world, monkeypatch):
    fill(world, 300, seed=3)
    monkeypatch.setattr(paging, "COUNT_CAP", 20)
    with world.db.reading() as s:
        supervisor = org.actor(s, s.scalar(select(User.id).where(User.username == "supervisor1")))
        items, total = inbox_plan.inbox(s, supervisor, "area", now=world.clock.now(), per_page=10, page=4)
        counts = inbox_plan.inbox_counts(s, supervisor)
    want = expected(world, supervisor, "area")
    assert len(want) > 20 and total == 20 and total.capped and str(total) == "20+" and f"{total}" == "20+"
    assert counts["area"] == 20 and counts["area"].capped
    assert [t["id"] for t in items] == want[30:40]  # pages past the cap still read the right rows
    small = paging.Total(7)
    assert not small.capped and str(small) == "7" and small + 1 == 8


def test_a_new_org_unit_is_read_before_the_cached_subtree_expires(world):
    fill(world, 50, seed=5)
    with world.db.reading() as s:
        street1 = org.actor(s, s.scalar(select(User.id).where(User.username == "street1")))
    read_all(world, street1, "claimable", 20)  # caches street1's subtree
    with world.db.transaction() as s:
        parent = s.scalars(select(OrgUnit).where(OrgUnit.code == street1.org_unit)).one()
        org.add_unit(s, "new-community", "New", "community", parent)
    with world.db.transaction() as s:
        path = s.scalar(select(OrgUnit.path).where(OrgUnit.code == "new-community"))
        task = s.scalars(select(Task).where(Task.status == "open")).first()
        task.role, task.candidate_user_id, task.department, task.org_path = "coordinator", None, None, path
    got, _ = read_all(world, street1, "claimable", 20)
    assert task.id in got and got == expected(world, street1, "claimable")
