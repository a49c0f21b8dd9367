"""The whole closed loop in a real Chromium, once in zh-CN and once in English: a hotline case
is accepted, whistled to the power department, reported in and resolved by its liaison,
verified and scored at the callback. Every page on the way must be in the walk's language only
(names of people, org units, processes and limits; labels; the timeline) and must name people
and org units instead of showing usernames or org codes.

What the users typed is the same text in both walks ("3-401"), so that only the software's own
words are judged; the diagram (the designer's drawing) is left out."""
from __future__ import annotations

import os
import re

import pytest

from .conftest import GRID1
from .test_browser import ARGS, CHROMIUM, missing, screenshots  # noqa: F401 (a fixture)

USERNAMES = ("acceptor1", "grid1", "grid2", "liaison_power", "supervisor1", "community1")
ORG_CODE = re.compile(r"(?<![\w-])2101\d{2,12}(?!\w)")  # a grid's, community's ... code
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}")
# Proper names: the language switch names the other language; standards' and formats' names.
ALLOWED_ENGLISH = {"English", "Open311", "Webhook", "JPEG", "PNG"}
CASE_NUMBER = re.compile(r"GL\d{14}")
NEUTRAL = "3-401"  # what the reporter and the workers typed, in neither language
# The page's own words, without the designer's drawing and the language switch.
PAGE_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('.diagram-canvas, a.lang, script, style').forEach(e => e.remove());
  copy.querySelectorAll('input, textarea').forEach(e => e.remove());
  return copy.textContent;
}"""


def check(page, lang: str, what: str) -> None:
    """The page is in ``lang`` only and names people and org units by name."""
    text = page.evaluate(PAGE_TEXT)
    where = f"{what} ({page.url})"
    if lang == "zh":
        words = {w for w in ENGLISH_WORD.findall(text) if not CASE_NUMBER.fullmatch(w)} - ALLOWED_ENGLISH
        assert not words, f"English on the Chinese {where}: {sorted(words)}"
    else:
        found = CJK.findall(text)
        assert not found, f"Chinese on the English {where}: {''.join(found)[:80]}"
    assert not ORG_CODE.search(text), f"an org code on {where}: {ORG_CODE.search(text).group(0)}"
    shown = [u for u in USERNAMES if re.search(rf"(?<![\w-]){u}(?![\w-])", text)]
    assert not shown, f"usernames on {where}: {shown}"


def sign_in(browser, server: str, username: str, lang: str):
    page = browser.new_page(locale="zh-CN" if lang == "zh" else "en-US", viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/sign-in")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("button.primary")
    page.wait_for_load_state()
    check(page, lang, f"{username}'s landing page")
    return page


def do_task(page, lang: str, case_id: int, choices: dict[str, str], texts: dict[str, str] | None = None) -> None:
    """From the inbox: open the case's task (claiming it if offered), answer, submit."""
    from playwright.sync_api import expect
    row = page.locator("table.tasks tbody tr", has=page.locator(f'a[href="/cases/{case_id}"]')).first
    expect(row).to_be_visible()
    claim = row.locator("form[action$='/claim'] button")
    if claim.count():
        claim.click()
    else:
        row.locator("a.button").first.click()
    page.wait_for_load_state()
    check(page, lang, "the task page")
    for name, value in choices.items():
        page.check(f"input[name={name}][value={value}]")
    for name, value in (texts or {}).items():
        page.fill(f"[name={name}]", value)
    page.locator("form.task-form button[type=submit], form.task-form button.primary").last.click()
    page.wait_for_load_state()
    assert re.search(rf"/cases/{case_id}$", page.url), f"not back on the case page: {page.url}"
    check(page, lang, "the case page after completing")


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_whole_loop_in_one_language(live_server, api, lang, screenshots):  # noqa: F811
    if not os.path.exists(CHROMIUM):
        missing("Debian chromium not installed: run make browser")
    from playwright.sync_api import sync_playwright
    case = api.report("acceptor1", source="hotline", category="power_outage", title=NEUTRAL, description=NEUTRAL,
                      grid=GRID1,
                      reporter={"name": NEUTRAL, "phone": "13800000000"},
                      location={"address": NEUTRAL, "lat": 41.79, "lon": 123.4})
    server = live_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            acceptor = sign_in(browser, server, "acceptor1", lang)
            do_task(acceptor, lang, case["id"], {"outcome": "accept"})

            grid1 = sign_in(browser, server, "grid1", lang)
            do_task(grid1, lang, case["id"], {"outcome": "whistle"})  # the department comes from routing

            liaison = sign_in(browser, server, "liaison_power", lang)
            do_task(liaison, lang, case["id"], {"outcome": "resolved"}, {"resolution": NEUTRAL})

            grid1.goto(f"{server}/inbox/claimable")
            check(grid1, lang, "grid1's inbox")
            do_task(grid1, lang, case["id"], {"outcome": "passed"})

            acceptor.goto(f"{server}/inbox/claimable")
            do_task(acceptor, lang, case["id"], {"contacted": "true", "resolved": "true",
                                                 "satisfaction": "basically_satisfied"})

            supervisor = sign_in(browser, server, "supervisor1", lang)
            for path in (f"/cases/{case['id']}", "/inbox/area", "/inbox/overdue", "/cases", "/dashboard"):
                supervisor.goto(f"{server}{path}")
                check(supervisor, lang, path)
            supervisor.goto(f"{server}/cases/{case['id']}")
            timeline = supervisor.locator(".timeline").inner_text()
            if lang == "zh":
                assert "报到「部门报到处置」" in timeline
            else:
                assert "reported in for “Department handling”" in timeline
            supervisor.screenshot(path=os.path.join(screenshots, f"case-closed-{lang}.png"), full_page=True)
        finally:
            browser.close()
    assert api.case(case["id"])["status"] == "closed"
