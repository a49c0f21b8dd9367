"""Sandboxed Python for BPMN conditions and scripts.

SpiffWorkflow's default environment runs plain ``eval``/``exec`` with full
builtins, and a builtins-only restriction is escapable through the object
graph (``().__class__.__base__.__subclasses__()``).  Here every expression
and script is compiled by RestrictedPython, which rewrites attribute, item,
iteration and write access into calls to guard functions and refuses
underscore names at compile time.  We add a policy that also refuses
imports and a few dangerous builtin names, so the same rules apply when a
model is deployed (``check_expression``/``check_script``) and at run time.
"""

import ast
import functools
import operator
import re
import types
import warnings

from RestrictedPython import PrintCollector, compile_restricted, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = [
    "ScriptError",
    "RestrictedScriptEnvironment",
    "RestrictedScriptEngine",
    "make_script_engine",
    "check_expression",
    "check_script",
]


class ScriptError(ValueError):
    """A condition or script was refused or could not be compiled.

    A ValueError (not a SyntaxError) on purpose: Spiff's error formatter
    crashes on SyntaxErrors whose ``lineno`` is None, which is what
    RestrictedPython produces.
    """

    def __init__(self, message, line=None, offset=None):
        super().__init__(message)
        self.line = line
        self.offset = offset


# Dangerous builtins (absent at run time anyway): refused at compile time so
# authors see the error on deploy.  Task data cannot use these names.
_DENIED_NAMES = frozenset({
    "open", "eval", "exec", "compile", "getattr", "globals", "locals", "vars",
    "breakpoint", "help", "exit", "quit", "memoryview",
})


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: no imports, no dangerous builtins."""

    def _refuse_import(self, node):
        names = ", ".join(a.name for a in node.names)
        module = f"{node.module}: " if getattr(node, "module", None) else ""
        self.error(node, f"import is not allowed ({module}{names}); "
                         "use the helper functions the engine provides")
        return node

    visit_Import = visit_ImportFrom = _refuse_import

    def visit_Name(self, node):
        if node.id in _DENIED_NAMES:
            self.error(node, f'"{node.id}" is not available in scripts')
        return super().visit_Name(node)


# RestrictedPython warns on every script that prints; printing is harmless.
warnings.filterwarnings("ignore", message=".*Prints, but never reads 'printed'",
                        category=SyntaxWarning)

_LINE_RE = re.compile(r"^Line (\d+):")


@functools.lru_cache(maxsize=4096)
def _compile(source, mode):
    """Restricted-compile once per (source, mode): conditions run thousands of times."""
    try:
        return compile_restricted(source, "<string>", mode, policy=_Policy)
    except SyntaxError as err:
        raise _to_script_error(source, mode, err) from None


def _to_script_error(source, mode, err):
    """Turn RestrictedPython's SyntaxError(tuple of 'Line N: ...') into ScriptError."""
    messages = err.args[0] if err.args else str(err)
    if isinstance(messages, str):
        messages = [messages]
    message = "; ".join(str(m).removeprefix("Line None: ") for m in messages)
    message = message or "invalid script"
    match = _LINE_RE.match(message)
    line = int(match.group(1)) if match else None
    offset = None
    try:  # a genuine syntax error: ask CPython for the column
        compile(source, "<string>", mode, ast.PyCF_ONLY_AST)
    except SyntaxError as syn:
        line, offset = syn.lineno or line, syn.offset
    return ScriptError(message, line=line, offset=offset)


def check_expression(source: str) -> None:
    """Deploy-time check of a condition/expression; raises ScriptError."""
    _compile(source, "eval")


def check_script(source: str) -> None:
    """Deploy-time check of a script task / pre- or post-script; raises ScriptError."""
    _compile(source, "exec")


_INPLACE_OPS = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
    "/=": operator.itruediv, "//=": operator.ifloordiv, "%=": operator.imod,
    "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift,
    "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
}
_INPLACE_TYPES = (bool, int, float, complex, str, bytes, tuple, list, dict, set,
                  frozenset)


def _inplacevar(op, target, value):
    """``x += y`` and friends, only on plain data types."""
    fn = _INPLACE_OPS.get(op)
    if fn is None or type(target) not in _INPLACE_TYPES:
        raise TypeError(f"{op} is not supported on {type(target).__name__}")
    return fn(target, value)


def _apply(func, *args, **kwargs):
    return func(*args, **kwargs)


_BUILTINS = dict(safe_builtins)
_BUILTINS.update({
    f.__name__: f for f in (len, min, max, sum, sorted, abs, round, int, float,
                            str, bool, list, dict, set, tuple, any, all, range,
                            enumerate, zip, isinstance)
})
_BUILTINS.pop("__import__", None)  # never present; make that explicit

# Names the compiled code calls; put last so task data cannot replace them.
_GUARDS = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": iter,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_apply_": _apply,
    "_print_": PrintCollector,
}


class RestrictedScriptEnvironment(TaskDataEnvironment):
    """Spiff environment running task data through RestrictedPython.

    ``helpers`` (name -> callable, e.g. ``now``, ``deadline``) are visible to
    every expression and script but never copied into task data.
    """

    def __init__(self, helpers=None):
        super().__init__(dict(helpers or {}))

    def _namespace(self, context, external_context):
        ns = dict(self.globals)
        if external_context:
            ns.update(external_context)
        ns.update(context)
        ns.update(_GUARDS)
        return ns

    def evaluate(self, expression, context, external_context=None):
        return eval(_compile(expression, "eval"),
                    self._namespace(context, external_context))

    def execute(self, script, context, external_context=None):
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        code = _compile(script, "exec")
        ns = self._namespace(context, external_context)
        exec(code, ns)
        # Only on success (Spiff keeps half-run changes): a task retried after
        # an error must not see e.g. a counter incremented twice.
        self._copy_back(ns, context, external_context)
        return True

    def _copy_back(self, ns, context, external_context):
        for name in [n for n in context if n not in ns]:
            del context[name]  # the script deleted it
        for name, value in ns.items():
            if (name.startswith("_") or name in self.globals
                    or name in external_context or callable(value)
                    or isinstance(value, types.ModuleType)):
                continue
            context[name] = value


class RestrictedScriptEngine(PythonScriptEngine):
    """Spiff's engine; errors keep their message and line number.

    Spiff drops the cause's message from expression errors and reports
    line 0 for errors not raised inside the script's own frames.
    """

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': "
                f"{err.__class__.__name__}: {err}", task=task, exception=err,
                line_number=getattr(err, "line", None),
                offset=getattr(err, "offset", None)) from err

    def create_task_exec_exception(self, task, script, err):
        if not isinstance(err, ScriptError):
            return super().create_task_exec_exception(task, script, err)
        lines = script.splitlines()
        error_line = lines[err.line - 1] if err.line and err.line <= len(lines) else ""
        return WorkflowTaskException(
            f"ScriptError: {err}", task=task, exception=err, line_number=err.line,
            offset=err.offset, error_line=error_line)


def make_script_engine(helpers: dict | None = None) -> PythonScriptEngine:
    """The script engine every workflow of ours runs with."""
    return RestrictedScriptEngine(environment=RestrictedScriptEnvironment(helpers))
