"""What keeping scripts on a budget costs, by mechanism, measured in one run.

Every condition, script, timer expression and DMN cell of a model runs under a CPU-time and
memory budget (engine/budget.py). Two ways to enforce one were weighed:

* **guards in the code** (what Gridloop does): the restricted compiler adds a step count to
  loops and calls and size checks before the operations that can make huge values; the
  evaluation stays in the command's thread.
* **a pre-forked worker process** with rlimits (CPU seconds, address space): each evaluation is
  sent to a warm child over a pipe and the answer read back; a runaway child is killed.

For each, the time per evaluation of typical model code (a gateway condition, a DMN-like
cell, a small script with a loop), and of plain RestrictedPython without budget guards as the
baseline. Then how fast each stops ``while True: pass``.

    python bench/script_budget.py [N]
"""
from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import time

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from RestrictedPython import compile_restricted  # noqa: E402

from gridloop.engine import scripting  # noqa: E402
from gridloop.engine.budget import Limits  # noqa: E402
from gridloop.engine.scripting import RestrictedScriptEnvironment, ScriptBudgetError  # noqa: E402

CONDITION = ("eval", "outcome == 'whistle' and department is not None")
CELL = ("eval", "urgency in ('urgent', 'emergency') and escalation_level >= 2")
SCRIPT = ("exec", "total = 0\nfor item in items:\n    total += item['amount']\nlabel = f'{total:>8}'")
DATA = {"outcome": "whistle", "department": "power", "urgency": "urgent", "escalation_level": 2,
        "items": [{"amount": n} for n in range(20)]}


def _plain(mode, source, data):
    """RestrictedPython with the engine's policy minus the budget guards (the baseline)."""
    code = _plain_code(mode, source)
    ns = {**data, **scripting._GUARDS, "_getiter_": iter, "_budget_binop_": None}
    return eval(code, ns) if mode == "eval" else exec(code, ns)


_PLAIN: dict = {}


def _plain_code(mode, source):
    if (mode, source) not in _PLAIN:
        _PLAIN[mode, source] = compile_restricted(source, "<s>", mode)
    return _PLAIN[mode, source]


def _guarded(env, mode, source, data):
    ctx = dict(data)
    return env.evaluate(source, ctx) if mode == "eval" else env.execute(source, ctx)


def _child(conn, limits):
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
    resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))
    env = RestrictedScriptEnvironment(limits=limits)
    while True:
        job = conn.recv()
        if job is None:
            return
        mode, source, data = job
        try:
            conn.send(("ok", _guarded(env, mode, source, data)))
        except Exception as exc:  # noqa: BLE001 - the answer carries it back
            conn.send(("error", repr(exc)))


def _per_call(fn, n) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main(n: int) -> None:
    env = RestrictedScriptEnvironment(limits=Limits())
    parent, child_end = mp.Pipe()
    child = mp.get_context("fork").Process(target=_child, args=(child_end, Limits()), daemon=True)
    child.start()

    def remote(mode, source):
        parent.send((mode, source, DATA))
        return parent.recv()

    print(f"µs per evaluation, {n} each (medians of 3 rounds, interleaved)")
    print(f"{'code':<10} {'plain':>9} {'guarded':>9} {'subprocess':>11}  guarded/plain  subprocess/guarded")
    for label, (mode, source) in (("condition", CONDITION), ("DMN cell", CELL), ("script", SCRIPT)):
        rounds = {"plain": [], "guarded": [], "subprocess": []}
        for _ in range(3):
            rounds["plain"].append(_per_call(lambda mode=mode, source=source: _plain(mode, source, DATA), n))
            rounds["guarded"].append(_per_call(lambda mode=mode, source=source: _guarded(env, mode, source, DATA), n))
            rounds["subprocess"].append(_per_call(lambda mode=mode, source=source: remote(mode, source), n // 5 or 1))
        med = {k: sorted(v)[1] for k, v in rounds.items()}
        print(f"{label:<10} {med['plain']:9.2f} {med['guarded']:9.2f} {med['subprocess']:11.2f}"
              f"  {med['guarded'] / med['plain']:13.2f}  {med['subprocess'] / med['guarded']:18.1f}")
    parent.send(None)
    child.join()

    start = time.perf_counter()
    try:
        RestrictedScriptEnvironment(limits=Limits(cpu_seconds=1.0)).execute("while True:\n    pass", {})
    except ScriptBudgetError as exc:
        print(f"while True: pass stopped after {time.perf_counter() - start:.2f} s wall ({exc})")
    start = time.perf_counter()
    try:
        env.execute("x = 10 ** 10 ** 7", {})
    except ScriptBudgetError as exc:
        print(f"10 ** 10 ** 7 refused after {(time.perf_counter() - start) * 1e3:.2f} ms ({exc})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
