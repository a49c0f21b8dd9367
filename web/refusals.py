"""The engine's refusals told in the page's language: what happened (who completed the task
and when, whose area the case is in), from the error's ``reason`` and ``params``
(engine/errors.py), and its field errors by reason (engine/forms.py)."""
from __future__ import annotations

from datetime import datetime

from gridloop.engine.errors import EngineError

from .i18n import MESSAGES, lang, localtime, t


def _variant(exc: EngineError) -> str:
    """The message key: ``refusal.<reason>``, or its variant naming who did it (``.you``/``.by``)."""
    key, params = f"refusal.{exc.reason}", exc.params
    if params.get("by_you") and f"{key}.you" in MESSAGES:
        return f"{key}.you"
    if params.get("by") and f"{key}.by" in MESSAGES:
        return f"{key}.by"
    return key


def explain(exc: EngineError) -> str:
    """One sentence saying what happened, in the page's language. A reason the catalog does
    not know falls back to its class's sentence in Chinese, and to the engine's own (more
    precise) English message in English."""
    key = _variant(exc)
    if key not in MESSAGES:
        if lang() == "en":
            return exc.message
        key = f"refusal.{exc.code}" if f"refusal.{exc.code}" in MESSAGES else "refusal.conflict"
    at = exc.params.get("at")
    return t(key, by=exc.params.get("by") or "", at=localtime(datetime.fromisoformat(at)) if at else "")


def field_messages(exc: EngineError) -> dict[str, str]:
    """The error's field messages in the page's language (the engine's English ones for
    fields it gave no reason for, on an English page)."""
    messages = {}
    for name, message in (exc.fields or {}).items():
        reason, params = exc.field_reasons.get(name, (None, {}))
        if reason and f"field.{reason}" in MESSAGES:
            messages[name] = t(f"field.{reason}", **params)
        else:
            messages[name] = message if lang() == "en" else t("field.invalid")
    return messages


def form_errors(exc: EngineError, field: str = "data") -> dict[str, str]:
    """What a form page shows for a refused submission: each field's message, or the
    explanation against ``field`` when no field is named."""
    return field_messages(exc) or {field: explain(exc)}
