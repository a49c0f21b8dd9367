"""One language at a time: names of org units, users, processes and time limits in the page's
language only, display names instead of usernames, and timeline sentences that say what
happened (a liaison's report-in, a citizen's feedback by link) without doubled words."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from .conftest import GRID1, RESOLVED, SATISFIED

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def timeline(html: str) -> str:
    items = re.findall(r'<li class="event-[^"]+">(.*?)</li>', html, re.S)
    return "\n".join(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip() for item in items)


def _closed_by_link(api) -> dict:
    """A hotline case whistled to the power liaison and scored by the reporter's link."""
    case = api.report("acceptor1", source="hotline")
    api.step(case["id"], "acceptor1", {"outcome": "accept"})
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "power"})
    api.step(case["id"], "liaison_power", RESOLVED)
    api.step(case["id"], "grid1", {"outcome": "passed"})
    token = urlsplit(api.case(case["id"], "acceptor1")["feedback_url"]).path.rsplit("/", 1)[-1]
    api.post(f"/feedback/{token}", json={**SATISFIED, "satisfaction": "basically_satisfied"})
    return case


def test_the_timeline_names_people_processes_and_report_ins_in_one_language(api, as_user):
    case = _closed_by_link(api)
    supervisor = as_user("supervisor1")
    en_page = supervisor.get(f"/cases/{case['id']}", headers=EN).get_data(True)
    en = timeline(en_page)
    assert "Process “Closed-loop case handling” (version 1) started" in en
    assert "Wang Fang reported case" in en and "Grid worker 1 completed “Grid handling” — whistled" in en
    assert "Power supply liaison reported in for “Department handling”" in en
    assert "The reporter answered by the feedback link; satisfaction: Basically satisfied" in en
    assert "the system completed" not in en
    assert not re.search(r"[\u4e00-\u9fff]", en)  # the report's text is English here: no Chinese left
    assert "Zhao Min" in en_page and "赵敏" not in en_page  # the header's name for her
    supervisor.get("/lang/zh", status=302)
    zh_page = supervisor.get(f"/cases/{case['id']}").get_data(True)
    zh = timeline(zh_page)
    assert "流程「闭环处置」启动（第 1 版）" in zh and "王芳 上报案件" in zh
    assert "供电公司专属网格员 报到「部门报到处置」" in zh and "供电公司专属网格员 领取任务" not in zh
    assert "上报人通过回访链接评价，满意度：基本满意" in zh and "系统 完成任务" not in zh
    for english in ("Closed-loop", "Wang Fang", "liaison", "Grid worker", "grid1", "acceptor1"):
        assert english not in zh
    facts = re.search(r'<dl class="facts">.*?</dl>', zh_page, re.S).group(0)
    assert facts.count("已结案") == 1  # the status, not the status and the stage again


def test_grids_and_holders_by_name_on_case_and_task_pages(api, as_user):
    case = api.report("grid1")
    task = api.open_task(case["id"])
    api.post(f"/tasks/{task['id']}/claim", "grid1")
    supervisor = as_user("supervisor1")
    for path in (f"/cases/{case['id']}", f"/tasks/{task['id']}"):
        en = supervisor.get(path, headers=EN).get_data(True)
        assert "Minzhu Community grid 1" in en and "民主社区第1网格" not in en and f">{GRID1}<" not in en
        assert "Grid worker 1" in en and "网格员1号" not in en and ">grid1<" not in en
        zh = supervisor.get(path, headers=ZH).get_data(True)
        assert "民主社区第1网格" in zh and "Minzhu" not in zh and "网格员1号" in zh and "Grid worker 1" not in zh


def test_a_task_due_this_minute_is_due_now_not_zero_minutes_overdue(api, as_user, clock):
    case = api.report("grid1")
    due = datetime.fromisoformat(api.open_task(case["id"])["due_at"])
    clock.set(due)
    grid1 = as_user("grid1")
    zh = grid1.get("/inbox/claimable", headers=ZH).get_data(True)
    assert "刚到期" in zh and "0 分钟" not in zh
    assert "due now" in grid1.get("/inbox/claimable", headers=EN).get_data(True)


def test_users_carry_an_english_display_name(api):
    me = api.get("/me", "liaison_power")
    assert (me["display_name"], me["display_name_en"]) == ("供电公司专属网格员", "Power supply liaison")
    assert (me["department_name"], me["department_name_en"]) == ("供电公司", "Power supply")
    assert api.get("/me", "grid1")["org_unit_name_en"] == "Minzhu Community grid 1"


def test_an_assignment_names_the_assignee_and_the_options_show_names(api, as_user):
    case = api.report("grid1")
    task = api.open_task(case["id"])
    supervisor = as_user("supervisor1")
    page = supervisor.get(f"/tasks/{task['id']}", headers=EN).get_data(True)
    assert '<option value="grid1">Grid worker 1</option>' in page and "(grid1)" not in page
    api.post(f"/tasks/{task['id']}/assign", "supervisor1", json={"user": "grid1"})
    en = timeline(supervisor.get(f"/cases/{case['id']}", headers=EN).get_data(True))
    assert "Zhao Min assigned “Grid handling” to Grid worker 1" in en
    zh = timeline(supervisor.get(f"/cases/{case['id']}", headers=ZH).get_data(True))
    assert "赵敏 将任务「网格处置」指派给 网格员1号" in zh and "grid1" not in zh
