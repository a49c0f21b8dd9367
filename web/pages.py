"""Plumbing shared by the HTML pages: who is signed in, the sign-in guard, safe redirects,
the inbox counts in the navigation and the names of coded values (categories, sources, ...)."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, flash, g, redirect, request, session, url_for

from gridloop.engine import casestages, org, policy
from gridloop.engine.errors import InvalidInput, NotFound

from . import schema_forms
from .i18n import LABELS, label, pick, t
from gridloop.engine import inbox_plan, queries

from .services import case_process_forms, now, reading


SESSION_TOKEN = "token"  # the session cookie's key for the signed-in user's token


def current_actor() -> org.Actor | None:
    """The signed-in user as the engine's Actor, loaded once per request (one query); None
    when her token was revoked (signed out, deactivated) or expired."""
    if "actor" not in g:
        g.actor = None
        token = session.get(SESSION_TOKEN)
        if token is not None:
            with reading() as s:
                found = org.actor_for_token(s, token, now())
            if found is None:
                session.pop(SESSION_TOKEN, None)
            else:
                g.actor = found[0]
    return g.actor


def login_required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if current_actor() is None:
            flash(t("auth.required"), "info")
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return guarded


def safe_next(target: str | None, default: str = "inbox.index") -> str:
    """``target`` if it is a path on this site, else the default page (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not urlsplit(target).netloc:
        return target
    return url_for(default)


def page_url(page: int) -> str:
    """This page's URL with its filters kept and another page number."""
    return url_for(request.endpoint, **{**(request.view_args or {}), **request.args.to_dict(), "page": page})


def nav_counts() -> dict[str, int | str]:
    """Inbox counts for the navigation (a supervisor's include her overdue view); computed
    only when a page actually shows them."""
    if "nav_counts" not in g:
        actor = current_actor()
        if actor is None:
            g.nav_counts = {}
        else:
            with reading() as s:
                g.nav_counts = inbox_plan.tab_counts(s, actor, now())
    return g.nav_counts


def nav_sections() -> frozenset[str]:
    """The pages the navigation offers the signed-in user (``policy.sections``)."""
    if "nav_sections" not in g:
        actor = current_actor()
        if actor is None:
            g.nav_sections = frozenset()
        else:
            try:
                with reading() as s:
                    _forms, properties = case_process_forms(s)
            except (NotFound, InvalidInput):  # no case process deployed yet, or several: nobody reports here
                properties = None
            g.nav_sections = policy.sections(actor, properties)
    return g.nav_sections


def stage_vocabulary() -> casestages.Vocabulary:
    """The stages' names and the stages tasks have, from the deployed definitions (once a request)."""
    if "stage_vocabulary" not in g:
        with reading() as s:
            g.stage_vocabulary = casestages.vocabulary(s)
    return g.stage_vocabulary


def stage_codes() -> list[str]:
    """The stages a case may be at, for a list to choose from: those the definitions name,
    then those the engine gives a case it ends (i18n.LABELS)."""
    named = stage_vocabulary().labels
    return [*named, *(code for code in LABELS["stage"] if code not in named)]


def field_labels() -> dict[str, dict[str, str]]:
    """Names of coded values by field name (category, source, urgency, department, ...), in the
    current language, from the case process's forms, and the stages' from the definitions'
    stage labels: the designer's files stay the truth."""
    if "field_labels" not in g:
        try:
            with reading() as s:
                forms, _properties = case_process_forms(s)
        except (NotFound, InvalidInput):  # no case process deployed yet, or several (none is the one)
            forms = {}
        labels: dict[str, dict[str, str]] = {}
        for schema in forms.values():
            for name, prop in schema.get("properties", {}).items():
                for code, names in prop.get("x-enum-labels", {}).items():
                    labels.setdefault(name, {}).setdefault(code, pick(names.get("zh"), names.get("en")) or code)
        labels["stage"] = {code: pick(*names) for code, names in stage_vocabulary().labels.items()}
        g.field_labels = labels
    return g.field_labels


def enum_label(field: str, code) -> str:
    """A coded value's name: from the forms, else from i18n.LABELS (values a process sets
    itself, such as satisfaction ``no_feedback``), else the code."""
    if code is None:
        return ""
    return field_labels().get(field, {}).get(str(code)) or label(field, code)


def _named(kind: str, key: str | None, lookup) -> str:
    """The name of an org unit or a user in the page's language, else the code itself; each
    looked up once per request."""
    if not key:
        return ""
    cache = g.setdefault(f"{kind}_names", {})
    if key not in cache:
        with reading() as s:
            cache[key] = lookup(s, {key}).get(key)
    names = cache[key]
    return pick(*names) if names else key


def unit_name(code: str | None) -> str:
    return _named("unit", code, queries.unit_names)


def user_name(username: str | None) -> str:
    return _named("user", username, queries.user_names)


def init_app(app: Flask) -> None:
    app.add_template_global(current_actor)
    app.add_template_global(nav_counts)
    app.add_template_global(nav_sections)
    app.add_template_global(field_labels)
    app.add_template_global(enum_label)
    app.add_template_global(unit_name)
    app.add_template_global(user_name)
    app.add_template_global(page_url)
    app.add_template_global(schema_forms.stray_errors)
