"""A process's stage properties (engine/casestages.py): closed_loop's names, citizen words and
handling stages are its BPMN's, checked at deploy naming what is wrong, and read back from the
stored definition of a case's own version."""
from __future__ import annotations

import re

import pytest

from gridloop.engine import casestages, definitions
from gridloop.engine.errors import DeployError
from gridloop.engine.runtime import WORKFLOWS_DIR


def _workflows(**values: str) -> dict[str, bytes]:
    """The shipped workflows with closed_loop's process properties ``values`` set (added if new)."""
    sources = definitions.read_sources([WORKFLOWS_DIR])
    bpmn = sources["closed_loop.bpmn"].decode()
    for name, value in values.items():
        prop = f'<spiffworkflow:property name="{name}" value="{value}" />'
        bpmn, found = re.subn(rf'<spiffworkflow:property name="{name}" value="[^"]*" />', prop, bpmn)
        if not found:
            bpmn = bpmn.replace("</spiffworkflow:properties>", f"{prop}</spiffworkflow:properties>", 1)
    return {**sources, "closed_loop.bpmn": bpmn.encode()}


def _closed_loop(sources: dict[str, bytes]) -> dict[str, str]:
    return next(c.properties for c in definitions.compile_sources(sources) if c.key == "closed_loop")


def test_closed_loop_declares_its_stages_and_keeps_its_task_stages():
    stages = casestages.CaseStages.of(_closed_loop(_workflows()))
    assert stages.labels["department_handling"] == ("部门报到处置", "Department handling")
    assert stages.labels["consultation"] == ("逐级会商", "Consultation")  # a stage of the process it calls
    assert (stages.citizen_status("verification"), stages.citizen_status("grid_handling")) == ("checking", "in_progress")
    assert stages.handling == ("grid_handling", "department_handling")
    assert [stages.photo_kind(st) for st in ("acceptance", "verification", "grid_handling")] == [
        "report", "verification", "resolution"]
    assert set(stages.tasks) == {"acceptance", "grid_handling", "department_handling", "consultation",
                                 "return_approval", "verification", "feedback"}  # callback_retry is no task's


@pytest.mark.parametrize(("values", "message"), [
    ({"stageLabelsEn": "grid_handling=Grid handling, grid_work=Grid work"},
     "stageLabelsEn names stages no task or script has: grid_work (stages: acceptance, callback_retry, closed,"),
    ({"stageLabelsZh": "grid_handling=网格处置"},
     "stageLabelsZh lacks stages the other language labels: reported, acceptance, department_handling,"),
    ({"citizenStages": "verification=checking, closed=finished, feedback=waiting"},
     "citizenStages: closed=finished, feedback=waiting: a citizen is told one of received, in_progress,"),
    ({"citizenStages": "verified=checking"}, "citizenStages names stages no task or script has: verified"),
    ({"handlingStages": "grid_handling, closed"}, "handlingStages names stages no user task has: closed"),
    ({"photoKinds": "verification=proof, closed=report"},
     "photoKinds: verification=proof: a photo shows one of report, resolution, verification"),
    ({"photoKinds": "verification=proof, closed=report"}, "photoKinds names stages no user task has: closed"),
    ({"caseProcess": "false"}, "citizenStages applies to a case process only (caseProcess=true)"),
])
def test_a_stage_property_naming_what_the_process_lacks_is_refused(values, message):
    with pytest.raises(DeployError) as refused:
        definitions.compile_sources(_workflows(**values))
    assert (refused.value.file, refused.value.element) == ("closed_loop.bpmn", "closed_loop")
    assert message in refused.value.message


def test_the_engines_own_stages_may_be_named_and_task_stages_are_not_the_designers():
    properties = _closed_loop(_workflows(citizenStages="voided=done", taskStages="made_up"))
    assert properties["citizenStages"] == "voided=done"
    assert "made_up" not in properties["taskStages"]


def test_pages_name_stages_by_the_newest_version_and_each_version_keeps_its_own(runtime):
    runtime.deploy()
    relabelled = _workflows(stageLabelsEn=_closed_loop(_workflows())["stageLabelsEn"].replace(
        "Grid handling", "Grid crew"), citizenStages="acceptance=received")
    with runtime.db.transaction() as s:
        definitions.deploy(s, relabelled, by="test", now=runtime.clock.now())
    with runtime.db.reading() as s:
        vocabulary = casestages.vocabulary(s)
        first, second = (definitions.definition_id(s, "closed_loop", v) for v in (1, 2))
        assert vocabulary.labels["grid_handling"] == ("网格处置", "Grid crew")
        assert list(vocabulary.labels)[:3] == ["reported", "acceptance", "grid_handling"]
        assert "callback_retry" not in vocabulary.task_stages and vocabulary.task_stages[0] == "acceptance"
        assert [casestages.CaseStages.of(definitions.definition_row(s, d).properties).citizen_status("closed")
                for d in (first, second)] == ["done", "in_progress"]
