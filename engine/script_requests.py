"""What a process's scripts ask the engine to do beyond the workflow itself (open a case, move
the case's deadline, decide an exception request): collected while a command runs its engine
steps, then applied by that command in its own transaction."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from .errors import ProcessError


class ScriptRequests:
    """One kind of request: script functions ``ask`` during a command's steps; the command
    reads what they asked from ``collecting()``. Outside a command, asking is an error."""

    def __init__(self, name: str):
        self._requested: ContextVar[list[dict[str, Any]] | None] = ContextVar(f"gridloop_{name}", default=None)

    def ask(self, function: str, purpose: str, request: dict[str, Any]) -> None:
        requested = self._requested.get()
        if requested is None:
            raise ProcessError(f"{function}() {purpose}; it runs only inside a process step")
        requested.append(request)

    @contextmanager
    def collecting(self) -> Iterator[list[dict[str, Any]]]:
        requested: list[dict[str, Any]] = []
        token = self._requested.set(requested)
        try:
            yield requested
        finally:
            self._requested.reset(token)
