"""Designers over the REST API: definitions, versions, XML, diff, check (deploy's validation and
the lint rules), deploy, migration; and every user's diagram of an instance."""
from __future__ import annotations

import os

from sqlalchemy import func, select

from gridloop.engine.model import Event, ProcessDefinition

from ..conftest import MODELS
from .conftest import RESOLVED

with open(os.path.join(MODELS, "peer_linear5.bpmn"), encoding="utf-8") as _fh:
    LINEAR = _fh.read()
# Version 2 drops step 3 (step 2 leads to step 4) and renames step 1.
LINEAR_V2 = (LINEAR.replace('name="Step 1"', 'name="First step"')
             .replace('<bpmn:sequenceFlow id="f3" sourceRef="ut2" targetRef="ut3" />', "")
             .replace('<bpmn:userTask id="ut3" name="Step 3"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4'
                      '</bpmn:outgoing></bpmn:userTask>', "")
             .replace('<bpmn:sequenceFlow id="f4" sourceRef="ut3" targetRef="ut4" />',
                      '<bpmn:sequenceFlow id="f4" sourceRef="ut2" targetRef="ut4" />')
             .replace("<bpmn:outgoing>f3</bpmn:outgoing>", "<bpmn:outgoing>f4</bpmn:outgoing>"))

LINT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="lint_me" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="lane_x" name="nobody_has_this"><bpmn:flowNodeRef>ask</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:userTask id="ask" name="Ask">
      <bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="ask.json" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>yes</bpmn:outgoing><bpmn:outgoing>no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="yes" sourceRef="gw" targetRef="end"><bpmn:conditionExpression>answer == "yes"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="loop"><bpmn:conditionExpression>answer == "maybe"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:userTask id="loop" name="Forever"><bpmn:incoming>no</bpmn:incoming><bpmn:incoming>again</bpmn:incoming><bpmn:outgoing>again</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="again" sourceRef="loop" targetRef="loop" />
    <bpmn:userTask id="orphan" name="Nobody gets here" />
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>w</bpmn:incoming>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P1X"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>yes</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
ASK_FORM = '{"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}}}'


def _definitions(world) -> int:
    with world.db.reading() as s:
        return s.scalar(select(func.count()).select_from(ProcessDefinition))


def test_definitions_versions_and_xml_for_designers_only(api, world):
    listed = {d["key"]: d for d in api.get("/definitions", "designer1")}
    assert listed["closed_loop"]["latest_version"] == 1 and listed["closed_loop"]["versions"] == 1
    assert listed["closed_loop"]["case_process"] is True
    running = listed["closed_loop"]["running"]
    api.report("grid1")
    assert {d["key"]: d for d in api.get("/definitions", "designer1")}["closed_loop"]["running"] == running + 1
    [v1] = api.get("/definitions/closed_loop/versions", "designer1")
    assert v1["version"] == 1 and len(v1["content_hash"]) == 64 and v1["running"] == running + 1
    xml = api.client.get("/api/v1/definitions/closed_loop/versions/1/xml",
                         headers={"Authorization": f"Bearer {api.token('designer1')}"})
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert 'id="closed_loop"' in xml.get_data(True)
    for user in ("grid1", "supervisor1", "liaison_power"):
        api.get("/definitions", user, status=403)
        api.get("/definitions/closed_loop/versions", user, status=403)
        api.get("/definitions/closed_loop/versions/1/xml", user, status=403)
        api.post("/definitions/check", user, json={"files": {"a.bpmn": LINEAR}}, status=403)
        api.post("/definitions", user, json={"files": {"a.bpmn": LINEAR}}, status=403)
    api.get("/definitions/nothing/versions", "designer1", status=404)
    api.get("/definitions/closed_loop/versions/9/xml", "designer1", status=404)


def test_check_reports_every_lint_rule_on_its_element(api, world):
    problems = api.post("/definitions/check", "designer1",
                        json={"files": {"lint.bpmn": LINT, "ask.json": ASK_FORM}})["problems"]
    found = {(p["element"], p["severity"]): p["message"] for p in problems}
    assert "matches no active user" in found["ask", "warning"]
    assert "never gives" in found["no", "error"]  # "maybe" is not an answer the form allows
    assert "no default flow" in found["gw", "warning"]
    assert "does not parse" in found["wait", "error"]
    assert "unreachable" in found["orphan", "warning"]
    assert "reaches an end" in found["loop", "warning"]
    assert all(p["file"] == "lint.bpmn" and p["line"] for p in problems)
    clean = api.post("/definitions/check", "designer1", json={"files": {"lin5.bpmn": LINEAR}})["problems"]
    assert {p["severity"] for p in clean} == {"warning"}  # tasks with no lane go to the starter: a warning


def test_deploy_new_identical_changed_and_diff(api, world):
    created = api.post("/definitions", "designer1", json={"files": {"lin5.bpmn": LINEAR}}, status=201)
    assert (created["key"], created["version"]) == ("Process_lin5", 1)
    same = api.post("/definitions", "designer1", json={"files": {"lin5.bpmn": LINEAR}}, status=200)
    assert same["version"] == 1 and same["deployed"][0]["created"] is False
    changed = api.post("/definitions", "designer1", json={"files": {"lin5.bpmn": LINEAR_V2}}, status=201)
    assert changed["version"] == 2
    versions = api.get("/definitions/Process_lin5/versions", "designer1")
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["deployed_by"] == "designer1"
    diff = api.get("/definitions/Process_lin5/diff", "designer1", query_string={"old": 1, "new": 2})
    assert {e["id"] for e in diff["removed"]} == {"ut3", "f3"} and diff["added"] == []
    changes = {e["id"]: e["changes"] for e in diff["changed"]}
    assert changes["ut1"]["name"] == ["Step 1", "First step"]
    assert changes["f4"]["source"] == ["ut3", "ut2"]


# Uploads every route that takes files refuses with a 400 (check: an error problem), before anything runs.
HOSTILE = {
    "not xml": "this is not XML",
    "xxe": '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
    "laughs": '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>',
    "import": LINEAR.replace('<bpmn:userTask id="ut1" name="Step 1"><bpmn:incoming>f1</bpmn:incoming>'
                             '<bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>',
                             '<bpmn:scriptTask id="ut1"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2'
                             '</bpmn:outgoing><bpmn:script>import os</bpmn:script></bpmn:scriptTask>'),
}
HUGE = "<!--" + "x" * (6 * 1024 * 1024) + "-->"  # over the 1 MiB request limit: 413


def test_hostile_uploads_are_refused_and_nothing_is_deployed(api, world):
    before = _definitions(world)
    hostile = HOSTILE
    for label, text in hostile.items():
        body = api.post("/definitions", "designer1", json={"files": {"x.bpmn": text}}, status=400)
        assert body["error"]["code"] == "validation_error", label
        assert body["problems"][0]["severity"] == "error" and body["problems"][0]["file"] == "x.bpmn", label
        assert api.post("/definitions/check", "designer1", json={"files": {"x.bpmn": text}})["problems"][0][
            "severity"] == "error", label
    api.post("/definitions", "designer1", json={"files": {"big.bpmn": HUGE}}, status=413)
    api.post("/definitions", "designer1", json={"files": {"evil.exe": "MZ"}}, status=400)
    api.post("/definitions", "designer1", json={"files": {}}, status=400)
    assert _definitions(world) == before


def test_deploy_by_multipart_upload(api, world):
    from io import BytesIO
    response = api.client.post("/api/v1/definitions", headers={"Authorization": f"Bearer {api.token('designer1')}"},
                               data={"files": [(BytesIO(LINEAR.encode()), "lin5.bpmn")]},
                               content_type="multipart/form-data")
    assert response.status_code == 201 and response.get_json()["key"] == "Process_lin5"


def test_migration_dry_run_and_move(api, world):
    api.post("/definitions", "designer1", json={"files": {"lin5.bpmn": LINEAR}}, status=201)
    early = api.post("/process-instances", "designer1", json={"key": "Process_lin5", "data": {}}, status=201)
    late = api.post("/process-instances", "designer1", json={"key": "Process_lin5", "data": {}}, status=201)
    for _ in range(2):  # the late one waits at step 3, which version 2 no longer has
        task = api.get(f"/process-instances/{late['id']}", "designer1")["open_tasks"][0]
        api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {}})
    api.post("/definitions", "designer1", json={"files": {"lin5.bpmn": LINEAR_V2}}, status=201)
    with world.db.reading() as s:
        events_before = s.scalar(select(func.count()).select_from(Event))
    plan = api.post("/definitions/Process_lin5/migrate", "designer1",
                    json={"from_version": 1, "to_version": 2, "dry_run": True})
    by_id = {r["id"]: r for r in plan["instances"]}
    assert by_id[early["id"]]["ok"] is True, by_id
    assert by_id[late["id"]]["ok"] is False and "'ut3' does not exist in version 2" in by_id[late["id"]]["reason"]
    with world.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == events_before  # the dry run left no trace
    assert api.get(f"/process-instances/{early['id']}", "designer1")["version"] == 1
    moved = api.post("/definitions/Process_lin5/migrate", "designer1",
                     json={"from_version": 1, "to_version": 2, "dry_run": False, "instances": [early["id"], 999]})
    assert moved == {"dry_run": False, "instances": [
        {"id": early["id"], "ok": True, "reason": None},
        {"id": 999, "ok": False, "reason": "not a running instance of Process_lin5 version 1"}]}
    detail = api.get(f"/process-instances/{early['id']}", "designer1")
    assert detail["version"] == 2 and detail["open_tasks"][0]["name"] == "First step"
    assert any(e["type"] == "instance_migrated" for e in detail["history"])
    for _ in range(3):  # step 1, 2, 4 ... then 5: the new version's path
        task = api.get(f"/process-instances/{early['id']}", "designer1")["open_tasks"][0]
        assert task["element_id"] != "ut3"
        api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {}})
    assert api.get(f"/process-instances/{late['id']}", "designer1")["version"] == 1
    api.post("/definitions/Process_lin5/migrate", "grid1", json={"from_version": 1, "to_version": 2}, status=403)
    api.post("/definitions/Process_lin5/migrate", "designer1", json={"from_version": 1, "to_version": 7}, status=404)


def test_instance_diagram_marks_active_and_passed_elements(api, world):
    case = api.report("grid1")
    assert api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")
    instance_id = api.case(case["id"])["instance_id"]
    diagram = api.get(f"/process-instances/{instance_id}/diagram", "grid1")
    assert diagram["key"] == "closed_loop" and diagram["version"] == 1
    assert diagram["elements"]["grid_handling"] == {"state": "completed", "count": 1}
    active = [e for e, v in diagram["elements"].items() if v["state"] == "active"]
    assert active == [api.open_task(case["id"])["element_id"]]
    xml = api.client.get(diagram["xml_url"], headers={"Authorization": f"Bearer {api.token('grid1')}"})
    assert xml.status_code == 200 and 'id="grid_handling"' in xml.get_data(True)
    api.get(f"/process-instances/{instance_id}/diagram", "grid2", status=403)  # another grid's case


def test_deadlines_in_a_year_without_a_notice_are_provisional_and_listed(api, world, clock):
    from datetime import datetime, timezone
    clock.set(datetime(2026, 12, 28, 2, 0, tzinfo=timezone.utc))  # Monday 10:00 in Shenyang
    case = api.report("grid1")  # a patrol report: straight to grid handling, 5 working days
    # 29, 30, 31 Dec, (1 Jan, New Year, from the holidays package), 4, 5 Jan: Tuesday 10:00
    assert api.open_task(case["id"])["due_at"].startswith("2027-01-05T02:00")
    status = api.get("/calendar", "designer1")
    assert 2026 in status["published_years"] and 2027 not in status["published_years"]
    listed = [p for p in status["provisional"] if p["case_id"] == case["id"]]
    assert listed and all(p["years"] == [2027] for p in listed)
    assert any(p["due"].startswith("2027-01-") for p in listed)
    api.get("/calendar", "grid1", status=403)
    clock.set(datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc))
    before = len(api.get("/calendar", "designer1")["provisional"])
    api.report("grid1")
    assert len(api.get("/calendar", "designer1")["provisional"]) == before  # 2026 is published
