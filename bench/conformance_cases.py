"""The conformance run's case table: one entry per SpiffWorkflow test scenario, with the
model files it loads, the process it starts, the steps its test takes (tasks completed with
the test's data, messages, time passing) and what the test asserts at the end.

Written from reading SpiffWorkflow's test modules (tests/SpiffWorkflow/{bpmn,spiff,camunda}
at 8c6e00f); each case names the test it follows. bench/conformance.py drives them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

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
         steps=steps(Open(("Work Done?",)), Wait(1), Open(("Work Done?", "Delay Reason")),
                     Do("Delay Reason", {"delay_reason": "Just Because"}),
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
