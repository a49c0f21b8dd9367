"""Inbox views as in Camunda's Tasklist: filters by stage, category, grid or community and due
window, search by case number or text, sorts, saved filters per user (pages and API), and the
page telling which rows it shows of how many, all filtered, counted and paged in SQL."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from gridloop.engine import inbox_plan, org, paging
from gridloop.engine.model import User

from .conftest import GRID1, GRID2, report_body

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
COMMUNITY = GRID1[:11]  # 民主社区: grids 1 to 3


def _tasks(api, user: str, **params) -> dict:
    return api.get("/tasks", user, query_string={"scope": "claimable", "per_page": 200, **params})


def test_filters_search_and_sorts_in_sql_with_exact_totals(any_api, any_world, clock):
    api = any_api
    garbage = []
    for n in range(3):
        garbage.append(api.report("grid1", title=f"Rubbish pile {n}", category="garbage"))
        clock.advance(minutes=1)
    lamp = api.report("grid1", title="Broken lamp at gate 2", category="street_light")
    other_grid = api.report("grid2", title="Rubbish pile far away", category="garbage", grid=GRID2)
    grid1, supervisor = "grid1", "supervisor1"
    assert _tasks(api, grid1)["total"] == 4
    assert _tasks(api, grid1, q="lamp at")["total"] == 1
    assert [t["case_id"] for t in _tasks(api, grid1, q=lamp["number"])["items"]] == [lamp["id"]]
    assert _tasks(api, grid1, q="100%")["total"] == 0  # % is text, not a wildcard
    area = {"scope": "area"}
    assert _tasks(api, supervisor, **area, unit=COMMUNITY)["total"] == 5  # the community's grids
    assert _tasks(api, supervisor, **area, unit=GRID1)["total"] == 4
    assert _tasks(api, supervisor, **area, unit=GRID2, category="garbage")["items"][0]["case_id"] == other_grid["id"]
    api.get("/tasks", supervisor, query_string={**area, "unit": "nowhere"}, status=400)
    api.get("/tasks", supervisor, query_string={**area, "due": "yesterday"}, status=400)
    api.get("/tasks", supervisor, query_string={**area, "sort": "name"}, status=400)
    newest = _tasks(api, grid1, sort="-created")["items"]
    assert [t["case_id"] for t in newest] == [lamp["id"]] + [c["id"] for c in reversed(garbage)]
    paged = api.get("/tasks", grid1, query_string={"scope": "claimable", "per_page": 2, "page": 2, "q": "Rubbish"})
    assert (paged["total"], paged["total_capped"], len(paged["items"])) == (3, False, 1)


def test_due_windows(any_api, any_world, clock):
    api = any_api
    case = api.report("grid1")  # grid handling: due in days, not today
    due = datetime.fromisoformat(api.open_task(case["id"])["due_at"])
    assert _tasks(api, "grid1", due="overdue")["total"] == 0
    assert _tasks(api, "grid1", due="today")["total"] == 0
    clock.set(due - timedelta(minutes=1))  # the last minute: due today, not yet overdue
    api.tokens.clear()
    assert _tasks(api, "grid1", due="today")["total"] == 1 and _tasks(api, "grid1", due="week")["total"] == 1
    assert _tasks(api, "grid1", due="overdue")["total"] == 0
    clock.set(due + timedelta(minutes=1))
    api.tokens.clear()
    assert _tasks(api, "grid1", due="overdue")["total"] == 1 and _tasks(api, "grid1", due="today")["total"] == 0


def test_engine_query_counts_the_true_total_beyond_a_page(any_world):
    with any_world.db.reading() as s:
        ids = dict(s.execute(select(User.username, User.id)).all())
    for n in range(25):
        any_world.report_case(ids["grid1"], report_body(title=f"Case {n}"))
    with any_world.db.reading() as s:
        actor = org.actor(s, ids["supervisor1"])
        items, total = inbox_plan.inbox(s, actor, "area", now=any_world.clock.now(), per_page=20, q="Case 1",
                                     sort="created")
        assert (int(total), total.capped, len(items)) == (11, False, 11)  # Case 1, Case 10..19
        items, total = inbox_plan.inbox(s, actor, "area", now=any_world.clock.now(), per_page=20, category="garbage",
                                     sort="-due")
        assert (int(total), len(items)) == (25, 20)


def test_saved_filters_through_the_api(api):
    saved = api.post("/tasks/filters", "grid1", json={"name": "Rubbish", "scope": "claimable",
                                                       "params": {"category": "garbage", "due": "week", "q": ""}},
                     status=201)
    assert (saved["name"], saved["scope"], saved["params"]) == ("Rubbish", "claimable",
                                                                {"category": "garbage", "due": "week"})
    assert saved["created_at"] == "2026-03-02T01:00:00+00:00"  # the clock's now
    assert api.get("/tasks/filters", "grid1") == [saved]
    assert api.get("/tasks/filters", "grid2") == []  # hers alone
    api.post("/tasks/filters", "grid1", json={"name": "Rubbish", "scope": "mine"}, status=409)
    api.post("/tasks/filters", "grid1", json={"name": "All", "scope": "area"}, status=400)  # not a supervisor
    api.post("/tasks/filters", "grid1", json={"name": "Bad", "scope": "mine", "params": {"colour": "red"}},
             status=400)
    api.post("/tasks/filters", "grid1", json={"name": " ", "scope": "mine"}, status=400)
    api.call("PATCH", f"/tasks/filters/{saved['id']}", "grid2", json={"name": "Mine now"}, status=403)
    renamed = api.call("PATCH", f"/tasks/filters/{saved['id']}", "grid1", json={"name": "垃圾"})
    assert renamed == {**saved, "name": "垃圾"} and api.get("/tasks/filters", "grid1") == [renamed]
    api.call("DELETE", f"/tasks/filters/{saved['id']}", "grid2", status=403)
    api.call("DELETE", f"/tasks/filters/{saved['id']}", "grid1", status=204)
    api.call("DELETE", f"/tasks/filters/{saved['id']}", "grid1", status=404)


def test_counts_per_tab_through_the_api(api):
    api.report("grid1")
    assert api.get("/tasks/counts", "grid1") == {"mine": {"count": 0, "capped": False},
                                                 "claimable": {"count": 1, "capped": False}}
    counts = api.get("/tasks/counts", "supervisor1")
    assert set(counts) == {"mine", "claimable", "area", "overdue", "unassignable"} and counts["area"]["count"] == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_inbox_page_filters_saves_renames_and_deletes_views(api, as_user, lang):
    for n in range(3):
        api.report("grid1", title=f"Rubbish pile {n}")
    api.report("grid1", title="Broken lamp", category="street_light")
    grid1 = as_user("grid1")
    grid1.get(f"/lang/{lang}", status=302)
    page = grid1.get("/inbox/claimable?q=Rubbish").get_data(True)
    shown = "显示第 1–3 条，共 3 条" if lang == "zh" else "Showing 1–3 of 3"
    assert shown in page and "Broken lamp" not in page
    assert ("今天到期" if lang == "zh" else "Due today") in page  # the due filter
    assert ("民主社区第1网格" if lang == "zh" else "Minzhu Community grid 1") in page  # the unit filter, by name
    grid1.post("/inbox/filters", {"name": "Rubbish", "scope": "claimable", "q": "Rubbish",
                                  "next": "/inbox/claimable?q=Rubbish"})
    page = grid1.get("/inbox/claimable?q=Rubbish").get_data(True)
    assert 'class="tag active">Rubbish</a>' in page and ("已保存视图「Rubbish」" if lang == "zh" else "View “Rubbish” saved") in page
    saved = api.get("/tasks/filters", "grid1")[0]
    grid1.post("/inbox/filters", {"name": "Rubbish", "scope": "claimable", "next": "/inbox/claimable"})
    page = grid1.get("/inbox/claimable").get_data(True)
    assert ("您已有同名视图" if lang == "zh" else "you already have a view of that name") in page
    grid1.post(f"/inbox/filters/{saved['id']}/rename", {"name": "垃圾堆", "next": "/inbox/claimable"})
    assert api.get("/tasks/filters", "grid1")[0]["name"] == "垃圾堆"
    as_user("grid2").post(f"/inbox/filters/{saved['id']}/delete", {"next": "/inbox/claimable"}, status=403)
    grid1.post(f"/inbox/filters/{saved['id']}/delete", {"next": "/inbox/claimable"})
    assert api.get("/tasks/filters", "grid1") == []


def test_the_page_says_when_the_count_stopped_at_the_cap(api, as_user, monkeypatch):
    for _ in range(3):
        api.report("grid1")
    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    page = as_user("grid1").get("/inbox/claimable", headers=ZH).get_data(True)
    assert "显示第 1–3 条，共 2+ 条" in page or "共 2+ 条" in page
