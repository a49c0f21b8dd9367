"""Web fixtures: the real Runtime and database with the workflows deployed and the demo
organisation seeded, an app over it, and clients that speak the API and the HTML pages."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from typing import Iterator

import pytest
from werkzeug.serving import make_server

from gridloop.engine.runtime import Runtime
from gridloop.engine.seed import seed_demo
from gridloop.web import create_app

GRID1 = "21010200101001"
GRID2 = "21010200101002"
RESOLVED = {"outcome": "resolved", "resolution": "Fixed on site"}
SATISFIED = {"contacted": True, "resolved": True, "satisfaction": "satisfied"}


def report_body(**fields) -> dict:
    body = {"title": "Rubbish piled in stairwell 3", "description": "Bags on every landing",
            "category": "garbage", "source": "patrol", "grid": GRID1,
            "reporter": {"name": "张三", "phone": "13800000000"},
            "location": {"address": "和平区民主社区3号楼", "lat": 41.79, "lon": 123.4}}
    body.update(fields)
    return body


def deployed_and_seeded(runtime: Runtime) -> Runtime:
    runtime.deploy()
    with runtime.db.transaction() as s:
        seed_demo(s)
    return runtime


@pytest.fixture
def world(runtime):
    return deployed_and_seeded(runtime)


@pytest.fixture
def any_world(any_db, clock):
    """``world`` on SQLite and, where configured, on PostgreSQL."""
    return deployed_and_seeded(Runtime(any_db, clock=clock))


def make_app(runtime):
    return create_app({"TESTING": True, "RUNTIME": runtime, "SECRET_KEY": "test-secret"})


@contextmanager
def serving(runtime) -> Iterator[str]:
    """The app over ``runtime`` on a real port, in a thread, for a real browser: its base URL."""
    httpd = make_server("127.0.0.1", 0, make_app(runtime), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join()


@pytest.fixture
def live_server(world):
    """The app over the demo organisation with no demo cases: every row on a page is the test's."""
    with serving(world) as url:
        yield url


@pytest.fixture
def app(world):
    return make_app(world)


class Api:
    """The REST API as the demo users see it; every call states the status it expects."""

    def __init__(self, client):
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            body = self.call("POST", "/auth/token", json={"username": username, "password": "demo"})
            self.tokens[username] = body["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, user: str | None = None, *, status: int = 200, json=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        response = self.client.open("/api/v1" + path, method=method, json=json, headers=headers, **kwargs)
        assert response.status_code == status, f"{method} {path} as {user}: {response.status_code} {response.get_data(True)}"
        self.last = response
        return response.get_json() if response.status_code != 204 else None

    def get(self, path, user=None, **kw):
        return self.call("GET", path, user, **kw)

    def post(self, path, user=None, **kw):
        return self.call("POST", path, user, **kw)

    # the closed loop, step by step
    def report(self, user: str, **fields) -> dict:
        return self.post("/cases", user, json=report_body(**fields), status=201)

    def inbox_ids(self, user: str, scope: str = "claimable", **params) -> list[str]:
        return [t["id"] for t in self.get("/tasks", user, query_string={"scope": scope, "per_page": 200, **params})["items"]]

    def open_task(self, case_id: int) -> dict:
        tasks = self.get(f"/cases/{case_id}", "supervisor1")["open_tasks"]
        assert len(tasks) == 1, tasks
        return tasks[0]

    def step(self, case_id: int, user: str, data: dict, *, stage: str | None = None, claim: bool = True) -> dict:
        """``user`` finds the case's task in her claimable queue, claims it and completes it."""
        task = self.open_task(case_id)
        if stage is not None:
            assert task["stage"] == stage
        assert task["id"] in self.inbox_ids(user), f"{user} does not see {task['element_id']}"
        if claim:
            assert self.post(f"/tasks/{task['id']}/claim", user)["assignee"] == user
            assert task["id"] in self.inbox_ids(user, "mine")
        done = self.post(f"/tasks/{task['id']}/complete", user, json={"data": data})
        assert done["status"] == "completed"
        return task

    def case(self, case_id: int, user: str = "supervisor1") -> dict:
        return self.get(f"/cases/{case_id}", user)


@pytest.fixture
def api(app):
    return Api(app.test_client())


@pytest.fixture
def any_api(any_world):
    return Api(make_app(any_world).test_client())


class Browser:
    """The HTML pages through the test client, with the CSRF token a real form carries."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    def get(self, url: str, status: int = 200, **kwargs):
        response = self.client.get(url, **kwargs)
        assert response.status_code == status, f"GET {url}: {response.status_code}"
        found = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(True))
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, url: str, data: dict | None = None, status: int = 302, csrf: bool = True, **kwargs):
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        response = self.client.post(url, data=form, **kwargs)
        assert response.status_code == status, f"POST {url}: {response.status_code} {response.get_data(True)[:2000]}"
        return response

    def sign_in(self, username: str) -> None:
        self.get("/sign-in")
        self.post("/sign-in", {"username": username, "password": "demo"})
        self.get("/inbox/mine")  # a signed-in session has a CSRF token of its own


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def as_user(app):
    """A signed-in HTML browser per username."""
    def sign_in(username: str) -> Browser:
        b = Browser(app.test_client())
        b.sign_in(username)
        return b
    return sign_in
