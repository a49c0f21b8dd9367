"""schemathesis over the API's own OpenAPI document, as a supervisor, a grid worker and a designer:
generated valid and invalid requests to every operation (and, for operations on one object,
requests naming real ones) must get no 5xx, only documented status codes, and answers that
match their documented schema. Bounded (MAX_EXAMPLES per operation, mode and user, no
shrinking, derandomized) so that it runs in CI in well under three minutes."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance
from sqlalchemy import select

from gridloop.engine import org
from gridloop.engine.model import User

from .conftest import Api, make_app

MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
USERS = ("supervisor1", "grid1", "designer1")
SETTINGS = settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def _real_objects(api: Api) -> dict[str, object]:
    """Path parameters that name existing objects: a case of grid 1 with its open task, and the
    case process's first version."""
    case = api.report("grid1")
    return {"case_id": case["id"], "task_id": api.open_task(case["id"])["id"], "instance_id": case["instance_id"],
            "key": "closed_loop", "version": 1}


def _issue_token(runtime, username: str) -> str:
    with runtime.db.transaction() as s:
        return org.issue_token(s, s.scalars(select(User).where(User.username == username)).one(), runtime.clock.now())


def _strategies(operation, real: dict):
    names = {p.name for p in operation.path_parameters}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        yield mode.value, operation.as_strategy(generation_mode=mode)
    if names and names <= set(real):
        yield "real ids", operation.as_strategy(path_parameters={name: real[name] for name in names})


def _fuzz(strategy, headers) -> None:
    @given(case=strategy)
    @SETTINGS
    def run(case):
        case.call_and_validate(headers=headers(), checks=CHECKS)
    try:
        run()
    except Unsatisfiable:  # no invalid request exists (any string is a valid token): nothing to try
        pass


def test_every_operation_keeps_its_openapi_document(any_world):
    app = make_app(any_world)
    api = Api(app.test_client())
    real = _real_objects(api)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    assert not any("default" in op["responses"] for ops in schema.raw_schema["paths"].values()
                   for op in ops.values() if isinstance(op, dict)), "every error is documented by its status"
    tokens = {user: api.token(user) for user in USERS}  # before the fuzzed sign-ins reach their limit
    failures, runs = [], 0
    for user in USERS:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label == "DELETE /api/v1/auth/token":  # signs the token out: a fresh one each time
                headers = lambda user=user: {"Authorization": f"Bearer {_issue_token(any_world, user)}"}  # noqa: E731
            else:
                headers = lambda user=user: {"Authorization": f"Bearer {tokens[user]}"}  # noqa: E731
            for kind, strategy in _strategies(operation, real):
                runs += 1
                try:
                    _fuzz(strategy, headers)
                except (Exception, BaseExceptionGroup) as exc:  # collected: one run shows every finding
                    failures.append(f"{operation.label} as {user} ({kind}):\n{exc}")
    assert runs >= 2 * len(USERS) * 20  # every operation was fuzzed
    assert not failures, "\n\n".join(failures)
