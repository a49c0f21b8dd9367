"""Sandboxed scripting: conditions, scripts, refusals, and a real workflow run."""

import copy
import re
import sys
import timeit
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # the project is not installed into the venv
    sys.path.insert(0, ROOT)

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException  # noqa: E402
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from gridloop.engine.scripting import (  # noqa: E402
    RestrictedScriptEnvironment,
    ScriptError,
    _compile,
    check_expression,
    check_script,
    make_script_engine,
)
from gridloop.engine.runtime import Runtime  # noqa: E402


@pytest.fixture
def env():
    return RestrictedScriptEnvironment({"now": lambda: 1000, "double": lambda v: 2 * v})


# --- conditions -------------------------------------------------------------

@pytest.mark.parametrize("expr, data, expected", [
    ('outcome == "whistle"', {"outcome": "whistle"}, True),
    ('outcome == "whistle"', {"outcome": "shout"}, False),
    ("i < 500", {"i": 499}, True),
    ("i < 500", {"i": 500}, False),
    ('category in ("gas_leak","power_outage")', {"category": "gas_leak"}, True),
    ('category in ("gas_leak","power_outage")', {"category": "pothole"}, False),
    ("any(v > limit for v in values)", {"values": [1, 7], "limit": 5}, True),
    ("double(i) == 8 and now() == 1000", {"i": 4}, True),
])
def test_condition_evaluates_against_data(env, expr, data, expected):
    before = copy.deepcopy(data)
    assert env.evaluate(expr, data) is expected
    assert data == before


def test_external_context_is_visible_but_task_data_wins(env):
    assert env.evaluate("a + b", {"a": 1}, external_context={"b": 10, "a": 99}) == 11


# --- scripts ----------------------------------------------------------------

def test_script_sets_changes_and_deletes_variables(env):
    data = {"count": 1, "gone": "x", "items": [1]}
    env.execute("count = count + 1\nnew = 'made'\ndel gone\nitems.append(2)", data)
    assert data == {"count": 2, "new": "made", "items": [1, 2]}


def test_helpers_and_script_functions_are_not_copied_into_data(env):
    data = {}
    env.execute("def local_fn():\n    return 3\nt = now()\nv = double(local_fn())", data)
    assert data == {"t": 1000, "v": 6}


def test_augmented_assignment(env):
    data = {"x": 1, "s": "a", "l": [1]}
    env.execute("x += 1\nx *= 10\ns += 'b'\nl += [2]", data)
    assert data == {"x": 20, "s": "ab", "l": [1, 2]}


def test_unpacking_loops_and_dict_writes(env):
    data = {"pairs": [("a", 1), ("b", 2)]}
    env.execute("d = {}\nfor k, v in pairs:\n    d[k] = v\nfirst, second = pairs", data)
    assert data["d"] == {"a": 1, "b": 2} and data["first"] == ("a", 1)


def test_failed_script_leaves_data_untouched(env):
    data = {"count": 1}
    with pytest.raises(ZeroDivisionError):
        env.execute("count = 5\nboom = 1 / 0", data)
    assert data == {"count": 1}


def test_helper_name_in_task_data_fails_fast(env):
    with pytest.raises(ValueError, match="overwrites a predefined"):
        env.execute("x = 1", {"now": 5})


# --- refusals ---------------------------------------------------------------
# Each probe would create PROBE if it ran (see the control test below).

def _probes(p):
    return {
        "dunder_import": ("eval", f"__import__('os').mkdir({p!r})"),
        "import_statement": ("exec", f"import os\nos.mkdir({p!r})"),
        "open": ("eval", f"open({p!r}, 'w').write('x')"),
        "subclasses_breakout": ("eval",
                                "[c for c in ().__class__.__base__.__subclasses__()"
                                " if c.__name__ == 'catch_warnings'][0]()"
                                f"._module.__builtins__['__import__']('os').mkdir({p!r})"),
        "getattr_dunder": ("eval", "getattr(x, '__class__')"),
        "list_class": ("eval", "[].__class__"),
        "eval": ("eval", f"eval(\"__import__('os').mkdir({p!r})\")"),
        "exec": ("exec", f"exec(\"import os; os.mkdir({p!r})\")"),
        "underscore_name_read": ("eval", "_secret"),
        "underscore_name_write": ("exec", "_hidden = 1"),
    }


EXPECTED = {
    "dunder_import": '"__import__" is an invalid variable name',
    "import_statement": "import is not allowed (os)",
    "open": '"open" is not available',
    "subclasses_breakout": '"__class__" is an invalid attribute name',
    "getattr_dunder": '"getattr" is not available',
    "list_class": '"__class__" is an invalid attribute name',
    "eval": "Eval calls are not allowed",
    "exec": "Exec calls are not allowed",
    "underscore_name_read": '"_secret" is an invalid variable name',
    "underscore_name_write": '"_hidden" is an invalid variable name',
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_refused_at_check_time(name, tmp_path):
    mode, source = _probes(str(tmp_path / "pwned"))[name]
    check = check_expression if mode == "eval" else check_script
    with pytest.raises(ScriptError, match=re.escape(EXPECTED[name])) as info:
        check(source)
    assert info.value.line == 1
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_refused_at_run_time(name, env, tmp_path):
    mode, source = _probes(str(tmp_path / "pwned"))[name]
    data = {"x": 1, "count": 1}
    with pytest.raises(ScriptError, match=re.escape(EXPECTED[name])):
        if mode == "eval":
            env.evaluate(source, data)
        else:
            env.execute(f"count = 2\n{source}\nafter = 1", data)
    assert data == {"x": 1, "count": 1}
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name", ["dunder_import", "import_statement", "open",
                                  "subclasses_breakout", "eval", "exec"])
def test_control_probes_do_escape_spiffs_default_environment(name, tmp_path):
    """Proves the probes above are real: unrestricted Spiff runs them."""
    mode, source = _probes(str(tmp_path / "pwned"))[name]
    default = TaskDataEnvironment()
    (default.evaluate if mode == "eval" else default.execute)(source, {"x": 1})
    assert (tmp_path / "pwned").exists()


@pytest.mark.parametrize("expr", ["type(x)", "object()", "dir()", "input()"])
def test_runtime_builtins_are_a_whitelist(env, expr):
    """Defence in depth behind the compile-time checks."""
    with pytest.raises(NameError):
        env.evaluate(expr, {"x": 1})


def test_format_string_attribute_access_is_blocked_at_run_time(env):
    """str.format can reach dunders without an attribute in the source."""
    check_expression("'{0.__class__}'.format(x)")  # compiles: no '_' name in the AST
    with pytest.raises(NotImplementedError, match="format"):
        env.evaluate("'{0.__class__}'.format(x)", {"x": 1})


def test_import_from_is_refused():
    with pytest.raises(ScriptError, match=r"import is not allowed \(os: path\)"):
        check_script("from os import path")


# --- syntax errors ----------------------------------------------------------

def test_check_script_reports_syntax_error_line():
    with pytest.raises(ScriptError) as info:
        check_script("x = 1\ny = = 2\n")
    assert info.value.line == 2 and info.value.offset
    assert "Line 2" in str(info.value) and "y = = 2" in str(info.value)


def test_check_expression_reports_syntax_error_line():
    with pytest.raises(ScriptError) as info:
        check_expression("(a ==\n == b)")
    assert info.value.line == 2


@pytest.mark.filterwarnings("ignore:.*never reads 'printed'")
def test_valid_sources_pass_the_check():
    check_expression('category in ("gas_leak", "power_outage") and i < 500')
    check_script("total = 0\nfor v in values:\n    total += v\nprint(total)")


# --- cost -------------------------------------------------------------------

def test_conditions_are_compiled_once_and_cheap(env):
    data = {"outcome": "whistle", **{f"k{i}": i for i in range(20)}}
    env.evaluate('outcome == "whistle"', data)
    hits = _compile.cache_info().hits
    n = 20000
    per_call = timeit.timeit(lambda: env.evaluate('outcome == "whistle"', data), number=n) / n
    assert _compile.cache_info().hits >= hits + n
    assert per_call < 50e-6, f"{per_call * 1e6:.1f} us per cached condition"


# --- end to end -------------------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="defs" targetNamespace="http://gridloop.test">
  <bpmn:process id="loop" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="merge"/>
    <bpmn:exclusiveGateway id="merge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="merge" targetRef="bump"/>
    <bpmn:scriptTask id="bump" name="Bump">
      <bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="bump" targetRef="split"/>
    <bpmn:exclusiveGateway id="split" default="done"/>
    <bpmn:sequenceFlow id="again" sourceRef="split" targetRef="merge">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">CONDITION</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="split" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow(script, condition="count &lt; limit()"):
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.replace("SCRIPT", script).replace("CONDITION", condition).encode())
    engine = make_script_engine({"limit": lambda: 3})
    wf = BpmnWorkflow(parser.get_spec("loop"), script_engine=engine)
    for task in wf.get_tasks(state=TaskState.READY):
        task.data["count"] = 0
    return wf


def test_workflow_runs_script_and_gateway_to_completion():
    wf = _workflow("count = count + 1")
    wf.do_engine_steps()
    assert wf.is_completed()
    assert wf.data == {"count": 3}  # looped 3 times; helper `limit` not in data


def test_workflow_with_import_fails_and_does_not_complete(tmp_path):
    probe = tmp_path / "pwned"
    wf = _workflow(f"import os\nos.mkdir({str(probe)!r})\ncount = count + 1")
    with pytest.raises(WorkflowTaskException, match="import is not allowed") as info:
        wf.do_engine_steps()
    assert info.value.line_number == 1
    assert not wf.is_completed()
    assert not probe.exists()
    [bump] = wf.get_tasks(state=TaskState.ERROR)
    assert bump.task_spec.name == "bump" and bump.data == {"count": 0}


def test_workflow_with_refused_condition_keeps_the_message():
    wf = _workflow("count = count + 1", condition="__import__('os') and count &lt; 3")
    with pytest.raises(WorkflowTaskException, match='"__import__" is an invalid variable name'):
        wf.do_engine_steps()
    assert not wf.is_completed()


# --- dates and times --------------------------------------------------------

def test_date_and_time_names_work_in_scripts_and_conditions(env):
    data = {"limit_days": 3}
    env.execute("start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)\n"
                "due = start + timedelta(days=limit_days)\n"
                "day = date(2026, 3, 5)\n"
                "label = due.strftime('%Y-%m-%d %H:%M')\n"
                "parsed = datetime.strptime('2026-03-02 08:30', '%Y-%m-%d %H:%M')\n"
                "cst = due.astimezone(timezone(timedelta(hours=8))).isoformat()", data)
    assert data["label"] == "2026-03-05 09:00" and data["due"].date() == data["day"]
    assert data["parsed"] == datetime(2026, 3, 2, 8, 30) and data["cst"] == "2026-03-05T17:00:00+08:00"
    assert env.evaluate("due - timedelta(hours=1) < datetime(2026, 3, 5, 9, tzinfo=timezone.utc)", data) is True
    assert set(data) == {"limit_days", "start", "due", "day", "label", "parsed", "cst"}  # no class copied in


def test_the_engine_now_is_aware_and_usable_in_timer_expressions(db, clock):
    runtime = Runtime(db, clock=clock)
    assert runtime.script_engine.environment.evaluate("now().tzinfo is not None and now() > datetime(2026, 1, 1, "
                                                      "tzinfo=timezone.utc)", {}) is True
    probe = runtime.script_engine.environment.evaluate("(now() + timedelta(hours=2)).isoformat()", {})
    assert probe == (clock.now() + timedelta(hours=2)).isoformat()


def test_task_data_may_shadow_the_date_names_but_not_the_helpers(env):
    data = {"date": "2026-03-02"}
    env.execute("copy = date", data)
    assert data == {"date": "2026-03-02", "copy": "2026-03-02"}
    with pytest.raises(ValueError, match="overwrites a predefined"):
        env.execute("x = 1", {"now": 5})


@pytest.mark.parametrize("source, error", [
    ("datetime.__class__", ScriptError), ("datetime.now().__reduce__()", ScriptError),
    ("type(datetime.now())", NameError), ("timedelta.__subclasses__()", ScriptError),
    ("__import__('os')", ScriptError), ("datetime.now().strftime('%Y').format", NotImplementedError),
    ("vars(datetime)", ScriptError), ("globals()", ScriptError),
])
def test_the_date_names_open_no_escape(env, source, error):
    with pytest.raises(error):
        env.evaluate(source, {})


def test_lazy_imports_of_strftime_reach_only_their_modules():
    """strftime/strptime import time/_strptime through the frame's __import__; nothing else does."""
    from gridloop.engine.scripting import _BUILTINS
    with pytest.raises(ImportError, match="not allowed"):
        _BUILTINS["__import__"]("os")
    assert _BUILTINS["__import__"]("time").__name__ == "time"


def test_date_values_in_task_data_survive_storing():
    from gridloop.engine.state import dump_state, load_state
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(Path(ROOT) / "tests" / "models" / "peer_linear5.bpmn"))
    spec = parser.get_spec("Process_lin5")
    engine = make_script_engine()
    wf = BpmnWorkflow(spec, {}, script_engine=engine)
    values = {"d": date(2026, 3, 2), "t": datetime(2026, 3, 2, 9, 0, 0, 7, tzinfo=timezone(timedelta(hours=8))),
              "naive": datetime(2026, 3, 2, 9), "span": timedelta(days=2, seconds=0.05), "utc": timezone.utc}
    wf.task_tree.data.update(values)
    restored = load_state(dump_state(wf), spec, {}, engine).task_tree.data
    assert restored == values and type(restored["d"]) is date and restored["t"].utcoffset() == timedelta(hours=8)
