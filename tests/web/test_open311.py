"""Open311 GeoReport v2 at /open311/v2, through a small client written from the spec: the
spec's own example request, JSON and XML round trips, its filters and its errors."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from gridloop.engine.model import Case
from gridloop.engine.seed import GRID_ORIGIN, GRID_SIZE, all_grids

from .conftest import RESOLVED, SATISFIED, Api, make_app

LON, LAT = GRID_ORIGIN[0] + GRID_SIZE / 2, GRID_ORIGIN[1] + GRID_SIZE / 2  # inside the first demo grid


class GeoReport:
    """A client as the spec describes one: form-encoded POSTs, ``.xml`` or ``.json`` answers,
    XML read by the Spark convention (an element of repeated children is a list)."""

    LISTS = {"services", "service_requests", "attributes", "values", "errors"}

    def __init__(self, client, fmt: str):
        self.client, self.fmt = client, fmt

    def _read(self, response):
        if self.fmt == "json":
            assert response.content_type == "application/json"
            return response.get_json()
        assert response.content_type == "text/xml; charset=utf-8"
        assert response.data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
        return self._element(ET.fromstring(response.data))

    def _element(self, element):
        if element.tag in self.LISTS:
            return [self._element(child) for child in element]
        if len(element):
            return {child.tag: self._element(child) for child in element}
        text = element.text
        return {"true": True, "false": False}.get(text, text)

    def get(self, path: str, expect: int = 200, **query):
        response = self.client.get(f"/open311/v2/{path}.{self.fmt}", query_string=query)
        assert response.status_code == expect, response.get_data(True)
        return self._read(response)

    def post(self, form: dict, expect: int = 200):
        response = self.client.post(f"/open311/v2/requests.{self.fmt}", data=form,
                                    content_type="application/x-www-form-urlencoded; charset=utf-8")
        assert response.status_code == expect, response.get_data(True)
        return self._read(response)


@pytest.fixture
def setup(any_world):
    app = make_app(any_world)
    key = any_world.create_open311_client(None, "citizen-app")
    return app, key, any_world


def spec_example(key: str, **changes) -> dict:
    """The spec's example POST, with our service code and a place in our city."""
    form = {"api_key": key, "jurisdiction_id": "city.gov", "service_code": "road_damage", "lat": str(LAT),
            "long": str(LON), "address_string": "1234 5th street", "email": "smit333@sfgov.edu",
            "device_id": "tt222111", "account_id": "123456", "first_name": "john", "last_name": "smith",
            "phone": "111111111", "description": "A large sinkhole is destroying the street",
            "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
            "attribute[urgency]": "urgent"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_and_their_definitions(setup, fmt):
    app, _key, world = setup
    client = GeoReport(app.test_client(), fmt)
    services = client.get("services")
    assert [s["service_code"] for s in services] == [c["code"] for c in world.categories()]
    gas = next(s for s in services if s["service_code"] == "gas_leak")
    assert gas == {"service_code": "gas_leak", "service_name": "燃气泄漏", "description": "Gas leak",
                   "metadata": True, "type": "realtime", "keywords": "燃气泄漏, Gas leak", "group": "燃气集团"}
    definition = client.get("services/gas_leak")
    assert definition["service_code"] == "gas_leak"
    urgency = next(a for a in definition["attributes"] if a["code"] == "urgency")
    assert urgency["datatype"] == "singlevaluelist" and urgency["required"] is False
    assert [v["key"] for v in urgency["values"]] == ["normal", "urgent", "emergency"]
    assert {a["code"] for a in definition["attributes"]} == {"title", "urgency"}  # the start form's other fields
    assert client.get("services/no_such_service", expect=404)[0]["code"] in (404, "404")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_specs_example_request_round_trips(setup, fmt):
    app, key, world = setup
    client = GeoReport(app.test_client(), fmt)
    created = client.post(spec_example(key))
    assert len(created) == 1 and set(created[0]) == {"service_request_id", "service_notice", "account_id"}
    number = created[0]["service_request_id"]
    assert number.startswith("GL") and "/s/" in created[0]["service_notice"]
    with world.db.reading() as s:
        case = s.scalars(select(Case).where(Case.number == number)).one()
    assert (case.source, case.category, case.urgency) == ("open311", "road_damage", "urgent")
    assert (case.reporter_name, case.reporter_phone, case.address) == ("john smith", "111111111", "1234 5th street")
    other = GeoReport(app.test_client(), "xml" if fmt == "json" else "json")  # read back in the other format
    for found in (client.get(f"requests/{number}"), other.get(f"requests/{number}"),
                  client.get("requests", service_request_id=number)):
        (item,) = found
        assert item["service_request_id"] == number and item["status"] == "open"
        assert item["service_code"] == "road_damage" and item["service_name"] == "道路破损"
        assert item["description"] == "A large sinkhole is destroying the street"
        assert item["agency_responsible"] == "城乡建设局"  # routing.dmn: road damage -> construction
        assert item["requested_datetime"] == case.reported_at.isoformat().replace("+00:00", "Z")
        assert item["expected_datetime"] == case.due_at.isoformat().replace("+00:00", "Z")
        assert float(item["lat"]) == pytest.approx(LAT) and float(item["long"]) == pytest.approx(LON)
        assert "john" not in str(item) and "111111111" not in str(item)  # never the reporter's name or phone
    token = case.status_token
    assert client.get(f"tokens/{token}") == [{"service_request_id": number, "token": token}]


def test_a_request_closes_with_the_case(setup):
    app, key, world = setup
    client, api = GeoReport(app.test_client(), "json"), Api(app.test_client())
    number = client.post(spec_example(key))[0]["service_request_id"]
    with world.db.reading() as s:
        case_id = s.scalar(select(Case.id).where(Case.number == number))
    api.step(case_id, "acceptor1", {"outcome": "accept"})
    (handling,) = client.get(f"requests/{number}")
    assert handling["status"] == "open" and handling["status_notes"] == "问题已交由负责单位处理。"
    api.step(case_id, "grid1", RESOLVED)
    api.step(case_id, "community1", {"outcome": "passed"})
    api.step(case_id, "acceptor1", SATISFIED)
    (closed,) = client.get(f"requests/{number}")
    closed_at = api.case(case_id)["closed_at"].replace("+00:00", "Z")
    assert closed["status"] == "closed" and closed["updated_datetime"] == closed_at
    assert client.get("requests", status="closed")[0]["service_request_id"] == number
    assert client.get("requests", status="open") == []


def test_request_filters_and_the_90_day_window(setup):
    app, key, world = setup
    client = GeoReport(app.test_client(), "json")
    first = client.post(spec_example(key))[0]["service_request_id"]
    world.clock.advance(days=10)
    second = client.post(spec_example(key, service_code="garbage"))[0]["service_request_id"]
    Api(app.test_client()).report("grid1")  # a grid worker's patrol report: not a public request

    def ids(**query):
        return [r["service_request_id"] for r in client.get("requests", **query)]
    assert ids() == [second, first]
    assert ids(service_code="garbage") == [second] and ids(service_code="garbage,road_damage") == [second, first]
    day = world.clock.now() - timedelta(days=5)
    assert ids(start_date=day.isoformat()) == [second] and ids(end_date=day.isoformat()) == [first]
    assert ids(service_request_id=f"{first},{second}", service_code="noise") == [second, first]  # ids override
    world.clock.advance(days=85)
    assert ids() == [second]  # the last 90 days by default


@pytest.mark.parametrize("query, problem", [
    ({"start_date": "2026-01-01"}, "time zone"),
    ({"start_date": "yesterday"}, "time zone"),
    ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
    ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "before"),
    ({"status": "pending"}, "open, closed"),
])
def test_bad_filters_are_the_specs_400(setup, query, problem):
    app, _key, _world = setup
    for fmt in ("json", "xml"):
        (error,) = GeoReport(app.test_client(), fmt).get("requests", expect=400, **query)
        assert str(error["code"]) == "400" and problem in error["description"]


@pytest.mark.parametrize("changes, status, problem", [
    ({"api_key": "not-a-key"}, 403, "invalid api_key"),
    ({"api_key": None}, 403, "api_key is required"),
    ({"service_code": "rocket_launch"}, 404, "service_code 'rocket_launch' not found"),
    ({"service_code": None}, 400, "service_code is required"),
    ({"lat": "39.9", "long": "116.4"}, 400, "outside every grid"),
    ({"lat": "north", "long": "116.4"}, 400, "lat must be a number"),
    ({"lat": "NaN", "long": "116.4"}, 400, "finite"),
    ({"lat": "95", "long": "116.4"}, 400, "out of range"),
    ({"long": None}, 400, "lat and long go together"),
    ({"lat": None, "long": None}, 400, "not one of this jurisdiction's"),  # 1234 5th street: not ours
    ({"lat": None, "long": None, "address_string": None}, 400, "a location is required"),
    ({"attribute[urgency]": "whenever"}, 400, "urgency"),
    ({"attribute[colour]": "red"}, 400, "unknown attribute 'colour'"),
    ({"description": "x" * 4001}, 400, "description"),
    ({"phone": "not a phone"}, 400, "reporter.phone"),
])
def test_bad_requests_are_refused_in_the_specs_format_and_create_nothing(setup, changes, status, problem):
    app, key, world = setup
    for fmt in ("json", "xml"):
        (error,) = GeoReport(app.test_client(), fmt).post(spec_example(key, **changes), expect=status)
        assert str(error["code"]) == str(status) and problem in error["description"]
    with world.db.reading() as s:
        assert s.scalar(select(Case.id)) is None


def test_an_address_finds_its_place_and_grid(setup):
    app, key, world = setup
    client = GeoReport(app.test_client(), "xml")
    grid = all_grids()[4]
    by_id = client.post(spec_example(key, lat=None, long=None, address_string=None, address_id=f"{grid}-C1-B1"))
    with world.db.reading() as s:
        case = s.scalars(select(Case).where(Case.number == by_id[0]["service_request_id"])).one()
        assert case.grid.code == grid and case.address.endswith("1号楼")
        address = case.address
    by_address = client.post(spec_example(key, lat=None, long=None, address_string=address))
    with world.db.reading() as s:
        assert s.scalars(select(Case).where(Case.number == by_address[0]["service_request_id"])).one().grid.code == grid


def test_a_revoked_key_and_unknown_resources(setup):
    app, key, world = setup
    client = GeoReport(app.test_client(), "json")
    world.revoke_open311_client(None, "citizen-app")
    assert client.post(spec_example(key), expect=403)[0]["description"] == "invalid api_key"
    client.get("requests/GL20260302999999", expect=404)
    client.get("tokens/no-such-token", expect=404)
    response = app.test_client().get("/open311/v2/services.html")  # not a format of the spec: XML error
    assert response.status_code == 404 and b"<errors>" in response.data
