"""Deploy-time checks: every mistake a designer (or an attacker) can make is a clear error
naming the file, the element and the line, and nothing is stored."""
from __future__ import annotations

from xml.sax.saxutils import escape as xml_escape

import pytest
from sqlalchemy import func, select

from gridloop.engine import definitions
from gridloop.engine.errors import DeployError
from gridloop.engine.model import ProcessDefinition

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">\n')


def bpmn(body: str, process_id: str = "p") -> bytes:
    return (HEAD + f'<bpmn:process id="{process_id}" isExecutable="true">\n{body}\n</bpmn:process>\n'
            '</bpmn:definitions>\n').encode()


def flow(middle: str, first: str, last: str = "end") -> str:
    """start -> middle... -> end, with the sequence flows given by the caller."""
    return (f'<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>\n'
            f'<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="{first}"/>\n{middle}\n'
            f'<bpmn:endEvent id="{last}"><bpmn:incoming>fz</bpmn:incoming></bpmn:endEvent>')


def deploy_error(sources: dict[str, bytes]) -> DeployError:
    with pytest.raises(DeployError) as err:
        definitions.compile_sources(sources)
    return err.value


SCRIPT_TASK = ('<bpmn:scriptTask id="calc" name="Calc"><bpmn:incoming>f0</bpmn:incoming>'
               '<bpmn:outgoing>fz</bpmn:outgoing><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>\n'
               '<bpmn:sequenceFlow id="fz" sourceRef="calc" targetRef="end"/>')


def test_a_good_process_compiles_to_one_definition():
    compiled = definitions.compile_sources({"ok.bpmn": bpmn(flow(SCRIPT_TASK.format(script="x = 1"), "calc"))})
    assert [c.key for c in compiled] == ["p"]
    again = definitions.compile_sources({"ok.bpmn": bpmn(flow(SCRIPT_TASK.format(script="x = 1"), "calc"))})
    assert again[0].content_hash == compiled[0].content_hash


def test_malformed_xml_names_file_and_line():
    err = deploy_error({"broken.bpmn": bpmn(flow(SCRIPT_TASK.format(script="x = 1"), "calc")).replace(
        b"</bpmn:scriptTask>", b"</bpmn:scriptTsk>")})
    assert err.file == "broken.bpmn" and err.line == 6 and "malformed XML" in err.message


def test_xxe_is_refused_before_any_entity_is_read():
    xxe = (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>\n'
           + bpmn(flow(SCRIPT_TASK.format(script="leak = '&xxe;'"), "calc")).split(b"\n", 1)[1])
    err = deploy_error({"xxe.bpmn": xxe})
    assert "DOCTYPE" in err.message and err.file == "xxe.bpmn"


def test_billion_laughs_is_refused():
    lol = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">' for i in range(1, 10))
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY lol0 "lol">{lol}]>\n'.encode()
           + bpmn(flow(SCRIPT_TASK.format(script="x = '&lol9;'"), "calc")).split(b"\n", 1)[1])
    err = deploy_error({"lol.bpmn": doc})
    assert "DOCTYPE" in err.message or "entity" in err.message.lower()


def test_missing_start_event_names_the_process():
    body = '<bpmn:endEvent id="end"/>'
    err = deploy_error({"nostart.bpmn": bpmn(body, "lonely")})
    assert err.file == "nostart.bpmn" and err.element == "lonely" and "start" in err.message.lower()


def test_condition_with_a_syntax_error_names_element_and_line():
    gateway = ('<bpmn:exclusiveGateway id="gw" default="fz"><bpmn:incoming>f0</bpmn:incoming>'
               '<bpmn:outgoing>f1</bpmn:outgoing><bpmn:outgoing>fz</bpmn:outgoing></bpmn:exclusiveGateway>\n'
               '<bpmn:sequenceFlow id="f1" sourceRef="gw" targetRef="end"><bpmn:conditionExpression '
               'xsi:type="bpmn:tFormalExpression">outcome ==</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
               '<bpmn:sequenceFlow id="fz" sourceRef="gw" targetRef="end"/>')
    err = deploy_error({"cond.bpmn": bpmn(flow(gateway, "gw"))})
    assert (err.file, err.element, err.line) == ("cond.bpmn", "gw", 6)
    assert "condition" in err.message and "SyntaxError" in err.message


@pytest.mark.parametrize("script, words", [
    ("import os", "import"),
    ("x = __import__('os')", "__import__"),
    ("x = ().__class__.__base__.__subclasses__()", "__class__"),
    ("x = open('/etc/hostname').read()", "open"),
])
def test_scripts_that_try_to_escape_are_refused_at_deploy(script, words):
    err = deploy_error({"evil.bpmn": bpmn(flow(SCRIPT_TASK.format(script=script), "calc"))})
    assert (err.file, err.element) == ("evil.bpmn", "calc") and err.line == 6
    assert words in err.message


def test_a_property_expression_is_checked_too():
    task = ('<bpmn:userTask id="ut" name="Do"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="candidateOrgUnit" value="grid.__class__"/>'
            '</spiffworkflow:properties></bpmn:extensionElements>'
            '<bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>fz</bpmn:outgoing></bpmn:userTask>\n'
            '<bpmn:sequenceFlow id="fz" sourceRef="ut" targetRef="end"/>')
    err = deploy_error({"prop.bpmn": bpmn(flow(task, "ut"))})
    assert err.element == "ut" and "candidateOrgUnit" in err.message


def test_missing_and_invalid_forms_are_refused():
    task = ('<bpmn:userTask id="ut" name="Do"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="formJsonSchemaFilename" value="do.json"/>'
            '</spiffworkflow:properties></bpmn:extensionElements>'
            '<bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>fz</bpmn:outgoing></bpmn:userTask>\n'
            '<bpmn:sequenceFlow id="fz" sourceRef="ut" targetRef="end"/>')
    source = bpmn(flow(task, "ut"))
    err = deploy_error({"form.bpmn": source})
    assert "do.json" in err.message and err.element == "ut"
    err = deploy_error({"form.bpmn": source, "forms/do.json": b'{"type": "object", "properties": {"a": {"type": 5}}}'})
    assert err.file == "forms/do.json" and "JSON Schema" in err.message
    err = deploy_error({"form.bpmn": source, "forms/do.json": b'{"type": '})
    assert err.file == "forms/do.json" and "not valid JSON" in err.message
    ok = definitions.compile_sources({"form.bpmn": source, "forms/do.json": b'{"type": "object"}'})
    assert ok[0].forms == {"do.json": {"type": "object"}}


def test_xsd_violations_name_the_line():
    bad = bpmn(flow(SCRIPT_TASK.format(script="x = 1"), "calc")).replace(b"<bpmn:scriptTask", b"<bpmn:scriptTask bogus=\"1\"")
    err = deploy_error({"xsd.bpmn": bad})
    assert err.file == "xsd.bpmn" and err.line == 6


def test_a_flow_to_nowhere_is_refused():
    body = flow('<bpmn:sequenceFlow id="fz" sourceRef="start" targetRef="ghost"/>', "end")
    err = deploy_error({"ghost.bpmn": bpmn(body)})
    assert err.file == "ghost.bpmn"


def test_a_dmn_output_that_does_not_compile_is_refused(tmp_path):
    sources = definitions.read_sources([definitions_dir()])
    sources["routing.dmn"] = sources["routing.dmn"].replace(b"<text>\"gas\"</text>", b"<text>import gas</text>", 1)
    err = deploy_error(sources)
    assert err.file == "closed_loop.bpmn" or "DMN" in err.message
    assert "import" in err.message


@pytest.mark.parametrize("cell", ["__import__('os').system('true')", "import os", "().__class__", "> x.__dict__"])
def test_a_dmn_input_cell_that_does_not_compile_is_refused_naming_file_cell_and_line(cell):
    sources = definitions.read_sources([definitions_dir()])
    original = b'<text>"power_outage"</text>'
    line = sources["routing.dmn"][:sources["routing.dmn"].index(b'id="routing_rule_02_in_1"')].count(b"\n") + 1
    sources["routing.dmn"] = sources["routing.dmn"].replace(original, f"<text>{xml_escape(cell)}</text>".encode(), 1)
    err = deploy_error(sources)
    assert (err.file, err.element, err.line) == ("routing.dmn", "routing_rule_02_in_1", line)
    assert "DMN input entry (row 2)" in err.message


def definitions_dir() -> str:
    from gridloop.engine.runtime import WORKFLOWS_DIR
    return WORKFLOWS_DIR


def test_the_shipped_workflows_deploy_and_nothing_is_stored_on_error(runtime):
    deployed = {d.key for d in runtime.deploy()}
    assert {"closed_loop", "consultation", "hazard_inspection", "party_service_order", "monthly_review"} <= deployed
    with runtime.db.reading() as s:
        before = s.scalar(select(func.count()).select_from(ProcessDefinition))
    with pytest.raises(DeployError):
        runtime.deploy(sources={"bad.bpmn": b"<not-closed>"})
    with runtime.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == before


def test_no_files_is_an_error():
    with pytest.raises(DeployError, match="no BPMN"):
        definitions.compile_sources({})


def test_a_mistyped_overdue_mode_on_a_timer_is_refused():
    sources = definitions.read_sources([definitions_dir()])
    assert b'value="unclaimed"' in sources["closed_loop.bpmn"]
    sources["closed_loop.bpmn"] = sources["closed_loop.bpmn"].replace(b'value="unclaimed"', b'value="unclamed"', 1)
    err = deploy_error(sources)
    assert err.file == "closed_loop.bpmn" and "marksOverdue" in err.message and err.line


def test_senders_must_be_known_roles_and_correlation_expressions_must_compile():
    def catch(senders: str, retrieval: str) -> bytes:
        body = flow(f'<bpmn:intermediateCatchEvent id="wait"><bpmn:extensionElements><spiffworkflow:properties>'
                    f'<spiffworkflow:property name="senders" value="{senders}"/></spiffworkflow:properties>'
                    f'</bpmn:extensionElements><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>fz</bpmn:outgoing>'
                    f'<bpmn:messageEventDefinition id="wd" messageRef="m"/></bpmn:intermediateCatchEvent>\n'
                    f'<bpmn:sequenceFlow id="fz" sourceRef="wait" targetRef="end"/>', "wait")
        return bpmn(body).replace(b"</bpmn:definitions>", (
            f'<bpmn:message id="m" name="paid"/><bpmn:correlationProperty id="ref" name="ref">'
            f'<bpmn:correlationPropertyRetrievalExpression messageRef="m"><bpmn:messagePath>{retrieval}'
            f'</bpmn:messagePath></bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty>'
            f'</bpmn:definitions>').encode())

    assert definitions.compile_sources({"ok.bpmn": catch("coordinator, acceptor", "reference")})
    err = deploy_error({"roles.bpmn": catch("coordinator, everyone", "reference")})
    assert (err.element, err.file) == ("wait", "roles.bpmn") and "unknown roles: everyone" in err.message
    err = deploy_error({"expr.bpmn": catch("acceptor", "reference.__class__")})
    assert err.element == "wait" and "correlation property 'ref'" in err.message


def test_a_camunda_decision_reference_is_refused_with_what_to_write_instead():
    from gridloop.engine.definitions import compile_sources
    model = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="decide" />
    <bpmn:businessRuleTask id="decide" camunda:decisionRef="table"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
    with pytest.raises(DeployError) as refused:
        compile_sources({"camunda.bpmn": model})
    assert (refused.value.file, refused.value.element, refused.value.line) == ("camunda.bpmn", "decide", 6)
    assert "spiffworkflow:calledDecisionId" in refused.value.message
