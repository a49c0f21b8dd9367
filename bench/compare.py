"""Process CPU time of this tree against another checkout (a reference commit), fairly.

The machine is shared and noisy, so wall clock says little: each measurement runs in a fresh
process with that tree's own virtualenv and code, counts ``time.process_time()`` only, and the
trees alternate round by round; the table shows medians. ``bench/engine.py``'s persisted case
runs on the reference tree's workflows in both trees (the closed loop grew steps since), so the
same process is measured, and once more on this tree's own workflows. ``bench/peer.py``'s
models (linear5, loop) are the same in both trees.

    git worktree add --detach ../base cdeafaa && (cd ../base && make install)
    python bench/compare.py ../base [--rounds 5] [--cases 30] [--instances 40] [--loop 150] [--only engine]
    python bench/compare.py ../base --instructions

``--instructions`` counts CPU instructions instead, which the machine's load does not change:
each tree runs a persisted case (reference workflows) and a linear5 instance under valgrind's
cachegrind twice, with 4 and 24 of them after the same warm-up; the difference over 20 is
one case's or one instance's instructions (startup and warm-up cancel out). Slow (minutes).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASE_PROCESS = '<spiffworkflow:property name="caseProcess" value="true" />'
ADOPTED = ("starters", "caseVariables", "stageTimestamps", "stageTimestampsLatest", "claimTimestamps", "feedbackStage",
           "feedbackFields")


def child(tree: str, what: str, n: int, workflows: str | None, loop_n: int) -> dict:
    """Runs inside ``tree``'s virtualenv: one warmed-up measurement with that tree's code."""
    os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")
    os.environ.setdefault("GRIDLOOP_PBKDF2_ROUNDS", "1000")  # the older trees' name for the same
    sys.path[0] = tree
    Database = _engine("db").Database

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/compare.sqlite")
        db.create_schema()
        if what == "peer":
            result = peer(db, n, loop_n)
        else:
            result = engine_case(db, n, workflows, in_memory=what == "engine")
        db.dispose()
    return result


def _engine(module: str):
    """A module of the tree's engine: ``gridloop.engine`` since the packaging, top-level
    ``engine`` in older trees such as the reference."""
    try:
        return importlib.import_module(f"gridloop.engine.{module}")
    except ModuleNotFoundError as missing:
        if missing.name != "gridloop":
            raise
        return importlib.import_module(f"engine.{module}")


def engine_case(db, n: int, workflows: str | None, in_memory: bool = True) -> dict:
    from bench import engine as bench
    Runtime, seed_demo = _engine("runtime").Runtime, _engine("seed").seed_demo

    runtime = Runtime(db)
    runtime.deploy([workflows] if workflows else None)
    with db.transaction() as s:
        seed_demo(s)
    bench.persisted(3, runtime)  # warm-up: caches, compiled expressions
    bench.in_memory(3, runtime)
    start = time.process_time()
    bench.persisted(n, runtime)
    persisted = time.process_time() - start
    if not in_memory:  # counting instructions: the persisted cases only
        return {"persisted ms/case": persisted / n * 1000}
    start = time.process_time()
    bench.in_memory(n, runtime)
    memory = time.process_time() - start
    return {"persisted ms/case": persisted / n * 1000, "in-memory ms/case": memory / n * 1000}


def peer(db, n: int, loop_n: int) -> dict:
    from bench.peer import Client

    client = Client(db)
    for _ in range(3):  # warm-up
        run_instance(client, "Process_lin5")
    start = time.process_time()
    for _ in range(n):
        run_instance(client, "Process_lin5")
    linear = time.process_time() - start
    _instance, task = client.start("Process_loop")
    start = time.process_time()
    for _ in range(loop_n):
        _ms, task = client.submit(task)
    loop = time.process_time() - start
    return {"linear5 ms/instance": linear / n * 1000, "loop ms/submit": loop / max(loop_n, 1) * 1000}


def run_instance(client, key: str) -> None:
    _instance, task = client.start(key)
    while task is not None:
        _ms, task = client.submit(task)


def measure(tree: str, what: str, n: int, workflows: str | None, loop_n: int) -> dict:
    python = os.path.join(tree, ".venv", "bin", "python")
    args = [python, os.path.abspath(__file__), "--child", tree, what, str(n), workflows or "", str(loop_n)]
    out = subprocess.run(args, cwd=tree, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def instructions(tree: str, what: str, n: int, workflows: str | None) -> int:
    """Instructions of one child run under cachegrind (no cache simulation: a count only)."""
    python = os.path.join(tree, ".venv", "bin", "python")
    args = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--branch-sim=no", "--cachegrind-out-file=/dev/null",
            python, os.path.abspath(__file__), "--child", tree, what, str(n), workflows or "", "0"]
    err = subprocess.run(args, cwd=tree, check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "0"}).stderr
    return int(re.search(r"I\s+refs:\s+([\d,]+)", err).group(1).replace(",", ""))


def count(base: str, base_flows: str, few: int = 4, many: int = 24) -> None:
    print(f"instructions per unit (cachegrind: {many} minus {few} after the same warm-up); reference {base}, "
          f"this tree {HERE}")
    print(f"{'':48s} {'reference':>10s} {'this tree':>10s} {'change':>8s}")
    for label, what in (("engine, reference workflows: persisted M/case", "engine-persisted"),
                        ("peer models: linear5 M/instance", "peer")):
        per = [(instructions(tree, what, many, base_flows) - instructions(tree, what, few, base_flows))
               / (many - few) / 1e6 for tree in (base, HERE)]
        print(f"{label:48s} {per[0]:10.2f} {per[1]:10.2f} {(per[1] / per[0] - 1) * 100:+7.1f}%")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        tree, what, n, workflows, loop_n = sys.argv[2:7]
        print(json.dumps(child(tree, what, int(n), workflows or None, int(loop_n))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the reference checkout, with its own .venv (make install)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians are shown")
    parser.add_argument("--cases", type=int, default=30, help="bench/engine.py cases per measurement")
    parser.add_argument("--instances", type=int, default=40, help="bench/peer.py linear5 instances per measurement")
    parser.add_argument("--loop", type=int, default=150, help="bench/peer.py loop submits per measurement")
    parser.add_argument("--only", choices=("engine", "peer"), help="measure one of the two benchmarks")
    parser.add_argument("--instructions", action="store_true", help="count instructions under cachegrind instead")
    args = parser.parse_args()
    base = os.path.abspath(args.base)
    with tempfile.TemporaryDirectory() as tmp:
        if args.instructions:
            count(base, reference_workflows(base, tmp))
        else:
            compare(args, base, reference_workflows(base, tmp))


def reference_workflows(base: str, tmp: str) -> str:
    """The reference tree's workflows, with the process properties this tree's engine needs to
    run its closed_loop as the older engine did, copied from this tree's closed_loop: who may
    report a case (``starters``) and the case projection (engine/caseprojection.py). The older
    engine ignores them."""
    flows = shutil.copytree(os.path.join(base, "workflows"), os.path.join(tmp, "workflows"))
    path = os.path.join(flows, "closed_loop.bpmn")
    with open(path, encoding="utf-8") as f:
        xml = f.read()
    with open(os.path.join(HERE, "workflows", "closed_loop.bpmn"), encoding="utf-8") as f:
        own = f.read()
    adopted = [line.strip() for line in own.splitlines()
               if any(f'<spiffworkflow:property name="{name}" ' in line for name in ADOPTED)]
    missing = [line for line in adopted if line.split('" value=', 1)[0] not in xml]
    if missing:
        xml = xml.replace(CASE_PROCESS, "\n        ".join([CASE_PROCESS, *missing]), 1)
        with open(path, "w", encoding="utf-8") as f:
            f.write(xml)
    return flows


def compare(args: argparse.Namespace, base: str, base_flows: str) -> None:
    rows = [  # label, (tree, what, workflows)
        ("engine, reference workflows", [(base, "engine", base_flows), (HERE, "engine", base_flows)]),
        ("engine, own workflows", [(base, "engine", base_flows), (HERE, "engine", None)]),
        ("peer models", [(base, "peer", None), (HERE, "peer", None)]),
    ]
    rows = [(label, pair) for label, pair in rows if args.only in (None, pair[0][1])]
    jobs = {(tree, what, flows) for _label, pair in rows for tree, what, flows in pair}
    samples: dict[tuple, list[dict]] = {job: [] for job in jobs}
    for i in range(args.rounds):
        order = sorted(jobs, key=lambda job: (job[0] == base) == (i % 2 == 0))  # alternate who goes first
        for tree, what, flows in order:
            n = args.cases if what == "engine" else args.instances
            samples[(tree, what, flows)].append(measure(tree, what, n, flows, args.loop))
        print(f"round {i + 1} of {args.rounds} done", file=sys.stderr)
    print(f"process CPU time, median of {args.rounds} alternating rounds; reference {base}, this tree {HERE}")
    print(f"{'':48s} {'reference':>10s} {'this tree':>10s} {'change':>8s}")
    for label, (ref_job, now_job) in rows:
        for key in samples[ref_job][0]:
            ref = statistics.median(s[key] for s in samples[ref_job])
            now = statistics.median(s[key] for s in samples[now_job])
            print(f"{label + ': ' + key:48s} {ref:10.2f} {now:10.2f} {(now / ref - 1) * 100:+7.1f}%")


if __name__ == "__main__":
    main()
