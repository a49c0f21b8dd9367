"""marshmallow schemas of the REST API: request bodies and query strings are checked for shape
here; what the data means (required-if, enums, areas) is checked by the engine's forms."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gridloop.engine.inputs import INT32_MAX
from gridloop.engine import task_views
from gridloop.engine.paging import MAX_PAGE, MAX_PER_PAGE

Str, Int, Bool, DateTime = fields.String, fields.Integer, fields.Boolean, fields.DateTime


def _page_of(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict({"items": fields.List(fields.Nested(item)), "total": Int(), "page": Int(),
                             "per_page": Int()}, name=name)


class PagingQuery(Schema):
    page = Int(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = Int(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


# ------------------------------------------------------------------------------------ account

class TokenRequest(Schema):
    username = Str(required=True)
    password = Str(required=True, load_only=True)


class User(Schema):
    id = Int()
    username = Str()
    display_name = Str()
    display_name_en = Str(allow_none=True)
    roles = fields.List(Str())
    org_unit = Str(allow_none=True)
    org_unit_name = Str(allow_none=True)
    org_unit_name_en = Str(allow_none=True)
    org_level = Str(allow_none=True)
    department = Str(allow_none=True)
    department_name = Str(allow_none=True)
    department_name_en = Str(allow_none=True)


class Token(Schema):
    token = Str()
    user = fields.Nested(User)


class Category(Schema):
    code = Str()
    name = Str()
    name_en = Str()
    department = Str(allow_none=True)
    grid_may_handle = Bool()


# ------------------------------------------------------------------------------------ cases

class Reporter(Schema):
    name = Str()
    phone = Str()


class Location(Schema):
    address = Str()
    lat = fields.Float(allow_nan=False)
    lon = fields.Float(allow_nan=False)


class CaseCreate(Schema):
    title = Str(required=True)
    description = Str()
    category = Str(required=True)
    source = Str(required=True)
    urgency = Str()
    grid = Str(required=True)
    reporter = fields.Nested(Reporter)
    location = fields.Nested(Location)


class CaseQuery(PagingQuery):
    status = Str(validate=validate.OneOf(["open", "closed", "rejected"]))
    stage = Str()
    category = Str()
    grid = Str()
    q = Str()
    department = Str()
    source = Str()
    area = Str()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    overdue = Bool()


class CaseSummary(Schema):
    id = Int()
    number = Str()
    title = Str()
    description = Str()
    category = Str()
    urgency = Str()
    source = Str()
    grid = Str()
    grid_name = Str()
    grid_name_en = Str(allow_none=True)
    address = Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    reporter = fields.Nested(Reporter)
    department = Str(allow_none=True)
    stage = Str()
    status = Str()
    escalation_level = Int()
    consult_unit = Str(allow_none=True)
    rework_count = Int()
    return_count = Int()
    reported_at = DateTime()
    dispatched_at = DateTime(allow_none=True)
    claimed_at = DateTime(allow_none=True)
    resolved_at = DateTime(allow_none=True)
    verified_at = DateTime(allow_none=True)
    closed_at = DateTime(allow_none=True)
    suspension_count = Int()
    suspended_at = DateTime(allow_none=True, metadata={"description": "set while the case is suspended (挂账)"})
    merged_into_id = Int(allow_none=True, metadata={"description": "the original a merged duplicate points at"})
    whistled_at = DateTime(allow_none=True)
    due_at = DateTime(allow_none=True, metadata={"description": "the whole case's deadline (办结时限)"})
    overdue_at = DateTime(allow_none=True,
                          metadata={"description": "when the case-deadline timer found it open past due_at"})
    extension_count = Int(metadata={"description": "approved extensions that moved due_at"})
    updated_at = DateTime()
    satisfaction = Str(allow_none=True)
    feedback_contacted = Bool(allow_none=True)
    feedback_resolved = Bool(allow_none=True)
    feedback_comment = Str(allow_none=True)
    instance_id = Int(allow_none=True)
    source_instance_id = Int(allow_none=True, metadata={
        "description": "the instance that reported the case (a patrol's hazard_inspection), if any"})


# ------------------------------------------------------------------------------------ tasks

class TaskQuery(PagingQuery):
    scope = Str(load_default="mine", validate=validate.OneOf(["mine", "claimable", "area", "overdue", "unassignable"]),
                metadata={"description": "mine, claimable, area (supervisors), overdue (supervisors), "
                                         "unassignable (supervisors and designers: offered to a role or group "
                                         "nobody active has)"})
    category = Str()
    stage = Str()
    grid = Str(metadata={"description": "a grid's code: its tasks"})
    unit = Str(metadata={"description": "any org unit's code: the tasks of its subtree (a community's grids, ...)"})
    due = Str(validate=validate.OneOf(task_views.DUE_WINDOWS),
              metadata={"description": "overdue, today (due by the end of the local day), week (by Sunday's end)"})
    q = Str(validate=validate.Length(max=task_views.MAX_Q),
            metadata={"description": "a case number, or text in the case's title or the task's name"})
    sort = Str(validate=validate.OneOf(list(task_views.SORTS)), metadata={"description": "due (default), -due, "
                                                                                         "created, -created, priority"})


class Task(Schema):
    id = Str()
    instance_id = Int()
    case_id = Int(allow_none=True)
    case_number = Str(allow_none=True)
    case_title = Str(allow_none=True)
    process_key = Str()
    name = Str()
    name_zh = Str(allow_none=True)
    element_id = Str()
    stage = Str(allow_none=True)
    role = Str(allow_none=True)
    org_unit = Str(allow_none=True)
    department = Str(allow_none=True)
    assignee = Str(allow_none=True)
    status = Str()
    priority = Int()
    category = Str(allow_none=True)
    due_at = DateTime(allow_none=True)
    created_at = DateTime()
    claimed_at = DateTime(allow_none=True)
    completed_at = DateTime(allow_none=True)
    overdue = Bool(metadata={"description": "open and past its due time"})
    overdue_at = DateTime(allow_none=True, metadata={"description": "when a time limit marked it overdue"})
    urge_count = Int(metadata={"description": "how often a supervisor urged it (催办)"})
    urged_at = DateTime(allow_none=True, metadata={"description": "when it was last urged"})
    form_name = Str(attribute="form", allow_none=True, metadata={"description": "form file name"})
    can_act = Bool(metadata={"description": "in lists and details: whether I may complete it (else I only look)"})
    can_claim = Bool(metadata={"description": "whether I may claim it now"})
    can_unclaim = Bool(metadata={"description": "whether I may put it back into its queue"})
    unclaim_as = Str(allow_none=True, metadata={"description": "why I may: holder, or supervisor of its area"})


class TaskDetail(Task):
    form = fields.Dict(attribute="schema", allow_none=True,
                       metadata={"description": "the task's form as a JSON Schema"})
    data = fields.Dict(allow_none=True, metadata={"description": "the submitted data, once completed"})
    input = fields.Dict(allow_none=True, metadata={
        "description": "the task's data when it became ready (a multi-instance task's includes its item); "
                       "dates and times as ISO 8601 text, durations in seconds"})
    can_ask_exception = Bool(metadata={"description": "whether I may ask for its extension or suspension "
                                                      "(POST /cases/{id}/exceptions)"})
    case = fields.Nested(CaseSummary, allow_none=True)
    brief = fields.Nested(lambda: CaseBrief(), metadata={"description": "what came before this task on its case"})


class Complete(Schema):
    data = fields.Dict(required=True, metadata={"description": "form data, validated by the task's JSON Schema"})


class Completed(Task):
    next_tasks = fields.List(fields.Nested(Task), metadata={
        "description": "open tasks of the same process instance the caller may act on now "
                       "(offered to her or held by her), so she can go on without another request"})


class Urge(Schema):
    note = Str(allow_none=True, metadata={"description": "for the holder, at most 500 characters"})


class ExceptionCreate(Schema):
    kind = Str(required=True, validate=validate.OneOf(("extension", "suspension", "void", "merge")),
               metadata={"description": "延期 extension, 挂账 suspension, 作废 void, 合并 merge"})
    reason = Str(required=True, metadata={"description": "why, at most 500 characters"})
    task_id = Str(metadata={"description": "extension: the task whose due time moves"})
    until = Str(metadata={"description": "extension: the new due time, ISO 8601 with a zone"})
    original = Str(metadata={"description": "merge: the number of the case this one duplicates"})


class ExceptionRequest(Schema):
    id = Int()
    case_id = Int()
    kind = Str()
    status = Str(metadata={"description": "pending, approved, refused, or cancelled (withdrawn when its case, "
                                          "or a merge's original, ended; decision_note says why)"})
    reason = Str()
    task_id = Str(allow_none=True)
    until = DateTime(allow_none=True)
    days = Int(allow_none=True)
    original_case_id = Int(allow_none=True)
    approval_instance_id = Int(allow_none=True)
    requested_by = Str(allow_none=True)
    requested_at = DateTime()
    decided_by = Str(allow_none=True)
    decided_at = DateTime(allow_none=True)
    decision_note = Str(allow_none=True)


class Event(Schema):
    id = Int()
    type = Str()
    at = DateTime()
    actor = Str(allow_none=True)
    actor_name = Str(allow_none=True)
    actor_name_en = Str(allow_none=True)
    task_id = Str(allow_none=True)
    payload = fields.Dict(allow_none=True)


class BriefNote(Schema):
    kind = Str(metadata={"description": "resolution, complaint, escalation, return, verification or refusal"})
    text = Str(allow_none=True, metadata={"description": "what was written (resolution, comment, reason, note)"})
    reason = Str(allow_none=True, metadata={"description": "why the process itself acted (department_timeout)"})
    at = DateTime()
    by = Str(allow_none=True, metadata={"description": "username; null for the system"})
    by_name = Str(allow_none=True)
    by_name_en = Str(allow_none=True)
    task_id = Str(allow_none=True)
    task = fields.Dict(metadata={"description": "element, name, name_zh of the task it was written in"})
    outcome = Str(allow_none=True)
    escalation_level = Int(allow_none=True)


class CaseBrief(Schema):
    recent = fields.List(fields.Nested(Event), metadata={"description": "the case's last notable events"})
    notes = fields.List(fields.Nested(BriefNote),
                        metadata={"description": "the newest note of each kind, newest first"})


class CaseRef(Schema):
    id = Int()
    number = Str()


class MergedCase(Schema):
    id = Int()
    number = Str()
    title = Str()
    reporter = fields.Nested(Reporter)
    reported_at = DateTime()
    merged_at = DateTime(metadata={"description": "when the merge was approved (the duplicate closed as merged)"})
    feedback_at = DateTime(allow_none=True, metadata={"description": "when its reporter answered the callback"})
    satisfaction = Str(allow_none=True)


class CaseDetail(CaseSummary):
    open_tasks = fields.List(fields.Nested(Task))
    history = fields.List(fields.Nested(Event))
    merged_from = fields.List(fields.Nested(MergedCase), metadata={
        "description": "the duplicates merged into this case (合并) that you may see, in the order merged"})
    merged_into = fields.Nested(CaseRef, allow_none=True, metadata={"description": "the original of a merged case"})
    feedback_url = Str(allow_none=True, metadata={"description": "public feedback page, while the case waits for it"})


class ScopeCount(Schema):
    count = Int()
    capped = Bool(metadata={"description": "the count stopped at its cap: there are at least ``count``"})


class TaskCounts(Schema):
    mine = fields.Nested(ScopeCount)
    claimable = fields.Nested(ScopeCount)
    area = fields.Nested(ScopeCount, metadata={"description": "supervisors only"})
    overdue = fields.Nested(ScopeCount, metadata={"description": "supervisors only"})
    unassignable = fields.Nested(ScopeCount, metadata={"description": "supervisors and designers only"})


class TaskPage(_page_of(Task, "TaskPageBase")):
    total_capped = Bool(metadata={"description": "the count stopped at a cap (1000 tasks; 200 in the overdue "
                                                 "view): there are at least ``total``"})


CasePage = _page_of(CaseSummary, "CasePage")


# ------------------------------------------------------------------------------------ feedback

class Feedback(Schema):
    contacted = Bool()
    resolved = Bool()
    satisfaction = Str()
    comment = Str()


class FeedbackLink(Schema):
    state = Str(metadata={"description": "valid, used or expired"})
    number = Str()
    title = Str()
    category = Str()
    reported_at = DateTime()
    resolved_at = DateTime(allow_none=True)


# ------------------------------------------------------------------------------------ processes

class StartInstance(Schema):
    key = Str(required=True)
    version = Int(validate=validate.Range(min=1, max=INT32_MAX))
    data = fields.Dict(load_default=dict)


class InstanceQuery(PagingQuery):
    key = Str(metadata={"description": "process id (BPMN)"})
    status = Str(validate=validate.OneOf(["running", "completed", "incident"]))


class InstanceSummary(Schema):
    id = Int()
    key = Str()
    version = Int()
    status = Str()
    case_id = Int(allow_none=True)
    started_at = DateTime()
    ended_at = DateTime(allow_none=True)
    next_timer_at = DateTime(allow_none=True)
    error = Str(allow_none=True, metadata={"description": "why its due timers last failed (retried later)"})


class InstancePage(_page_of(InstanceSummary, "InstancePageBase")):
    total_capped = Bool(metadata={"description": "the count stopped at 1000: there are at least ``total``"})


class StartedInstance(InstanceSummary):
    open_tasks = fields.List(fields.Nested(Task))


class ReportedCase(Schema):
    id = Int()
    number = Str()


class Instance(StartedInstance):
    history = fields.List(fields.Nested(Event))
    reported_cases = fields.List(fields.Nested(ReportedCase), metadata={
        "description": "cases this instance's scripts reported (report_case), those the caller may see"})


class InstanceVariables(Schema):
    id = Int()
    status = Str()
    variables = fields.Dict(allow_none=True, metadata={
        "description": "the process data as the instance's latest task sees it (a call activity's data while "
                       "it runs, the end data once completed); dates and times as ISO 8601 text, durations in "
                       "seconds; null until a command has run on an instance started before this existed"})


class Message(Schema):
    name = Str(required=True)
    correlation = fields.Dict(load_default=dict, metadata={
        "description": "variable -> value the waiting instance's data must hold; may be empty when the payload "
                       "carries the message's BPMN correlation properties, or the message starts a process"})
    payload = fields.Dict(load_default=dict)
    instance_id = Int(metadata={"description": "deliver only to this waiting instance"})


class Signal(Schema):
    name = Str(required=True)
    payload = fields.Dict(load_default=dict)


class Delivered(Schema):
    instances = fields.List(Int(), metadata={"description": "ids of the process instances reached"})
    started = fields.List(Int(), metadata={"description": "those of them the message started"})


# ------------------------------------------------------------------------------------ groups

class GroupCreate(Schema):
    name = Str(required=True, metadata={"description": "1-40 letters, digits, _ . -; not a built-in role"})
    title = Str(allow_none=True, validate=validate.Length(max=120))


class Group(Schema):
    name = Str()
    title = Str(allow_none=True)
    created_at = DateTime()
    created_by = Str(allow_none=True)
    members = fields.List(Str(), metadata={"description": "usernames"})


# ------------------------------------------------------------------------------------ liaisons

class LiaisonAreas(Schema):
    username = Str()
    department = Str(metadata={"description": "department code"})
    units = fields.List(Str(), metadata={"description": "codes of the streets, communities and grids she serves"})


class LiaisonQuery(Schema):
    department = Str(metadata={"description": "only this department's liaisons"})


# ------------------------------------------------------------------------------------ notifications

_CHANNELS_DOC = {"description": "event (task_offered, task_assigned, overdue, urged, escalated, case_closed) -> "
                                "channels (email, webhook); events left out keep their choice"}


class NotificationSettingsInput(Schema):
    email = Str(allow_none=True, load_default=None, metadata={"description": "where emails go; null: none"})
    language = Str(load_default="zh", metadata={"description": "zh or en: the language of the emails"})
    channels = fields.Dict(keys=Str(), values=fields.List(Str()), load_default=dict, metadata=_CHANNELS_DOC)


class NotificationSettings(Schema):
    email = Str(allow_none=True)
    language = Str()
    channels = fields.Dict(keys=Str(), values=fields.List(Str()), metadata=_CHANNELS_DOC)


class WebhookCreate(Schema):
    url = Str(required=True, metadata={"description": "http(s) URL that receives signed POSTs"})
    events = fields.List(Str(), load_default=list, metadata={"description": "events to send; empty: all"})
    user = Str(allow_none=True, load_default=None,
               metadata={"description": "username: her webhook channel; null: system-wide"})


class Webhook(Schema):
    id = Int()
    url = Str()
    events = fields.List(Str())
    user = Str(allow_none=True)
    active = Bool()
    created_at = DateTime()
    created_by = Str(allow_none=True)
    secret = Str(metadata={"description": "the HMAC-SHA256 key; only in the answer that registers it"})


class FailedDelivery(Schema):
    id = Int()
    event_id = Int()
    kind = Str(metadata={"description": "the event: task_offered, task_assigned, overdue, …"})
    channel = Str(metadata={"description": "email / webhook"})
    target = Str(metadata={"description": "the address or URL it went to"})
    user = Str(allow_none=True, metadata={"description": "the recipient; none for a system-wide webhook"})
    webhook_id = Int(allow_none=True)
    subject = Str(allow_none=True)
    status = Str(metadata={"description": "failed; pending once retried"})
    attempts = Int()
    last_error = Str(allow_none=True)
    created_at = DateTime()
    next_attempt_at = DateTime()
    case_id = Int(allow_none=True)
    case_number = Str(allow_none=True)


class FailedDeliveryPage(Schema):
    items = fields.List(fields.Nested(FailedDelivery))
    total = Int()
    page = Int()
    per_page = Int()


class Assign(Schema):
    user = Str(required=True, validate=validate.Length(min=1, max=80),
               metadata={"description": "the username of someone the task is offered to"})


# ------------------------------------------------------------------------------------ saved filters

class SavedFilterInput(Schema):
    name = Str(required=True, metadata={"description": "hers alone, unique among her filters"})
    scope = Str(required=True, metadata={"description": "one of her inbox tabs (see GET /tasks)"})
    params = fields.Dict(keys=Str(), values=Str(allow_none=True), load_default=dict, metadata={
        "description": "category, stage, grid, unit, due, q, sort (as GET /tasks takes them)"})


class SavedFilterRename(Schema):
    name = Str(required=True)


class SavedFilter(Schema):
    id = Int()
    name = Str()
    scope = Str()
    params = fields.Dict(keys=Str(), values=Str())
    created_at = DateTime()


# ------------------------------------------------------------------------------------ errors

ErrorDetail = Schema.from_dict({  # from_dict: a field called "fields" must not shadow Schema.fields
    "code": Str(metadata={"description": "not_found, forbidden, conflict, validation_error, process_error, ..."}),
    "reason": Str(metadata={"description": "what exactly was refused (engine errors): task_completed, task_claimed, "
                                           "task_not_yours, case_outside_area, task_not_found, ...; else the code"}),
    "message": Str(metadata={"description": "in the language Accept-Language names (zh-CN or English); "
                                            "without that header the engine's English"}),
    "fields": fields.Dict(keys=Str(), values=Str(), metadata={"description": "each bad field: what is wrong"}),
}, name="ErrorDetail")


class Error(Schema):
    error = fields.Nested(ErrorDetail)


# ------------------------------------------------------------------------------------ incidents

class IncidentQuery(PagingQuery):
    status = Str(load_default="open", validate=validate.OneOf(["open", "resolved"]))
    kind = Str(validate=validate.OneOf(["budget", "stuck", "timer"]))
    instance_id = Int(validate=validate.Range(min=1, max=2**63 - 1))


class Incident(Schema):
    id = Int()
    instance_id = Int()
    case_id = Int(allow_none=True)
    process_key = Str()
    kind = Str(metadata={"description": "budget: a script went over its CPU-time or memory budget; stuck: "
                                        "the instance can never move again; timer: its timers kept failing"})
    element = Str(allow_none=True, metadata={"description": "the BPMN element that failed or waits"})
    message = Str()
    status = Str()
    attempts = Int()
    created_at = DateTime()
    updated_at = DateTime()
    resolved_at = DateTime(allow_none=True)


IncidentPage = _page_of(Incident, "IncidentPage")


# ------------------------------------------------------------------------------------ definitions

class DefinitionSummary(Schema):
    key = Str()
    name = Str(allow_none=True)
    latest_version = Int()
    versions = Int()
    running = Int(metadata={"description": "running instances over all versions"})
    deployed_at = DateTime()
    case_process = Bool()


class DefinitionVersion(Schema):
    version = Int()
    name = Str(allow_none=True)
    content_hash = Str()
    deployed_at = DateTime()
    deployed_by = Str(allow_none=True)
    running = Int()


class Files(Schema):
    files = fields.Dict(keys=Str(validate=validate.Length(min=1, max=200)), values=Str(), required=True,
                        validate=validate.Length(min=1, max=100),
                        metadata={"description": "file name -> text: *.bpmn, *.dmn, forms as *.json"})
    lanes = fields.Dict(keys=Str(validate=validate.Length(min=1, max=200)),
                        values=Str(validate=validate.Length(min=1, max=40)),
                        load_default=dict, validate=validate.Length(max=100),
                        metadata={"description": "lane name -> the role or group its tasks are offered to "
                                                 "(overrides the processes' laneMap); multipart: a field "
                                                 "'lanes' as LANE=ROLE, ..."})


class TrialStep(Schema):
    """A task completed as a role, or time passing."""

    task = Str(validate=validate.Length(min=1, max=200), metadata={"description": "the open task's element id"})
    as_ = Str(data_key="as", attribute="as", validate=validate.Length(min=1, max=40),
              metadata={"description": "the role acting (the task's lane role; any for a task without lane)"})
    data = fields.Dict(load_default=dict, metadata={"description": "the form data it is completed with"})
    wait = Str(validate=validate.Length(min=1, max=20),
               metadata={"description": "instead of a task: let this much time pass (PT4H, 2WD, …); due timers fire"})

    @validates_schema
    def _one_kind(self, data, **kwargs):
        if ("wait" in data) == ("task" in data) or ("task" in data and "as" not in data):
            raise ValidationError("a step is either {task, as, data?} or {wait}")


class TrialRequest(Files):
    key = Str(validate=validate.Length(min=1, max=200),
              metadata={"description": "the process to try (default: the first)"})
    start = fields.Dict(load_default=dict, metadata={"description": "start data, checked by its start form"})
    steps = fields.List(fields.Nested(TrialStep), load_default=list, validate=validate.Length(max=200))


class TrialTask(Schema):
    element = Str()
    name = Str()
    name_zh = Str(allow_none=True)
    role = Str(allow_none=True, metadata={"description": "who it is offered to; none: the starter"})
    form = Str(allow_none=True)
    schema = fields.Dict(allow_none=True)
    input = fields.Dict()


class TrialDone(Schema):
    element = Str()
    name = Str()
    as_ = Str(data_key="as", attribute="as")
    data = fields.Dict()
    wait = Str(metadata={"description": "a wait step: how long"})
    fired = fields.List(Str(), metadata={"description": "a wait step: the timers that fired"})


class TrialAnswer(Schema):
    key = Str()
    status = Str(metadata={"description": "running or completed"})
    tasks = fields.List(fields.Nested(TrialTask), metadata={"description": "open now"})
    done = fields.List(fields.Nested(TrialDone))
    waiting = fields.List(Str(), metadata={"description": "events waiting (timers fire on wait steps)"})
    roles = fields.List(Str(), metadata={"description": "the roles its lanes offer tasks to"})
    elements = fields.Dict(keys=Str(), values=fields.Nested(lambda: ElementState()))
    data = fields.Dict()


class Problem(Schema):
    file = Str(allow_none=True)
    line = Int(allow_none=True)
    element = Str(allow_none=True)
    message = Str()
    severity = Str(metadata={"description": "error: deploy refuses it; warning: it deploys but will go wrong"})


class Problems(Schema):
    problems = fields.List(fields.Nested(Problem))


class DeployedVersion(Schema):
    key = Str()
    version = Int()
    created = Bool()


class DeployAnswer(Schema):
    key = Str(metadata={"description": "the first process of the files"})
    version = Int()
    deployed = fields.List(fields.Nested(DeployedVersion))
    warnings = fields.List(fields.Nested(Problem))


class DiffQuery(Schema):
    old = Int(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    new = Int(required=True, validate=validate.Range(min=1, max=2**31 - 1))


class ElementRef(Schema):
    id = Str()
    type = Str()
    name = Str(allow_none=True)


class ElementChange(ElementRef):
    changes = fields.Dict(keys=Str(), values=fields.List(fields.Raw(allow_none=True)))


class Diff(Schema):
    added = fields.List(fields.Nested(ElementRef))
    removed = fields.List(fields.Nested(ElementRef))
    changed = fields.List(fields.Nested(ElementChange))


class MigrateRequest(Schema):
    from_version = Int(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    to_version = Int(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    instances = fields.List(Int(validate=validate.Range(min=1, max=2**63 - 1)), validate=validate.Length(max=1000))
    dry_run = Bool(load_default=True)


class MigrateResult(Schema):
    id = Int()
    ok = Bool()
    reason = Str(allow_none=True)


class MigrateAnswer(Schema):
    dry_run = Bool()
    instances = fields.List(fields.Nested(MigrateResult))


class ElementState(Schema):
    state = Str(metadata={"description": "completed | active | overdue | incident"})
    count = Int(metadata={"description": "how often the element was passed"})


class Diagram(Schema):
    instance_id = Int()
    key = Str()
    version = Int()
    status = Str()
    xml_url = Str()
    elements = fields.Dict(keys=Str(), values=fields.Nested(ElementState))


class ProvisionalDeadline(Schema):
    instance_id = Int()
    case_id = Int(allow_none=True)
    at = DateTime()
    limit = Str()
    start = Str(metadata={"description": "counted from"})
    due = Str()
    years = fields.List(Int())
    task = Str(metadata={"description": "the task whose due time it is, if it is one"})


class LoadedNotice(Schema):
    id = Int()
    year = Int()
    source = Str()
    sha256 = Str()
    loaded_at = DateTime()
    loaded_by = Str(allow_none=True)


class CalendarStatus(Schema):
    country = Str(allow_none=True)
    published_years = fields.List(Int(), metadata={
        "description": "years with a State Council notice, loaded (POST /calendar/notices) or in workflows/calendars/"})
    notices = fields.List(fields.Nested(LoadedNotice), metadata={"description": "notices loaded, newest first"})
    provisional = fields.List(fields.Nested(ProvisionalDeadline),
                              metadata={"description": "deadlines counted on statutory holidays alone, whose "
                                                       "year still has no notice, newest first"})


class NoticeLoaded(Schema):
    id = Int()
    year = Int()
    source = Str()
    sha256 = Str()
    moved = fields.List(fields.Dict(), metadata={
        "description": "each due time moved: instance_id, case_id, from, to, limit, case (its deadline), tasks, "
                       "timers_rearmed"})


# ------------------------------------------------------------------------------------ photos

class PhotoUpload(Schema):
    photos = fields.List(Upload(), required=True, validate=validate.Length(min=1),
                         metadata={"description": "JPEG or PNG files, each re-encoded and stripped of all metadata "
                                                  "but when and where it was taken"})


class Photo(Schema):
    id = Int()
    case_id = Int()
    task_id = Str(allow_none=True, metadata={"description": "the task it was added to; none for the report's"})
    kind = Str(metadata={"description": "report / resolution / verification"})
    width = Int()
    height = Int()
    size = Int(metadata={"description": "bytes of the stored JPEG"})
    taken_at = DateTime(allow_none=True, metadata={"description": "EXIF DateTimeOriginal"})
    gps = fields.Dict(allow_none=True, metadata={"description": "where it was taken: lat, lon (alt)"})
    uploaded_at = DateTime()
    uploaded_by = Str(allow_none=True, metadata={"description": "none: a resident"})
    url = Str()
    thumbnail_url = Str()
