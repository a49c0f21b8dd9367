"""Errors the engine's service functions raise; the web layer maps each to one HTTP status.

Each carries a ``code`` (its class: not_found, forbidden, conflict, ...) and a ``reason``, a
stable identifier of what exactly was refused (``task_completed``, ``case_outside_area``, ...;
the code when nothing more precise is known), with ``params`` for telling the user what
happened in her language (who completed the task and when, the case it belongs to). The
English ``message`` is for logs and clients that ask for no language.
"""
from typing import Any


class EngineError(Exception):
    """Base class: ``code`` is a stable machine-readable identifier, ``reason`` a finer one."""

    code = "error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, reason: str | None = None,
                 params: dict[str, Any] | None = None,
                 field_reasons: dict[str, tuple[str, dict[str, Any]]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.reason = reason or self.code
        self.params = params or {}
        self.field_reasons = field_reasons or {}  # field -> (reason, params), as ``fields`` names them


class NotFound(EngineError):
    code = "not_found"


class Forbidden(EngineError):
    code = "forbidden"


class Conflict(EngineError):
    """The command raced another one or repeats a finished one (claimed, completed, stale)."""

    code = "conflict"


class InvalidInput(EngineError):
    """Submitted data is invalid; ``fields`` maps each bad field to its message."""

    code = "validation_error"


class DeployError(EngineError):
    """A BPMN/DMN/form file cannot be deployed; the message names file, element and line."""

    code = "deploy_error"

    def __init__(self, message: str, *, file: str | None = None, element: str | None = None,
                 line: int | None = None):
        where = ", ".join(p for p in (file and f"file {file}", element and f"element {element}",
                                      line and f"line {line}") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.element, self.line = file, element, line


class ProcessError(EngineError):
    """The process itself failed (a script or condition raised); nothing was saved."""

    code = "process_error"


class IncidentOpened(ProcessError):
    """The process failed in a way a person must look at (a script over its budget): unlike a
    plain ProcessError the instance *was* saved, as an incident (``engine/incidents.py``)."""

    code = "incident"

    def __init__(self, message: str, *, instance_id: int, element: str | None):
        super().__init__(message)
        self.instance_id, self.element = instance_id, element


class TooLarge(InvalidInput):
    """Submitted data is larger than allowed (a photo's bytes or pixels); answered 413."""

    code = "too_large"
