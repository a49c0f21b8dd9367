"""A PostgreSQL database of the benchmark's own: made for one run, dropped after it.

Benchmarks never drop a schema or a database they did not create: given a server URL (its
database name is only where to connect first), they work in ``<prefix>_<pid>`` and remove
just that.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """Yield the URL of a new, empty database on ``server_url``'s server; drop it afterwards."""
    url = make_url(server_url)
    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
