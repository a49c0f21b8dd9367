"""The authorization policy (engine/policy.py): its named rules, that no other module decides
rights by role names, and the rules moved into it, each allowed and refused."""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from gridloop.engine import policy
from gridloop.engine.errors import Forbidden
from gridloop.engine.model import Case, Task
from gridloop.engine.org import ROLES, Actor

ROOT = Path(__file__).resolve().parent.parent
CITY, STREET, GRID = "/2101/", "/2101/210102/", "/2101/210102/21010200101/"
OTHER_GRID = "/2101/210105/21010500101/"

RULES = [
    "callable_only", "check_calendar", "check_designer", "check_exception_request", "check_may_take", "check_start",
    "check_start_data", "check_urge", "figures_department", "inbox_scopes", "is_candidate", "may_act_on",
    "may_add_case_photo", "may_add_task_photo", "may_administer_access", "may_administer_groups", "may_administer_webhooks",
    "may_ask_for_case", "may_ask_on_task", "may_assign", "may_design", "may_edit_notification_settings",
    "may_edit_saved_filter", "may_export_hotline", "may_list_liaisons", "may_manage_deliveries", "may_open_case",
    "may_oversee_area", "may_print_qr", "may_print_qr_codes", "may_read_figures", "may_read_figures_of",
    "may_read_process_data", "may_report_in", "may_see_feedback_link", "may_see_incident", "may_see_incidents",
    "may_see_instance", "may_see_reported", "may_see_task", "may_see_unassignable", "may_send", "may_start",
    "may_unclaim", "may_urge", "names", "offered", "offers_case_exceptions", "oversees_arealess", "reportable_grids",
    "sections", "sees_all_instances", "startable", "started_by_engine", "starters", "supervises",
    "task_actions", "task_refusal", "visible_cases", "visible_incidents", "visible_instances", "within",
]

# Role tests outside the policy that decide no right, each with why: module -> (expressions, why).
NOT_RIGHTS = {
    "engine/org.py": ({"role in self.roles"}, "Actor.has_role itself: the fact the policy's rules ask"),
    "engine/groups.py": ({"name not in (user.roles or ())"},
                         "adds and removes a group's name in members' roles (membership, not a right)"),
    "engine/liaisons.py": ({"LIAISON not in (user.roles or ())"},
                           "checks that the user an administrator binds is a liaison (the target's role)"),
}


def test_the_policy_lists_its_rules_each_saying_why():
    """Every public function of the policy is a known rule (a new one is added here on purpose)
    with a docstring."""
    found = sorted(name for name, f in vars(policy).items()
                   if inspect.isfunction(f) and f.__module__ == policy.__name__ and not name.startswith("_"))
    assert found == sorted(RULES)
    assert [n for n in found if not inspect.getdoc(getattr(policy, n))] == []


def _role_decisions(path: Path) -> list[str]:
    """Comparisons with a role name or a ``roles`` attribute, and ``has_role`` calls (and
    ``roles_contain`` with a role name), in a module: each as its source text."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            names = [n for p in parts for n in ast.walk(p)]
            if any(isinstance(n, ast.Constant) and n.value in ROLES for n in names) \
                    or any(isinstance(n, ast.Attribute) and n.attr == "roles" for n in names):
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "has_role" or (name == "roles_contain" and any(
                    isinstance(a, ast.Constant) and a.value in ROLES for a in node.args)):
                found.append(ast.unparse(node))
    return found


def test_no_module_but_the_policy_decides_rights_by_role_names():
    """Engine, web, API and CLI modules ask the policy; none compares role names itself
    (but the explicit exceptions of NOT_RIGHTS), and no template tests a user's roles."""
    decisions = {}
    for folder in ("engine", "web", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name == "engine/policy.py" or "/migrations/" in name:
                continue
            found = set(_role_decisions(path))
            allowed = NOT_RIGHTS.get(name, (set(), ""))[0]
            assert allowed <= found, f"{name} no longer needs its exception"
            if found - allowed:
                decisions[name] = found - allowed
    for path in sorted((ROOT / "web" / "templates").rglob("*.html")):
        hits = re.findall(r"\.roles\b|has_role", path.read_text(encoding="utf-8"))
        if hits:
            decisions[path.relative_to(ROOT).as_posix()] = hits
    assert decisions == {}


def test_the_source_check_sees_a_role_comparison(tmp_path):
    """The check above is not vacuous: each form it looks for is found."""
    sample = tmp_path / "sample.py"
    sample.write_text('a = "supervisor" in actor.roles\nb = actor.has_role(x)\nc = roles_contain(s, "admin")\n'
                      'd = role not in user.roles\ne = "designer" == name\nf = render("designer")\n')
    assert len(_role_decisions(sample)) == 5


# ------------------------------------------------------------------------------ rules

def actor(*roles: str, path: str | None = CITY, uid: int = 1, department: str | None = None) -> Actor:
    return Actor(uid, f"u{uid}", f"User {uid}", roles, path.strip("/").split("/")[-1] if path else None, path,
                 None, department)


def task(**values) -> Task:
    base = dict(id="t", status="open", role="grid_worker", org_path=GRID, candidate_user_id=None, assignee_id=None,
                department=None, excluded_user_id=None, completed_by_id=None, case_id=1, process_key="closed_loop")
    return Task(**{**base, **values})


def test_candidates_and_who_may_take_a_task():
    worker, elsewhere = actor("grid_worker", path=GRID), actor("grid_worker", path=OTHER_GRID, uid=2)
    assert policy.is_candidate(worker, task()) and policy.may_act_on(worker, task())
    assert not policy.is_candidate(elsewhere, task())
    assert not policy.is_candidate(worker, task(excluded_user_id=worker.id))   # independent verification
    assert not policy.is_candidate(worker, task(department="gas"))
    assert policy.is_candidate(actor("dept_liaison", department="gas"), task(role="dept_liaison", department="gas"))
    assert not policy.may_act_on(worker, task(status="claimed", assignee_id=2))
    policy.check_may_take(worker, task())
    with pytest.raises(Forbidden) as refused:
        policy.check_may_take(elsewhere, task())
    assert refused.value.reason == "task_not_offered"
    with pytest.raises(Forbidden, match="independent"):
        policy.check_may_take(worker, task(excluded_user_id=worker.id))
    policy.check_may_take(elsewhere, task(status="completed"))  # a finished task is refused as such elsewhere


def test_who_may_see_a_task():
    supervisor, worker = actor("supervisor"), actor("grid_worker", path=OTHER_GRID, uid=2)
    assert policy.may_see_task(supervisor, task(status="claimed", assignee_id=5))
    assert not policy.may_see_task(worker, task())
    assert policy.may_see_task(worker, task(status="completed", completed_by_id=worker.id))
    assert not policy.may_see_task(worker, task(status="claimed", completed_by_id=worker.id, assignee_id=9))
    arealess = task(org_path=None, role="nobody")
    assert policy.may_see_task(actor("designer"), arealess) and not policy.may_see_task(worker, arealess)


def test_urging_the_area_scope_and_the_overdue_view():
    supervisor, street = actor("supervisor", path=STREET), actor("coordinator", path=STREET)
    assert policy.may_urge(supervisor, task()) and policy.may_oversee_area(supervisor)
    assert not policy.may_urge(street, task()) and not policy.may_oversee_area(street)
    assert "area" in policy.inbox_scopes(supervisor) and "area" not in policy.inbox_scopes(street)
    policy.check_urge(supervisor, task())
    with pytest.raises(Forbidden) as refused:
        policy.check_urge(street, task())
    assert refused.value.reason == "supervisors_only"
    with pytest.raises(Forbidden) as refused:
        policy.check_urge(actor("supervisor", path=OTHER_GRID), task())
    assert refused.value.reason == "task_outside_area"


def test_reporting_in_a_grid():
    assert policy.may_report_in(actor("grid_worker", path=GRID), GRID)
    assert not policy.may_report_in(actor("grid_worker", path=GRID), OTHER_GRID)
    assert policy.may_report_in(actor("acceptor", path=STREET), OTHER_GRID)  # the hotline's, anywhere
    assert policy.reportable_grids(actor("acceptor", path=STREET)) == []
    assert len(policy.reportable_grids(actor("grid_worker", path=GRID))) == 1


def test_who_may_open_a_case():
    case = Case(org_path=GRID, department="gas", reported_by_id=7, status="open")
    assert policy.may_open_case(actor("coordinator", path=STREET), case, involved=False)
    assert policy.may_open_case(actor("dept_liaison", path=OTHER_GRID, department="gas"), case, involved=False)
    assert policy.may_open_case(actor("grid_worker", path=OTHER_GRID), case, involved=True)
    assert not policy.may_open_case(actor("grid_worker", path=OTHER_GRID), case, involved=False)
    assert policy.may_see_reported(actor("grid_worker", path=OTHER_GRID, uid=7), case)
    assert not policy.may_see_reported(actor("grid_worker", path=OTHER_GRID), case)


def test_case_and_task_exceptions_offered():
    case = Case(org_path=GRID, status="open")
    assert policy.offers_case_exceptions(actor("acceptor"), case)
    assert not policy.offers_case_exceptions(actor("acceptor"), Case(org_path=GRID, status="closed"))
    assert not policy.offers_case_exceptions(actor("supervisor"), case)
    worker = actor("grid_worker", path=GRID)
    assert policy.may_ask_on_task(worker, task())
    assert not policy.may_ask_on_task(worker, task(process_key="exception_approval"))
    assert not policy.may_ask_on_task(worker, task(case_id=None))
    assert not policy.may_ask_on_task(actor("grid_worker", path=OTHER_GRID), task())
    with pytest.raises(Forbidden, match="approval"):
        policy.check_exception_request(worker, "extension", case, task(process_key="merged_callback"))


def test_process_instances_and_their_data():
    starter, other = actor("grid_worker", uid=3), actor("grid_worker", uid=4)
    assert policy.sees_all_instances(actor("designer")) and policy.visible_instances(actor("supervisor")) == []
    assert len(policy.visible_instances(other)) == 1
    assert policy.may_see_instance(starter, 3, involved=False) and policy.may_see_instance(other, 3, involved=True)
    assert not policy.may_see_instance(other, 3, involved=False)
    assert policy.may_read_process_data(actor("supervisor", path=STREET), None, GRID, has_case=True)
    assert not policy.may_read_process_data(actor("supervisor", path=OTHER_GRID), None, GRID, has_case=True)
    assert policy.may_read_process_data(actor("supervisor", path=OTHER_GRID), None, None, has_case=False)
    assert policy.may_read_process_data(starter, 3, GRID, has_case=True)
    assert not policy.may_read_process_data(other, 3, GRID, has_case=True)


def test_designers_incidents_and_senders():
    assert policy.may_design(actor("designer")) and not policy.may_design(actor("supervisor"))
    with pytest.raises(Forbidden):
        policy.check_designer(actor("admin"))
    policy.check_calendar(actor("designer"))
    policy.check_calendar(None)
    with pytest.raises(Forbidden, match="holiday notices"):
        policy.check_calendar(actor("supervisor"))
    assert policy.may_see_incident(actor("designer", path=None), GRID)
    assert policy.may_see_incident(actor("supervisor", path=STREET), GRID)
    assert policy.may_see_incident(actor("supervisor", path=OTHER_GRID), None)
    assert not policy.may_see_incident(actor("supervisor", path=OTHER_GRID), GRID)
    assert policy.visible_incidents(actor("designer")) == []
    with pytest.raises(Forbidden):
        policy.visible_incidents(actor("coordinator"))
    assert policy.may_send(None, ()) and policy.may_send(actor("designer"), None)
    assert not policy.may_send(actor("supervisor"), None)
    assert policy.may_send(actor("coordinator"), ("coordinator",)) and not policy.may_send(actor("designer"), ())


def test_figures():
    assert policy.figures_department(actor("supervisor"), "gas") == "gas"
    assert policy.figures_department(actor("dept_liaison", department="power"), None) == "power"
    with pytest.raises(Forbidden, match="own department"):
        policy.figures_department(actor("dept_liaison", department="power"), "gas")
    with pytest.raises(Forbidden, match="without a department"):
        policy.figures_department(actor("dept_liaison"), None)
    with pytest.raises(Forbidden):
        policy.figures_department(actor("grid_worker"), None)
    with pytest.raises(Forbidden):
        policy.figures_department(actor("supervisor", path=None), None)
    assert policy.may_read_figures_of(actor("coordinator", path=STREET), GRID)
    assert not policy.may_read_figures_of(actor("coordinator", path=STREET), OTHER_GRID)


def test_liaisons_qr_codes_and_the_navigation():
    assert policy.may_list_liaisons(actor("supervisor")) and policy.may_list_liaisons(None)
    assert not policy.may_list_liaisons(actor("coordinator"))
    assert policy.may_administer_access(actor("admin")) and policy.may_administer_access(None)
    assert not policy.may_administer_access(actor("supervisor"))
    assert policy.may_print_qr_codes(actor("coordinator", path=STREET))
    assert not policy.may_print_qr_codes(actor("coordinator", path=None))
    assert not policy.may_print_qr_codes(actor("grid_worker", path=GRID))
    case_process = {"starters": "acceptor, grid_worker"}
    assert policy.sections(actor("grid_worker", path=GRID), case_process) == {"report"}
    assert policy.sections(actor("grid_worker", path=GRID), None) == frozenset()
    assert policy.sections(actor("supervisor"), case_process) == {"dashboard", "qr", "incidents"}
    assert policy.sections(actor("designer"), case_process) == {"designer", "incidents"}
    assert policy.sections(actor("admin"), case_process) == {"qr", "deliveries"}
