"""The case projection is the BPMN's (engine/caseprojection.py): a closed loop whose stages are
renamed, with its properties, fills the same case columns; properties naming what the process
or the case table lacks are refused at deploy, by the CLI and by the designer's API."""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from click.testing import CliRunner

from gridloop.cli import main
from gridloop.engine import definitions, residents
from gridloop.engine.model import Case
from gridloop.engine.runtime import WORKFLOWS_DIR

from .conftest import RESOLVED, SATISFIED, report_body

# Three stages renamed wherever closed_loop.bpmn names them: the tasks' stage property and the
# projection properties (no other file, and no Python, names them).
RENAMED = {"department_handling": "dept_work", "verification": "checking", "feedback": "callback"}


def _workflows() -> dict[str, str]:
    return {name: data.decode() for name, data in definitions.read_sources([WORKFLOWS_DIR]).items()}


def _renamed(bpmn: str, renames: dict[str, str], *, in_properties: bool = True) -> str:
    """closed_loop.bpmn with stages renamed in its tasks and (or not) in its process properties."""
    def stage(m: re.Match) -> str:
        return f'name="stage" value="{renames.get(m.group(1), m.group(1))}"'

    bpmn = re.sub(r'name="stage" value="([^"]+)"', stage, bpmn)
    if in_properties:
        for old, new in renames.items():
            bpmn = re.sub(rf'((?:stageTimestamps|stageTimestampsLatest|claimTimestamps|feedbackStage|stageLabels(?:Zh|En)'
                          rf'|citizenStages|handlingStages|photoKinds)" value="'
                          rf'(?:[^"]*[ ,])?){old}\b', rf"\g<1>{new}", bpmn)
    return bpmn


def test_a_renamed_stage_with_its_properties_fills_the_same_case_columns(api, as_user, world):
    files = _workflows()
    files["closed_loop.bpmn"] = _renamed(files["closed_loop.bpmn"], RENAMED)
    assert 'claimTimestamps" value="dept_work=claimed_at"' in files["closed_loop.bpmn"]
    deployed = api.post("/definitions", "designer1", json={"files": files}, status=201)
    assert {(d["key"], d["version"]) for d in deployed["deployed"] if d["created"]} == {("closed_loop", 2)}

    case = api.report("acceptor1", source="hotline", category="power_outage")
    api.step(case["id"], "acceptor1", {"outcome": "accept"}, stage="acceptance")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "power"}, stage="grid_handling")
    assert api.case(case["id"])["claimed_at"] is None
    api.step(case["id"], "liaison_power", RESOLVED, stage="dept_work")
    page = as_user("supervisor1").get(f"/cases/{case['id']}", headers={"Accept-Language": "en"}).get_data(True)
    assert "<strong>Verification</strong>" in page  # the renamed stage keeps its name (stageLabelsEn)
    assert "Stage: Department handling → Verification" in page
    with world.db.reading() as s:
        assert residents.citizen_view(s, s.get(Case, case["id"]))["stage"] == "checking"  # citizenStages
    api.step(case["id"], "grid1", {"outcome": "passed"}, stage="checking")
    waiting = api.case(case["id"], "acceptor1")
    assert waiting["stage"] == "callback" and waiting["feedback_url"]  # the renamed stage is the callback
    token = urlsplit(waiting["feedback_url"]).path.rsplit("/", 1)[-1]
    api.post(f"/feedback/{token}", json={**SATISFIED, "comment": "Lights back on"})

    closed = api.case(case["id"])
    assert (closed["status"], closed["stage"], closed["department"]) == ("closed", "closed", "power")
    for column in ("dispatched_at", "whistled_at", "claimed_at", "resolved_at", "verified_at", "closed_at"):
        assert closed[column] is not None, column
    assert closed["whistled_at"] <= closed["claimed_at"] <= closed["resolved_at"] <= closed["verified_at"]
    assert (closed["feedback_contacted"], closed["feedback_resolved"], closed["satisfaction"],
            closed["feedback_comment"]) == (True, True, "satisfied", "Lights back on")


def test_a_stage_renamed_without_its_properties_is_refused_by_the_designers_deploy(api):
    files = _workflows()
    files["closed_loop.bpmn"] = _renamed(files["closed_loop.bpmn"], RENAMED, in_properties=False)
    refused = api.post("/definitions", "designer1", json={"files": files}, status=400)
    errors = [p for p in refused["problems"] if p["severity"] == "error"]
    assert len(errors) == 1 and (errors[0]["file"], errors[0]["element"]) == ("closed_loop.bpmn", "closed_loop")
    message = errors[0]["message"]
    assert "stageTimestamps names stages no task or script has: department_handling" in message
    assert "stageTimestampsLatest names stages no task or script has: verification, feedback" in message
    assert "claimTimestamps names stages no user task has: department_handling" in message
    assert "feedbackStage 'feedback': no user task has this stage" in message
    assert "stageLabelsZh names stages no task or script has: department_handling, verification, feedback" in message
    assert "citizenStages names stages no task or script has: verification, feedback" in message
    assert "handlingStages names stages no user task has: department_handling" in message
    assert "dept_work" in message  # the stages it could have named
    checked = api.post("/definitions/check", "designer1", json={"files": files})["problems"]
    assert [p["message"] for p in checked if p["severity"] == "error"] == [message]
    assert [v["version"] for v in api.get("/definitions/closed_loop/versions", "designer1")] == [1]


def test_columns_and_answers_the_case_lacks_are_refused(api):
    files = _workflows()
    bpmn = files["closed_loop.bpmn"]
    files["closed_loop.bpmn"] = (bpmn.replace("grid_handling=dispatched_at", "grid_handling=sent_at")
                                 .replace('"category, urgency', '"category, urgency=stage, colour')
                                 .replace("comment=feedback_comment", "comment=feedback_comment, mood"))
    message = api.post("/definitions", "designer1", json={"files": files}, status=400)["error"]["message"]
    assert "stageTimestamps: 'grid_handling=sent_at': the case has no column 'sent_at'" in message
    assert "caseVariables: 'urgency=stage': the case has no column 'stage'" in message  # the engine's own
    assert "caseVariables: 'colour=colour'" in message
    assert "feedbackFields: 'mood=mood'" in message
    assert "feedbackFields names answers the callback's form (feedback.json) does not ask: mood" in message


def test_gridloop_deploy_refuses_a_renamed_stage_with_the_file_and_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite")
    folder = tmp_path / "workflows"
    for name, text in _workflows().items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_renamed(text, {"department_handling": "dept_work"}, in_properties=False)
                        if name == "closed_loop.bpmn" else text, encoding="utf-8")
    result = CliRunner().invoke(main, ["deploy", str(folder)])
    assert result.exit_code == 1
    assert "closed_loop.bpmn" in result.output and "element closed_loop" in result.output
    assert "stageTimestamps names stages no task or script has: department_handling" in result.output
    assert "claimTimestamps names stages no user task has: department_handling" in result.output
    (folder / "closed_loop.bpmn").write_text(_renamed((folder / "closed_loop.bpmn").read_text(encoding="utf-8"),
                                                      {"department_handling": "dept_work"}), encoding="utf-8")
    deployed = CliRunner().invoke(main, ["deploy", str(folder)])
    assert deployed.exit_code == 0 and "closed_loop v1 deployed" in deployed.output


def test_case_properties_on_a_process_without_a_case_are_refused(api):
    linear = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "models", "peer_linear5.bpmn"),
                  encoding="utf-8").read()
    linear = linear.replace('id="Defs_lin5"', f'xmlns:spiffworkflow="{definitions.SPIFF_NS}" id="Defs_lin5"')
    with_variables = re.sub(r'(<bpmn:process [^>]*>)', r'\1<bpmn:extensionElements><spiffworkflow:properties>'
                            r'<spiffworkflow:property name="caseVariables" value="category"/>'
                            r'</spiffworkflow:properties></bpmn:extensionElements>', linear, count=1)
    message = api.post("/definitions", "designer1", json={"files": {"lin5.bpmn": with_variables}},
                       status=400)["error"]["message"]
    assert "caseVariables applies to a case process only (caseProcess=true)" in message


def test_with_two_case_processes_a_report_must_name_one_and_pages_still_render(api, as_user):
    assert 'href="/report"' in as_user("grid1").get("/inbox/claimable").get_data(True)
    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "models", "deadline_extension.bpmn"),
              encoding="utf-8") as fh:
        api.post("/definitions", "designer1", json={"files": {"deadline_extension.bpmn": fh.read()}}, status=201)
    refused = api.post("/cases", "grid1", json=report_body(), status=400)
    assert "several case processes are deployed (closed_loop, deadline_extension)" in refused["error"]["message"]
    page = as_user("grid1").get("/inbox/claimable").get_data(True)
    assert 'href="/report"' not in page  # no report page: none is the one reports go to
