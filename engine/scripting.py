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
import importlib
import operator
import re
import types
import warnings
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Literal, Sequence, TypeVar, cast

from RestrictedPython.compile import compile_restricted
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import (
    full_write_guard,
    safe_builtins,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask

from . import budget
from .budget import Budget, BudgetExceeded, Limits

__all__ = [
    "ScriptError",
    "ScriptBudgetError",
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

    def __init__(self, message: str, line: int | None = None, offset: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.offset = offset


class ScriptBudgetError(ScriptError):
    """Model code went over its CPU-time or memory budget (see ``engine/budget.py``)."""

    def __init__(self, exceeded: BudgetExceeded) -> None:
        super().__init__(f"over budget: {exceeded.message}")
        self.kind = exceeded.kind


# Dangerous builtins (absent at run time anyway): refused at compile time so
# authors see the error on deploy.  Task data cannot use these names.
_DENIED_NAMES = frozenset({
    "open", "eval", "exec", "compile", "getattr", "globals", "locals", "vars",
    "breakpoint", "help", "exit", "quit", "memoryview",
})


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


_Node = TypeVar("_Node", bound=ast.AST)
_Body = TypeVar("_Body", ast.While, ast.FunctionDef)


def _located(new: _Node, old: ast.AST) -> _Node:
    """``new`` (and the nodes made for it) at ``old``'s place in the source."""
    return ast.fix_missing_locations(ast.copy_location(new, old))


_TICK = "_budget_tick_"
_BINOPS = {ast.Pow: "**", ast.Mult: "*", ast.Add: "+", ast.LShift: "<<"}
_CONVERSIONS = {ord("s"): "_budget_str_", ord("r"): "_budget_repr_", ord("a"): "_budget_repr_"}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: no imports, no dangerous builtins, and the budget's
    guards: a step at every loop iteration and call, size checks before the operations that
    can make a huge value at once (``engine/budget.py``)."""

    def _refuse_import(self, node: ast.Import | ast.ImportFrom) -> ast.AST:
        names = ", ".join(a.name for a in node.names)
        module = f"{node.module}: " if isinstance(node, ast.ImportFrom) and node.module else ""
        self.error(node, f"import is not allowed ({module}{names}); "
                         "use the helper functions the engine provides")
        return node

    visit_Import = visit_ImportFrom = _refuse_import

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in _DENIED_NAMES:
            self.error(node, f'"{node.id}" is not available in scripts')
        return cast(ast.AST, super().visit_Name(node))

    def visit_BinOp(self, binop: ast.BinOp) -> ast.AST:
        node = cast(ast.BinOp, super().visit_BinOp(binop))  # the visitors return the node they were given
        symbol = _BINOPS.get(type(node.op))
        if symbol is not None:
            return _located(_call("_budget_binop_", ast.Constant(symbol), node.left, node.right), node)
        if isinstance(node.op, ast.Mod):
            return _located(_call("_budget_percent_", node.left, node.right), node)
        return node

    def visit_FormattedValue(self, formatted: ast.FormattedValue) -> ast.AST:
        node = cast(ast.FormattedValue, super().visit_FormattedValue(formatted))
        value = node.value
        if node.conversion in _CONVERSIONS:
            value = _call(_CONVERSIONS[node.conversion], value)
        spec = node.format_spec if node.format_spec is not None else ast.Constant("")
        return _located(ast.FormattedValue(value=_call("_budget_format_", value, spec),
                                           conversion=-1, format_spec=None), node)

    def _ticking(self, node: _Body) -> _Body:
        node.body.insert(0, _located(ast.Expr(_call(_TICK)), node))
        return node

    def visit_While(self, node: ast.While) -> ast.While:
        return self._ticking(cast(ast.While, super().visit_While(node)))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        return self._ticking(cast(ast.FunctionDef, super().visit_FunctionDef(node)))

    def visit_Lambda(self, lambda_: ast.Lambda) -> ast.Lambda:
        node = cast(ast.Lambda, super().visit_Lambda(lambda_))
        node.body = _located(ast.BoolOp(op=ast.Or(), values=[_call(_TICK), node.body]), node.body)
        return node


# RestrictedPython warns on every script that prints; printing is harmless.
warnings.filterwarnings("ignore", message=".*Prints, but never reads 'printed'",
                        category=SyntaxWarning)

_LINE_RE = re.compile(r"^Line (\d+):")


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: Literal["eval", "exec"]) -> types.CodeType:
    """Restricted-compile once per (source, mode): conditions run thousands of times."""
    try:
        code: types.CodeType = compile_restricted(source, "<string>", mode, policy=_Policy)
        return code
    except SyntaxError as err:
        raise _to_script_error(source, mode, err) from None


def _to_script_error(source: str, mode: Literal["eval", "exec"], err: SyntaxError) -> ScriptError:
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


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
    "/=": operator.itruediv, "//=": operator.ifloordiv, "%=": operator.imod,
    "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift,
    "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
}
_INPLACE_TYPES = (bool, int, float, complex, str, bytes, tuple, list, dict, set,
                  frozenset)


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    """``x += y`` and friends, only on plain data types."""
    fn = _INPLACE_OPS.get(op)
    if fn is None or type(target) not in _INPLACE_TYPES:
        raise TypeError(f"{op} is not supported on {type(target).__name__}")
    budget.inplace_size(op, target, value)
    return fn(target, value)


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


# Modules the C code of builtins imports lazily through the calling frame's ``__import__``
# (``strftime`` imports time, ``strptime`` _strptime). Scripts cannot name ``__import__``
# (underscore names do not compile), so this hook is reached only from that C code.
_LAZY_IMPORTS = frozenset({"time", "_strptime"})


def _lazy_import(name: str, globals: dict[str, Any] | None = None, locals: dict[str, Any] | None = None,
                 fromlist: Sequence[str] = (), level: int = 0) -> types.ModuleType:
    if name not in _LAZY_IMPORTS or level:
        raise ImportError(f"import is not allowed ({name})")
    return importlib.import_module(name)


# Names every script, condition and timer expression sees (docs/modelling.md). ``now()``,
# the engine clock as an aware UTC datetime, comes with the runtime's helpers.
SCRIPT_NAMES = {"datetime": datetime, "date": date, "timedelta": timedelta, "timezone": timezone}


_BUILTINS: dict[str, Any] = dict(safe_builtins)
_BUILTINS.update({
    f.__name__: f for f in (len, min, max, sum, sorted, abs, round, int, float,
                            str, bool, list, dict, set, tuple, any, all, range,
                            enumerate, zip, isinstance)
})
_BUILTINS["__import__"] = _lazy_import
_BUILTINS = budget.guarded_builtins(_BUILTINS)

# Names the compiled code calls; put last so task data cannot replace them.
_GUARDS = {
    "__builtins__": _BUILTINS,
    "_getitem_": default_guarded_getitem,
    **budget.GUARDS,
    "_budget_str_": str,
    "_budget_repr_": repr,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_apply_": _apply,
    "_print_": PrintCollector,
}


class RestrictedScriptEnvironment(TaskDataEnvironment):  # type: ignore[misc]  # SpiffWorkflow ships no types
    """Spiff environment running task data through RestrictedPython.

    ``SCRIPT_NAMES`` and ``helpers`` (name -> callable, e.g. ``now``,
    ``deadline``) are visible to every expression and script but never copied
    into task data (task data may still shadow them). Each evaluation runs
    under a fresh :class:`~engine.budget.Budget` of ``limits``.
    """

    def __init__(self, helpers: dict[str, Any] | None = None, limits: Limits | None = None) -> None:
        super().__init__({**SCRIPT_NAMES, **(helpers or {})})
        self.limits = limits or budget.limits_from_env()

    def check_for_overwrite(self, context: dict[str, Any], external_context: dict[str, Any]) -> None:
        """Task data may shadow ``SCRIPT_NAMES`` (a form field called ``date``), not helpers."""
        if SCRIPT_NAMES.keys() & context.keys():
            context = {k: v for k, v in context.items() if k not in SCRIPT_NAMES}
        super().check_for_overwrite(context, external_context)

    def _run(self, code: types.CodeType, ns: dict[str, Any], mode: str) -> Any:
        with Budget(self.limits) as allowance:
            result = None  # what an expression gives; a script gives nothing
            try:
                if mode == "eval":
                    result = eval(code, ns)
                else:
                    exec(code, ns)
            except BudgetExceeded as exc:
                raise ScriptBudgetError(exc) from None
            try:
                allowance.check()  # tripped, though the script caught it
            except BudgetExceeded as exc:
                raise ScriptBudgetError(exc) from None
        return result

    def _namespace(self, context: dict[str, Any], external_context: dict[str, Any] | None) -> dict[str, Any]:
        ns: dict[str, Any] = dict(self.globals)
        if external_context:
            ns.update(external_context)
        ns.update(context)
        ns.update(_GUARDS)
        return ns

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
                 ) -> Any:
        return self._run(_compile(expression, "eval"), self._namespace(context, external_context), "eval")

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
                ) -> bool:
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        code = _compile(script, "exec")
        ns = self._namespace(context, external_context)
        self._run(code, ns, "exec")
        # Only on success (Spiff keeps half-run changes): a task retried after
        # an error must not see e.g. a counter incremented twice.
        self._copy_back(ns, context, external_context)
        return True

    def _copy_back(self, ns: dict[str, Any], context: dict[str, Any], external_context: dict[str, Any]) -> None:
        for name in [n for n in context if n not in ns]:
            del context[name]  # the script deleted it
        for name, value in ns.items():
            if (name.startswith("_") or self.globals.get(name, self) is value
                    or name in external_context or callable(value)
                    or isinstance(value, types.ModuleType)):
                continue
            context[name] = value


class RestrictedScriptEngine(PythonScriptEngine):  # type: ignore[misc]  # SpiffWorkflow ships no types
    """Spiff's engine; errors keep their message and line number.

    Spiff drops the cause's message from expression errors and reports
    line 0 for errors not raised inside the script's own frames.
    """

    def evaluate(self, task: SpiffTask, expression: str, external_context: dict[str, Any] | None = None) -> Any:
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

    def create_task_exec_exception(self, task: SpiffTask, script: str, err: Exception) -> WorkflowTaskException:
        if not isinstance(err, ScriptError):
            return super().create_task_exec_exception(task, script, err)
        lines = script.splitlines()
        error_line = lines[err.line - 1] if err.line and err.line <= len(lines) else ""
        return WorkflowTaskException(
            f"ScriptError: {err}", task=task, exception=err, line_number=err.line,
            offset=err.offset, error_line=error_line)


def make_script_engine(helpers: dict[str, Any] | None = None, limits: Limits | None = None) -> PythonScriptEngine:
    """The script engine every workflow of ours runs with."""
    return RestrictedScriptEngine(environment=RestrictedScriptEnvironment(helpers, limits))
