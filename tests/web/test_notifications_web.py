"""Notification settings (each user her own, API and page) and webhooks (administrators)."""
from __future__ import annotations

import pytest

from .conftest import Api, Browser, make_app


def test_a_user_reads_and_changes_only_her_own_settings(any_api):
    mine = any_api.get("/users/grid1/notifications", "grid1")
    assert mine["email"] is None and mine["channels"]["task_offered"] == ["email", "webhook"]
    saved = any_api.call("PUT", "/users/grid1/notifications", "grid1",
                         json={"email": "grid1@example.org", "language": "en",
                               "channels": {"task_offered": ["webhook"], "urged": []}})
    assert saved["email"] == "grid1@example.org" and saved["language"] == "en"
    assert saved["channels"]["task_offered"] == ["webhook"] and saved["channels"]["urged"] == []
    assert saved["channels"]["overdue"] == ["email", "webhook"]  # left out: unchanged
    assert any_api.get("/users/grid1/notifications", "grid1") == saved
    for user in ("grid2", "admin1", "supervisor1"):  # not even an administrator
        any_api.get("/users/grid1/notifications", user, status=403)
        any_api.call("PUT", "/users/grid1/notifications", user, json={"email": "x@example.org"}, status=403)
    any_api.get("/users/nobody/notifications", "grid1", status=404)
    assert any_api.get("/users/grid1/notifications", "grid1") == saved  # nothing changed by the refusals


@pytest.mark.parametrize("body, field", [
    ({"email": "not an address"}, "email"),
    ({"email": "a\x00b@example.org"}, "email"),
    ({"language": "fr"}, "language"),
    ({"channels": {"task_offered": ["sms"]}}, "channels.task_offered"),
    ({"channels": {"task_offered": ["email", "email"]}}, "channels.task_offered"),
    ({"channels": {"birthday": ["email"]}}, "channels"),
])
def test_bad_settings_are_a_400_naming_the_field(any_api, body, field):
    answer = any_api.call("PUT", "/users/grid1/notifications", "grid1", json=body, status=400)
    assert field in answer["error"]["fields"]
    assert any_api.get("/users/grid1/notifications", "grid1")["email"] is None


def test_only_administrators_manage_webhooks(any_api):
    body = {"url": "https://hooks.example.org/gridloop", "events": ["case_closed"]}
    for user in ("grid1", "supervisor1", "designer1"):
        any_api.post("/webhooks", user, json=body, status=403)
        any_api.get("/webhooks", user, status=403)
    made = any_api.post("/webhooks", "admin1", json=body, status=201)
    assert len(made["secret"]) >= 40 and made["user"] is None and made["created_by"] == "admin1"
    listed = any_api.get("/webhooks", "admin1")
    assert listed == [{k: v for k, v in made.items() if k != "secret"}]
    assert (made["url"], made["events"], made["active"]) == (body["url"], body["events"], True)
    assert made["created_at"] == "2026-03-02T01:00:00+00:00"  # the clock's now
    any_api.call("DELETE", f"/webhooks/{made['id']}", "grid1", status=403)
    any_api.call("DELETE", f"/webhooks/{made['id']}", "admin1", status=204)
    any_api.call("DELETE", f"/webhooks/{made['id']}", "admin1", status=404)
    any_api.call("DELETE", f"/webhooks/{2 ** 63}", "admin1", status=400)  # beyond any id: malformed
    assert any_api.get("/webhooks", "admin1") == []


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://hooks.example.org/x"}, "url"),
    ({"url": "https:///no-host"}, "url"),
    ({"url": "http://[::1"}, "url"),
    ({"url": "https://hooks.example.org/" + "x" * 400}, "url"),
    ({"url": "https://hooks.example.org/", "events": ["task_offered", "lunch"]}, "events"),
])
def test_a_bad_webhook_is_a_400_naming_the_field(any_api, body, field):
    assert field in any_api.post("/webhooks", "admin1", json=body, status=400)["error"]["fields"]
    assert any_api.get("/webhooks", "admin1") == []


def test_a_webhook_for_an_unknown_user_is_a_404(any_api):
    any_api.post("/webhooks", "admin1", json={"url": "https://hooks.example.org/", "user": "nobody"}, status=404)


def test_the_settings_page_in_both_languages(world):
    page = Browser(make_app(world).test_client())
    page.sign_in("grid1")
    html = page.get("/account/notifications").get_data(True)
    assert "通知设置" in html and "有可由我领取的任务" in html and "有任务指派给我" in html and "Notification settings" not in html
    page.post("/account/notifications", {"email": "grid1@example.org", "language": "en",
                                         "task_offered.email": "on", "urged.webhook": "on"})
    assert "通知设置已保存" in page.get("/account/notifications").get_data(True)
    page.get("/lang/en", status=302)
    html = page.get("/account/notifications").get_data(True)
    assert "Notification settings" in html and "通知设置" not in html
    assert 'value="grid1@example.org"' in html and 'name="task_offered.email" aria-label' in html
    assert 'name="task_offered.email" aria-label="A task is offered to me: Email" checked' in html
    assert 'name="overdue.email" aria-label="Work is overdue: Email" >' in html  # unticked: off

    bad = page.post("/account/notifications", {"email": "nonsense", "language": "en"}, status=400)
    assert "Enter a valid email address" in bad.get_data(True)
    assert 'value="grid1@example.org"' in page.get("/account/notifications").get_data(True)  # kept


def test_the_settings_page_needs_a_sign_in(world):
    page = Browser(make_app(world).test_client())
    assert "/sign-in" in page.get("/account/notifications", status=302).headers["Location"]


def test_a_supervisor_assigns_a_task_through_the_api_and_the_page(any_world):
    app = make_app(any_world)
    api = Api(app.test_client())
    case = api.report("grid1")
    task = api.open_task(case["id"])
    assert api.post(f"/tasks/{task['id']}/assign", "supervisor1", json={"user": "grid1"})["assignee"] == "grid1"
    api.post(f"/tasks/{task['id']}/assign", "grid2", json={"user": "grid2"}, status=403)
    assert "user" in api.post(f"/tasks/{task['id']}/assign", "supervisor1", json={"user": "grid2"},
                              status=400)["error"]["fields"]
    api.post(f"/tasks/{task['id']}/assign", "supervisor1", json={"user": "grid1"}, status=409)  # hers already
    api.post("/tasks/nope/assign", "supervisor1", json={"user": "grid1"}, status=404)
    api.post(f"/tasks/{task['id']}/unclaim", "grid1")
    supervisor = Browser(app.test_client())
    supervisor.sign_in("supervisor1")
    page = supervisor.get(f"/tasks/{task['id']}", headers={"Accept-Language": "en"}).get_data(True)
    assert 'name="user"' in page and '<option value="grid1">' in page
    supervisor.post(f"/tasks/{task['id']}/assign", {"user": "grid1"})
    assert api.get(f"/tasks/{task['id']}", "grid1")["assignee"] == "grid1"
    grid1 = Browser(app.test_client())
    grid1.sign_in("grid1")
    assert 'name="user"' not in grid1.get(f"/tasks/{task['id']}").get_data(True)  # she may not assign


def _failed_delivery(world) -> int:
    """An offered task's email that failed for want of a mail server."""
    from gridloop.engine import delivery
    from gridloop.engine.notification_text import Renderer
    api = Api(make_app(world).test_client())
    api.call("PUT", "/users/grid1/notifications", "grid1", json={"email": "grid1@example.org"})
    case = api.report("acceptor1", source="hotline")
    api.step(case["id"], "acceptor1", {"outcome": "accept"}, stage="acceptance")  # the grid task: offered to grid1
    delivery.deliver_due(world.db, world.clock, Renderer("https://gridloop.example", world.calendar.tz),
                         delivery.Transport(backoff=()))
    return api.get("/notifications/failed", "admin1")["items"][0]["id"]


def test_failed_deliveries_api_for_administrators_only(any_world):
    failed = _failed_delivery(any_world)
    api = Api(make_app(any_world).test_client())
    page = api.get("/notifications/failed", "admin1")
    assert page["total"] == 1 and page["items"][0]["last_error"].startswith("RuntimeError: no SMTP server")
    for user in ("supervisor1", "grid1"):
        api.get("/notifications/failed", user, status=403)
        api.post(f"/notifications/{failed}/retry", user, status=403)
    retried = api.post(f"/notifications/{failed}/retry", "admin1")
    assert retried == {**page["items"][0], "status": "pending", "attempts": 0,
                       "next_attempt_at": any_world.clock.now().isoformat()}
    assert (retried["channel"], retried["target"], retried["user"]) == ("email", "grid1@example.org", "grid1")
    api.post(f"/notifications/{failed}/retry", "admin1", status=409)
    api.post("/notifications/999999/retry", "admin1", status=404)
    assert api.get("/notifications/failed", "admin1")["total"] == 0


def test_the_failed_deliveries_page_lists_the_error_and_retries(any_world):
    failed = _failed_delivery(any_world)
    app = make_app(any_world)
    admin = Browser(app.test_client())
    admin.sign_in("admin1")
    page = admin.get("/admin/deliveries", headers={"Accept-Language": "en"}).get_data(True)
    assert "Failed notification deliveries" in page and "no SMTP server configured" in page
    assert f'action="/admin/deliveries/{failed}/retry"' in page and "grid1@example.org" in page
    admin.post(f"/admin/deliveries/{failed}/retry")
    assert "No failed deliveries." in admin.get("/admin/deliveries", headers={"Accept-Language": "en"}).get_data(True)
    grid1 = Browser(app.test_client())
    grid1.sign_in("grid1")
    grid1.get("/admin/deliveries", status=403)
    grid1.post(f"/admin/deliveries/{failed}/retry", status=403)
