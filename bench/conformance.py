"""Conformance run: SpiffWorkflow's own test models, driven the way its test modules drive
them, once by raw SpiffWorkflow in memory and once through Gridloop (deploy, then only the
REST API), and compared with what those tests assert at the end.

    python bench/conformance.py [PATH] [--database URL] [--no-cache] [--strict] [-k TEXT]

PATH is the folder of models (default ``../shared/conformance/spiff-test-models``, taken from
SpiffWorkflow's ``tests/SpiffWorkflow/{bpmn,spiff,camunda}/data`` at commit 8c6e00f); the
cases are in bench/conformance_cases.py. One line per case: ``ok``, ``differs: why``,
``stuck: ...`` (the instance runs with no open task and no timer, or the engine made it
an incident) or ``refused: ...`` (the deploy failed), then the totals. ``--no-cache`` turns
the live-workflow cache off, so every command restores the instance from the database (what
compaction stored must be enough). Every case
gets a fresh database: SQLite in a temporary folder, or with ``--database URL`` a PostgreSQL
database the run creates on that server (bench/scratch_db.py), emptied for each case and
dropped at the end.

The exit status is 0 (it is a benchmark) unless ``--strict`` is given and a case that passes
in memory does not pass through Gridloop.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":
    sys.path[0] = REPO  # not bench/: its http.py would shadow the standard library's
os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")

from lxml import etree  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from SpiffWorkflow.bpmn.parser import BpmnParser, BpmnValidator  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BpmnMessage  # noqa: E402
from SpiffWorkflow.bpmn.util import BpmnEvent  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser  # noqa: E402
from SpiffWorkflow.exceptions import SpiffWorkflowException  # noqa: E402
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessage  # noqa: E402
from SpiffWorkflow.task import TaskState  # noqa: E402

from gridloop.engine import records, timers  # noqa: E402
from gridloop.engine.clock import FrozenClock  # noqa: E402
from gridloop.engine.db import Database  # noqa: E402
from gridloop.engine.errors import DeployError  # noqa: E402
from gridloop.engine.model import ProcessInstance, User  # noqa: E402
from gridloop.engine.org import hash_password  # noqa: E402
from gridloop.engine.runtime import Runtime  # noqa: E402
from gridloop.engine.state import WorkflowCache, load_state  # noqa: E402
from bench.conformance_cases import CASES, Case, Data, Do, Msg, NotOpen, Open, Wait  # noqa: E402
from bench.scratch_db import scratch_database  # noqa: E402

MODELS = os.path.join("shared", "conformance", "spiff-test-models")


def default_path() -> str:
    """``../shared/conformance/spiff-test-models`` beside the checkout (or a folder above it,
    for a git worktree under the project folder)."""
    folder = os.path.dirname(REPO)
    while not os.path.isdir(os.path.join(folder, MODELS)) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return os.path.join(folder, MODELS)


BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DRIVER, PASSWORD = "conformance", "conformance"


# ------------------------------------------------------------------------------- shared pieces

class Differs(Exception):
    """The run did not end the way the test expects (or could not be driven there)."""


class HttpError(Differs):
    """The API answered with an error; ``code`` is its ``error.code``."""

    def __init__(self, message: str, code: str | None):
        super().__init__(message)
        self.code = code


def model_files(path: str, case: Case) -> list[str]:
    files = []
    for pattern in case.files:
        found = sorted(glob.glob(os.path.join(path, pattern)))
        if not found:
            raise FileNotFoundError(f"no model file {pattern} under {path}")
        files.extend(found)
    return files


def lane_names(files: list[str]) -> list[str]:
    names = set()
    for f in files:
        if f.endswith(".dmn"):
            continue
        for lane in etree.parse(f).iter(f"{{{BPMN_NS}}}lane"):
            if lane.get("name"):
                names.add(lane.get("name"))
    return sorted(names)


def check_end(case: Case, status: str, variables: dict | None, open_names: list[str]) -> None:
    """Compare an end state with the case's expectation; raise Differs saying how."""
    if status != case.end:
        detail = f" (open: {', '.join(open_names)})" if open_names else ""
        raise Differs(f"ended {status}, expected {case.end}{detail}")
    if variables is not None:
        check_data(case.data, case.absent, variables)


def check_data(data: dict, absent: tuple, variables: dict) -> None:
    expected = json.loads(json.dumps(data))  # as JSON would carry it
    wrong = {k: variables.get(k, "<missing>") for k, v in expected.items() if variables.get(k, "<missing>") != v}
    if wrong:
        raise Differs("variables " + ", ".join(f"{k}={_short(v)} (expected {_short(expected[k])})"
                                               for k, v in wrong.items()))
    present = [k for k in absent if k in variables]
    if present:
        raise Differs(f"variables {', '.join(present)} should be gone")


def _short(value) -> str:
    text_ = json.dumps(value, default=str)
    return text_ if len(text_) <= 60 else text_[:57] + "..."


def workflow_variables(wf: BpmnWorkflow) -> dict:
    """A workflow's variables as the tests read them: the process data once it has completed,
    else the freshest open user task's data, else the last finished task's."""
    if wf.is_completed():
        return dict(wf.data) or dict(wf.last_task.data if wf.last_task else {})
    ready = wf.get_tasks(state=TaskState.READY, manual=True)
    if ready:
        return dict(max(ready, key=lambda t: t.last_state_change).data)
    return dict(wf.last_task.data) if wf.last_task is not None else {}


def _task_names(spec) -> set[str]:
    return {n for n in (spec.bpmn_name, spec.bpmn_id, spec.name) if n}


# ----------------------------------------------------------------------------------- in memory

def run_in_memory(path: str, case: Case) -> None:
    """Drive the case with raw SpiffWorkflow as its test does; raise Differs if it ends otherwise."""
    files = model_files(path, case)
    bpmn = [f for f in files if not f.endswith(".dmn")]
    dmn = [f for f in files if f.endswith(".dmn")]
    if case.parser == "spiff":
        parser = SpiffBpmnParser(validator=VALIDATOR if case.validate else None)
        message_class = SpiffMessage
    elif case.parser == "camunda":
        parser = CamundaParser()
        message_class = BpmnMessage
    else:
        parser = BpmnParser(validator=BpmnValidator() if case.validate else None)
        message_class = BpmnMessage
    parser.add_bpmn_files(bpmn)
    if dmn:
        parser.add_dmn_files(dmn)
    if case.collaboration:
        spec, subprocesses = parser.get_collaboration(case.collaboration)
    else:
        spec, subprocesses = parser.get_spec(case.process), parser.get_subprocess_specs(case.process)
    env = {"datetime": datetime, "timedelta": timedelta}
    engine = PythonScriptEngine(environment=TaskDataEnvironment({k: env[k] for k in case.env}))
    clock = FrozenClock(datetime.now(timezone.utc))
    with timers.engine_clock(clock):
        wf = BpmnWorkflow(spec, subprocesses, script_engine=engine)
        start = case.start(clock.now()) if callable(case.start) else case.start
        wf.get_tasks(state=TaskState.READY)[0].data.update(start)
        try:
            _advance_memory(wf)
            for step in case.steps:
                _memory_step(wf, step, clock, message_class)
        except SpiffWorkflowException as exc:
            if case.end == "error":
                return
            raise Differs(f"failed: {str(exc).splitlines()[0]}") from None
        status = "completed" if wf.is_completed() else "running"
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        open_names = [t.task_spec.bpmn_name or t.task_spec.name for t in ready]
        check_end(case, status, workflow_variables(wf), open_names)


def _advance_memory(wf: BpmnWorkflow) -> None:
    wf.refresh_timers()
    while True:
        wf.do_engine_steps()
        if not any(not t.task_spec.manual for t in wf.get_tasks(state=TaskState.READY)):
            return


def _memory_step(wf, step, clock, message_class) -> None:
    ready = wf.get_tasks(state=TaskState.READY, manual=True)
    if isinstance(step, Do):
        found = [t for t in ready if step.task in _task_names(t.task_spec)]
        if not found:
            raise Differs(f"no open task '{step.task}' (open: {[t.task_spec.bpmn_name for t in ready]})")
        found[0].data.update(step.data)
        found[0].run()
    elif isinstance(step, Msg):
        before = len(wf.get_tasks(state=TaskState.WAITING))
        definition = message_class(step.name)
        waiting = [t for t in wf.get_tasks(state=TaskState.WAITING)
                   if getattr(getattr(t.task_spec, "event_definition", None), "name", None) == step.name]
        correlations = {}
        if waiting and getattr(waiting[0].task_spec.event_definition, "correlation_properties", None):
            definition = waiting[0].task_spec.event_definition
            correlations = definition.calculate_correlations(
                wf.script_engine, definition.correlation_properties, step.payload)
        wf.catch(BpmnEvent(definition, step.payload, correlations))
        if step.lost and len(wf.get_tasks(state=TaskState.WAITING)) != before:
            raise Differs(f"message '{step.name}' was taken")
    elif isinstance(step, Wait):
        clock.advance(seconds=step.seconds)
    elif isinstance(step, Open):
        names = tuple(t.task_spec.bpmn_name or t.task_spec.name for t in ready)
        if names != step.tasks:
            raise Differs(f"open tasks {list(names)}, expected {list(step.tasks)}")
        return
    elif isinstance(step, NotOpen):
        if any(step.task in _task_names(t.task_spec) for t in ready):
            raise Differs(f"'{step.task}' is open too early")
        return
    elif isinstance(step, Data):
        check_data(step.values, (), workflow_variables(wf))
        return
    _advance_memory(wf)


# ------------------------------------------------------------------------------------ Gridloop

class Refused(Exception):
    """The deploy failed."""


class Stuck(Exception):
    """The instance runs with no open task and no timer."""


def fresh_database(url: str | None, folder: str, n: int) -> Database:
    """Case ``n``'s empty database: a new SQLite file, or the run's own PostgreSQL database emptied."""
    if url is None:
        db = Database(f"sqlite:///{folder}/case{n}.sqlite")
    else:
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.create_schema()
    return db


class _Api:
    """The REST API through Flask's test client, as the driver user."""

    def __init__(self, app):
        self.client = app.test_client()
        self.headers = {}
        answer = self.call("POST", "/auth/token", {"username": DRIVER, "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {answer['token']}"}
        self.has_variables = any(r.rule.endswith("/process-instances/<int:instance_id>/variables")
                                 for r in app.url_map.iter_rules())

    def call(self, method: str, path: str, body: dict | None = None, ok=(200, 201)) -> Any:
        response = self.client.open("/api/v1" + path, method=method, json=body, headers=self.headers)
        if response.status_code not in ok:
            error = (response.get_json(silent=True) or {}).get("error") or {}
            raise HttpError(f"{method} {path}: HTTP {response.status_code} "
                            f"{error.get('message') or response.get_data(True)[:200]}".strip(), error.get("code"))
        return response.get_json(silent=True)


def run_in_gridloop(path: str, case: Case, db: Database, *, no_cache: bool) -> str:
    """Deploy the case's files, then drive it through the REST API only. Returns a note on how
    the end variables were read ('' when through the API)."""
    from gridloop.web import create_app

    files = model_files(path, case)
    clock = FrozenClock(datetime.now(timezone.utc))
    rt = Runtime(db, clock=clock)
    if no_cache:
        rt.workflows = WorkflowCache(size=0)
    try:
        rt.deploy(files, by=DRIVER)
    except DeployError as exc:
        raise Refused(exc.message) from None
    with db.transaction() as s:  # lanes are roles today: the driver may act in every lane
        s.add(User(username=DRIVER, display_name=DRIVER, password_hash=hash_password(PASSWORD),
                   roles=lane_names(files) + ["designer"]))
    api = _Api(create_app({"TESTING": True, "RUNTIME": rt, "SECRET_KEY": "conformance"}))
    start = case.start(clock.now()) if callable(case.start) else case.start
    try:
        started = api.call("POST", "/process-instances", {"key": case.process, "data": start}, ok=(201,))
        instance_id = started["id"]
        for step in case.steps:
            _api_step(api, rt, instance_id, step)
    except HttpError as exc:
        if case.end == "error" and exc.code == "process_error":  # a 4xx naming the failure
            return ""
        raise
    inst = api.call("GET", f"/process-instances/{instance_id}")
    open_names = [t["name"] for t in inst["open_tasks"]]
    if inst["status"] == "incident":  # the engine saw it stall (or a script went over budget)
        why = inst["error"] or next(((e["payload"] or {}).get("message") for e in reversed(inst["history"])
                                     if e["type"] == "incident_opened"), None)
        raise Stuck(f"incident: {why}")
    if inst["status"] == "running" and not open_names and inst["next_timer_at"] is None and case.end != "running":
        raise Stuck("instance running with nothing to do")
    reads = bool(case.data or case.absent)
    check_end(case, inst["status"], _variables(api, rt, instance_id) if reads else None, open_names)
    reads = reads or any(isinstance(step, Data) for step in case.steps)
    return "variables read from the database (no API yet)" if reads and not api.has_variables else ""


def _variables(api: _Api, rt: Runtime, instance_id: int) -> dict:
    if api.has_variables:
        answer = api.call("GET", f"/process-instances/{instance_id}/variables")
        return answer.get("variables", answer) if isinstance(answer, dict) else answer
    return _stored_variables(rt, instance_id)


def _offered(api: _Api, instance_id: int, name: str) -> dict:
    """The open task ``name`` as a user finds it: in her inbox (claimable), the started
    instance's first (in its order), else one of another instance (started by a message)."""
    inbox = api.call("GET", "/tasks?scope=claimable&per_page=200")["items"]
    tasks = _open(api, instance_id)
    found = [t for t in tasks if name in (t["name"], t["element_id"])]
    if found and found[0]["id"] not in {t["id"] for t in inbox}:
        raise Differs(f"task '{name}' (lane {found[0]['role']}) is not in the driver's inbox")
    if not found:
        found = [t for t in inbox if name in (t["name"], t["element_id"])]
    if not found:
        raise Differs(f"no open task '{name}' (open: {[t['name'] for t in tasks]})")
    return found[0]


def _open(api: _Api, instance_id: int) -> list[dict]:
    return api.call("GET", f"/process-instances/{instance_id}")["open_tasks"]


def _api_step(api: _Api, rt: Runtime, instance_id: int, step) -> None:
    if isinstance(step, Do):
        task = _offered(api, instance_id, step.task)
        api.call("POST", f"/tasks/{task['id']}/claim")
        api.call("POST", f"/tasks/{task['id']}/complete", {"data": step.data})
    elif isinstance(step, Msg):
        # for the driver's instance (a message that names no instance or correlation is refused)
        body = {"name": step.name, "correlation": step.correlation, "payload": step.payload, "instance_id": instance_id}
        if step.lost:
            api.call("POST", "/messages", body, ok=(404,))
        else:
            api.call("POST", "/messages", body)
    elif isinstance(step, Wait):
        rt.clock.advance(seconds=step.seconds)
        timers.run_due(rt)
    elif isinstance(step, Open):
        names = tuple(t["name"] for t in _open(api, instance_id))
        if names != step.tasks:
            raise Differs(f"open tasks {list(names)}, expected {list(step.tasks)}")
    elif isinstance(step, NotOpen):
        if any(step.task in (t["name"], t["element_id"]) for t in _open(api, instance_id)):
            raise Differs(f"'{step.task}' is open too early")
    elif isinstance(step, Data):
        check_data(step.values, (), _variables(api, rt, instance_id))


def _stored_variables(rt: Runtime, instance_id: int) -> dict:
    """Fallback while the API has no variables endpoint: the stored state, restored."""
    with rt.db.reading() as s:
        definition_id = s.scalar(select(ProcessInstance.definition_id).where(ProcessInstance.id == instance_id))
        loaded = rt.specs.get(s, definition_id)
        wf = load_state(records.state_of(s, instance_id), loaded.spec, loaded.subprocess_specs, rt.script_engine)
    return workflow_variables(wf)


# ---------------------------------------------------------------------------------------- main

@dataclass
class Outcome:
    case: Case
    memory: str      # "ok" or why not
    gridloop: str    # ok | differs: ... | stuck: ... | refused: ...
    note: str = ""


def run_case(path: str, case: Case, n: int, *, database: str | None, folder: str, no_cache: bool) -> Outcome:
    quiet = contextlib.redirect_stdout(io.StringIO())  # the models' scripts print
    try:
        with quiet:
            run_in_memory(path, case)
        memory = "ok"
    except Differs as exc:
        memory = f"differs: {exc}"
    except Exception as exc:  # a parse error etc.: the test itself would fail
        memory = f"differs: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    db = fresh_database(database, folder, n)
    note = ""
    try:
        with quiet:
            note = run_in_gridloop(path, case, db, no_cache=no_cache)
        gridloop = "ok"
    except Refused as exc:
        gridloop = f"refused: {exc}"
    except Stuck as exc:
        gridloop = f"stuck: {exc}"
    except Differs as exc:
        gridloop = f"differs: {exc}"
    except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure and goes on
        gridloop = f"differs: {type(exc).__name__}: {exc}"
    finally:
        db.dispose()
    return Outcome(case, memory, gridloop, note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=default_path())
    parser.add_argument("--database", metavar="URL",
                        help="run on PostgreSQL: a database of its own on this server, dropped afterwards")
    parser.add_argument("--no-cache", action="store_true", help="restore every instance from the database")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a case passing in memory fails in Gridloop")
    parser.add_argument("-k", dest="select", help="only cases whose name contains this text")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.select or args.select.lower() in c.name.lower()]
    started = time.perf_counter()
    outcomes = []
    server = scratch_database(args.database, "gridloop_bench_conformance") if args.database else None
    with tempfile.TemporaryDirectory() as folder, server or contextlib.nullcontext() as database:
        for n, case in enumerate(cases):
            outcome = run_case(args.path, case, n, database=database, folder=folder, no_cache=args.no_cache)
            outcomes.append(outcome)
            memory = "" if outcome.memory == "ok" else f"  [in memory: {outcome.memory}]"
            note = f"  ({outcome.note})" if outcome.note else ""
            print(f"{case.name}: {outcome.gridloop}{note}{memory}", flush=True)
    both = sum(o.memory == "ok" and o.gridloop == "ok" for o in outcomes)
    print(f"conformance: {both} of {len(outcomes)} as in memory")
    print(f"in memory: {sum(o.memory == 'ok' for o in outcomes)} of {len(outcomes)}")
    print(f"stuck: {sum(o.gridloop.startswith('stuck') for o in outcomes)}")
    print(f"({'no live-workflow cache, ' if args.no_cache else ''}"
          f"{'PostgreSQL' if args.database else 'SQLite'}, {time.perf_counter() - started:.1f} s)")
    regressions = [o for o in outcomes if o.memory == "ok" and o.gridloop != "ok"]
    return 1 if args.strict and regressions else 0


if __name__ == "__main__":
    sys.exit(main())
