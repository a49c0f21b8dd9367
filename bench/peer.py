"""The peer models through Gridloop's REST API, measured the way the peer was measured.

Flask's in-process test client, one client, sequential requests, on SQLite and (when
reachable) PostgreSQL. Prints the peer's figures (../shared/bench-models/README.md) beside
ours.

    python bench/peer.py [--instances 200] [--rounds 3] [--loop 500] [--pg URL | --no-pg]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sqlalchemy.exc import OperationalError  # noqa: E402

from gridloop.engine import org  # noqa: E402
from gridloop.engine.db import Database  # noqa: E402
from gridloop.engine.runtime import Runtime  # noqa: E402
from gridloop.web import create_app  # noqa: E402

from bench.scratch_db import scratch_database  # noqa: E402

MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "models")
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"  # the server; the run makes its own database
PEER = {  # SpiffArena d7678cf, same kind of machine: (SQLite, PostgreSQL)
    "linear_inst_s": (4.91, 3.38), "linear_median": (32.0, 47.4), "linear_p95": (37.7, None),
    "loop": {"1-20": (42.9, 50.6), "~100": (71.3, 77.0), "~200": (119.1, 120.1), "~300": (152.9, 177.3),
             "~500": (391.0, 418.5)},
}
LOOP_WINDOWS = {"1-20": range(1, 21), "~100": range(91, 111), "~200": range(191, 211),
                "~300": range(291, 311), "~500": range(481, 501), "~1000": range(981, 1001)}


class Client:
    """A signed-in API client over Flask's test client."""

    def __init__(self, db: Database):
        runtime = Runtime(db)
        runtime.deploy([MODELS])
        with db.transaction() as s:
            org.add_user(s, "bench", "pw", ["designer"])
        self.http = create_app({"TESTING": True, "RUNTIME": runtime}).test_client()
        token = self.post("/api/v1/auth/token", {"username": "bench", "password": "pw"})["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, url: str, body: dict) -> dict:
        response = self.http.post(url, json=body, headers=getattr(self, "headers", {}))
        assert response.status_code in (200, 201), (url, response.status_code, response.get_json())
        return response.get_json()

    def start(self, key: str) -> tuple[int, str | None]:
        instance = self.post("/api/v1/process-instances", {"key": key, "data": {}})
        return instance["id"], _first(instance["open_tasks"])

    def submit(self, task_id: str) -> tuple[float, str | None]:
        """Complete a task; returns the request's ms and the instance's next open task."""
        start = time.perf_counter()
        result = self.post(f"/api/v1/tasks/{task_id}/complete", {"data": {}})
        elapsed = (time.perf_counter() - start) * 1000
        return elapsed, _first(result.get("next_tasks", []))


def _first(tasks: list[dict]) -> str | None:
    return tasks[0]["id"] if tasks else None


def linear(client: Client, n: int, rounds: int) -> dict:
    """``rounds`` runs of n instances end to end: the median run's instances/s (the machine is
    shared, so one run can be unlucky either way) and ms per submit over all runs."""
    submits, rates = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            _instance, task = client.start("Process_lin5")
            steps = 0
            while task is not None:
                ms, task = client.submit(task)
                submits.append(ms)
                steps += 1
            assert steps == 5, f"linear5 ran {steps} steps"
        rates.append(n / (time.perf_counter() - start))
    return {"inst_s": statistics.median(rates), "rates": rates, "median": statistics.median(submits),
            "p95": statistics.quantiles(submits, n=20)[18]}


def loop(client: Client, key: str, iterations: int) -> dict[int, float]:
    _instance, task = client.start(key)
    times = {}
    for i in range(1, iterations + 1):
        assert task is not None, f"{key} stopped at iteration {i}"
        times[i], task = client.submit(task)
    assert task is None, f"{key} did not end after {iterations} iterations"
    return times


def window(times: dict[int, float], name: str) -> float | None:
    values = [times[i] for i in LOOP_WINDOWS[name] if i in times]
    return statistics.median(values) if values else None


def run(db: Database, label: str, peer_col: int, instances: int, rounds: int, loop_n: int) -> None:
    client = Client(db)
    lin = linear(client, instances, rounds)
    times = loop(client, "Process_loop", 500)
    long = loop(client, "Process_loop1000", 1000) if loop_n >= 1000 else {}
    peer_inst, peer_med, peer_p95 = (PEER["linear_inst_s"][peer_col], PEER["linear_median"][peer_col],
                                     PEER["linear_p95"][peer_col])
    print(f"\n== {label} ==")
    print(f"peer_linear5, {instances} instances   Gridloop      peer     ratio")
    print(f"  instances/s                 {lin['inst_s']:8.1f} {peer_inst:9.2f}  {lin['inst_s'] / peer_inst:6.1f}x"
          f"   (median of {rounds} runs: {', '.join(f'{r:.1f}' for r in lin['rates'])})")
    print(f"  median ms per submit        {lin['median']:8.2f} {peer_med:9.1f}  {lin['median'] / peer_med:6.3f}")
    if peer_p95:
        print(f"  p95 ms per submit           {lin['p95']:8.2f} {peer_p95:9.1f}  {lin['p95'] / peer_p95:6.3f}")
    else:
        print(f"  p95 ms per submit           {lin['p95']:8.2f}       n/a")
    print("peer_loop, median ms per submit   Gridloop      peer" + ("   (loop to 1000)" if long else ""))
    for name in ("1-20", "~100", "~200", "~300", "~500"):
        peer_ms = PEER["loop"][name][peer_col]
        extra = f"   {window(long, name):8.2f}" if long else ""
        print(f"  iterations {name:6s}             {window(times, name):8.2f} {peer_ms:9.1f}{extra}")
    if long:
        print(f"  iterations ~1000                    —        fails{'':3s}{window(long, '~1000'):8.2f}")
    ratio = window(times, "~500") / window(times, "1-20")
    peer_ratio = PEER['loop']['~500'][peer_col] / PEER['loop']['1-20'][peer_col]
    print(f"  ratio ~500 vs 1-20                {ratio:6.2f}      {peer_ratio:.2f}"
          + (f"   (~1000 vs 1-20: {window(long, '~1000') / window(long, '1-20'):.2f})" if long else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="runs of --instances; the median run counts")
    parser.add_argument("--loop", type=int, default=1000, help="500, or 1000 to also run the 1000-iteration model")
    parser.add_argument("--pg", default=os.environ.get("GRIDLOOP_BENCH_DATABASE_URL", PG_DEFAULT),
                        help="a PostgreSQL server (any database on it); the run creates and drops its own")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/peer.sqlite")
        db.create_schema()
        run(db, "SQLite", 0, args.instances, args.rounds, args.loop)
        db.dispose()
    if args.no_pg:
        return
    try:
        with scratch_database(args.pg, "gridloop_bench_peer") as url:
            db = Database(url)
            db.create_schema()
            run(db, "PostgreSQL", 1, args.instances, args.rounds, args.loop)
            db.dispose()
    except OperationalError as exc:
        print(f"\n(PostgreSQL at {args.pg} not reachable: {exc.__class__.__name__}; skipped)")


if __name__ == "__main__":
    main()
