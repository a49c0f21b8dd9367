"""HTTP inbox throughput: requests/s of one user's inbox with N open cases stored, beside a
trivial endpoint of the same app and server, in one run.

The read model is filled in bulk (N process instances, cases and open task rows in grid1's
claimable queue) instead of running N processes: the inbox only ever reads those rows. The
app is served by werkzeug's threaded server in a background thread on 127.0.0.1 and driven
by a few keep-alive ``http.client`` connections; client and server share this process (and
its GIL), so absolute figures are conservative and the ratio is the figure to watch.

    .venv/bin/python bench/http.py [--cases 10000] [--requests 2000] [--clients 4]
"""
from __future__ import annotations

import os
import sys

# This file is called http.py: keep its folder off the import path so "http" is the stdlib's.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import http.client  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")  # the demo users are seeded, not benchmarked

from sqlalchemy import insert, select  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from gridloop.engine import definitions, org  # noqa: E402
from gridloop.engine.db import Database  # noqa: E402
from gridloop.engine.model import Case, OrgUnit, ProcessInstance, Task, User  # noqa: E402
from gridloop.engine.runtime import Runtime  # noqa: E402
from gridloop.engine.seed import seed_demo  # noqa: E402
from gridloop.web import create_app  # noqa: E402

USER, GRID = "grid1", "21010200101001"


def fill(runtime: Runtime, n: int) -> None:
    """N open cases at grid1's grid, each with its Grid handling task waiting to be claimed."""
    now = runtime.clock.now()
    with runtime.db.transaction() as s:
        definition = definitions.find_definition(s, "closed_loop")
        grid = s.scalars(select(OrgUnit).where(OrgUnit.code == GRID)).one()
        s.execute(insert(ProcessInstance), [
            {"id": i, "definition_id": definition.id, "key": "closed_loop", "case_id": i, "status": "running",
             "state": "{}", "revision": 1, "started_at": now} for i in range(1, n + 1)])
        s.execute(insert(Case), [
            {"id": i, "number": f"GL{now:%Y%m%d}{i:06d}", "instance_id": i, "title": f"Case {i}",
             "description": "", "category": "garbage", "urgency": "normal", "source": "patrol", "grid_id": grid.id,
             "org_path": grid.path, "stage": "grid_handling", "status": "open", "reported_at": now,
             "updated_at": now} for i in range(1, n + 1)])
        s.execute(insert(Task), [
            {"id": f"00000000-0000-4000-8000-{i:012d}", "instance_id": i, "case_id": i, "process_key": "closed_loop",
             "element_id": "grid_handling", "name": "Grid handling", "name_zh": "网格处置", "form": "grid_handle.json",
             "stage": "grid_handling", "role": "grid_worker", "org_unit_code": GRID, "org_path": grid.path,
             "status": "open", "priority": 0, "category": "garbage", "urge_count": 0,
             "due_at": now + timedelta(minutes=i % 10_000), "created_at": now} for i in range(1, n + 1)])


def credentials(runtime: Runtime, app) -> tuple[str, str]:
    """A bearer token for the API and a signed-in session cookie for the HTML inbox."""
    with runtime.db.transaction() as s:
        token = org.issue_token(s, s.scalars(select(User).where(User.username == USER)).one(), runtime.clock.now())
    client = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").get_data(True)).group(1)
    client.post("/sign-in", data={"username": USER, "password": "demo", "csrf_token": csrf})
    return token, client.get_cookie("session").value


class KeepAlive(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs):
        pass


def drive(port: int, path: str, headers: dict, total: int, clients: int) -> tuple[float, list[float]]:
    """``total`` GETs of ``path`` over ``clients`` keep-alive connections: (req/s, latencies in ms)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        mine = []
        for _ in range(count):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status}")
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)

    drive_threads = [threading.Thread(target=client, args=(total // clients,)) for _ in range(clients)]
    started = time.perf_counter()
    for t in drive_threads:
        t.start()
    for t in drive_threads:
        t.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Database(f"sqlite:///{tmp}/bench.sqlite"))
        runtime.db.create_schema()
        runtime.deploy()
        with runtime.db.transaction() as s:
            seed_demo(s)
        started = time.perf_counter()
        fill(runtime, args.cases)
        print(f"stored {args.cases} open cases and tasks for {USER} in {time.perf_counter() - started:.1f} s")

        app = create_app({"RUNTIME": runtime, "SECRET_KEY": "bench"})
        token, cookie = credentials(runtime, app)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAlive)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        targets = [("trivial endpoint", "/healthz", {}),
                   ("API inbox", "/api/v1/tasks?scope=claimable", {"Authorization": f"Bearer {token}"}),
                   ("HTML inbox", "/inbox/claimable", {"Cookie": f"session={cookie}"})]
        try:
            results = {}
            for name, path, headers in targets:
                drive(server.server_port, path, headers, 100, args.clients)  # warm up
                rate, latencies = drive(server.server_port, path, headers, args.requests, args.clients)
                results[name] = rate
                q = statistics.quantiles(latencies, n=20)
                print(f"{name:17} {path:32} {rate:8.0f} req/s   p50 {q[9]:6.1f} ms   p95 {q[18]:6.1f} ms")
        finally:
            server.shutdown()
            runtime.db.dispose()
        for name in ("API inbox", "HTML inbox"):
            print(f"{name} / trivial endpoint: {results[name] / results['trivial endpoint']:.2f}")


if __name__ == "__main__":
    main()
