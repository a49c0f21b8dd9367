"""A process reports a case: ``report_case(report)`` in a script (a patrol's hazard, found in
``hazard_inspection``, becomes a closed-loop case).

Like ``extend_due`` the call only asks; when the command's engine steps are done and the
reporting instance is stored, :func:`apply` opens each case in the same transaction, as
reporting it would (the report checked by the case process's start form, the case's own
process started), with the user whose command ran the script as its reporter. The two are
linked both ways: the case's ``source_instance_id`` and its ``reported_from`` history event
name the instance; the instance's ``case_opened`` event names the case.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from . import forms, org
from .errors import InvalidInput, ProcessError
from .script_requests import ScriptRequests

if TYPE_CHECKING:
    from .command import Command
    from .records import Instance

_REQUESTED = ScriptRequests("case_reports")
collecting = _REQUESTED.collecting  # around a command's engine steps: the cases its scripts ask to open


def report_case(report: Any, process: str | None = None) -> None:
    """Script function: ask to open a case of ``process`` (else of the one case process
    deployed) from ``report`` (a dict shaped as that process's start form: title, category,
    source, grid, location ...)."""
    if not isinstance(report, dict):
        raise ProcessError(f"report_case() takes the report as a dict, not {type(report).__name__}")
    _REQUESTED.ask("report_case", "opens a case",
                   {"process": None if process is None else str(process), "report": copy.deepcopy(report)})


def apply(cmd: Command, inst: Instance, requested: list[dict[str, Any]], actor_id: int | None) -> None:
    """Open the cases asked for; a report its start form refuses fails the command (422)."""
    for request in requested:
        loaded = cmd.case_process(request["process"])
        try:
            report = forms.validate(loaded.start_form, request["report"])
            grid = org.grid_by_code(cmd.session, report["grid"])
        except InvalidInput as exc:
            detail = "; ".join(f"{k}: {v}" for k, v in (exc.fields or {}).items()) or exc.message
            raise ProcessError(f"report_case() in '{inst.key}': the report is refused ({detail})") from None
        case = cmd.open_case(loaded, report, grid, actor_id, source_instance_id=inst.id)
        cmd.event("case_opened", inst, None, actor_id=actor_id,
                  payload={"case_id": case.id, "number": case.number, "key": loaded.key})
        cmd.event("reported_from", case.instance_id, case.id, actor_id=actor_id,
                  payload={"instance_id": inst.id, "key": inst.key})
