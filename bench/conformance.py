"""Conformance run: SpiffWorkflow's own test models, driven the way its test modules drive
them, once by raw SpiffWorkflow in memory and once through Gridloop (deploy, then only the
REST API), and compared with what those tests assert at the end.

    python bench/conformance.py [PATH] [--database URL] [--no-cache] [--strict] [-k TEXT]

PATH is the folder of models (default ``../shared/conformance/spiff-test-models``, taken from
SpiffWorkflow's ``tests/SpiffWorkflow/{bpmn,spiff,camunda}/data`` at commit 8c6e00f). Each
case below names the test it follows. One line per case: ``ok``, ``differs: why``, ``stuck:
...`` (the instance runs with no open task and no timer) or ``refused: ...`` (the deploy
failed), then the totals. ``--no-cache`` turns the live-workflow cache off, so every command
restores the instance from the database (what compaction stored must be enough). Every case
gets a fresh database: SQLite in a temporary folder, or ``--database`` (a PostgreSQL URL whose
``public`` schema is DROPPED and recreated for each case: give it a scratch database).

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

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

from engine import records, timers  # noqa: E402
from engine.clock import FrozenClock  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.errors import DeployError  # noqa: E402
from engine.model import Base, ProcessInstance, User  # noqa: E402
from engine.org import hash_password  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.state import WorkflowCache, load_state  # noqa: E402

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


# ------------------------------------------------------------------------------------ the table

@dataclass(frozen=True)
class Do:
    """Complete the open user/manual task with this name (or element id) with ``data``."""
    task: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Msg:
    """Deliver a message; ``lost``: nobody waits for it (the instance must not change)."""
    name: str
    payload: dict = field(default_factory=dict)
    correlation: dict = field(default_factory=dict)  # Gridloop: waiting task's variable -> value
    lost: bool = False


@dataclass(frozen=True)
class Wait:
    """Let this many seconds pass on the engine clock; due timers fire."""
    seconds: float


@dataclass(frozen=True)
class Open:
    """These user tasks (names, in this order) and no others are open now."""
    tasks: tuple


@dataclass(frozen=True)
class NotOpen:
    """No open task has this name (the tests' ``assertRaises(..., do_next_named_step, name)``)."""
    task: str


@dataclass(frozen=True)
class Data:
    """The variables the test reads mid-way (the freshest open task's data) include these."""
    values: dict


@dataclass(frozen=True)
class Case:
    name: str                  # "<model>: <what the test drives>"
    files: tuple               # globs under PATH, as the test loads them
    process: str               # process id to start
    steps: tuple = ()
    start: dict | Callable = field(default_factory=dict)  # initial data (or now -> data)
    end: str = "completed"     # completed | running | error
    data: dict = field(default_factory=dict)  # end variables the test asserts
    absent: tuple = ()         # variables the test asserts are gone
    parser: str = "bpmn"       # bpmn (BpmnParser, as tests/bpmn) | spiff | camunda
    validate: bool = True      # the test's XSD validation
    env: tuple = ()            # names the test's script engine adds (datetime, timedelta)
    collaboration: str | None = None  # the test loads this collaboration in memory
    test: str = ""             # the SpiffWorkflow test it follows (Class.method)


def steps(*items) -> tuple:
    return tuple(items)


BD, SD, CD = "bpmn/data", "spiff/data", "camunda/data"
TW = BD + "/Test-Workflows"
APPROVALS = (f"{BD}/Approvals.bpmn",)
MSG_SP_FILE = (f"{TW}/Message-Interrupts-SP.bpmn20.xml",)
MSG_INT_FILE = (f"{TW}/Message-Interrupts.bpmn20.xml",)
MSG_NON_FILE = (f"{TW}/Message-Non-Interrupt.bpmn20.xml",)
PMS = (f"{TW}/Parallel-Multiple-Splits-And-Joins.bpmn20.xml",)
PTE = (f"{TW}/Parallel-Then-Exclusive.bpmn20.xml",)
PTS = (f"{TW}/Parallel-Through-Same-Task.bpmn20.xml",)
PCAM = (f"{TW}/Parallel.camunda.bpmn20.xml",)
TRANSACTION = (f"{BD}/transaction.bpmn",)
ESCALATION = (f"{TW}/CallActivity-Escalation-Test*.bpmn20.xml",)
INCLUSIVE = (f"{BD}/inclusive_gateway.bpmn",)
STD_LOOP = (f"{BD}/standard_loop.bpmn",)
PMI, SMI = f"{BD}/parallel_multiinstance_loop_input.bpmn", f"{BD}/sequential_multiinstance_loop_input.bpmn"
MSG_SP = "sid-607dfa9b-dbfd-41e8-94f8-42ae37f3b824"
MSG_INT = "sid-db1e1749-03ee-46aa-8674-bba07b1bd167"
MSG_NON = "sid-60e2cc58-68c9-4cb5-a95c-22e3e311b6b9"
LONG = "Do Something That Takes A Long Time"


def _splits(*order) -> tuple:
    return tuple(NotOpen(s[1:]) if s.startswith("!") else Do(s) for s in order)


def _due_soon(now: datetime) -> dict:
    """Timer-Intermediate's ``due_time``: a naive local timestamp 10 ms ahead, as the test sets it."""
    return {"due_time": (now + timedelta(seconds=0.01)).astimezone().replace(tzinfo=None).isoformat()}


A512, B512, C512 = "a" * 512, "b" * 512, "c" * 512

CASES: tuple[Case, ...] = (
    # bpmn/ApprovalsTest: two approvals, first wins (terminate end events), parallel and called processes
    Case("Approvals: happy path", APPROVALS, "Approvals", test="ApprovalsTest.testRunThroughHappy", steps=steps(
        Do("First_Approval_Wins.Manager_Approval"), Do("Approvals.First_Approval_Wins_Done"),
        Do("Approvals.Manager_Approval__P_"), Do("Approvals.Supervisor_Approval__P_"),
        Do("Approvals.Parallel_Approvals_Done"), Do("Parallel_Approvals_SP.Step1"),
        Do("Parallel_Approvals_SP.Manager_Approval"), Do("Parallel_Approvals_SP.Supervisor_Approval"),
        Do("Approvals.Parallel_SP_Done"))),
    Case("ParallelOrder: four branches offered in diagram order", (f"{BD}/ParallelOrder.bpmn",), "ParallelOrder",
         test="ParallelOrderTest.testRunThroughHappy", end="running",
         steps=steps(Open(("Task 1", "Task 2", "Task 3", "Task 4")))),
    Case("ScriptTest: scripts build dicts and lists; functions are dropped", (f"{BD}/ScriptTest.bpmn",),
         "Process_1l85e0n", test="PythonScriptEngineTest.testRunThroughHappy",
         data={"testvar": {"a": 1, "b": 2, "new": "Test"},
               "testvar2": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}, {"x": 3, "y": "c"}], "sample": ["b", "c"]},
         absent=("my_function",)),
    # bpmn/events/CallActivityEscalationTest (the sub-process tests `'should_escalate' in vars()`)
    Case("CallActivity-Escalation: should escalate", ESCALATION, "CallActivity-Escalation-Test", validate=False,
         start={"should_escalate": True}, test="CallActivityEscalationTest.testShouldEscalate"),
    # bpmn/events/Message*Test: the tests start a master process (not among these files) whose
    # "Select Test" task calls these processes; here each is started directly.
    Case("Message-Interrupts-SP: message interrupts the called process", MSG_SP_FILE, MSG_SP, validate=False,
         test="MessageInterruptsSpTest.testRunThroughInterruptSaveAndRestore",
         steps=steps(Msg("Test Message"), NotOpen("Do Something In a Subprocess"),
                     Do("Acknowledge  SP Interrupt Message"))),
    Case("Message-Interrupts: no message", MSG_INT_FILE, MSG_INT, validate=False,
         test="MessageInterruptsTest.testRunThroughHappy", steps=steps(Do(LONG))),
    Case("Message-Interrupts: message interrupts the task", MSG_INT_FILE, MSG_INT, validate=False,
         test="MessageInterruptsTest.testRunThroughMessageInterrupt",
         steps=steps(Msg("Test Message"), NotOpen(LONG), Do("Acknowledge Interrupt Message"))),
    Case("Message-Non-Interrupt: no message", MSG_NON_FILE, MSG_NON, validate=False,
         test="MessageNonInterruptTest.testRunThroughHappy", steps=steps(Do(LONG))),
    Case("Message-Non-Interrupt: message, acknowledge first", MSG_NON_FILE, MSG_NON, validate=False,
         test="MessageNonInterruptTest.testRunThroughMessageInterrupt",
         steps=steps(Msg("Test Message"), Open((LONG, "Acknowledge Non-Interrupt Message")),
                     Do("Acknowledge Non-Interrupt Message"), Do(LONG))),
    Case("Messages: a wrong message is not taken, the right one is", (f"{TW}/Messages.bpmn20.xml",),
         "sid-4a1f10ab-316f-4cd8-836d-65aa3d178fff",
         validate=False, test="MessagesTest.testRunThroughHappy",
         steps=steps(Msg("Wrong Message", lost=True), Msg("Test Message"))),
    Case("Nested-Subprocesses: three levels of call activities", (f"{TW}/Nested*.bpmn20.xml",),
         "sid-a12cf1e5-86f4-4d69-9790-6a90342f5963", test="NestedProcessesTest.testRunThroughHappy",
         steps=steps(Do("Action1"), Do("Action2"), Do("Action3"))),
    # bpmn/parallel_gateway_tests
    Case("Parallel-Multiple-Splits-And-Joins: order 1", PMS, "sid-a90fa1f1-32a9-4a62-8ad4-8820a3fc6cc4",
         test="ParallelMultipleSplitsAndJoinsTest.test1",
         steps=_splits("1", "!Done", "2", "1A", "!Done", "2A", "1B", "2B", "!Done", "1 Done", "!Done", "2 Done",
                       "Done")),
    Case("Parallel-Multiple-Splits-And-Joins: order 2", PMS, "sid-a90fa1f1-32a9-4a62-8ad4-8820a3fc6cc4",
         test="ParallelMultipleSplitsAndJoinsTest.test2",
         steps=_splits("1", "!Done", "1A", "1B", "1 Done", "!Done", "2", "2A", "2B", "2 Done", "Done")),
    Case("Parallel-Then-Exclusive: parallel task first", PTE, "sid-bb9ea2d5-58b6-43c7-8e77-6e28f71106f0",
         test="ParallelThenExclusiveTest.testRunThroughParallelTaskFirst",
         steps=steps(Do("Parallel Task"), NotOpen("Done"), Do("Choice 1", {"choice": "Yes"}), Do("Yes Task"),
                     Do("Done"))),
    Case("Parallel-Then-Exclusive: choice first", PTE, "sid-bb9ea2d5-58b6-43c7-8e77-6e28f71106f0",
         test="ParallelThenExclusiveTest.testRunThroughChoiceFirst",
         steps=steps(Do("Choice 1", {"choice": "Yes"}), Do("Parallel Task"), NotOpen("Done"), Do("Yes Task"),
                     Do("Done"))),
    Case("Parallel-Through-Same-Task: repeated task first", PTS, "sid-57c563e3-fb68-4961-ae34-b6201e0c09e8",
         test="ParallelThroughSameTaskTest.testRunThroughFirstRepeatTaskFirst",
         steps=steps(Do("Repeated Task"), Do("Done"), Do("Choice 1", {"choice": "Yes"}), Do("Yes Task"),
                     NotOpen("Done"), Do("Repeated Task"), Do("Done"))),
    Case("Parallel-Through-Same-Task: repeated tasks ready together", PTS,
         "sid-57c563e3-fb68-4961-ae34-b6201e0c09e8", test="ParallelThroughSameTaskTest.testRepeatTasksReadyTogether",
         steps=steps(Do("Choice 1", {"choice": "Yes"}), Do("Yes Task"), NotOpen("Done"),
                     Open(("Repeated Task", "Repeated Task")), Do("Repeated Task"), Do("Done"), Do("Repeated Task"),
                     Do("Done"))),
    Case("Parallel-Through-Same-Task: no route, repeating after No", PTS, "sid-57c563e3-fb68-4961-ae34-b6201e0c09e8",
         test="ParallelThroughSameTaskTest.testNoRouteNoFirstThenRepeating",
         steps=steps(Do("Choice 1", {"choice": "No"}), NotOpen("Done"), Do("Repeated Task"), NotOpen("Done"),
                     Do("No Task"), Do("Done"))),
    Case("Parallel.camunda: all parallel data reaches the join", PCAM, "Process_1hb021r",
         test="ParallelFromCamunda.testAllParallelDataMakesItIntoGatewayTask",
         steps=steps(Do("First Task"), Do("Parallel Task A", {"taskA": "taskA"}),
                     Do("Parallel Task B", {"taskB": "taskB"}), Do("Parallel Task C", {"taskC": "taskC"}),
                     Do("Last Task")),
         data={"taskA": "taskA", "taskB": "taskB", "taskC": "taskC"}),
    Case("ParallelGatewayLoopInput: a loop back into a join", (f"{BD}/gateway_loop_input.bpmn",), "main",
         test="ParallelGatewayLoopInputTest.test_loop_input", steps=steps(Do("Task")), data={"x": 2}),
    # bpmn/events: timers
    Case("Timer-Intermediate: timeDate from data", (f"{TW}/Timer-Intermediate.bpmn20.xml",),
         "sid-909dfba4-15dd-47b3-b7d4-88330891429a", start=_due_soon,
         test="TimerIntermediateTest.testRunThroughHappy", steps=steps(Wait(1))),
    Case("boundary: interrupting timer on a sub-process", (f"{BD}/boundary.bpmn",), "boundary_event",
         test="TimerDurationBoundaryTest.testRunThroughHappy",
         steps=steps(Do("ReadyTogo"), Open(("Are we there yet?\n\n",)), Wait(1), Do("Scream head off"),
                     Do("Stop Car"))),
    Case("boundary_timer_on_task: timer on a user task", (f"{BD}/boundary_timer_on_task.bpmn",), "test_timer",
         env=("timedelta",), test="TimerDurationBoundaryOnTaskTest.testRunThroughHappy",
         steps=steps(Wait(1), Do("Say Anything")), ),
    Case("timer-non-interrupt-boundary: reminder branch beside the work", (f"{BD}/timer-non-interrupt-boundary.bpmn",),
         "NonInterruptTimer", test="NITimerDurationTest.testRunThroughHappy",
         steps=steps(Open(("Work Done?",)), Wait(1), Do("Delay Reason", {"delay_reason": "Just Because"}),
                     Do("Work Done?", {"work_done": "Yes"})),
         data={"work_done": "Yes", "delay_reason": "Just Because"}),
    Case("timer: intermediate duration timer", (f"{BD}/timer.bpmn",), "timer", env=("timedelta",),
         test="TimerDurationTest.testRunThroughHappy", steps=steps(Wait(1))),
    Case("timer-date-start: timeDate computed by a script with datetime", (f"{BD}/timer-date-start.bpmn",),
         "date_timer", env=("datetime", "timedelta"), test="TimerDateTest.testRunThroughHappy", steps=steps(Wait(1))),
    Case("event-gateway: the timer wins", (f"{BD}/event-gateway.bpmn",), "Process_0pvx19v", env=("timedelta",),
         test="EventBasedGatewayTest.testTimeout", steps=steps(Wait(2))),
    # bpmn/events: conditions, signals, errors, escalations, start events
    Case("conditional_event: intermediate condition", (f"{BD}/conditional_event.bpmn",), "intermediate",
         test="ConditionalEventTest.testIntermediateEvent", steps=steps(Do("B"), Do("A", {"task_a_done": True}))),
    Case("event-subprocess: a signal starts the event sub-process", (f"{BD}/event-subprocess.bpmn",), "main",
         test="EventSubprocessTest.testEventSubprocess",
         steps=steps(Do("set data", {"v1": True, "v2": False}), Do("task")), data={"v1": True, "v2": False}),
    Case("multiple-start: either message starts it", (f"{BD}/multiple-start.bpmn",), "main", end="running",
         test="MultipleStartEventTest.testMultipleStartEvent",
         steps=steps(Msg("message_1"), Open(("Any Task",)))),
    Case("multiple-start-parallel: both messages needed", (f"{BD}/multiple-start-parallel.bpmn",), "main",
         end="running", test="ParallelStartEventTest.testParallelStartEvent",
         steps=steps(Msg("message_1"), Open(()), Msg("message_2"), Open(("Any Task",)))),
    Case("start_event_split: message start, the other start cancelled", (f"{BD}/start_event_split.bpmn",), "main",
         test="StartEventSplitTest.test_start_event_split", steps=steps(Msg("message_1"), Do("Any Task"))),
    Case("transaction: normal completion", TRANSACTION, "Main_Process",
         test="TransactionSubprocessTest.testNormalCompletion",
         steps=steps(Do("Get Data", {"value": "asdf"}), Do("Get Quantity", {"quantity": 2})), data={"value": "asdf"}),
    Case("transaction: cancel event", TRANSACTION, "Main_Process",
         test="TransactionSubprocessTest.testSubworkflowCancelEvent",
         steps=steps(Do("Get Data", {"value": ""})), data={"reason": "Cancel"}, absent=("value",)),
    Case("transaction: error without code", TRANSACTION, "Main_Process",
         test="TransactionSubprocessTest.testSubworkflowErrorCodeNone",
         steps=steps(Do("Get Data", {"value": "asdf"}), Do("Get Quantity", {"quantity": 0})),
         data={"reason": "Error None"}),
    Case("uncaught_escalation: an escalation nobody catches ends normally", (f"{BD}/uncaught_escalation.bpmn",),
         "top_level", test="UncaughtEscalationTest.test_uncaught_escalation"),
    # bpmn: data, gateways, call activities, loops
    Case("call_activity: data flows through a call activity", (f"{BD}/call_activity_end_event.bpmn",
                                                               f"{BD}/call_activity_call_activity.bpmn"),
         "Process_8200379", test="CallActivityTest.test_data_persists_through_call_activity",
         data={"pre_var": "some string", "my_var": "World", "my_other_var": "Mike"}, absent=("remove_this_var",)),
    Case("call_activity_with_error: the called script fails", (f"{BD}/call_activity_with_error.bpmn",
                                                              f"{BD}/call_activity_call_activity.bpmn"),
         "ErroringBPMN", end="error", test="CallActivityTest.test_call_activity_errors_include_task_trace"),
    Case("data_object: data objects shared with a sub-process", (f"{BD}/data_object.bpmn",), "Process",
         test="DataObjectReferenceTest.testDataObjectReferences",
         steps=steps(Do("Generate Data", {"obj_1": "hello"}), Do("Task", {"obj_1": "hello again"}),
                     Data({"obj_1": "hello"}), Do("Read Data", {"obj_1": "hello again"}),
                     Data({"obj_1": "hello"}), Do("placeholder", {"obj_1": "hello again"})),
         data={"data_objects": {"obj_1": "hello again"}}),
    Case("data_object_gateway: a gateway reads a data object", (f"{BD}/data_object_gateway.bpmn",), "main",
         test="DataObjectGatewayTest.testExpression", steps=steps(Do("Set Data", {"val": True})), absent=("val",)),
    Case("exclusive_gateway_no_default: no condition holds", (f"{BD}/exclusive_gateway_no_default.bpmn",),
         "NoDefaultGateway", start={"x": 1}, end="error", test="ExclusiveGatewayNoDefaultTest.testRunThroughHappy"),
    Case("inclusive_gateway: default flow only", INCLUSIVE, "main",
         test="InclusiveGatewayTest.testDefaultConditionOnly",
         steps=steps(Do("Set Data", {"v": -1, "u": -1, "w": -1})), data={"v": 0, "u": -1, "w": -1}),
    Case("inclusive_gateway: no path from the second gateway", INCLUSIVE, "main", end="error",
         test="InclusiveGatewayTest.testNoPathFromSecondGateway",
         steps=steps(Do("Set Data", {"v": 0, "u": -1, "w": -1}))),
    Case("io_spec: a call activity's inputs and outputs", (f"{BD}/io_spec*.bpmn",), "parent",
         test="CallActivityDataTest.testCallActivityWithIOSpec",
         data={"in_1": 1, "in_2": "hello world", "unused": True, "out_1": 2, "out_2": "HELLO WORLD"}),
    Case("io_spec_on_task: a task's inputs and outputs", (f"{BD}/io_spec_on_task.bpmn",), "main",
         test="IOSpecOnTaskTest.testIOSpecOnTask",
         steps=steps(Data({"in_1": 1, "in_2": "hello world"}),
                     Do("Any Task", {"out_1": 1, "out_2": "bye", "extra": True})),
         data={"out_1": 1, "out_2": "bye"}, absent=("extra", "in_1", "in_2")),
    Case("lanes: tasks move from lane A to B to C", (f"{BD}/lanes.bpmn",), "lanes", end="running",
         test="SwimLaneTest.testRunThroughHappy",
         steps=steps(Do("Request Feature"), Do("Clarifying Questions?", {"NeedClarification": False}),
                     Do("Implement Feature"), Do("Send to testing"), Open(("SubProcessTask",)))),
    Case("parallel multi-instance: list input", (PMI,), "main", start={"input_data": [1, 2, 3]},
         test="ParallelMultiInstanceNewOutputTest.testList",
         steps=steps(Do("Any Task", {"output_item": 2}), Do("Any Task", {"output_item": 4}),
                     Do("Any Task", {"output_item": 6})),
         data={"input_data": [1, 2, 3], "output_data": [2, 4, 6]}),
    Case("parallel multi-instance: dict input", (PMI,), "main", start={"input_data": {"a": 1, "b": 2, "c": 3}},
         test="ParallelMultiInstanceNewOutputTest.testDict",
         steps=steps(Do("Any Task", {"output_item": 2}), Do("Any Task", {"output_item": 4}),
                     Do("Any Task", {"output_item": 6})),
         data={"output_data": {"a": 2, "b": 4, "c": 6}}),
    Case("parallel multi-instance: cardinality", (f"{BD}/parallel_multiinstance_cardinality.bpmn",), "main",
         test="ParallelMultiInstanceCardinalityTest.testCardinality",
         steps=steps(Do("Any Task", {"output_item": 0}), Do("Any Task", {"output_item": 2}),
                     Do("Any Task", {"output_item": 4})),
         data={"output_data": [0, 2, 4]}),
    Case("sequential multi-instance: list input", (SMI,), "main", start={"input_data": [1, 2, 3]},
         test="SequentialMultiInstanceNewOutputTest.testList",
         steps=steps(Open(("Any Task",)), Do("Any Task", {"output_item": 2}), Do("Any Task", {"output_item": 4}),
                     Do("Any Task", {"output_item": 6})),
         data={"input_data": [1, 2, 3], "output_data": [2, 4, 6]}),
    Case("standard_loop: loop maximum", STD_LOOP, "main", start={"done": False}, validate=False,
         test="StandardLoopTest.testLoopMaximum",
         steps=steps(Do("Any Task", {"0": True}), Do("Any Task", {"1": True}), Do("Any Task", {"2": True}))),
    Case("standard_loop: loop condition", STD_LOOP, "main", start={"done": False}, validate=False,
         test="StandardLoopTest.testLoopCondition", steps=steps(Do("Any Task", {"done": True}))),
    Case("script-start: a script task then a manual task", (f"{BD}/script-start.bpmn",), "Process_cozt5fu",
         test="StartedTaskTest.testStartedState", steps=steps(Do("manual")), data={"x": 1, "y": 2, "z": 3}),
    Case("task_data_size: scripts build 1.5 kB of data", (f"{BD}/task_data_size.bpmn",), "Process_ccz6oq2",
         test="PythonScriptEngineEnvironmentTest.testTaskDataSizeWithDefaultPythonScriptEngine",
         data={"a": A512, "b": B512, "c": C512, "d": A512 + B512 + C512}),
    # camunda
    Case("ExclusiveGatewayIfElseAndDecision: camunda decision table", (f"{CD}/ExclusiveGatewayIfElseAndDecision.bpmn",
                                                                       f"{CD}/dmn/test_integer_decision.dmn"),
         "Process_1", parser="camunda", start={"x": 3}, test="BusinessRuleTaskParserTest.testDmnHappy",
         data={"x": 3, "y": "A"}),
    # spiff
    Case("business_rule_task: spiff decision table", (f"{SD}/business_rule_task.bpmn", f"{SD}/dmn/business_rules.dmn"),
         "Process_bd2e724", parser="spiff", test="BusinessRuleTaskTest.testBusinessRule"),
    Case("correlation: a process talks to instances of another", (f"{SD}/correlation.bpmn",), "proc_1",
         parser="spiff", collaboration="correlation_test", test="CorrelationTest.testMessagePayload",
         steps=steps(Do("Configure Data", {"task_num": 0, "task_name": "subprocess 0", "extra_data": "unused data"}),
                     Do("Configure Data", {"task_num": 1, "task_name": "subprocess 1", "extra_data": "unused data"}),
                     Do("Prepare Response", {"response": "No"}), Do("Prepare Response", {"response": "OK"}))),
    Case("correlation_two_conversations: two outgoing conversations", (f"{SD}/correlation_two_conversations.bpmn",),
         "message_send_process", parser="spiff", end="running", test="DualConversationTest.testTwoCorrelatonKeys"),
    Case("receive_correlations: a message matched by correlation", (f"{SD}/receive_correlations.bpmn",),
         "correlation-test", parser="spiff", test="ReceiveCorrelationTest.testReceiveCorrelations",
         steps=steps(Do("Any Task", {"value_1": "a", "value_2": "b"}),
                     Msg("message", {"msg_value_1": "a", "msg_value_2": "b"}, {"value_1": "a", "value_2": "b"}))),
    Case("default_correlation_key: a receive task with the default key", (f"{SD}/default_correlation_key.bpmn",),
         "main", parser="spiff", test="DefaultCorrelationKeyTest.test_default_key", steps=steps(Msg("B", {"uid": 1}))),
    Case("waiting_event: a receive task in a sub-process", (f"{SD}/waiting_event.bpmn",), "main", parser="spiff",
         test="WaitingEventTest.test_data_persists_through_call_activity",
         steps=steps(Msg("B", {"uid": 1, "data": "asdf"}))),
    Case("signal_event_payload: a signal carries a payload", (f"{SD}/signal_event_payload.bpmn",), "event_test",
         parser="spiff", test="EventPayloadTest.testSignalEvent",
         steps=steps(Do("Set Data", {"v1": 1, "v2": 2, "v3": 3})),
         data={"v1": 1, "v2": 2, "v3": 3, "result": {"r1": 1, "r2": 2}}),
    Case("error_event_payload: an error carries a payload", (f"{SD}/error_event_payload.bpmn",), "event_test",
         parser="spiff", test="EventPayloadTest.testErrorEvent",
         steps=steps(Do("Set Data", {"error": True, "payload": "ERROR!"})), data={"result": "ERROR!"}),
    Case("escalation_event_payload: an escalation carries a payload", (f"{SD}/escalation_event_payload.bpmn",),
         "event_test", parser="spiff", test="EventPayloadTest.testEscalationEvent",
         steps=steps(Do("Set Data", {"escalation": True, "payload": "ERROR!"})), data={"result": "ERROR!"}),
    Case("human_task_metadata: a user task with metadata is offered", (f"{SD}/human_task_metadata.bpmn",),
         "Process_human_task_metadata", parser="spiff", end="running",
         test="HumanTaskMetadataTest.testTaskMetadataValues",
         steps=steps(Open(("User Task with Metadata",)))),
    Case("prescript_postscript: scripts around a task", (f"{SD}/prescript_postscript.bpmn",), "Process_1",
         parser="spiff", start={"a": 1, "b": 2}, test="PrescriptPostsciptTest.testTask",
         steps=steps(Do("Any Task")), data={"a": 1, "b": 2, "c": 12, "z": 6}, absent=("x", "y")),
    Case("prescript_postscript: scripts around a call activity", (f"{SD}/prescript_postscript_*.bpmn",), "parent",
         parser="spiff", start={"old": "hello"}, test="PrescriptPostsciptTest.testCallActivity",
         data={"old": "hello", "new": "HELLO"}),
    Case("spiff_multiinstance: scripts around a multi-instance task", (f"{SD}/spiff_multiinstance.bpmn",), "Process_1",
         parser="spiff", start={"input_data": [1, 2, 3]}, test="MultiInstanceTaskTest.testMultiInstanceTask",
         steps=steps(Do("Any Task", {"output_item": 4}), Do("Any Task", {"output_item": 6}),
                     Do("Any Task", {"output_item": 8})),
         data={"input_data": [2, 3, 4], "output_data": [3, 5, 7]}),
    Case("script_on_mi: scripts on each instance", (f"{SD}/script_on_mi.bpmn",), "Process_1", parser="spiff",
         start={"input_data": [1, 2, 3]}, test="MultiInstanceTaskTest.testMultiInstanceTaskWithInstanceScripts",
         steps=steps(Do("Any Task", {"output_item": 4}), Do("Any Task", {"output_item": 6}),
                     Do("Any Task", {"output_item": 8})),
         data={"input_data": [1, 2, 3], "output_data": [3, 5, 7]}),
    Case("spiff_properties: a user task with form properties", (f"{SD}/spiff_properties.bpmn",), "Process_1",
         parser="spiff", end="running", test="SpiffPropertiesTest.testTask", steps=steps(Open(("Complete Form",)))),
)


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
    if url is None:
        db = Database(f"sqlite:///{folder}/case{n}.sqlite")
    else:
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(db.engine)
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
    from web import create_app

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
    parser.add_argument("--database", help="PostgreSQL URL of a scratch database (its public schema is dropped)")
    parser.add_argument("--no-cache", action="store_true", help="restore every instance from the database")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a case passing in memory fails in Gridloop")
    parser.add_argument("-k", dest="select", help="only cases whose name contains this text")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.select or args.select.lower() in c.name.lower()]
    started = time.perf_counter()
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        for n, case in enumerate(cases):
            outcome = run_case(args.path, case, n, database=args.database, folder=folder, no_cache=args.no_cache)
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
