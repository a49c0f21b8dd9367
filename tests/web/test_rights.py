"""Who may do what, through the API, the pages and the CLI: starting processes (starters,
call-activity-only processes, start data naming another area), groups that staff lanes
(administrators only), tasks nobody can take (the ``unassignable`` scope) and the reporter's
feedback link (only the callback's makers and supervisors)."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from gridloop.cli import main
from gridloop.engine.model import User
from gridloop.engine.runtime import Runtime
from gridloop.engine.seed import seed_demo

from .conftest import GRID1, GRID2, RESOLVED, Api, make_app

COMMUNITY = GRID1[:11]          # 民主社区: grid1's community, community1's unit
HUASHAN_COMMUNITY = "21010500101"  # 牡丹社区, under street2's street


def _lanes_model(process: str = "lanes_ab", extra: str = "") -> dict[str, bytes]:
    """Two tasks in lanes "A" then "B": names no built-in role has (like models made elsewhere)."""
    return {f"{process}.bpmn": f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_{process}" targetNamespace="t">
  <bpmn:process id="{process}" isExecutable="true">{extra}
    <bpmn:laneSet id="ls"><bpmn:lane id="la" name="A"><bpmn:flowNodeRef>first</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lb" name="B"><bpmn:flowNodeRef>second</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />
    <bpmn:userTask id="first" name="First"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second" />
    <bpmn:userTask id="second" name="Second"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>""".encode()}


def _caller_and_callee(callee_extra: str = "") -> dict[str, bytes]:
    """``outer`` calls ``inner``; inner names no starters, so designers could start it."""
    return {"calls.bpmn": f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_calls" targetNamespace="t">
  <bpmn:process id="outer" isExecutable="true">
    <bpmn:startEvent id="o_start"><bpmn:outgoing>o1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="o1" sourceRef="o_start" targetRef="call" />
    <bpmn:callActivity id="call" calledElement="inner"><bpmn:incoming>o1</bpmn:incoming><bpmn:outgoing>o2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:sequenceFlow id="o2" sourceRef="call" targetRef="o_end" />
    <bpmn:endEvent id="o_end"><bpmn:incoming>o2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
  <bpmn:process id="inner" isExecutable="true">{callee_extra}
    <bpmn:startEvent id="i_start"><bpmn:outgoing>i1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="i1" sourceRef="i_start" targetRef="work" />
    <bpmn:userTask id="work" name="Work"><bpmn:incoming>i1</bpmn:incoming><bpmn:outgoing>i2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="i2" sourceRef="work" targetRef="i_end" />
    <bpmn:endEvent id="i_end"><bpmn:incoming>i2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>""".encode()}


def _properties(**values) -> str:
    props = "".join(f'<spiffworkflow:property name="{k}" value="{v}" />' for k, v in values.items())
    return f"<bpmn:extensionElements><spiffworkflow:properties>{props}</spiffworkflow:properties></bpmn:extensionElements>"


@pytest.fixture
def db_world(any_db, clock):
    """The demo world on SQLite and, where configured, PostgreSQL."""
    runtime = Runtime(any_db, clock=clock)
    with runtime.db.transaction() as s:
        seed_demo(s)
    runtime.deploy()
    return runtime


@pytest.fixture
def db_api(db_world):
    return Api(make_app(db_world).test_client())


def start(api: Api, user: str, key: str, status: int = 201, **data) -> dict:
    return api.post("/process-instances", user, json={"key": key, "data": data}, status=status)


# ------------------------------------------------------------------------------ starting

def test_starters_of_the_shipped_processes(api):
    round_ = start(api, "grid1", "hazard_inspection", grid=GRID1)
    assert [t["element_id"] for t in round_["open_tasks"]] == ["inspect"]
    assert round_["open_tasks"][0]["id"] in api.inbox_ids("grid1")
    start(api, "community1", "hazard_inspection", grid=GRID2)  # a coordinator, for a grid of his community
    start(api, "community1", "party_service_order", community=COMMUNITY, order_no="DQ-1")
    start(api, "community1", "monthly_review")
    start(api, "supervisor1", "monthly_review")
    for user, key, data in [("grid1", "party_service_order", {"community": COMMUNITY}),
                            ("liaison_power", "hazard_inspection", {"grid": GRID1}),
                            ("designer1", "hazard_inspection", {"grid": GRID1}),  # starters replace the default
                            ("grid1", "monthly_review", {}), ("admin1", "monthly_review", {})]:
        refused = start(api, user, key, status=403, **data)
        assert refused["error"]["code"] == "forbidden" and "may not start" in refused["error"]["message"]
    # a non-starter learns nothing about the start form
    assert start(api, "grid1", "party_service_order", status=403, nonsense=1)["error"]["code"] == "forbidden"


def test_a_process_without_starters_is_started_by_designers_and_the_system(world, api):
    world.deploy(sources=_lanes_model())
    start(api, "designer1", "lanes_ab")
    start(api, "grid1", "lanes_ab", status=403)
    assert world.start_process(None, "lanes_ab").status == "running"  # the system (CLI without --user)


def test_processes_only_called_cannot_be_started(world, api):
    refused = start(api, "designer1", "consultation", status=409)
    assert "call activity" in refused["error"]["message"]
    world.deploy(sources=_caller_and_callee())  # called by another process of its deployment
    assert start(api, "designer1", "inner", status=409)["error"]["code"] == "conflict"
    start(api, "designer1", "outer")
    world.deploy(sources=_caller_and_callee(_properties(callableOnly="false")))  # ... unless it says so
    start(api, "designer1", "inner")


def test_start_data_naming_another_area_is_refused(db_api):
    api = db_api
    outside = start(api, "grid1", "hazard_inspection", status=403, grid=GRID2)  # the next grid: not his
    assert outside["error"]["fields"] == {"grid": "outside your area"}
    assert start(api, "grid1", "hazard_inspection", status=400, grid="nope")["error"]["fields"] == \
        {"grid": "unknown grid 'nope'"}
    assert "grid" in start(api, "community1", "hazard_inspection", status=400, grid=COMMUNITY)["error"]["fields"]
    start(api, "street2", "party_service_order", status=403, community=COMMUNITY)  # another street's community
    start(api, "street2", "party_service_order", community=HUASHAN_COMMUNITY, order_no="DQ-2")
    assert api.get("/process-instances", "street2")["total"] == 1  # the refused starts left nothing behind


def test_reporting_a_case_is_for_its_starters(api):
    api.report("grid1")
    api.report("acceptor1", source="hotline")
    for user in ("designer1", "liaison_power", "supervisor1"):
        api.post("/cases", user, json={"title": "x", "category": "garbage", "source": "patrol", "grid": GRID1},
                 status=403)


@pytest.fixture
def cli_on(world, monkeypatch):
    """The CLI over the world's database."""
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", str(world.db.url))

    def run(*args):
        return CliRunner().invoke(main, list(args))
    return run


def test_cli_start_checks_the_user_it_starts_as(cli_on):
    refused = cli_on("start", "hazard_inspection", "--user", "grid1", "--data", json.dumps({"grid": GRID2}))
    assert refused.exit_code == 1 and "outside your area" in refused.output
    assert cli_on("start", "hazard_inspection", "--user", "grid1", "--data", json.dumps({"grid": GRID1})).exit_code == 0
    called = cli_on("start", "consultation")
    assert called.exit_code == 1 and "call activity" in called.output
    assert cli_on("start", "monthly_review").exit_code == 0  # the system may start what it likes


# ------------------------------------------------------------------------------ groups and lanes

GROUP_CALLS = [("GET", "/groups", None), ("POST", "/groups", {"name": "A"}), ("PUT", "/groups/A/members/grid1", None),
               ("DELETE", "/groups/A/members/grid1", None)]


@pytest.mark.parametrize("user", ["designer1", "supervisor1", "grid1"])
def test_only_administrators_manage_groups(db_api, user):
    db_api.post("/groups", "admin1", json={"name": "A"}, status=201)
    for method, path, body in GROUP_CALLS:
        assert db_api.call(method, path, user, json=body, status=403)["error"]["code"] == "forbidden"
    assert db_api.get("/groups", "admin1")[0]["members"] == []


def test_group_commands_and_their_errors(db_world, db_api):
    api = db_api
    made = api.post("/groups", "admin1", json={"name": "Tester", "title": "QA"}, status=201)
    assert (made["name"], made["title"], made["created_by"], made["members"]) == ("Tester", "QA", "admin1", [])
    assert made["created_at"] == db_world.clock.now().isoformat()
    assert api.post("/groups", "admin1", json={"name": "Tester"}, status=409)["error"]["code"] == "conflict"
    assert api.post("/groups", "admin1", json={"name": "supervisor"}, status=400)["error"]["fields"] == \
        {"name": "is a built-in role"}
    for bad in ("a,b", "x=y", "", "n" * 41, " lead"):
        assert "name" in api.post("/groups", "admin1", json={"name": bad}, status=400)["error"]["fields"]
    api.post("/groups", "admin1", json={"name": "tester"}, status=201)  # names are case-sensitive
    assert api.call("PUT", "/groups/Tester/members/grid1", "admin1")["members"] == ["grid1"]
    assert api.call("PUT", "/groups/Tester/members/grid1", "admin1")["members"] == ["grid1"]  # again: no-op
    assert api.call("PUT", "/groups/Tester/members/grid2", "admin1")["members"] == ["grid1", "grid2"]
    api.call("PUT", "/groups/Tester/members/nobody", "admin1", status=404)
    api.call("PUT", "/groups/Nope/members/grid1", "admin1", status=404)
    listed = api.get("/groups", "admin1")
    assert [(g["name"], g["members"]) for g in listed] == [("Tester", ["grid1", "grid2"]), ("tester", [])]
    assert {**listed[0], "members": []} == made
    assert "Tester" in api.get("/me", "grid2")["roles"]
    assert api.call("DELETE", "/groups/Tester/members/grid2", "admin1")["members"] == ["grid1"]
    api.call("DELETE", "/groups/Tester/members/grid2", "admin1", status=404)  # not a member any more
    assert api.get("/me", "grid2")["roles"] == ["grid_worker"]


def test_a_lane_nobody_staffs_is_shown_as_unassignable_until_a_group_staffs_it(db_world, db_api):
    api = db_api
    warnings = {d.key: d.warnings for d in db_world.deploy(sources=_lanes_model())}["lanes_ab"]
    assert len(warnings) == 2 and "lane 'A'" in warnings[0] and "lane 'B'" in warnings[1]
    first = start(api, "designer1", "lanes_ab")["open_tasks"][0]
    assert first["role"] == "A"
    for user in ("grid1", "designer1", "admin1"):  # offered to nobody ...
        assert first["id"] not in api.inbox_ids(user)
        api.post(f"/tasks/{first['id']}/claim", user, status=403)
    for user in ("designer1", "supervisor1"):  # ... but never hidden
        assert api.inbox_ids(user, "unassignable") == [first["id"]]
        assert api.get("/tasks/counts", user)["unassignable"] == {"count": 1, "capped": False}
        detail = api.get(f"/tasks/{first['id']}", user)
        assert detail["can_act"] is False
    for user in ("grid1", "street1", "admin1"):
        api.get("/tasks", user, query_string={"scope": "unassignable"}, status=403)
        assert "unassignable" not in api.get("/tasks/counts", user)

    api.post("/groups", "admin1", json={"name": "A"}, status=201)
    assert api.inbox_ids("designer1", "unassignable") == [first["id"]]  # a group without members staffs nothing
    api.call("PUT", "/groups/A/members/grid1", "admin1")
    assert api.inbox_ids("designer1", "unassignable") == []
    api.tokens.pop("grid1")  # a token resolved a moment ago keeps its roles for API_TOKEN_CACHE_SECONDS
    assert api.inbox_ids("grid1") == [first["id"]]
    second = api.post(f"/tasks/{first['id']}/complete", "grid1", json={"data": {}})["next_tasks"]
    assert second == []  # lane B: not his
    [second] = api.get("/tasks", "supervisor1", query_string={"scope": "unassignable"})["items"]
    assert (second["element_id"], second["role"]) == ("second", "B")

    with db_world.db.transaction() as s:  # the only member leaves: lane A is unstaffed again
        s.execute(update(User).where(User.username == "grid1").values(active=False))
    assert {d.key: d.warnings for d in db_world.deploy(sources=_lanes_model())}["lanes_ab"][0].startswith(
        "lanes_ab: lane 'A' -> 'A': group without active members")


def test_a_lane_map_offers_a_lane_to_a_role_at_deploy(db_world, db_api):
    api = db_api
    mapped = _lanes_model(extra=_properties(laneMap="A=grid_worker, B=nobody_yet"))
    [deployed] = db_world.deploy(sources=mapped)
    assert [w.split(":")[1].strip() for w in deployed.warnings] == ["lane 'B' -> 'nobody_yet'"]
    first = start(api, "designer1", "lanes_ab")["open_tasks"][0]
    assert first["role"] == "grid_worker" and first["id"] in api.inbox_ids("grid1")
    [again] = db_world.deploy(sources=mapped, lane_map={"B": "coordinator"})  # the deploy's map wins
    assert (again.version, again.created, again.warnings) == (2, True, [])
    with db_world.db.reading() as s:
        from gridloop.engine.definitions import find_definition
        assert find_definition(s, "lanes_ab").properties["laneMap"] == "A=grid_worker, B=coordinator"
    assert db_world.deploy(sources=mapped, lane_map={"B": "coordinator"})[0].created is False


def test_unassignable_tab_for_designers_and_supervisors(world, api, as_user):
    world.deploy(sources=_lanes_model())
    task = start(api, "designer1", "lanes_ab")["open_tasks"][0]
    designer = as_user("designer1")
    nav = designer.get("/inbox/mine").get_data(True)
    assert 'href="/inbox/unassignable"' in nav
    page = designer.get("/inbox/unassignable").get_data(True)
    assert f'href="/tasks/{task["id"]}"' in page and f'/tasks/{task["id"]}/claim' not in page
    designer.get(f"/tasks/{task['id']}")
    grid1 = as_user("grid1")
    assert 'href="/inbox/unassignable"' not in grid1.get("/inbox/mine").get_data(True)
    grid1.get("/inbox/unassignable", status=403)


def test_cli_groups_and_deploy_warnings(cli_on, tmp_path):
    model = tmp_path / "lanes_ab.bpmn"
    model.write_bytes(_lanes_model()["lanes_ab.bpmn"])
    deployed = cli_on("deploy", str(model))
    assert deployed.exit_code == 0 and "lanes_ab v1 deployed" in deployed.stdout
    assert deployed.stderr.count("warning: lanes_ab: lane") == 2
    assert cli_on("group", "create", "A").output.strip() == "A: -"
    assert cli_on("group", "add", "A", "grid1", "grid2").output.strip() == "A: grid1, grid2"
    assert cli_on("group", "remove", "A", "grid2").output.strip() == "A: grid1"
    assert cli_on("group", "list").output.strip() == "A: grid1"
    refused = cli_on("group", "create", "coordinator")
    assert refused.exit_code == 1 and "built-in role" in refused.output
    assert cli_on("group", "add", "B", "grid1").exit_code == 1
    again = cli_on("deploy", "--lane-map", "B=coordinator", str(model))
    assert "lanes_ab v2 deployed" in again.stdout and again.stderr == ""
    bad = cli_on("deploy", "--lane-map", "B", str(model))
    assert bad.exit_code == 1 and "not LANE=ROLE" in bad.output


# ------------------------------------------------------------------------------ the feedback link

def test_the_feedback_link_only_for_acceptors_and_supervisors_of_the_area(db_api):
    api = db_api
    case = api.report("grid1", category="power_outage")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "power"})
    api.step(case["id"], "liaison_power", RESOLVED)
    api.step(case["id"], "grid1", {"outcome": "passed"}, stage="verification")
    seen = {user: api.case(case["id"], user)["feedback_url"]
            for user in ("acceptor1", "supervisor1", "grid1", "liaison_power", "designer1", "community1", "admin1")}
    assert seen["acceptor1"] == seen["supervisor1"] and "/f/" in seen["acceptor1"]
    assert {user for user, url in seen.items() if url} == {"acceptor1", "supervisor1"}
    api.get(f"/cases/{case['id']}", "street2", status=403)
    token = urlsplit(seen["acceptor1"]).path.rsplit("/", 1)[-1]
    assert api.get(f"/feedback/{token}")["state"] == "valid"


def test_the_designers_deploy_api_takes_a_lane_map_and_warns(api):
    files = {name: data.decode() for name, data in _lanes_model().items()}
    checked = api.post("/definitions/check", "designer1", json={"files": files, "lanes": {"A": "grid_worker"}})
    assert [p["element"] for p in checked["problems"] if "matches no active user" in p["message"]] == ["second"]
    deployed = api.post("/definitions", "designer1", json={"files": files, "lanes": {"A": "grid_worker"}}, status=201)
    assert [p["message"] for p in deployed["warnings"] if p["element"] == "lanes_ab"] == \
        ["lanes_ab: lane 'B' -> 'B': no role or group of this name (gridloop group create, or map the lane: "
         "laneMap, --lane-map); its tasks are offered to nobody"]
    assert start(api, "designer1", "lanes_ab")["open_tasks"][0]["role"] == "grid_worker"
    bad = api.post("/definitions", "designer1", json={"files": files, "lanes": {"A": "x" * 41}}, status=400)
    assert "lanes" in bad["error"]["fields"]
