"""CPU-time and memory budgets for the Python in models (scripts, conditions, timer
expressions, DMN cells).

Models run inside the command that moves their instance, so a script that never ends
(``while True: pass``) or builds something huge (``10**10**7``, ``'a' * 3 * 10**8``) would hold
that instance's lock (on SQLite: every writer's) and stall the service. The budget is kept by
the code itself rather than by a separate process: ``scripting`` compiles every model
expression with guards that call into this module, so a command pays nanoseconds per guarded
operation instead of an inter-process round trip per evaluation (``bench/script_budget.py``
measures both).

What is guarded:

* **steps and CPU time** — every loop iteration, comprehension item and function call counts a
  step (``tick``); every few thousand steps the thread's CPU time is compared with the budget.
* **sizes** — operations that can make a large object in one C-level step are checked *before*
  they run: ``**``, ``*``, ``+``, ``<<`` (and their in-place forms), ``%`` and f-string widths,
  the growing ``str``/``bytes`` methods (``join``, ``replace``, ``ljust`` …,
  ``split``), ``range`` and the builtins that materialize an iterable. Each allowed result is
  charged to the evaluation's memory allowance; a single result over it, or the allowance
  used up, stops the evaluation.

Over budget, the guard raises :class:`BudgetExceeded`, a ``BaseException`` so that a script's
own ``try/except Exception`` cannot swallow it (and an evaluation that caught it anyway is
failed afterwards: :meth:`Budget.check`).
"""
from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from types import BuiltinMethodType
from typing import Any, Callable, Iterable, Iterator, Sized, SupportsIndex, cast

from RestrictedPython.Guards import safer_getattr

__all__ = ["Limits", "Budget", "BudgetExceeded", "GUARDS", "guarded_builtins", "limits_from_env"]


@dataclass(frozen=True)
class Limits:
    """Per evaluation. Defaults far above what a real model uses (a few conditions and small
    scripts over task data) and far below what stalls a server."""

    cpu_seconds: float = 2.0
    memory_bytes: int = 64 * 1024 * 1024
    steps: int = 2_000_000


def limits_from_env() -> Limits:
    """``GRIDLOOP_SCRIPT_CPU_SECONDS``, ``GRIDLOOP_SCRIPT_MEMORY_MB``, ``GRIDLOOP_SCRIPT_STEPS``."""
    default = Limits()
    env = os.environ.get
    return Limits(cpu_seconds=float(env("GRIDLOOP_SCRIPT_CPU_SECONDS", default.cpu_seconds)),
                  memory_bytes=int(float(env("GRIDLOOP_SCRIPT_MEMORY_MB", default.memory_bytes / 2**20)) * 2**20),
                  steps=int(env("GRIDLOOP_SCRIPT_STEPS", default.steps)))


class BudgetExceeded(BaseException):
    """Raised inside model code when it goes over its budget; ``kind`` is cpu/memory/steps."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


# Big-integer arithmetic runs in C for as long as its operands are big (``7 ** 10**8`` takes
# minutes but only 35 MB), so integers are capped by size itself: 100 000 bits is 30 000
# digits, far past any amount, count or identifier in a model.
INT_BITS = 100_000
_CHECK_EVERY = 4096  # steps between two CPU-time readings (a reading is a system call)
_local = threading.local()


class Budget:
    """The running evaluation's allowance; one per evaluation, current per thread."""

    __slots__ = ("limits", "steps", "memory", "deadline", "exceeded", "_previous")
    deadline: float | None

    def __init__(self, limits: Limits):
        self.limits = limits
        self.steps = 0
        self.memory = 0
        self.deadline = None  # the CPU clock starts at the first check: most evaluations end before
        self.exceeded: BudgetExceeded | None = None

    def __enter__(self) -> Budget:
        self._previous = getattr(_local, "budget", None)
        _local.budget = self
        return self

    def __exit__(self, *exc: object) -> None:
        _local.budget = self._previous

    def fail(self, kind: str, message: str) -> BudgetExceeded:
        self.exceeded = self.exceeded or BudgetExceeded(kind, message)
        return self.exceeded

    def tick(self) -> None:
        self.steps += 1
        if self.exceeded is not None:
            raise self.exceeded  # caught once by the script: every later step fails again
        if self.steps % _CHECK_EVERY == 0:
            if self.steps > self.limits.steps:
                raise self.fail("steps", f"more than {self.limits.steps:,} steps (loop iterations and calls)")
            used = time.thread_time()
            if self.deadline is None:
                self.deadline = used + self.limits.cpu_seconds
            elif used > self.deadline:
                raise self.fail("cpu", f"more than {self.limits.cpu_seconds:g} s of CPU time")

    def charge(self, size: int) -> None:
        """Account for an object of about ``size`` bytes about to be made."""
        if self.exceeded is not None:
            raise self.exceeded
        self.memory += size
        if size > self.limits.memory_bytes or self.memory > self.limits.memory_bytes:
            raise self.fail("memory", f"more than {self.limits.memory_bytes // 2**20} MB of memory "
                                      f"(a value of about {max(size, 0) // 2**20} MB)")

    def check(self) -> None:
        """After the evaluation: fail it if the budget tripped, even if the script caught it."""
        if self.exceeded is not None:
            raise self.exceeded


def _current() -> Budget | None:
    return getattr(_local, "budget", None)


def _charge(size: int) -> None:
    budget = _current()
    if budget is not None:
        budget.charge(size)


# ------------------------------------------------------------------------ size estimates

_SEQUENCES = (str, bytes, bytearray, list, tuple)


def _size(value: Any) -> int:
    """Bytes an object of this kind and length takes, roughly (for growing it). Lengths come
    from the builtin type, so a subclass in a script cannot understate them."""
    for base, per_item in _SIZED:
        if isinstance(value, base):
            return per_item * base.__len__(value)
    if isinstance(value, int):
        return int.bit_length(value) // 8
    return 0


_SIZED: tuple[tuple[type[Sized], int], ...] = (
    (str, 1), (bytes, 1), (bytearray, 1), (list, 8), (tuple, 8), (set, 8), (frozenset, 8), (dict, 8), (range, 8))


def _length(value: Any) -> int:
    for base, _ in _SIZED:
        if isinstance(value, base):
            return base.__len__(value)
    return 0


def _bits(value: int) -> int:
    return int.bit_length(value)


def _int_size(bits: int) -> int:
    if bits > INT_BITS:
        budget = _current()
        message = f"an integer of about {bits:,} bits (at most {INT_BITS:,})"
        raise budget.fail("memory", message) if budget is not None else OverflowError(message)
    return bits // 8


def _mul_size(a: Any, b: Any) -> int:
    if isinstance(a, int) and isinstance(b, int):
        return _int_size(_bits(a) + _bits(b))
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, _SEQUENCES) and isinstance(n, int):
            return _size(seq) * max(int(n), 0)
    return 0


def _pow_size(a: Any, b: Any) -> int:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        return _int_size(_bits(a) * int(b))
    return 0


def _add_size(a: Any, b: Any) -> int:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        return _size(a) + _size(b)
    return 0


def _lshift_size(a: Any, b: Any) -> int:
    if isinstance(a, int) and isinstance(b, int) and b > 0:
        return _int_size(_bits(a) + int(b))
    return 0


_WIDTHS = re.compile(r"(\d+)")
_PERCENT = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")


def _spec_size(spec: str) -> int:
    """The widest field a format spec asks for (``>20``, ``.5f``, ``,``)."""
    return max((int(n) for n in _WIDTHS.findall(spec)), default=0)


def _percent_size(template: str | bytes | bytearray) -> int:
    text = template.decode("latin-1") if isinstance(template, (bytes, bytearray)) else template
    size = len(text)
    for width, precision in _PERCENT.findall(text):
        if "*" in (width, precision):
            raise TypeError("'*' widths are not supported in scripts; write the width out")
        size += int(width or 0) + int(precision or 0)
    return size


# ------------------------------------------------------------------------ the guards

_BINARY: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], int]]] = {
    "**": (lambda a, b: a ** b, _pow_size),
    "*": (lambda a, b: a * b, _mul_size),
    "+": (lambda a, b: a + b, _add_size),
    "<<": (lambda a, b: a << b, _lshift_size),
}


def binop(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for the operators that can make a huge result in one step."""
    fn, estimate = _BINARY[op]
    size = estimate(a, b)
    if size:
        _charge(size)
    return fn(a, b)


def percent(a: Any, b: Any) -> Any:
    """``a % b``: string formatting is checked for its widths, numbers are left alone."""
    if isinstance(a, (str, bytes, bytearray)):
        _charge(_percent_size(a) + sum(_size(v) for v in (b if isinstance(b, tuple) else (b,))))
    return a % b


def inplace_size(op: str, target: Any, value: Any) -> None:
    """Charge ``target op= value`` like the plain operator."""
    entry = _BINARY.get(op[:-1])
    if entry is not None:
        size = entry[1](target, value)
        if size:
            _charge(size)
    elif op == "%=" and isinstance(target, (str, bytes, bytearray)):
        _charge(_percent_size(target))


def format_value(value: Any, spec: str) -> str:
    """One f-string field: its width is checked before it is formatted."""
    _charge(_spec_size(spec) + _size(value))
    return format(value, spec)


def tick() -> None:
    budget = _current()
    if budget is not None:
        budget.tick()


def iterate(obj: Iterable[Any]) -> Iterator[Any]:
    """``for`` loops and comprehensions: one step per item."""
    budget = _current()
    if budget is None:
        yield from obj
        return
    for item in obj:
        budget.tick()
        yield item


def _width_arg(s: str | bytes, width: Any, *rest: Any) -> int:
    return len(s) + max(width, 0) if isinstance(width, int) else 0


def _join_size(sep: str | bytes, iterable: Iterable[Any]) -> tuple[int, list[Any]]:
    items = list(iterable)
    return sum(_size(i) for i in items) + _size(sep) * max(len(items) - 1, 0), items


def _replace_size(s: Any, old: Any, new: Any, *count: Any) -> int:
    n = s.count(old) if old else len(s) + 1
    if count and isinstance(count[0], int) and count[0] >= 0:
        n = min(n, count[0])
    return len(s) + n * max(len(new) - len(old), 0)


def _split_size(s: Any, sep: Any = None, *rest: Any) -> int:
    parts = (s.count(sep) + 1) if sep else (len(s) // 2 + 1)
    return 64 * parts + len(s)


def _expandtabs_size(s: Any, tabsize: Any = 8) -> int:
    size: int = len(s) + s.count("\t" if isinstance(s, str) else b"\t") * max(tabsize, 0)
    return size


_METHOD_SIZES: dict[str, Callable[..., int]] = {
    "ljust": _width_arg, "rjust": _width_arg, "center": _width_arg, "zfill": _width_arg,
    "replace": _replace_size, "expandtabs": _expandtabs_size,
    "split": _split_size, "rsplit": _split_size,
    "splitlines": lambda s, *a: 64 * (len(s) // 2 + 1) + len(s),
}


def _guard_method(self_type: type, name: str, method: Callable[..., Any], bound: bool) -> Callable[..., Any]:
    """A str/bytes method that checks the size of its result before making it."""

    def call(*args: Any, **kwargs: Any) -> Any:
        full = args if not bound else (cast(BuiltinMethodType, method).__self__, *args)
        if name == "join":
            sep, iterable = full
            size, items = _join_size(sep, iterable)
            _charge(size)
            return method(items) if bound else method(sep, items)
        _charge(_METHOD_SIZES[name](*full, **kwargs))
        return method(*args, **kwargs)

    return call


# (``str.format`` needs no guard: RestrictedPython refuses it.)
_GUARDED_METHODS = frozenset({"join", *_METHOD_SIZES})


def getattr_(obj: Any, name: str, default: Any = None, getattr: Callable[..., Any] = getattr) -> Any:
    """RestrictedPython's attribute guard, with the growing text methods size-checked."""
    value = safer_getattr(obj, name, default, getattr)
    if name in _GUARDED_METHODS:
        if type(obj) in (str, bytes, bytearray):
            return _guard_method(type(obj), name, value, bound=True)
        if obj in (str, bytes, bytearray):
            return _guard_method(obj, name, value, bound=False)
    return value


def _materializing(builtin: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if args:
            _charge(8 * _length(args[0]))
        return builtin(*args, **kwargs)

    guarded.__name__ = builtin.__name__
    return guarded


def _range(*args: SupportsIndex) -> range:
    r = range(*args)
    budget = _current()
    if budget is not None and len(r) > budget.limits.steps:
        raise budget.fail("steps", f"a range of {len(r):,} items is more than the "
                                   f"{budget.limits.steps:,} steps a script may take")
    return r


def _sum(iterable: Iterable[Any], /, start: Any = 0) -> Any:
    if not isinstance(start, (int, float, complex)):
        raise TypeError("sum() adds numbers only in scripts; use ''.join() or a loop")
    return sum(iterable, start)


def _pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        return binop("**", base, exp)
    return pow(base, exp, mod)


def _bytes_factory(builtin: type) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], int):
            _charge(args[0])
        return builtin(*args, **kwargs)

    guarded.__name__ = builtin.__name__
    return guarded


def guarded_builtins(builtins: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's builtins with the size-making ones replaced by guarded versions."""
    guarded = dict(builtins)
    for name in ("list", "tuple", "set", "frozenset", "sorted", "dict"):
        if name in guarded:
            guarded[name] = _materializing(guarded[name])
    guarded.update(range=_range, sum=_sum, pow=_pow, bytes=_bytes_factory(bytes),
                   bytearray=_bytes_factory(bytearray))
    return guarded


# Names the compiled code calls (see scripting._Policy).
GUARDS: dict[str, Any] = {
    "_budget_tick_": tick,
    "_budget_binop_": binop,
    "_budget_percent_": percent,
    "_budget_format_": format_value,
    "_getiter_": iterate,
    "_getattr_": getattr_,
}
