"""The `gridloop` command: deploy prints what changed, start runs any process by key."""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from gridloop.cli import main

from .conftest import MODELS


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)
    return run


def test_deploy_prints_new_versions_only_for_changes(cli, tmp_path):
    first = cli("deploy", os.path.join(MODELS, "peer_linear5.bpmn"))
    assert first.exit_code == 0 and first.output.strip() == "Process_lin5 v1 deployed"
    again = cli("deploy", os.path.join(MODELS, "peer_linear5.bpmn"))
    assert again.output.strip() == "Process_lin5 v1 unchanged"
    changed = tmp_path / "peer_linear5.bpmn"
    with open(os.path.join(MODELS, "peer_linear5.bpmn"), "rb") as fh:
        changed.write_bytes(fh.read().replace(b"Step 5", b"Last step"))
    assert cli("deploy", str(changed)).output.strip() == "Process_lin5 v2 deployed"


def test_deploy_the_default_workflows_folder(cli):
    result = cli("deploy")
    assert result.exit_code == 0
    assert "closed_loop v1 deployed" in result.output and "consultation v1 deployed" in result.output


def test_a_bad_file_is_a_clear_error_and_exit_code(cli, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<bpmn:definitions")
    result = CliRunner().invoke(main, ["deploy", str(bad)])
    assert result.exit_code == 1 and "malformed XML" in result.output and "bad.bpmn" in result.output


def test_start_any_process_by_key_with_data(cli):
    cli("deploy", os.path.join(MODELS, "message_wait.bpmn"))
    result = cli("start", "order_wait", "--data", json.dumps({"order_no": "A-1"}))
    assert result.exit_code == 0
    assert json.loads(result.output) == {"id": 1, "key": "order_wait", "status": "running"}
    unknown = CliRunner().invoke(main, ["start", "nope"])
    assert unknown.exit_code == 1 and "not deployed" in unknown.output
    bad = CliRunner().invoke(main, ["start", "order_wait", "--data", "{nope"])
    assert bad.exit_code == 2 and "not JSON" in bad.output


def test_deactivate_user_locks_her_out(cli):
    from gridloop.engine import org
    from gridloop.engine.db import Database
    assert cli("seed-demo").exit_code == 0
    result = cli("deactivate-user", "grid1")
    assert result.exit_code == 0 and "grid1 deactivated" in result.output
    db = Database()
    with db.reading() as s:
        assert org.authenticate(s, "grid1", "demo") is None and org.authenticate(s, "grid2", "demo") is not None
    db.dispose()
    unknown = CliRunner().invoke(main, ["deactivate-user", "nobody"])
    assert unknown.exit_code == 1 and "user 'nobody' not found" in unknown.output


def test_check_prints_one_line_per_problem_and_fails_on_errors(cli, tmp_path):
    clean = cli("check", os.path.join(MODELS, "deadlock.bpmn"))
    assert clean.exit_code == 0 and all(": warning: " in line for line in clean.output.splitlines())
    assert cli("check", "--strict", os.path.join(MODELS, "deadlock.bpmn")).exit_code == 1
    broken = tmp_path / "broken.bpmn"
    with open(os.path.join(MODELS, "deadlock.bpmn"), "rb") as fh:
        broken.write_bytes(fh.read().replace(b'path == "a"', b'path = = "a"'))
    result = cli("check", str(broken))
    assert result.exit_code == 1
    assert result.output.startswith("broken.bpmn:") and ": choose: error: condition" in result.output


def test_liaison_bind_list_and_unbind(cli):
    assert cli("seed-demo").exit_code == 0
    bound = cli("liaison", "bind", "liaison_gas", "21010200101001", "21010200102")
    assert bound.exit_code == 0
    assert bound.output.strip() == "liaison_gas (gas): 210102001, 21010200101001, 21010200102, 210102002"
    assert cli("liaison", "unbind", "liaison_gas", "210102001").exit_code == 0
    listed = cli("liaison", "list", "--department", "gas")
    assert listed.output.strip() == "liaison_gas (gas): 21010200101001, 21010200102, 210102002"
    outside = cli("liaison", "bind", "liaison_gas", "210105001")
    assert outside.exit_code == 1 and "outside liaison_gas's own area" in outside.output
    assert cli("liaison", "unbind", "liaison_gas", "210102001").exit_code == 1


def test_rebuild_rollups_recounts_the_cases_as_the_commands_did(cli):
    from sqlalchemy import delete, func, select

    from gridloop.engine.db import Database
    from gridloop.engine.model import CaseRollup
    assert cli("setup-demo").exit_code == 0
    db = Database()

    def counted():
        with db.reading() as s:
            return s.execute(select(CaseRollup.kind, func.sum(CaseRollup.cases)).group_by(CaseRollup.kind)
                             .order_by(CaseRollup.kind)).all()
    kept = counted()
    assert kept and all(total > 0 for _kind, total in kept)
    with db.transaction() as s:
        s.execute(delete(CaseRollup))
    result = cli("rebuild-rollups")
    assert result.exit_code == 0 and "rollup rebuilt:" in result.output
    assert counted() == kept
    db.dispose()
