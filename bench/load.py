"""Load proof: gunicorn workers on PostgreSQL, concurrent clients walking whole closed-loop
cases over real HTTP, one worker killed with SIGKILL half-way; then the database is checked
for lost, duplicated and stuck work.

Creates its own database (``--database`` on the server of ``--pg``; it refuses one that
already exists and drops only the one it created), migrates it, deploys the workflows and
seeds the demo users, and starts ``gunicorn --workers 4 --threads 8 'web:create_app()'`` on
a free loopback port (the production set-up of docs/scaling.md). Each client reports cases
as the hotline agent and walks every one to closure through the REST API as the right demo
user: acceptance, the grid worker whistles the department, the department's liaison finds
it in her inbox, claims (reports in) and resolves it, the grid worker verifies it, the
agent records the reporter's satisfied feedback. Each step is what a user's screen does:
inbox, task with its form, claim, complete. A client whose request failed (the killed
worker's connections drop) reads the case and carries on from where it really is.

Prints requests/s, latency percentiles, errors by kind, cases closed, and the invariant
check; exits 1 if an invariant is violated.

    .venv/bin/python bench/load.py [--seconds 60] [--clients 32] [--workers 4] [--threads 8]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--database gridloop_load] [--keep]
"""
from __future__ import annotations

import os
import sys

# This folder holds http.py: keep it off the import path so "http" is the stdlib's.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from urllib.parse import quote  # noqa: E402

os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")  # the demo users are seeded, not benchmarked

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from gridloop.engine.db import Database  # noqa: E402
from gridloop.engine.runtime import Runtime  # noqa: E402
from gridloop.engine.seed import DEPARTMENTS, seed_demo  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HEPING_GRIDS = 12  # grid1..grid12 lie in 和平区, where the department liaisons work
RESOLVED = {"outcome": "resolved", "resolution": "已现场处置 Handled on site"}
SATISFIED = {"contacted": True, "resolved": True, "satisfaction": "satisfied"}
# stage -> (who acts, the form data, the next stage)
STEPS = {
    "acceptance": ("acceptor", {"outcome": "accept"}, "grid_handling"),
    "grid_handling": ("grid", None, "department_handling"),  # whistles the client's department
    "department_handling": ("liaison", RESOLVED, "verification"),
    "verification": ("grid", {"outcome": "passed"}, "feedback"),
    "feedback": ("acceptor", SATISFIED, None),
}
# Checked in the database after the run; each query returns the offending rows.
INVARIANTS = {
    "task completed twice":
        "SELECT task_id FROM event WHERE type = 'task_completed' GROUP BY task_id HAVING count(*) > 1",
    "completed task and completion events disagree":
        "SELECT t.id FROM task t FULL JOIN (SELECT DISTINCT task_id FROM event WHERE type = 'task_completed') e "
        "ON e.task_id = t.id WHERE t.status IS DISTINCT FROM 'completed' AND e.task_id IS NOT NULL "
        "OR t.status = 'completed' AND e.task_id IS NULL",
    "two open tasks for one element of an instance":
        "SELECT instance_id, element_id FROM task WHERE status IN ('open', 'claimed') "
        "GROUP BY instance_id, element_id HAVING count(*) > 1",
    "case without its instance":
        'SELECT c.id FROM "case" c LEFT JOIN process_instance p ON p.id = c.instance_id WHERE p.id IS NULL',
    "running instance waiting for nothing (no open task, timer or message wait)":
        "SELECT p.id FROM process_instance p WHERE p.status = 'running' AND p.next_timer_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM task t WHERE t.instance_id = p.id AND t.status IN ('open', 'claimed')) "
        "AND NOT EXISTS (SELECT 1 FROM message_wait m WHERE m.instance_id = p.id)",
    "open case with no open task (stuck: its process waits for nobody)":
        "SELECT c.id FROM \"case\" c WHERE c.status = 'open' "
        "AND NOT EXISTS (SELECT 1 FROM task t WHERE t.case_id = c.id AND t.status IN ('open', 'claimed'))",
    "open incident (an instance that cannot go on by itself)": "SELECT id, kind FROM incident WHERE status = 'open'",
    "instance in error": "SELECT id FROM process_instance WHERE status = 'error'",
    "case status and instance status disagree":
        "SELECT c.id FROM \"case\" c JOIN process_instance p ON p.id = c.instance_id "
        "WHERE (c.status = 'open') <> (p.status = 'running')",
    "open task of a finished case":
        "SELECT t.id FROM task t JOIN \"case\" c ON c.id = t.case_id "
        "WHERE t.status IN ('open', 'claimed') AND c.status <> 'open'",
    "case reported twice": 'SELECT title FROM "case" GROUP BY title HAVING count(*) > 1',
}


class Failed(Exception):
    """A request that did not do what it should; the client finds out where the case is."""


class Stats:
    """Latencies of answered requests and failures by kind, shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {"command": [], "read": []}
        self.errors: Counter = Counter()
        self.connection_errors_at: list[float] = []
        self.samples: dict[str, str] = {}
        self.anomalies: Counter = Counter()

    def ok(self, kind: str, ms: float) -> None:
        with self.lock:
            self.latencies[kind].append(ms)

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            self.samples.setdefault(kind, detail)
            if kind == "connection":
                self.connection_errors_at.append(time.monotonic())


class Client(threading.Thread):
    """One user agent: keep-alive connection, reports and walks cases until the deadline."""

    def __init__(self, n: int, port: int, tokens: dict, users: dict, department: str, category: str, grid: str,
                 stats: Stats, stop: threading.Event):
        super().__init__(daemon=True, name=f"client{n}")
        self.n, self.port, self.tokens, self.users = n, port, tokens, users
        self.department, self.category, self.grid, self.stats, self.stop = department, category, grid, stats, stop
        self.deadline = 0.0  # set when the run starts
        self.conn: http.client.HTTPConnection | None = None
        self.reported: list[int] = []
        self.closed: list[int] = []
        self.seq = 0

    def over(self) -> bool:
        return self.stop.is_set() or time.monotonic() >= self.deadline

    def call(self, method: str, path: str, who: str, body: dict | None = None, expect: int = 200):
        """One request as ``who`` ('acceptor', 'grid', 'liaison', 'supervisor'); its JSON
        answer, or Failed (counted by kind)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.tokens[self.users[who]]}", "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            self.conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
                              headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = None  # a fresh connection for the next request
            kind = "timeout" if isinstance(exc, TimeoutError) else "connection"
            self.stats.error(kind, f"{method} {path}: {exc.__class__.__name__}: {exc}")
            raise Failed(kind) from None
        ms = (time.perf_counter() - started) * 1000
        if response.status != expect:
            kind = "5xx" if response.status >= 500 else "409" if response.status == 409 else "other 4xx"
            self.stats.error(kind, f"{method} {path} as {self.users[who]}: {response.status} {payload[:300]!r}")
            raise Failed(kind)
        self.stats.ok("read" if method == "GET" else "command", ms)
        return json.loads(payload) if payload else None

    def run(self) -> None:
        while not self.over():
            case = self.report()
            if case is not None and self.walk(*case):
                self.closed.append(case[0])
        if self.conn is not None:
            self.conn.close()

    def report(self) -> tuple[int, str] | None:
        """Report a case as the hotline agent. If the answer was lost, look for it by its
        (unique) title before reporting it again, so a lost answer never makes a twin."""
        self.seq += 1
        title = f"load test c{self.n:02d}-{self.seq:05d}"
        body = {"title": title, "description": "负载测试 load test", "category": self.category, "source": "hotline",
                "urgency": "normal", "grid": self.grid, "reporter": {"name": "李先生", "phone": "13900000000"},
                "location": {"address": "沈阳市和平区", "lat": 41.79, "lon": 123.41}}
        while not self.over():
            try:
                case = self.call("POST", "/cases", "acceptor", body, expect=201)
                self.reported.append(case["id"])
                return case["id"], case["stage"]
            except Failed:
                time.sleep(1)  # by now the server has committed or rolled back
            try:
                found = [c for c in self.call("GET", f"/cases?q={quote(title)}", "supervisor")["items"]
                         if c["title"] == title]
            except Failed:
                continue
            if found:
                self.reported.append(found[0]["id"])
                return found[0]["id"], found[0]["stage"]
        return None

    def walk(self, case_id: int, stage: str | None) -> bool:
        """Walk the case to closure as its users would; True once it is closed."""
        task = None
        while not self.over():
            try:
                if stage is None:  # after a failure: where is the case really?
                    case = self.call("GET", f"/cases/{case_id}", "supervisor")
                    if case["status"] == "closed":
                        return True
                    if len(case["open_tasks"]) != 1:
                        self.stats.anomalies[f"case with {len(case['open_tasks'])} open tasks"] += 1
                        time.sleep(0.5)
                        continue
                    task = case["open_tasks"][0]
                    stage = task["stage"]
                who, data, then = STEPS[stage]
                if task is None:  # what her inbox shows, as her screen asks for it
                    inbox = self.call("GET", "/tasks?scope=claimable&per_page=200", who)["items"]
                    task = next((t for t in inbox if t["case_id"] == case_id), None)
                    if task is None:
                        self.stats.anomalies[f"{stage} task not in {self.users[who]}'s inbox"] += 1
                        stage = None
                        continue
                self.call("GET", f"/tasks/{task['id']}", who)
                if task["status"] == "open":
                    self.call("POST", f"/tasks/{task['id']}/claim", who)
                data = data or {"outcome": "whistle", "department": self.department}
                self.call("POST", f"/tasks/{task['id']}/complete", who, {"data": data})
                task, stage = None, then
                if stage is None:
                    if self.call("GET", f"/cases/{case_id}", who)["status"] == "closed":
                        return True
                    self.stats.anomalies["case not closed after its feedback"] += 1
            except Failed:
                time.sleep(0.5)
                task, stage = None, None
        return False


class Gunicorn:
    """``gunicorn --workers N --threads T 'web:create_app()'`` on a free loopback port."""

    def __init__(self, url: str, workers: int, threads: int, log: str):
        env = dict(os.environ, GRIDLOOP_DATABASE_URL=url, GRIDLOOP_SECRET_KEY="load-bench")
        self.log = log
        self.workers = workers
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
                 "--bind", "127.0.0.1:0", "--keep-alive", "30", "--error-logfile", "-", "web:create_app()"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.port = self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log}")
            with open(self.log) as fh:
                found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", fh.read())
            if found and len(self.children()) == self.workers:
                port = int(found.group(1))
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        return port
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {timeout} s; see {self.log}")

    def children(self) -> list[int]:
        """The worker processes' ids (children of the gunicorn master, from /proc)."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == self.proc.pid:
                    pids.append(int(entry))
        return sorted(pids)

    def kill_one(self) -> tuple[int, int | None, float]:
        """SIGKILL one worker; (its pid, the replacement's pid, seconds until it was forked)."""
        before = self.children()
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        started = time.monotonic()
        while time.monotonic() - started < 30:
            new = set(self.children()) - set(before)
            if new:
                return victim, new.pop(), time.monotonic() - started
            time.sleep(0.05)
        return victim, None, time.monotonic() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: workers finish their requests
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (None if it is gone or not ours to read)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds the gunicorn workers and this database's PostgreSQL backends spend during
    the run (from /proc: PostgreSQL must run on this machine). Sampled at the start, just
    before the kill and at the end; each process counts from its first to its last sample."""

    def __init__(self, server: Gunicorn, admin_url: str, database: str):
        self.server, self.database = server, database
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.clients_started = time.process_time()
        self.sample(baseline=True)

    def sample(self, baseline: bool = False) -> None:
        with self.admin.connect() as conn:
            backends = conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = :n"),
                                    {"n": self.database}).all()
        for key in [("gunicorn", p) for p in self.server.children()] + [("postgres", p) for p in backends]:
            used = cpu_seconds(key[1])
            if used is not None:
                self.first.setdefault(key, used if baseline else 0.0)
                self.last[key] = used

    def totals(self) -> dict[str, float]:
        self.admin.dispose()
        totals = {"gunicorn": 0.0, "postgres": 0.0, "clients": time.process_time() - self.clients_started}
        for key, used in self.last.items():
            totals[key[0]] += used - self.first[key]
        return totals


def create_database(admin_url: str, name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        sys.exit(f"--database {name!r}: use lower-case letters, digits and _")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                sys.exit(f"database {name} already exists; this benchmark only drops databases it created: "
                         "drop it yourself or pass --database")
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def prepare(url: str) -> None:
    """Migrations, the workflows, the demo organisation and users."""
    db = Database(url)
    db.create_schema()
    runtime = Runtime(db)
    runtime.deploy()
    with db.transaction() as s:
        seed_demo(s)
    db.dispose()


def sign_in(port: int, usernames: set[str]) -> dict[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    tokens = {}
    for username in sorted(usernames):
        conn.request("POST", "/api/v1/auth/token", body=json.dumps({"username": username, "password": "demo"}),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        tokens[username] = json.loads(response.read())["token"]
    conn.close()
    return tokens


def api_get(port: int, path: str, token: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1" + path, headers={"Authorization": f"Bearer {token}"})
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body


def make_clients(port: int, n: int, stats: Stats, stop: threading.Event) -> list[Client]:
    """Client i works with grid worker grid(i mod 12 + 1) and department i mod 12, on a
    category that department is responsible for."""
    departments = [code for code, _zh, _en in DEPARTMENTS]
    usernames = {"acceptor1", "supervisor1"} | {f"grid{g}" for g in range(1, HEPING_GRIDS + 1)} \
        | {f"liaison_{d}" for d in departments}
    tokens = sign_in(port, usernames)
    by_department = {}
    for category in api_get(port, "/categories", tokens["acceptor1"]):
        by_department.setdefault(category.get("department"), category["code"])
    grids = {g: api_get(port, "/me", tokens[f"grid{g}"])["org_unit"] for g in range(1, HEPING_GRIDS + 1)}
    clients = []
    for i in range(n):
        g, department = i % HEPING_GRIDS + 1, departments[i % len(departments)]
        users = {"acceptor": "acceptor1", "supervisor": "supervisor1", "grid": f"grid{g}",
                 "liaison": f"liaison_{department}"}
        clients.append(Client(i, port, tokens, users, department, by_department.get(department, "other"), grids[g],
                              stats, stop))
    return clients


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    q = statistics.quantiles(values, n=100)
    return f"p50 {q[49]:6.1f}   p95 {q[94]:6.1f}   p99 {q[98]:6.1f}   max {max(values):7.1f}"


def check(url: str, clients: list[Client]) -> list[str]:
    """The invariants, from the database; a line per violation."""
    violations = []
    engine = create_engine(url)
    with engine.connect() as conn:
        for name, query in INVARIANTS.items():
            rows = conn.execute(text(query)).all()
            if rows:
                violations.append(f"{name}: {len(rows)} (e.g. {', '.join(str(tuple(r)) for r in rows[:5])})")
        reported = [c for client in clients for c in client.reported]
        closed = [c for client in clients for c in client.closed]
        known = set(conn.scalars(text('SELECT id FROM "case"')))
        if missing := [c for c in reported if c not in known]:
            violations.append(f"reported case missing from the database: {missing[:10]}")
        completions = {case: (tasks, elements) for case, tasks, elements in conn.execute(text(
            "SELECT case_id, count(*), count(DISTINCT element_id) FROM task WHERE status = 'completed' "
            "GROUP BY case_id"))}
        statuses = dict(conn.execute(text('SELECT id, status FROM "case"')).all())
        one_each = (len(STEPS), len(STEPS))
        if wrong := [c for c in closed if statuses.get(c) != "closed" or completions.get(c) != one_each]:
            violations.append(f"closed case without exactly one completion per step: {wrong[:10]}")
    engine.dispose()
    return violations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--pg", default=PG_DEFAULT, help="a PostgreSQL URL to create the benchmark's database from")
    parser.add_argument("--database", default="gridloop_load", help="created here, dropped at the end")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (to inspect it)")
    parser.add_argument("--no-kill", action="store_true", help="do not kill a worker half-way")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (finally below) on `kill` too
    started = time.perf_counter()
    url = create_database(args.pg, args.database)
    server, stop, clients = None, threading.Event(), []
    try:
        prepare(url)
        setup_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            server = Gunicorn(url, args.workers, args.threads, os.path.join(tmp, "gunicorn.log"))
            print(f"gridloop load: {args.workers} gunicorn workers x {args.threads} threads on PostgreSQL "
                  f"(database {args.database}), {args.clients} clients, {args.seconds:.0f} s")
            print(f"setup: database, migrations, workflows, demo users {setup_s:.1f} s; gunicorn ready on port "
                  f"{server.port} after {time.perf_counter() - started - setup_s:.1f} s; "
                  f"load average before the run {os.getloadavg()[0]:.1f} (the machine may be shared)")
            stats = Stats()
            clients = make_clients(server.port, args.clients, stats, stop)
            cpu = CpuMeter(server, args.pg, args.database)
            begin = time.monotonic()
            for client in clients:
                client.deadline = begin + args.seconds
                client.start()
            killed_at = None
            if not args.no_kill:
                stop.wait(args.seconds / 2)
                cpu.sample()
                killed_at = time.monotonic()
                victim, replacement, forked = server.kill_one()
                print(f"t={killed_at - begin:.1f} s: SIGKILL worker {victim}; gunicorn forked worker {replacement} "
                      f"{forked:.2f} s later")
            for client in clients:
                client.join(timeout=max(0.0, begin + args.seconds + 60 - time.monotonic()))
            elapsed = time.monotonic() - begin
            cpu.sample()
            stop.set()
            server.stop()
            report(stats, clients, elapsed, killed_at, server.log, cpu.totals())
            violations = check(url, clients)
    finally:
        stop.set()
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept database {args.database}")
        else:
            drop_database(args.pg, args.database)
    print("invariants: ok" if not violations else "invariants: VIOLATED\n  " + "\n  ".join(violations))
    sys.exit(1 if violations else 0)


def report(stats: Stats, clients: list[Client], elapsed: float, killed_at: float | None, log: str,
           cpu: dict[str, float]) -> None:
    answered = stats.latencies["command"] + stats.latencies["read"]
    print(f"requests: {len(answered)} answered in {elapsed:.1f} s = {len(answered) / elapsed:.1f} req/s")
    print(f"latency ms, all      {percentiles(answered)}")
    print(f"  commands ({len(stats.latencies['command'])}: report, claim, complete)  "
          f"{percentiles(stats.latencies['command'])}")
    print(f"  reads ({len(stats.latencies['read'])}: inbox, task, case)  {percentiles(stats.latencies['read'])}")
    near_kill = sum(1 for t in stats.connection_errors_at if killed_at is not None and 0 <= t - killed_at < 10)
    print(f"errors: connection {stats.errors['connection']} ({near_kill} within 10 s of the kill), "
          f"timeout {stats.errors['timeout']}, 5xx {stats.errors['5xx']}, 409 {stats.errors['409']}, "
          f"other 4xx {stats.errors['other 4xx']}")
    for kind, sample in stats.samples.items():
        print(f"  first {kind}: {sample}")
    for what, count in stats.anomalies.items():
        print(f"  {what}: {count}")
    with open(log) as fh:
        logged = [line.rstrip() for line in fh if "[ERROR]" in line or "[CRITICAL]" in line]
    print(f"gunicorn logged {len(logged)} errors" + "".join(f"\n  {line}" for line in logged[:5]))
    closed = sum(len(c.closed) for c in clients)
    reported = sum(len(c.reported) for c in clients)
    per_request = ", ".join(f"{name} {seconds * 1000 / max(1, len(answered)):.1f}" for name, seconds in cpu.items())
    print("CPU seconds: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())
          + f" of {os.cpu_count()} CPUs x {elapsed:.0f} s; CPU ms per answered request: {per_request}")
    print(f"cases: {reported} reported, {closed} walked to closure ({closed / elapsed:.1f}/s, "
          f"{len(STEPS)} tasks each), {reported - closed} still open at the end")


if __name__ == "__main__":
    main()
