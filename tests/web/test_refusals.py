"""Refusals in the user's language: every engine refusal has a reason (engine/errors.py); pages
say what happened (who completed the task, whose area the case is in) in zh-CN or English and
link to the case (when she may see it) and her inbox; the API answers {code, reason, message}
with the message in the Accept-Language's language, keeping its status codes; form field
errors come in the page's language."""
from __future__ import annotations

import re

from .conftest import RESOLVED

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def _claimed(api, user="grid1"):
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    api.post(f"/tasks/{task_id}/claim", user)
    return case, task_id


def test_a_stale_second_tab_is_told_who_completed_the_task_and_when(api, as_user):
    case, task_id = _claimed(api)
    first, stale = as_user("grid1"), as_user("grid1")
    first.get(f"/tasks/{task_id}")
    first.post(f"/tasks/{task_id}", RESOLVED)
    stale.get("/inbox/mine")
    zh = stale.post(f"/tasks/{task_id}", RESOLVED, status=409, headers=ZH).get_data(True)
    assert "您已于 2026-03-02 09:00 办结此任务" in zh and "task already completed" not in zh
    assert f'href="/cases/{case["id"]}"' in zh and "查看案件" in zh and "回到我的任务" in zh
    en = stale.post(f"/tasks/{task_id}", RESOLVED, status=409, headers=EN).get_data(True)
    assert "You completed this task at 2026-03-02 09:00" in en and "Open the case" in en and "办结" not in en


def test_a_colleague_is_named_as_the_one_who_completed_it(api, as_user, world):
    from gridloop.engine import org
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    with world.db.transaction() as s:  # a second grid worker on grid 1
        org.add_user(s, "grid1b", "demo", ["grid_worker"], org_unit=org.unit_by_code(s, case["grid"]))
    colleague = as_user("grid1b")
    colleague.get(f"/tasks/{task_id}")  # open when she opened it
    api.post(f"/tasks/{task_id}/complete", "grid1", json={"data": RESOLVED})
    zh = colleague.post(f"/tasks/{task_id}", RESOLVED, status=409, headers=ZH).get_data(True)
    assert re.search(r"此任务已由 网格员1号[^<]* 于 2026-03-02 09:00 办结", zh)
    body = api.post(f"/tasks/{task_id}/complete", "grid1b", json={"data": RESOLVED}, status=409, headers=EN)
    assert body["error"]["reason"] == "task_completed" and body["error"]["message"].endswith(
        "completed this task at 2026-03-02 09:00; nothing is left to submit.")


def test_a_claimed_task_names_its_holder_and_an_outsider_is_told_the_case_is_not_hers(api, as_user):
    case, task_id = _claimed(api)
    error = api.post(f"/tasks/{task_id}/complete", "supervisor1", json={"data": RESOLVED}, status=409,
                     headers=ZH)["error"]
    assert error["reason"] == "task_claimed" and error["message"].startswith("此任务已由 网格员1号")
    outsider = as_user("grid2")
    zh = outsider.get(f"/cases/{case['id']}", status=403, headers=ZH).get_data(True)
    assert "此案件不在您的辖区。" in zh and "无权操作" in zh and f'href="/cases/{case["id"]}"' not in zh
    en = outsider.get(f"/tasks/{task_id}", status=403, headers=EN).get_data(True)
    assert "This task is not yours and not offered to your role, area or department." in en
    refused = api.get(f"/cases/{case['id']}", "grid2", status=403, headers=EN)["error"]
    assert refused == {"code": "forbidden", "reason": "case_outside_area", "message": "This case is outside your area."}
    assert api.get(f"/cases/{case['id']}", "grid2", status=403)["error"]["message"] == "this case is outside your area"


def test_404_pages_and_answers_in_both_languages(api, as_user):
    grid1 = as_user("grid1")
    zh = grid1.get("/tasks/nope", status=404, headers=ZH).get_data(True)
    assert "此任务不存在，链接可能有误。" in zh and "回到我的任务" in zh
    en = grid1.get("/cases/999999", status=404, headers=EN).get_data(True)
    assert "This case does not exist; the link may be wrong." in en and "Go to my tasks" in en
    assert "此页面不存在" in grid1.get("/no/such/page", status=404, headers=ZH).get_data(True)
    error = api.get("/tasks/nope", "grid1", status=404, headers=ZH)["error"]
    assert error == {"code": "not_found", "reason": "task_not_found", "message": "此任务不存在，链接可能有误。"}


def test_form_field_errors_speak_the_pages_language(api, as_user):
    _case, task_id = _claimed(api)
    grid1 = as_user("grid1")
    grid1.get(f"/tasks/{task_id}")
    zh = grid1.post(f"/tasks/{task_id}", {"outcome": "resolved", "resolution": "x" * 3000}, status=400,
                    headers=ZH).get_data(True)
    assert re.search(r'id="resolution-error">最多 \d+ 个字符<', zh) and "is too long" not in zh
    en = grid1.post(f"/tasks/{task_id}", {"outcome": "whistle"}, status=400, headers=EN).get_data(True)
    assert 'id="department-error">This field is required<' in en
