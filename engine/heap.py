"""The process's heap after startup: frozen once, so garbage collection leaves it alone.

What imports and startup leave behind (modules, classes, functions, SQLAlchemy's mappings
and metadata: ~130,000 objects in a worker, more in a web process) lives as long as the
process, yet every full collection of Python's cyclic garbage collector walks all of it:
~100 ms each on this machine, several times a minute under load. ``gc.freeze()`` moves them
to the permanent generation, which collections skip; they are still freed when their last
reference goes. Cyclic garbage already there is collected first, since frozen cycles would
never be.
"""
from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_settled = False


def settle() -> None:
    """Collect, then freeze what the process holds; only the first call does anything, so a
    process that makes several runtimes (tests) does not freeze later garbage."""
    global _settled
    with _lock:
        if _settled:
            return
        _settled = True
        gc.collect()
        gc.freeze()
