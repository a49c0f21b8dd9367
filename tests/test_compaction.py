"""Compaction must not change what a process does.

Every model of SpiffWorkflow's own test suite that can be driven simply (start each
executable process, complete ready user and manual tasks with empty data) runs twice in
memory: once as SpiffWorkflow runs it, once compacted, dumped and restored after every step
as Gridloop stores it. Both must pass through the same ready tasks with the same data, wait
for the same things and end the same way.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.task import TaskState

from gridloop.engine.scripting import make_script_engine
from gridloop.engine.state import compact, dump_state, load_state

from bench import conformance

from .conftest import MODELS

CONFORMANCE = Path(os.environ.get("GRIDLOOP_CONFORMANCE_MODELS") or conformance.default_path())
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
STEPS = 30
INSTANT = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


class _Instant(datetime):
    """SpiffWorkflow's timers read the wall clock: both runs see one instant, so a timer of a
    few milliseconds (boundary_timer_on_task.bpmn: PT0.002S) fires in neither instead of in
    whichever run a busy machine made slower."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return INSTANT.astimezone(tz) if tz else INSTANT.replace(tzinfo=None)


def _processes(path: Path) -> tuple[dict[str, bool], set[str]]:
    """(process id -> executable, called process ids) of a BPMN file."""
    root = etree.parse(str(path)).getroot()
    processes = {p.get("id"): p.get("isExecutable") == "true" for p in root.iter(f"{BPMN}process")}
    return processes, {c.get("calledElement") for c in root.iter(f"{BPMN}callActivity")}


def _cases() -> list[tuple[Path, str]]:
    if not CONFORMANCE.is_dir() and os.environ.get("CI"):
        raise FileNotFoundError(f"the conformance models are missing: {CONFORMANCE}")
    files = sorted(CONFORMANCE.rglob("*.bpmn")) if CONFORMANCE.is_dir() else []
    files += sorted(Path(MODELS).glob("*.bpmn"))
    return [(f, key) for f in files for key, executable in _processes(f)[0].items() if executable]


def _parser(path: Path) -> SpiffBpmnParser:
    """The file, the files defining the processes it calls (same folder), and its folder's DMN."""
    folder = path.parent
    providers = {}
    for other in sorted(folder.glob("*.bpmn")):
        for key in _processes(other)[0]:
            providers.setdefault(key, other)
    files, todo = [], [path]
    while todo:
        f = todo.pop()
        if f in files:
            continue
        files.append(f)
        todo.extend(providers[c] for c in _processes(f)[1] if c in providers)
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(f) for f in files])
    parser.add_dmn_files([str(f) for f in [*folder.glob("*.dmn"), *folder.glob("dmn/*.dmn")]])
    return parser


def _observe(wf: BpmnWorkflow) -> dict:
    """What the two runs must agree on, independent of task ids and of dropped history."""
    tasks = [t for w in [wf, *wf.subprocesses.values()] for t in w.tasks.values()]
    return {
        "ready": sorted((t.task_spec.name, json.dumps(t.data, sort_keys=True, default=str))
                        for t in tasks if t.state == TaskState.READY),
        "waiting": sorted({t.task_spec.name for t in tasks if t.state == TaskState.WAITING}),
        "completed": wf.is_completed(),
        "data": json.dumps(wf.data, sort_keys=True, default=str),
    }


def _drive(path: Path, key: str, stored: bool, steps: int = STEPS) -> list:
    parser = _parser(path)  # parsed for each run: SpiffWorkflow changes specs as they run
    spec, subprocess_specs = parser.get_spec(key), parser.get_subprocess_specs(key)
    engine = make_script_engine()
    wf = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    trace = []
    for _ in range(steps):
        try:
            wf.do_engine_steps()
        except Exception as exc:  # noqa: BLE001 - both runs must fail alike
            trace.append(("error", type(exc).__name__, str(exc).split("\n")[0]))
            break
        if stored:
            compact(wf)
            state = dump_state(wf)
            wf = load_state(state, spec, subprocess_specs, engine)
        trace.append(_observe(wf) | ({"size": len(state)} if stored else {}))
        manual = sorted(wf.get_tasks(state=TaskState.READY, manual=True),
                        key=lambda t: (t.task_spec.name, json.dumps(t.data, sort_keys=True, default=str)))
        if not manual:
            break
        try:
            manual[0].run()
        except Exception as exc:  # noqa: BLE001 - both runs must fail alike
            trace.append(("error", type(exc).__name__, str(exc).split("\n")[0]))
            break
    return trace


@pytest.mark.parametrize("path,key", _cases(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_compacted_and_restored_runs_behave_like_plain_spiffworkflow(path, key, monkeypatch):
    monkeypatch.setattr(spiff_timer, "datetime", _Instant)
    try:
        parser = _parser(path)
        parser.get_spec(key), parser.get_subprocess_specs(key)
    except Exception as exc:  # noqa: BLE001 - a model our parser cannot load is not a compaction case
        pytest.skip(f"not loadable with SpiffBpmnParser: {type(exc).__name__}")
    plain = _drive(path, key, stored=False)
    stored = _drive(path, key, stored=True)
    assert [{k: v for k, v in step.items() if k != "size"} if isinstance(step, dict) else step
            for step in stored] == plain


def test_a_loop_through_a_split_and_a_join_keeps_the_state_flat():
    """What joins keep of finished sibling branches is bounded, however many rounds ran."""
    trace = _drive(Path(MODELS) / "split_join_loop.bpmn", "split_join_loop", stored=True, steps=600)
    assert [[name for name, _ in t["ready"]] for t in trace] == [["A", "B"], ["B"], ["C"]] * 200
    assert json.loads(trace[-1]["ready"][0][1]) == {"rounds": 199, "first": True}  # taken over, as Spiff does
    assert trace[-1]["size"] <= 2 * trace[20]["size"], (trace[20]["size"], trace[-1]["size"])
