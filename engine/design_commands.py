"""The commands on process definitions: deploy files (the CLI, seeds and tests as the system;
a designer through ``deploy_files``, checked as she is), check them without deploying, try a
draft in memory. Moving running instances between versions is ``engine/migration.py``.

Each is a function taking the runtime as ``command.Engine``; ``Runtime`` has a one-line
method for each, so callers hold one object.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import definitions, groups, lint, org, policy, start_commands, timers, trial
from .clock import FrozenClock
from .scripting import make_script_engine
from .workcalendar import parse_limit

if TYPE_CHECKING:
    from .command import Engine


def deploy(rt: Engine, sources: dict[str, bytes], *, by: str | None = None,
           lane_map: dict[str, str] | None = None) -> list[definitions.Deployed]:
    """Deploy; ``lane_map`` (lane -> role or group) overrides the processes' own laneMap.
    Each result warns of lanes no active user staffs and of unknown starters."""
    with rt.command() as cmd:
        s = cmd.session
        return definitions.deploy(s, sources, by=by, now=rt.clock.now(), lane_map=lane_map,
                                  check=lambda compiled: groups.deploy_warnings(s, compiled))


def check_files(rt: Engine, actor: org.Actor | int, sources: dict[str, bytes],
                lane_map: dict[str, str] | None = None) -> list[lint.Problem]:
    """What deploy would refuse, and the lint rules' findings (designers only)."""
    with rt.db.reading() as s:
        policy.check_designer(org.actor(s, actor))
        return lint.check(sources, s, lane_map)


def deploy_files(rt: Engine, actor: org.Actor | int, sources: dict[str, bytes],
                 lane_map: dict[str, str] | None = None) -> list[definitions.Deployed]:
    """A designer deploys files as the CLI does (same checks, same refusals)."""
    with rt.db.reading() as s:
        who = org.actor(s, actor)
        policy.check_designer(who)
    return deploy(rt, sources, by=who.username, lane_map=lane_map)


def try_draft(rt: Engine, actor: org.Actor | int, sources: dict[str, bytes], lane_map: dict[str, str] | None,
              start: dict[str, Any] | None, steps: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
    """Run a draft in memory as far as ``steps`` go (designers only); see :mod:`engine.trial`."""
    clock = FrozenClock(rt.clock.now())  # the trial's own time: it passes only by wait steps
    with rt.db.reading() as s:
        who = org.actor(s, actor)

    def case_data(report: dict[str, Any]) -> dict[str, Any]:  # a case process starts as reporting a case would
        with rt.db.reading() as s:
            grid = org.grid_by_code(s, report["grid"])
            case = start_commands.new_case(report, grid, who.id, clock.now())
            case.number = f"GL{clock.now():%Y%m%d}TRIAL"
            return start_commands.case_data(case, grid)

    def wait(limit: str) -> None:
        clock.set(rt.calendar.add(clock.now(), parse_limit(limit)))

    helpers = {"now": clock.now, "deadline": lambda limit, start=None: rt.calendar.add(
        start or clock.now(), parse_limit(limit)).isoformat(),
               "report_case": lambda report, process=None: None}  # a trial's cases go nowhere
    with timers.engine_clock(clock):  # timers compare with the trial's clock
        return trial.run(who, sources, lane_map, start, steps, make_script_engine(helpers), key, case_data, wait)
