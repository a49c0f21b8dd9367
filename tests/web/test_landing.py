"""Where people land and what the navigation tells them: the first tab with work, counts that
refresh without a reload, supervisors offered to look rather than act, no favicon 404."""
from __future__ import annotations


def test_each_role_lands_where_the_work_is(api, as_user):
    assert as_user("grid1").get("/", follow_redirects=False, status=302).headers["Location"].endswith("/inbox/mine")
    api.report("grid1")  # a patrol report: grid handling, claimable by grid1
    landing = as_user("grid1").get("/", status=302).headers["Location"]
    assert landing.endswith("/inbox/claimable")
    task = api.get("/tasks", "grid1", query_string={"scope": "claimable"})["items"][0]
    api.post(f"/tasks/{task['id']}/claim", "grid1")
    assert as_user("grid1").get("/", status=302).headers["Location"].endswith("/inbox/mine")
    assert as_user("supervisor1").get("/", status=302).headers["Location"].endswith("/inbox/area")


def test_counts_refresh_as_json_for_the_navigation(api, as_user):
    grid1 = as_user("grid1")
    assert grid1.get("/inbox/counts").get_json() == {"mine": "0", "claimable": "0"}
    page = grid1.get("/inbox/mine").get_data(True)
    assert 'data-counts-url="/inbox/counts"' in page and 'data-scope="claimable"' in page and "counts.js" in page
    api.report("grid1")
    assert grid1.get("/inbox/counts").get_json() == {"mine": "0", "claimable": "1"}
    assert as_user("supervisor1").get("/inbox/counts").get_json()["area"] == "1"


def test_supervisors_are_offered_to_look_not_to_act(api, as_user):
    api.report("grid1")
    area = as_user("supervisor1").get("/inbox/area").get_data(True)
    assert ">查看<" in area and ">办理<" not in area
    claimable = as_user("grid1").get("/inbox/claimable").get_data(True)
    assert ">办理<" in claimable


def test_unclaim_says_where_the_task_goes(api, as_user):
    api.report("grid1")
    task = api.get("/tasks", "grid1", query_string={"scope": "claimable"})["items"][0]
    api.post(f"/tasks/{task['id']}/claim", "grid1")
    page = as_user("grid1").get("/inbox/mine").get_data(True)
    assert "任务回到专职网格员的待领取列表" in page


def test_favicon(browser):
    response = browser.get("/favicon.ico")
    assert response.mimetype == "image/svg+xml" and b"<svg" in response.data


def test_inbox_rows_name_the_unit_and_the_holder_in_the_page_language(api, as_user):
    from .conftest import GRID1
    api.report("grid1")
    task = api.get("/tasks", "grid1", query_string={"scope": "claimable"})["items"][0]
    api.post(f"/tasks/{task['id']}/claim", "grid1")
    supervisor = as_user("supervisor1")
    zh = supervisor.get("/inbox/area").get_data(True)
    assert "民主社区第1网格" in zh and f">{GRID1}<" not in zh and "网格员1号" in zh
    supervisor.get("/lang/en", status=302)
    en = supervisor.get("/inbox/area").get_data(True)
    assert "民主社区第1网格" not in en and "grid 1" in en
