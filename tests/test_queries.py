"""Read-side queries: inbox scopes, filters, paging and order; case lists and timelines."""
from __future__ import annotations

import pytest

from gridloop.engine import inbox_plan, queries
from gridloop.engine.errors import Forbidden, InvalidInput

from .loop_driver import GRID1, GRID2, LoopDriver


@pytest.fixture
def loop(runtime):
    return LoopDriver(runtime)


def inbox(loop, username, scope, **filters):
    with loop.rt.db.reading() as s:
        return inbox_plan.inbox(s, loop.actor(username), scope, now=loop.rt.clock.now(), **filters)


def test_scopes_mine_claimable_and_area(loop):
    garbage = loop.report("grid1", category="garbage", source="patrol")
    other_grid = loop.report("grid2", category="garbage", source="patrol", grid=GRID2)
    items, total = inbox(loop, "grid1", "claimable")
    assert total == 1 and items[0]["case_id"] == garbage and items[0]["org_unit"] == GRID1
    loop.rt.claim(loop.ids["grid1"], items[0]["id"])
    assert inbox(loop, "grid1", "claimable")[1] == 0
    mine, _ = inbox(loop, "grid1", "mine")
    assert [t["case_id"] for t in mine] == [garbage] and mine[0]["assignee"] == "grid1"
    area, total = inbox(loop, "supervisor1", "area")
    assert total == 2 and {t["case_id"] for t in area} == {garbage, other_grid}
    with pytest.raises(Forbidden):
        inbox(loop, "grid1", "area")
    with pytest.raises(InvalidInput):
        inbox(loop, "grid1", "everything")
    with loop.rt.db.reading() as s:
        counts = inbox_plan.inbox_counts(s, loop.actor("grid1"))
    assert counts == {"mine": 1, "claimable": 0}


def test_filters_paging_and_soonest_deadline_first(loop):
    slow = loop.report("grid1", category="garbage", source="patrol")              # 5 working days
    fast = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")  # 2 hours
    middle = loop.report("grid1", category="water_leak", source="patrol")         # 24 hours
    items, total = inbox(loop, "grid1", "claimable")
    assert total == 3 and [t["case_id"] for t in items] == [fast, middle, slow]
    assert [t["case_id"] for t in inbox(loop, "grid1", "claimable", category="gas_leak")[0]] == [fast]
    assert inbox(loop, "grid1", "claimable", stage="verification")[1] == 0
    assert inbox(loop, "grid1", "claimable", grid=GRID2)[1] == 0
    page2, total = inbox(loop, "grid1", "claimable", page=2, per_page=2)
    assert total == 3 and [t["case_id"] for t in page2] == [slow]
    with pytest.raises(InvalidInput):
        inbox(loop, "grid1", "claimable", per_page=1000)


def test_overdue_is_marked(loop):
    case_id = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")
    loop.rt.clock.advance(hours=3)
    items, _ = inbox(loop, "grid1", "claimable")
    assert [t["overdue"] for t in items if t["case_id"] == case_id] == [True]


def test_case_list_and_detail_respect_the_area(loop):
    mine = loop.report("grid1", category="noise", source="patrol")
    other = loop.report("grid2", category="noise", source="patrol", grid=GRID2)
    with loop.rt.db.reading() as s:
        cases, total = queries.case_list(s, loop.actor("grid1"))
        assert total == 1 and cases[0]["id"] == mine
        assert queries.case_list(s, loop.actor("street1"))[1] == 2
        assert queries.case_list(s, loop.actor("street2"))[1] == 0
        assert queries.case_list(s, loop.actor("street1"), q=cases[0]["number"])[1] == 1
        assert queries.case_list(s, loop.actor("street1"), category="garbage")[1] == 0
        detail = queries.case_detail(s, loop.actor("grid1"), mine, loop.rt.clock.now())
        assert detail["stage"] == "grid_handling" and len(detail["open_tasks"]) == 1
        assert [e["type"] for e in detail["history"]][:2] == ["instance_started", "case_reported"]
        with pytest.raises(Forbidden):
            queries.case_detail(s, loop.actor("grid1"), other, loop.rt.clock.now())


def test_a_liaison_sees_cases_of_her_department(loop):
    case_id = loop.report("grid1", category="power_outage", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "power"})
    with loop.rt.db.reading() as s:
        assert queries.case_detail(s, loop.actor("liaison_power"), case_id, loop.rt.clock.now())["department"] == "power"
        with pytest.raises(Forbidden):
            queries.case_detail(s, loop.actor("street2"), case_id, loop.rt.clock.now())
