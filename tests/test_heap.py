"""The first runtime of a process freezes what startup left on the heap, once (engine/heap.py)."""
import subprocess
import sys

PROBE = """
import gc
from gridloop.engine.db import Database
from gridloop.engine.runtime import Runtime
Runtime(Database("sqlite://"))
first = gc.get_freeze_count()
later = [[] for _ in range(1000)]  # alive when the second runtime is made: not frozen
Runtime(Database("sqlite://"))
print(first, gc.get_freeze_count())
"""


def test_first_runtime_freezes_the_startup_heap_once():
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True).stdout
    first, after_second = map(int, out.split())
    assert first > 50_000  # modules, classes, SQLAlchemy's mappings
    assert after_second == first
