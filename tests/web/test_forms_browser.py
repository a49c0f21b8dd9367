"""In a real Chromium (Debian's): a task form shows, hides and marks its fields from its JSON
Schema's if/then/else (static/forms.js) and names every missing field at once before sending;
the designer's table fits a 1280 px window in both languages."""
from __future__ import annotations

import os

import pytest

from .test_browser import ARGS, CHROMIUM, missing, signed_in_page


@pytest.fixture
def server(live_server):
    return live_server


@pytest.fixture
def chromium():
    if not os.path.exists(CHROMIUM):
        missing("Debian chromium not installed: run make browser")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _signed_in(chromium, server, user: str, locale: str):
    return signed_in_page(chromium, server, user, "/sign-in", locale)


@pytest.mark.browser
def test_the_form_follows_its_schema_conditions(server, api, chromium):
    from playwright.sync_api import expect
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    page = _signed_in(chromium, server, "grid1", "en")
    page.goto(f"{server}/tasks/{task_id}")
    field = {name: page.locator(f'[data-field="{name}"]') for name in ("department", "co_departments",
                                                                        "resolution", "note")}
    expect(field["department"]).to_be_hidden()
    expect(field["resolution"]).to_be_hidden()
    expect(field["note"]).to_be_visible()  # no branch names it: it always applies
    page.get_by_label("Whistle a department").check()
    expect(field["department"]).to_be_visible()
    expect(field["co_departments"]).to_be_visible()
    expect(field["department"].locator("abbr.req")).to_be_visible()  # required as soon as it applies
    page.get_by_label("Resolved by the grid").check()
    expect(field["department"]).to_be_hidden()  # pre-filled from routing, but not sent for "resolved"
    assert page.locator("#f-department").is_disabled()
    page.locator("form.task-form button.primary").click()
    expect(page.locator("#resolution-error")).to_have_text("This field is required")
    assert page.url.endswith(f"/tasks/{task_id}")  # nothing was sent
    page.fill("textarea[name=resolution]", "Cleared")
    page.locator("form.task-form button.primary").click()
    expect(page).to_have_url(f"{server}/cases/{case['id']}")
    assert api.case(case["id"])["department"] != "" and api.case(case["id"])["stage"] == "verification"


@pytest.mark.browser
def test_the_designer_table_fits_1280_px(server, chromium):
    for locale in ("zh-CN", "en"):
        page = _signed_in(chromium, server, "designer1", locale)
        page.goto(f"{server}/designer")
        table, main = page.evaluate("[document.querySelector('table.tasks').scrollWidth,"
                                    " document.querySelector('main').clientWidth]")
        assert table <= main, locale
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, locale
        page.close()
