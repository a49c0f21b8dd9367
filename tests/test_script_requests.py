"""Script functions that ask the engine for more than the workflow (report_case, extend_due,
decide_exception) work only while a command collects their requests."""
from __future__ import annotations

import pytest

from gridloop.engine import casereports, deadlines, exceptions
from gridloop.engine.errors import ProcessError


@pytest.mark.parametrize("call, name", [
    (lambda: casereports.report_case({"title": "t"}), "report_case"),
    (lambda: deadlines.extend_due("2026-12-01T09:00:00+08:00"), "extend_due"),
    (lambda: exceptions.decide_exception(True), "decide_exception"),
    (lambda: exceptions.resume_case(), "resume_case"),
])
def test_outside_a_command_asking_is_refused(call, name):
    with pytest.raises(ProcessError, match=rf"{name}\(\) .* only inside a process step"):
        call()


def test_a_command_collects_what_its_scripts_ask_and_nothing_leaks_out():
    with deadlines.collecting() as outer:
        assert deadlines.extend_due("2026-12-01T09:00:00+08:00", "weather") == "2026-12-01T09:00:00+08:00"
        with deadlines.collecting() as inner:  # a nested command (a call activity's) keeps its own
            deadlines.extend_due("2026-12-02T09:00:00+08:00")
        with exceptions.collecting() as decided:
            exceptions.decide_exception(0, "no")
    assert [r["note"] for r in outer] == ["weather"] and len(inner) == 1
    assert decided == [{"approved": False, "note": "no"}]
    with pytest.raises(ProcessError):
        deadlines.extend_due("2026-12-01T09:00:00+08:00")
