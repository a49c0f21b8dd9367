"""The process designer's pages: the deployed processes, one process's versions (diagram,
XML, element diff, migration of running instances), the modeler with Check, Deploy and Try, the
working calendar (loading a year's holiday notice), and starting a process with its start form
(whoever its ``starters`` name).

Every view calls the same engine functions as the REST API (``engine.versions``,
``Runtime.check_files/deploy_files/migrate/start_process``), which refuse non-designers.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from gridloop.engine import calendars, definitions, org, policy, versions
from gridloop.engine.errors import InvalidInput, NotFound

from . import refusals, schema_forms
from .api.definitions import request_sources, try_draft
from .i18n import t
from .pages import current_actor, login_required
from .security import allow_inline_styles, allow_style_attributes
from .services import reading, runtime

bp = Blueprint("designer", __name__)

NEW_KEY = "new_process"


@bp.get("/designer")
@login_required
def index():
    with reading() as s:
        rows = versions.overview(s, current_actor())
        for row in rows:
            found = definitions.find_definition(s, row["key"])
            row["forms"] = sorted(found.forms or {})
        may_start = {d.key for d in policy.startable(s, current_actor())}
    return render_template("designer.html", active="designer", definitions=rows, may_start=may_start)


def _int_arg(name: str) -> int | None:
    value = request.values.get(name, "")
    return int(value) if value.isdigit() else None


def _definition_page(key: str, migration: dict | None = None, status: int = 200):
    actor = current_actor()
    shown, old, new = _int_arg("version"), _int_arg("old"), _int_arg("new")
    with reading() as s:
        rows = versions.versions(s, actor, key)
        numbers = [r["version"] for r in rows]
        shown = shown if shown in numbers else numbers[0]
        changes = versions.diff(s, actor, key, old, new) if old in numbers and new in numbers else None
        decisions = sorted(n for n in versions.version_files(s, actor, key, shown)[1] if n.endswith(".dmn"))
    if decisions:
        allow_style_attributes()
    return render_template("definition.html", active="designer", key=key, versions=rows, shown=shown,
                           old=old, new=new, changes=changes, migration=migration, decisions=decisions), status


@bp.get("/designer/<key>")
@login_required
def definition(key: str):
    return _definition_page(key)


@bp.get("/designer/<key>/versions/<int:version>/xml")
@login_required
def version_xml(key: str, version: int):
    with reading() as s:
        name, text = versions.version_xml(s, current_actor(), key, version)
    disposition = "attachment" if request.args.get("download") else "inline"
    return Response(text, mimetype="application/xml",
                    headers={"Content-Disposition": f'{disposition}; filename="{key}-v{version}-{name}"'})


@bp.get("/designer/<key>/versions/<int:version>/files/<path:name>")
@login_required
def version_file(key: str, version: int, name: str):
    """One file of a version (its DMN tables for the decision viewer)."""
    with reading() as s:
        _, files = versions.version_files(s, current_actor(), key, version)
    if name not in files:
        raise NotFound(f"no file '{name}' in {key} version {version}")
    return Response(files[name], mimetype="application/json" if name.endswith(".json") else "application/xml")


@bp.post("/designer/<key>/migrate")
@login_required
def migrate(key: str):
    """A dry run (the default) or the move, as the API's migrate; the answer is listed per instance."""
    old, new = _int_arg("from_version"), _int_arg("to_version")
    if old is None or new is None:
        raise InvalidInput("choose both versions", fields={"to_version": "a version"})
    dry_run = request.form.get("action") != "move"
    results = runtime().migrate(current_actor(), key, old, new, None, dry_run)
    return _definition_page(key, {"from": old, "to": new, "dry_run": dry_run, "instances": results})


# ------------------------------------------------------------------------ the working calendar

@bp.route("/designer/calendar", methods=["GET", "POST"])
@login_required
def calendar():
    """The years with a holiday notice, the notices loaded, the provisional deadlines; and
    loading a notice file, as ``gridloop calendar load`` and the API do (engine/calendars.py)."""
    errors, code = {}, 200
    if request.method == "POST":
        upload = request.files.get("notice")
        try:
            loaded = runtime().load_calendar_notice(current_actor(), upload.read() if upload else b"")
        except InvalidInput as exc:
            errors, code = {"notice": refusals.explain(exc), **refusals.field_messages(exc)}, 400
        else:
            flash(t("calendar.loaded", year=loaded.year, n=len(loaded.moved)), "success")
            return redirect(url_for(".calendar"))
    with reading() as s:
        status = calendars.calendar_status(s, current_actor(), runtime())
    for row in status["provisional"]:
        row["due_at"] = datetime.fromisoformat(row["due"])
    return render_template("calendar.html", active="designer", status=status, errors=errors), code


# ------------------------------------------------------------------------ the modeler

# The properties panel's Gridloop group: a label (and where useful a hint) per property.
PANEL_LABELS = ("group", "lane", "no_lane", "role", "nameZh", "formJsonSchemaFilename", "startFormJsonSchemaFilename",
                "form_json", "bad_form", "dueIn", "candidateOrgUnit", "candidateDepartment", "stage", "priority",
                "starters", "laneMap", "senders", "timeDuration", "timeDate", "timeCycle", "marksOverdue",
                "overdue_none", "overdue_always", "overdue_unclaimed", "overdue_case")
PANEL_HINTS = ("lane", "role", "dueIn", "candidateOrgUnit", "candidateDepartment", "starters", "laneMap", "timer",
               "marksOverdue", "formJsonSchemaFilename")


def _modeler(key: str | None, version: int | None, main: str, files: dict[str, str]):
    """The modeler page (BPMN with the properties panel, DMN tables, form files, Try)."""
    allow_inline_styles()  # dmn-js's expression editor adds <style> elements
    panel = {"labels": {n: t(f"panel.{n}") for n in PANEL_LABELS},
             "hints": {n: t(f"panel.hint.{n}") for n in PANEL_HINTS}}
    return render_template("modeler.html", active="designer", key=key, version=version, main=main, files=files,
                           roles=list(org.ROLES), panel_labels=panel, new_dmn=render_template("new.dmn"))


@bp.get("/designer/<key>/edit")
@login_required
def edit(key: str):
    with reading() as s:
        version, files = versions.version_files(s, current_actor(), key, _int_arg("version"))
    return _modeler(key, version, versions.main_file(files, key)[0], files)


@bp.get("/designer/new")
@login_required
def new():
    policy.check_designer(current_actor())
    key = NEW_KEY
    files = {f"{key}.bpmn": render_template("new.bpmn", key=key), f"forms/{key}_task.json":
             '{\n  "type": "object",\n  "properties": {},\n  "required": []\n}\n'}
    return _modeler(None, None, f"{key}.bpmn", files)


@bp.post("/designer/check")
@login_required
def check():
    """The modeler's Check: ``{"files": {...}}`` in, every problem out (as the API's check)."""
    return {"problems": [p.as_dict() for p in runtime().check_files(current_actor(), *request_sources())]}


@bp.post("/designer/deploy")
@login_required
def deploy():
    """The modeler's Deploy: refused with its problems (400) as the API refuses it, else the
    new (or unchanged) version and where to see it."""
    sources, lanes = request_sources()
    problems = runtime().check_files(current_actor(), sources, lanes)
    if any(p.severity == "error" for p in problems):
        return {"problems": [p.as_dict() for p in problems]}, 400
    first = runtime().deploy_files(current_actor(), sources, lanes)[0]
    return {"key": first.key, "version": first.version, "created": first.created,
            "url": url_for(".definition", key=first.key, version=first.version)}, 201 if first.created else 200


@bp.post("/designer/try")
@login_required
def trial():
    """The modeler's Try: the draft run in memory as far as the steps go (as the API's try)."""
    return try_draft(current_actor())


# ------------------------------------------------------------------------ starting

@bp.get("/start")
@login_required
def startable():
    """Every process the user may start (``policy.may_start``: its ``starters``)."""
    with reading() as s:
        rows = [{"key": d.key, "name": d.name} for d in policy.startable(s, current_actor())]
    return render_template("startable.html", active="start", processes=rows)


def _start_fields(key: str) -> tuple[list, dict | None]:
    with reading() as s:
        row = definitions.find_definition(s, key)
        if row is None:
            raise NotFound(f"process '{key}' not deployed")
        policy.check_start(current_actor(), row)  # the form only for who may start it
        schema = (row.forms or {}).get((row.properties or {}).get(definitions.START_FORM_PROPERTY))
    return schema_forms.fields(schema), schema


@bp.route("/start/<key>", methods=["GET", "POST"])
@login_required
def start(key: str):
    form_fields, schema = _start_fields(key)
    if request.method == "GET":
        return render_template("start.html", active="start", key=key, schema=schema, form_fields=form_fields,
                               values=schema_forms.initial(schema, {}), errors={})
    actor = current_actor()
    try:
        started = runtime().start_process(actor, key, schema_forms.read(schema, request.form))
    except InvalidInput as exc:
        return render_template("start.html", active="start", key=key, schema=schema, form_fields=form_fields,
                               values=request.form, errors=refusals.form_errors(exc)), 400
    flash(t("designer.started", process=key, id=started.id), "success")
    mine = [task for task in started.open_tasks if policy.may_act_on(actor, task)]
    return redirect(url_for("inbox.task", task_id=mine[0].id) if mine else url_for(".startable"))
