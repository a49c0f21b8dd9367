"""The timeline as an engine read (engine/timeline.py): which sentence each event reads as,
what it names, and its note, whatever the page's language."""
from __future__ import annotations

from gridloop.engine import timeline
from gridloop.engine.seed import seed_demo

TASK = "0f6c5b9e-0000-4000-8000-000000000001"


def event(kind: str, payload: dict | None = None, task_id: str | None = TASK, actor: str | None = None) -> dict:
    return {"type": kind, "at": None, "task_id": task_id, "actor": actor, "actor_name": None,
            "actor_name_en": None, "payload": payload or {}}


def test_each_event_says_which_sentence_it_reads_as():
    history = [event("task_created", {"element": "answer", "name": "Answer", "name_zh": "报到", "role": "dept_liaison"}),
               event("task_claimed", {"element": "answer", "name": "Answer"}, actor="liaison_gas"),
               event("task_completed", {"via": "public_link", "data": {"comment": "fine", "satisfaction": "good"}},
                     task_id=None),
               event("timer_fired", {"name": "Limit 时限", "attached_to": "answer"}),
               event("case_closed", task_id=None)]
    items = timeline.items(history, satisfaction="no_feedback")
    assert [i["key"] for i in items] == ["task_created", "task_reported_in", "feedback_by_link", "timer_fired",
                                         "case_closed"]
    claimed = items[1]
    assert claimed["task"] == {"name": "Answer", "name_zh": "报到", "element": "answer"}  # from task_created
    assert claimed["actor"]["username"] == "liaison_gas" and items[0]["actor"] is None  # None: the system
    assert items[2]["note"] == "fine" and items[2]["satisfaction"] == "good"
    assert items[3]["task"]["name_zh"] == "报到" and items[3]["element"] == "answer"
    assert items[4]["satisfaction"] == "no_feedback"  # the case's, when the payload carries none


def test_names_of_what_payloads_code_and_due_moves():
    history = [event("escalated", {"consult_unit": "210102", "escalation_level": "street"}, task_id=None),
               event("task_assigned", {"assignee": "grid1"}), event("task_assigned", {"assignee": "gone"}),
               event("due_extended", {"from": "2026-03-01T00:00:00+00:00", "to": "2026-03-05T00:00:00+00:00"}),
               event("timer_failed", {"error": "boom", "reason": "not this"}, task_id=None)]
    items = timeline.items(history, units={"210102": ("华山街道", "Huashan Street")},
                           users={"grid1": ("网格员1号", "Grid worker 1")})
    assert items[0]["unit"] == ("华山街道", "Huashan Street") and items[0]["values"]["escalation_level"] == "street"
    assert items[1]["assignee"] == ("网格员1号", "Grid worker 1") and items[2]["assignee"] == ("gone", None)
    assert items[3]["moves_due"] and not items[0]["moves_due"]
    assert items[4]["note"] == "boom"  # a failed timer's note is its error


def test_read_names_them_from_the_database(runtime):
    with runtime.db.transaction() as s:
        seed_demo(s)
    history = [event("task_assigned", {"assignee": "grid1"}), event("handed_down", {"consult_unit": "nowhere"})]
    with runtime.db.reading() as s:
        items = timeline.read(s, history)
    assert items[0]["assignee"][1] and items[0]["assignee"][0] != "grid1"
    assert items[1]["unit"] == ("nowhere", None)
