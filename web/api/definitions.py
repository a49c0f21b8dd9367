"""Process definitions for designers: list, versions, XML, diff, check, deploy, migrate; and
the diagram state of an instance for everyone who may see the instance."""
from __future__ import annotations

from flask import Response, jsonify, request, url_for
from marshmallow import ValidationError

from gridloop.engine import calendars, diagram, org, versions
from gridloop.engine.definitions import parse_lane_map
from gridloop.engine.errors import InvalidInput

from ..errors import error_body
from ..services import now, reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Definitions", __name__, url_prefix="/api/v1", description="Process definitions and versions")

_SUFFIXES = (".bpmn", ".dmn", ".json")


def _load(schema) -> dict:
    try:
        return schema.load(request.get_json(silent=True) or {})
    except ValidationError as exc:
        raise InvalidInput("bad files", fields={k: "; ".join(map(str, v)) if isinstance(v, list) else str(v)
                                               for k, v in exc.messages.items()}) from None


def _sources(files: dict[str, bytes]) -> dict[str, bytes]:
    """Files by the names deploy knows them by (forms under forms/); any other kind is refused."""
    if not files:
        raise InvalidInput("no files", fields={"files": "at least one .bpmn, .dmn or form .json file"})
    sources = {}
    for name, data in files.items():
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        if not base.endswith(_SUFFIXES) or base.startswith("."):
            raise InvalidInput("unsupported file", fields={"files": f"'{name}': only .bpmn, .dmn and .json"})
        sources[f"forms/{base}" if base.endswith(".json") else base] = data
    return sources


def _encoded(body: dict) -> dict[str, bytes]:
    return {name: text.encode("utf-8") for name, text in body["files"].items()}


def request_sources() -> tuple[dict[str, bytes], dict[str, str]]:
    """The files of a check or deploy, ``{"files": {name: text}, "lanes"?: {lane: role}}`` as
    JSON or a multipart upload, and the lane map to deploy them with."""
    if request.files:
        files = {f.filename: f.read() for f in request.files.getlist("files") if f.filename}
        return _sources(files), parse_lane_map(request.form.get("lanes", ""))
    body = _load(schemas.Files())
    return _sources(_encoded(body)), body["lanes"]


def try_draft(who: org.Actor) -> dict:
    """A trial of the draft in the request (``schemas.TrialRequest``) by that user."""
    body = _load(schemas.TrialRequest())
    return runtime().try_draft(who, _sources(_encoded(body)), body["lanes"], body["start"], body["steps"],
                               body.get("key"))


@blp.route("/definitions")
@blp.response(200, schemas.DefinitionSummary(many=True))
@errors(403)
def definition_list():
    """Each deployed process: name, newest version, number of versions, running instances."""
    with reading() as s:
        return versions.overview(s, actor())


@blp.route("/definitions/<key>/versions")
@blp.response(200, schemas.DefinitionVersion(many=True))
@errors(403, 404)
def version_list(key):
    """A process's versions, newest first."""
    with reading() as s:
        return versions.versions(s, actor(), key)


@blp.route("/definitions/<key>/versions/<int:version>/xml")
@blp.response(200, {"type": "string"}, content_type="application/xml")
@errors(403, 404)
def version_xml(key, version):
    """The BPMN file of that version that holds the process."""
    with reading() as s:
        name, text = versions.version_xml(s, actor(), key, version)
    return Response(text, mimetype="application/xml",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@blp.route("/definitions/<key>/diff")
@blp.arguments(schemas.DiffQuery, location="query")
@blp.response(200, schemas.Diff)
@errors(403, 404)
def version_diff(query, key):
    """Elements added, removed or changed between two versions."""
    with reading() as s:
        return versions.diff(s, actor(), key, query["old"], query["new"])


@blp.route("/definitions/check", methods=["POST"])
@blp.response(200, schemas.Problems)
@errors(403, 413)
def check():
    """Deploy's validation and the lint rules, without deploying: every problem with file,
    line, element and severity."""
    return {"problems": [p.as_dict() for p in runtime().check_files(actor(), *request_sources())]}


@blp.route("/definitions", methods=["POST"])
@blp.response(201, schemas.DeployAnswer)
@blp.alt_response(200, schema=schemas.DeployAnswer, description="nothing changed: no new version")
@errors(403, 413)
def deploy():
    """Deploy files: a new version of each process whose content changed (201), or 200 when
    nothing changed; 400 when the files have errors: the error and ``problems`` (as check's). ``warnings`` are the
    lint findings and the deploy's own (per lane that no active user staffs, per unknown starter)."""
    sources, lanes = request_sources()
    problems = runtime().check_files(actor(), sources, lanes)
    errors = [p for p in problems if p.severity == "error"]
    if errors:  # the error, and every problem as check lists them
        refused = jsonify({**error_body("validation_error", f"{len(errors)} problem(s): {errors[0]}",
                                        {"files": "; ".join(str(p) for p in errors[:20])}),
                           "problems": [p.as_dict() for p in problems]})
        refused.status_code = 400
        return refused
    deployed = runtime().deploy_files(actor(), sources, lanes)
    answer = {"key": deployed[0].key, "version": deployed[0].version,
              "deployed": [{"key": d.key, "version": d.version, "created": d.created} for d in deployed],
              "warnings": [p.as_dict() for p in problems] + [
                  {"file": None, "line": None, "element": d.key, "message": w, "severity": "warning"}
                  for d in deployed for w in d.warnings]}
    return answer, 201 if any(d.created for d in deployed) else 200


@blp.route("/definitions/try", methods=["POST"])
@blp.response(200, schemas.TrialAnswer)
@errors(403, 413)
def trial():
    """Try a draft without deploying it: start a throw-away instance in memory, replay the
    ``steps`` (each an open task completed as a role), answer its open tasks, what was done,
    its elements' states and its data. Nothing is stored: no case, inbox, figure or history
    sees it. Designers only; 400 names the step a draft or a step fails at."""
    return try_draft(actor())


@blp.route("/definitions/<key>/migrate", methods=["POST"])
@blp.arguments(schemas.MigrateRequest)
@blp.response(200, schemas.MigrateAnswer)
@errors(403, 404, 409)
def migrate(body, key):
    """Move running instances of one version to another (a dry run by default): per instance
    whether it can move (or moved) and why not."""
    results = runtime().migrate(actor(), key, body["from_version"], body["to_version"],
                                body.get("instances"), body["dry_run"])
    return {"dry_run": body["dry_run"], "instances": results}


@blp.route("/process-instances/<int:instance_id>/diagram")
@blp.response(200, schemas.Diagram)
@errors(403, 404)
def instance_diagram(instance_id):
    """The instance's elements as the diagram marks them, and where its version's XML is."""
    with reading() as s:
        found = diagram.instance_diagram(s, actor(), instance_id, now())
    found["xml_url"] = url_for(".instance_xml", instance_id=instance_id)
    return found


@blp.route("/process-instances/<int:instance_id>/xml")
@blp.response(200, {"type": "string"}, content_type="application/xml")
@errors(403, 404)
def instance_xml(instance_id):
    """The BPMN of the instance's own version, for whoever may see the instance."""
    with reading() as s:
        inst = diagram.visible_instance(s, actor(), instance_id)
        _, files = versions.sources(s, inst.key, inst.version)
    return Response(versions.main_file(files, inst.key)[1], mimetype="application/xml")


@blp.route("/calendar")
@blp.response(200, schemas.CalendarStatus)
@errors(403)
def calendar():
    """Designers: the years with a published holiday notice, and the deadlines that were counted
    provisionally because their year had none."""
    with reading() as s:
        return calendars.calendar_status(s, actor(), runtime())


@blp.route("/calendar/notices", methods=["POST"])
@blp.response(201, schemas.NoticeLoaded)
@errors(403, 409, 413)
def load_notice():
    """Designers: load a State Council holiday notice, the JSON file as the request body (or a
    multipart ``file``). It overrides the shipped calendar for its year, in every process, and
    moves the provisional deadlines of that year that open cases and running processes wait
    on (each move in the case's history); 400 names every bad field and changes nothing."""
    upload = request.files.get("file")
    raw = upload.read() if upload is not None else request.get_data()
    return runtime().load_calendar_notice(actor(), raw), 201
