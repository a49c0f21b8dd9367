"""The ``gridloop`` command line: the same engine service functions the web layer calls."""
from __future__ import annotations

import json
import os
import signal
import sys

import click

from gridloop.engine import groups, liaisons
from gridloop.engine.db import Database
from gridloop.engine.definitions import parse_lane_map
from gridloop.engine.errors import EngineError
from gridloop.engine.runtime import WORKFLOWS_DIR, Runtime


def _runtime() -> Runtime:
    db = Database()
    db.create_schema()
    return Runtime(db)


def _user_id(rt: Runtime, username: str) -> int:
    from sqlalchemy import select
    from gridloop.engine.model import User
    with rt.db.reading() as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise click.BadParameter(f"no user '{username}'", param_hint="--user")
    return user_id


def _fail(exc: EngineError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    for field, message in (exc.fields or {}).items():
        click.echo(f"  {field}: {message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Gridloop: BPMN engine and task inbox for closed-loop community issue handling."""


@main.command("init-db")
def init_db() -> None:
    """Create the database schema (idempotent)."""
    Database().create_schema()
    click.echo("database ready")


def _report(results) -> None:
    for r in results:
        click.echo(f"{r.key} v{r.version} {'deployed' if r.created else 'unchanged'}")
    for r in results:
        for warning in r.warnings:
            click.echo(f"warning: {warning}", err=True)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--by", default="cli", help="Recorded as the deployer.")
@click.option("--lane-map", "lane_map", multiple=True, metavar="LANE=ROLE",
              help="Offer a lane's tasks to this role or group (repeatable; overrides the process's laneMap).")
def deploy(paths, by, lane_map) -> None:
    """Deploy BPMN/DMN files or folders (default: workflows/); new versions only for changes.
    Warns of lanes whose role or group no active user has."""
    try:
        mapping = parse_lane_map(",".join(lane_map))
        results = _runtime().deploy(list(paths) or [WORKFLOWS_DIR], by=by, lane_map=mapping)
    except EngineError as exc:
        _fail(exc)
    _report(results)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def check(paths, strict) -> None:
    """Check BPMN/DMN/form files as deploy would, plus the lint rules; no database needed.
    One line per problem, ``file:line: element: severity: message``; exit 1 on errors."""
    from gridloop.engine import definitions, lint
    try:
        problems = lint.check(definitions.read_sources(list(paths)))
    except EngineError as exc:
        _fail(exc)
    for problem in problems:
        click.echo(str(problem))
    if any(p.severity == "error" or strict for p in problems):
        sys.exit(1)


@main.command("seed-demo")
def seed_demo() -> None:
    """Load the demo organisation and users (idempotent)."""
    from gridloop.engine.seed import seed_demo as seed
    rt = _runtime()
    with rt.db.transaction() as s:
        seed(s)
    click.echo("demo organisation and users loaded")


@main.command("deactivate-user")
@click.argument("username")
def deactivate_user(username) -> None:
    """Lock a user out: she can no longer sign in, and her sessions and API tokens end."""
    try:
        _runtime().deactivate_user(None, username)
    except EngineError as exc:
        _fail(exc)
    click.echo(f"{username} deactivated; her sessions and tokens are revoked")


@main.command()
@click.argument("key")
@click.option("--data", default="{}", help="Initial data as a JSON object.")
@click.option("--version", type=int, default=None)
@click.option("--user", "username", default=None, help="Start as this user (the initiator).")
def start(key, data, version, username) -> None:
    """Start a deployed process by KEY with initial data."""
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from None
    rt = _runtime()
    user_id = _user_id(rt, username) if username else None
    try:
        inst = rt.start_process(user_id, key, payload, version=version)
    except EngineError as exc:
        _fail(exc)
    click.echo(json.dumps({"id": inst.id, "key": inst.key, "status": inst.status}))


@main.command("setup-demo")
def setup_demo() -> None:
    """Everything `make run` needs: schema, workflows, demo organisation, users and cases."""
    from gridloop.engine.seed import seed_demo as seed, seed_demo_cases
    rt = _runtime()
    with rt.db.transaction() as s:  # users first: the deploy checks that someone staffs each lane
        seed(s)
    _report(rt.deploy([WORKFLOWS_DIR], by="setup-demo"))
    created = seed_demo_cases(rt)
    click.echo(f"demo organisation, users and {created} new demo cases ready")


@main.command("rebuild-rollups")
def rebuild_rollups() -> None:
    """Recount the figures' rollup and backlog from the case rows (after cases were loaded outside the
    engine, or the working calendar's time zone changed); one transaction."""
    from gridloop.engine import rollups
    rt = _runtime()
    with rt.db.transaction() as s:
        written = rollups.rebuild(s, rt.calendar.tz)
    click.echo(f"rollup rebuilt: {written} rows")


@main.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The backup file to write.")
def backup(out) -> None:
    """Back up the whole database to a file while the app keeps running (SQLite: online
    backup API; PostgreSQL: pg_dump custom format, needs pg_dump on PATH)."""
    from gridloop.engine.backup import backup as run_backup
    try:
        run_backup(Database(), out)
    except EngineError as exc:
        _fail(exc)
    click.echo(f"backed up to {out}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def restore(file) -> None:
    """Restore a backup FILE into the configured database, which must be empty (PostgreSQL:
    create it first; needs pg_restore on PATH), then migrate it to this release."""
    from gridloop.engine.backup import restore as run_restore
    try:
        run_restore(Database(), file)
    except EngineError as exc:
        _fail(exc)
    click.echo(f"restored {file}")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--threads", default=8, type=int)
@click.option("--timers/--no-timers", default=True,
              help="Fire due timers and send notifications in background threads (turn off when "
                   "`gridloop worker`s run).")
def serve(host, port, threads, timers) -> None:
    """Serve the inbox, REST API and designer pages (gunicorn, one process, threads)."""
    from gunicorn.app.base import BaseApplication
    from gridloop.engine.worker import notifier, start_background
    from gridloop.web import create_app

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", 1)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")

        def load(self):
            app = create_app()
            if timers:  # in the gunicorn worker process, beside the request threads
                start_background(app.extensions["gridloop"])
                start_background(app.extensions["gridloop"], work=notifier(), name="notifications")
            return app

    click.echo(f"Gridloop on http://{host}:{port}")
    _Server().run()


@main.command()
@click.option("--once", is_flag=True, help="Do everything due now, then exit (for cron and tests).")
@click.option("--interval", default=5.0, type=float, show_default=True, help="Seconds between passes.")
@click.option("--notifications/--no-notifications", default=True, show_default=True,
              help="Also send notifications (email, webhooks), in a thread of their own.")
def worker(once, interval, notifications) -> None:
    """Fire due timers (SLA escalations, overdue marks, feedback closure) and send
    notifications until SIGTERM/SIGINT.

    Run any number of these, on any machines, over one PostgreSQL database: each due
    instance and each notification is claimed by exactly one of them (FOR UPDATE SKIP
    LOCKED). A signal lets the item in hand finish, then the worker exits.
    """
    import logging
    import threading
    from gridloop.engine.worker import Worker, notifier
    # SpiffWorkflow logs every task state change at INFO; a worker reports only its own news.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("engine").setLevel(logging.INFO)
    rt = _runtime()
    runner = Worker(rt, interval)
    sender = Worker(rt, interval, notifier(), "notifications")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: (runner.stop.set(), sender.stop.set()))
    thread = threading.Thread(target=sender.run, kwargs={"once": once}, name="gridloop-notifications")
    if notifications:
        thread.start()
    fired = runner.run(once=once)
    if notifications:
        thread.join()
    click.echo(f"fired timers of {fired} instances" + (f", sent {sender.done} notifications" if notifications else ""))


@main.command()
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--area", default=None, help="Org unit code (default: the user's unit, or the city).")
@click.option("--user", "username", default=None,
              help="Read as this user, within her rights; without it, as the operator (everything).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The XLSX file to write.")
def report(period, area, username, out) -> None:
    """The monthly report of an area: its figures, the previous month's, and per level below
    it, department, category and source, as an XLSX workbook."""
    from sqlalchemy import select
    from gridloop.engine import metrics, org, report as reports
    from gridloop.engine.model import OrgUnit, User
    rt = _runtime()
    try:
        first, last = metrics.month(period)
        with rt.db.reading() as s:
            if username:
                user_id = s.scalar(select(User.id).where(User.username == username))
                if user_id is None:
                    raise click.BadParameter(f"no user '{username}'", param_hint="--user")
                actor = org.actor(s, user_id)
                f = metrics.request(s, actor, tz=rt.calendar.tz, now=rt.clock.now(), first=first, last=last,
                                    area=area)
            else:
                start, end, asof = metrics.period(first, last, rt.calendar.tz, rt.clock.now())
                unit = s.scalars(select(OrgUnit).where(OrgUnit.code == area) if area else
                                 select(OrgUnit).where(OrgUnit.parent_id.is_(None))).first()
                if unit is None:
                    raise click.BadParameter(f"no org unit '{area}'", param_hint="--area")
                f = metrics.Filters(start, end, asof, unit.path, tz=rt.calendar.tz)
            level = s.scalar(select(OrgUnit.level).where(OrgUnit.path == f.area_path))
            sheets = reports.monthly(s, f, level)
            with click.progressbar(length=len(sheets), label=f"report {period}", file=sys.stderr) as bar:
                results = []
                for title, compute in sheets:
                    results.append((title, compute()))
                    bar.update(1)
    except EngineError as exc:
        _fail(exc)
    with open(out, "wb") as fh:
        fh.write(reports.to_xlsx(results))
    click.echo(f"wrote {out}: {len(results)} sheets")


@main.group()
def group() -> None:
    """Groups of users that lanes and process properties (starters) can name."""


def _system_command(action, describe) -> None:
    """Run ``action(runtime)``, a command or a read as the system (actor ``None``: the command
    line is trusted), and print each item it answers, one line each as ``describe`` puts it."""
    rt = _runtime()
    try:
        found = action(rt)
    except EngineError as exc:
        _fail(exc)
    for item in found if isinstance(found, list) else [found]:
        click.echo(describe(item))


def _reading(rt, query):
    """``query(session)`` in a read-only transaction."""
    with rt.db.reading() as s:
        return query(s)


def _group_command(action) -> None:
    _system_command(action, lambda g: f"{g.name}: {', '.join(g.members) or '-'}")


@group.command("create")
@click.argument("name")
@click.option("--title", default=None, help="What the group is for.")
def group_create(name, title) -> None:
    """Create an empty group NAME."""
    _group_command(lambda rt: rt.create_group(None, name, title))


@group.command("add")
@click.argument("name")
@click.argument("usernames", nargs=-1, required=True)
def group_add(name, usernames) -> None:
    """Add users to group NAME."""
    _group_command(lambda rt: rt.add_group_members(None, name, usernames))


@group.command("remove")
@click.argument("name")
@click.argument("usernames", nargs=-1, required=True)
def group_remove(name, usernames) -> None:
    """Remove users from group NAME."""
    _group_command(lambda rt: rt.remove_group_members(None, name, usernames))


@group.command("list")
def group_list() -> None:
    """Each group with its members."""
    _group_command(lambda rt: _reading(rt, lambda s: groups.list_groups(s, None)))


@main.group("import")
def import_() -> None:
    """Bring cases in from other systems."""


@import_.command("hotline")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", "mapping_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="TOML: columns and values of the hotline's export (e.g. workflows/hotline/12345.toml).")
@click.option("--user", "username", required=True,
              help="Report the cases as this user (an acceptor), within her rights.")
@click.option("--dry-run", is_flag=True, help="Check every row as the import would; store nothing.")
@click.option("--rejects", type=click.Path(dir_okay=False), default=None,
              help="Where rejected rows go, with the reason (default: FILE.rejects.csv beside FILE).")
def import_hotline(file, mapping_file, username, dry_run, rejects) -> None:
    """Turn 12345 hotline tickets (a CSV or XLSX export) into cases, each through the report
    command. A ticket imported before is skipped, so running a file again creates nothing
    twice; a row that cannot become a case goes to the reject file with the reason."""
    from gridloop.engine import hotline, tables
    rt = _runtime()
    user_id = _user_id(rt, username)
    try:
        mapping = hotline.load_mapping(mapping_file)
        header, rows = tables.read(file, mapping.sheet)
        missing = hotline.missing_columns(header, mapping)
        if missing:
            raise EngineError(f"{os.path.basename(file)}: columns missing: {', '.join(missing)}")
        with click.progressbar(length=len(rows), label="hotline tickets", file=sys.stderr) as bar:
            outcomes = hotline.import_rows(rt, user_id, rows, mapping, dry_run=dry_run, progress=lambda: bar.update(1))
    except EngineError as exc:
        _fail(exc)
    tally = {result: sum(o.result == result for o in outcomes) for result in ("created", "valid", "exists", "rejected")}
    rejected = [(o, rows[o.line - 2]) for o in outcomes if o.result == "rejected"]
    if rejected:
        rejects = rejects or os.path.splitext(file)[0] + ".rejects.csv"
        tables.write(rejects, ["line", "error"] + header,
                     ([o.line, o.detail] + [row.get(h, "") for h in header] for o, row in rejected))
    done = f"dry run: {tally['valid']} valid" if dry_run else f"created {tally['created']}"
    click.echo(f"{done}, {tally['exists']} already imported, {tally['rejected']} rejected"
               + (f" (see {rejects})" if rejected else ""))


@main.group()
def export() -> None:
    """Send results back to other systems."""


@export.command("hotline")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]),
              help="Cases changed since this local (Shenyang) date or time.")
@click.option("--mapping", "mapping_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="TOML with an [export] section (e.g. workflows/hotline/12345.toml).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .csv or .xlsx file to write.")
@click.option("--user", "username", default=None,
              help="Export as this user (an acceptor or supervisor: her area); without it, as the operator.")
def export_hotline(since, mapping_file, out, username) -> None:
    """Status, result and callback answers of the hotline's cases changed since a date, for the
    hotline system to read back."""
    from gridloop.engine import hotline, org, tables
    rt = _runtime()
    try:
        mapping = hotline.load_mapping(mapping_file)
        with rt.db.reading() as s:
            actor = org.actor(s, _user_id(rt, username)) if username else None
            header, rows = hotline.export_rows(s, actor, since.replace(tzinfo=rt.calendar.tz), mapping)
        tables.write(out, header, rows)
    except EngineError as exc:
        _fail(exc)
    click.echo(f"wrote {len(rows)} cases to {out}")


@main.group()
def liaison() -> None:
    """The streets, communities and grids each department liaison serves (定人定岗定责)."""


def _liaison_command(action) -> None:
    _system_command(action, lambda b: f"{b.username} ({b.department}): {', '.join(b.units) or '-'}")


@liaison.command("bind")
@click.argument("username")
@click.argument("units", nargs=-1, required=True)
def liaison_bind(username, units) -> None:
    """Bind liaison USERNAME to the street, community or grid codes UNITS."""
    _liaison_command(lambda rt: rt.bind_liaison(None, username, units))


@liaison.command("unbind")
@click.argument("username")
@click.argument("unit")
def liaison_unbind(username, unit) -> None:
    """Release liaison USERNAME from UNIT."""
    _liaison_command(lambda rt: rt.unbind_liaison(None, username, unit))


@liaison.command("list")
@click.option("--department", default=None, help="Only this department's liaisons.")
def liaison_list(department) -> None:
    """Each liaison with the areas she serves."""
    _liaison_command(lambda rt: _reading(rt, lambda s: liaisons.listing(s, None, department=department)))


@main.group()
def calendar() -> None:
    """The working calendar: State Council holiday notices (docs/operations.md)."""


@calendar.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "username", default=None, help="Load as this designer (recorded; default: the system).")
def calendar_load(file, username) -> None:
    """Load a holiday notice (one year, JSON): it overrides workflows/calendars/ for its year in
    every process, and moves the open provisional deadlines of that year. A bad file changes
    nothing: exit 1 with a line per bad field."""
    rt = _runtime()
    user_id = _user_id(rt, username) if username else None
    with open(file, "rb") as fh:
        raw = fh.read()
    try:
        loaded = rt.load_calendar_notice(user_id, raw)
    except EngineError as exc:
        _fail(exc)
    click.echo(f"{loaded.year} notice loaded ({loaded.source}); {len(loaded.moved)} due time(s) moved")
    for m in loaded.moved:
        click.echo(f"  instance {m['instance_id']} case {m['case_id']}: {m['from']} -> {m['to']} ({m['limit']})")


@main.group()
def webhook() -> None:
    """Webhooks that receive signed notifications (see docs/notifications.md)."""


@webhook.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, help="Only this event (repeatable; default: all).")
@click.option("--user", "username", default=None, help="The user's own webhook channel (default: system-wide).")
def webhook_add(url, events, username) -> None:
    """Register URL; prints its id and signing secret (shown only now)."""
    try:
        hook = _runtime().add_webhook(None, url, events=events, username=username)
    except EngineError as exc:
        _fail(exc)
    click.echo(f"webhook {hook.id}: {hook.url}\nsecret: {hook.secret}")


@webhook.command("list")
def webhook_list() -> None:
    """The active webhooks."""
    from gridloop.engine import subscriptions
    with _runtime().db.reading() as s:
        for hook in subscriptions.list_webhooks(s, None):
            click.echo(f"{hook.id}\t{hook.url}\t{','.join(hook.events) or 'all'}\t{hook.user or '-'}")


@webhook.command("remove")
@click.argument("webhook_id", type=int)
def webhook_remove(webhook_id) -> None:
    """Stop posting to webhook WEBHOOK_ID (what it has not received yet is recorded as failed)."""
    try:
        _runtime().remove_webhook(None, webhook_id)
    except EngineError as exc:
        _fail(exc)
    click.echo(f"webhook {webhook_id} removed")


from .residents import open311_key, qr  # noqa: E402  (they use this module's helpers)

main.add_command(qr)
main.add_command(open311_key)
