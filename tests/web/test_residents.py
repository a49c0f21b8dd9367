"""Residents without an account: the QR report and the plain public page, the status link,
the flood limit, and the coordinators' printable QR codes."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from gridloop.engine import places
from gridloop.engine.model import Case, Event
from gridloop.engine.seed import all_grids

from .conftest import RESOLVED, Api, Browser, make_app

EN, ZH = {"Accept-Language": "en"}, {"Accept-Language": "zh-CN"}
GRID = all_grids()[0]
BUILDING = f"{GRID}-C1-B2"
SECRET = "test-secret"  # make_app's SECRET_KEY


@pytest.fixture
def public(any_world):
    app = make_app(any_world)
    return Browser(app.test_client()), Api(app.test_client()), any_world


def _qr_path(code: str = BUILDING) -> str:
    return f"/r/{places.place_token(SECRET, code)}"


def _case(world, number: str) -> Case:
    with world.db.reading() as s:
        return s.scalars(select(Case).options(joinedload(Case.grid)).where(Case.number == number)).one()


def _report(browser: Browser, path: str, **fields) -> str:
    """Send the report; the answer is the status page, whose path is returned."""
    browser.get(path)
    sent = browser.post(path, {"category": "garbage", "description": "楼道堆满垃圾袋", **fields})
    return sent.location


def test_a_qr_code_fills_in_the_place_and_the_case_gets_a_number_and_a_status_link(public):
    browser, _api, world = public
    page = browser.get(_qr_path(), headers=EN).get_data(True)
    assert "Report a problem" in page and "Building 2, Sunshine Garden" in page and 'name="place"' not in page
    status_path = _report(browser, _qr_path(), detail="3单元5楼", name="王女士")
    assert re.fullmatch(r"/s/[\w-]{30,}", status_path)
    case = _case(world, re.search(r"GL\d+", browser.get(status_path).get_data(True)).group(0))
    assert (case.source, case.grid.code, case.category) == ("qr", GRID, "garbage")
    assert case.address.endswith("2号楼 3单元5楼") and (case.reporter_name, case.reporter_phone) == ("王女士", None)
    assert case.reported_by_id is None and case.status_token == status_path.rsplit("/", 1)[1]
    with world.db.reading() as s:
        via = s.scalar(select(Event.payload).where(Event.case_id == case.id, Event.type == "reported_via"))
    assert via == {"ref": BUILDING}


def test_the_plain_page_asks_for_the_compound_and_the_form_wants_a_phone(public):
    browser, _api, world = public
    page = browser.get("/r", headers=ZH).get_data(True)
    assert "请选择您所在的小区" in page and f'value="{GRID}-C1"' in page and f'value="{BUILDING}"' not in page
    refused = browser.post("/r", {"place": f"{GRID}-C1", "category": "noise"}, status=400, headers=EN).get_data(True)
    assert 'id="phone-error"' in refused  # the report form requires a resident's phone for a call back
    unknown = browser.post("/r", {"place": "nowhere", "category": "noise"}, status=400).get_data(True)
    assert 'id="place-error"' in unknown
    status_path = browser.post("/r", {"place": f"{GRID}-C1", "category": "noise", "phone": "13800000000"}).location
    number = re.search(r"GL\d+", browser.get(status_path).get_data(True)).group(0)
    assert _case(world, number).source == "resident"


@pytest.mark.parametrize("fields, field", [
    ({"category": "nonsense"}, "category"),
    ({"category": ""}, "category"),
    ({"phone": "call me maybe"}, "phone"),
    ({"description": "x" * 4001}, "description"),
    ({"name": "名" * 51}, "name"),
])
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(public, fields, field):
    browser, _api, world = public
    browser.get(_qr_path())
    body = {"category": "garbage", **fields}
    page = browser.post(_qr_path(), body, status=400, headers=EN).get_data(True)
    assert f'id="{field}-error"' in page
    with world.db.reading() as s:
        assert s.scalar(select(Case.id).where(Case.source == "qr")) is None


def test_a_forged_or_unknown_qr_code_is_not_found(public):
    browser, _api, _world = public
    token = places.place_token(SECRET, BUILDING)
    browser.get(_qr_path())  # a session with a CSRF token
    for bad in (token[:-3], places.place_token("another-secret", BUILDING), places.place_token(SECRET, "nowhere")):
        browser.get(f"/r/{bad}", status=404)
        browser.post(f"/r/{bad}", {"category": "garbage"}, status=404)


def test_a_flood_from_one_address_gets_429_and_creates_nothing_more(world):
    app = make_app(world)
    app.config["PUBLIC_REPORT_LIMIT"] = "2 per minute"
    browser = Browser(app.test_client())
    for _ in range(2):
        _report(browser, _qr_path())
    browser.get(_qr_path())
    flooded = browser.post(_qr_path(), {"category": "garbage"}, status=429, headers=EN)
    assert "Too many reports" in flooded.get_data(True) and int(flooded.headers["Retry-After"]) > 0
    assert browser.post("/r", {"place": f"{GRID}-C1", "category": "garbage", "phone": "13800000000"},
                        status=429).status_code == 429  # the plain page shares the limit
    other = Browser(app.test_client())
    other.get(_qr_path())
    other.post(_qr_path(), {"category": "garbage"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})  # another address
    with world.db.reading() as s:
        assert len(s.scalars(select(Case.id).where(Case.source == "qr")).all()) == 3


def test_the_status_page_speaks_the_citizens_words_until_done(public):
    browser, api, world = public
    status_path = _report(browser, _qr_path(), phone="13800000000")
    page = browser.get(status_path, headers=EN).get_data(True)
    number = re.search(r"GL\d+", page).group(0)
    case = _case(world, number)
    assert "Received" in page and "To be done by" in page and "Garbage pile-up" in page
    api.step(case.id, "acceptor1", {"outcome": "accept"})
    assert "Being dealt with" in browser.get(status_path, headers=EN).get_data(True)
    api.step(case.id, "grid1", RESOLVED)
    api.step(case.id, "community1", {"outcome": "passed"})
    page = browser.get(status_path, headers=EN).get_data(True)
    assert "Waiting for your feedback" in page and RESOLVED["resolution"] in page
    feedback = re.search(r'href="(/f/[\w-]+)"', page).group(1)
    browser.get(feedback)
    browser.post(feedback, {"resolved": "true", "satisfaction": "satisfied"}, status=200)
    done = browser.get(status_path, headers=ZH).get_data(True)
    assert "已办结" in done and "办结时间" in done and RESOLVED["resolution"] in done and "/f/" not in done
    for internal in ("grid1", "acceptor1", "grid_handling", "department", "网格员", "verification"):
        assert internal not in done


def test_an_unknown_status_link_is_a_friendly_page(public):
    browser, _api, _world = public
    for headers, text in ((EN, "cannot find this status link"), (ZH, "找不到这个查询链接")):
        assert text in browser.get("/s/no-such-link", status=404, headers=headers).get_data(True)


def test_coordinators_print_their_communitys_codes(world, as_user):
    community = GRID[:11]
    listed = as_user("street2").get("/places/qr", headers=EN).get_data(True)  # Huashan street: two communities
    assert re.findall(r'href="/places/(\d+)/qr"', listed) == ["21010500101", "21010500102"]
    assert 'href="/places/qr"' not in as_user("grid1").get("/inbox/mine").get_data(True)  # not in his menu
    coordinator = as_user("community1")
    assert re.findall(r'href="/places/(\d+)/qr"', coordinator.get("/places/qr").get_data(True)) == [community]
    page = coordinator.get(f"/places/{community}/qr", headers=EN).get_data(True)
    assert page.count("<svg") == 9 and "Building 2, Sunshine Garden" in page
    pdf = coordinator.client.get(f"/places/{community}/qr.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF") and pdf.data.count(b"/Type /Page\n") == 1
    png = Image.open(io.BytesIO(coordinator.client.get(f"/places/{community}/qr.png").data))
    assert png.format == "PNG" and png.height > png.width / 2
    coordinator.get(f"/places/{community}/qr.gif", status=404)
    for user in ("grid1", "street2"):  # a grid worker; a coordinator of another street
        as_user(user).get(f"/places/{community}/qr", status=403)
        as_user(user).get(f"/places/{community}/qr.pdf", status=403)
    Browser(coordinator.client.application.test_client()).get(f"/places/{community}/qr", status=302)  # sign in first
