"""The JSON text the engine stores (engine/jsontext.py, orjson): what the standard library
wrote, read back the same, including the values orjson writes differently or refuses."""
from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.task import TaskState

from gridloop.engine import jsontext
from gridloop.engine.readmodel import to_json
from gridloop.engine.scripting import make_script_engine
from gridloop.engine.state import dump_state, load_state

from .conftest import MODELS

SHANGHAI = timezone(timedelta(hours=8), "CST")
# What scripts and forms leave in task data: text in any script, keys that are not strings,
# an integer orjson refuses (beyond 64 bits), nesting, and the date and time types scripts use.
PLAIN = {"title": "楼道堆物 blocked stairs", "n": 3, "ratio": 0.25, "none": None, "yes": True,
         "nested": {"list": [1, "two", [3.5]], "1": "one"}, "big": 2 ** 80}
TYPED = {"day": date(2027, 2, 11), "at": datetime(2027, 2, 11, 9, 30, 15, 123456, tzinfo=SHANGHAI),
         "naive": datetime(2027, 2, 11, 9, 30), "span": timedelta(days=2, seconds=5, microseconds=7),
         "zone": SHANGHAI, "counts": {1: "a", 2: "b"}}


def test_plain_values_read_back_as_the_standard_library_wrote_them():
    for value in (PLAIN, [PLAIN, PLAIN], "text", 2 ** 70, {}):
        assert json.loads(jsontext.dumps(value)) == json.loads(json.dumps(value))
    assert json.loads(jsontext.dumps({1: "a", 2.5: "b"})) == {"1": "a", "2.5": "b"}
    assert jsontext.dumps({"big": 2 ** 80}) == '{"big":1208925819614629174706176}'  # refused by orjson, still written


def test_dates_go_to_default_like_any_other_type():
    written = json.loads(jsontext.dumps(TYPED, default=lambda v: f"<{type(v).__name__}>"))
    assert written["day"] == "<date>" and written["at"] == "<datetime>" and written["naive"] == "<datetime>"
    # the read model's own conversion: ISO 8601, durations in seconds
    data = json.loads(to_json({"at": TYPED["at"], "day": TYPED["day"], "span": TYPED["span"]}))
    assert data == {"at": "2027-02-11T09:30:15.123456+08:00", "day": "2027-02-11", "span": 172805.000007}


def test_a_stored_state_restores_every_value_with_its_type():
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(os.path.join(MODELS, "peer_linear5.bpmn"))
    key = next(iter(parser.get_process_ids()))
    spec, subprocesses = parser.get_spec(key), parser.get_subprocess_specs(key)
    engine = make_script_engine({})
    wf = BpmnWorkflow(spec, subprocesses, script_engine=engine)
    wf.do_engine_steps()
    task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data.update(PLAIN, **{k: v for k, v in TYPED.items() if k != "counts"})
    restored = load_state(dump_state(wf), spec, subprocesses, engine)
    data = restored.get_task_from_id(task.id).data
    for name, value in {**PLAIN, **TYPED}.items():
        if name != "counts":
            assert data[name] == value and type(data[name]) is type(value), name
    assert data["day"] == date(2027, 2, 11) and data["at"].utcoffset() == timedelta(hours=8)
