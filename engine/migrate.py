"""Schema migrations (Alembic), run from code so `gridloop init-db` needs no alembic.ini."""
from __future__ import annotations

import os
from typing import Callable

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import SchemaItem

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def objects_for(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for ``dialect``: leaves out what a model creates on
    another dialect only (``Index(...).ddl_if(dialect=...)``), so comparing the models with
    a database of this dialect does not ask for it."""
    def include(obj: SchemaItem, _name: str | None, _type: str, _reflected: bool,
                _compare_to: SchemaItem | None) -> bool:
        only = getattr(obj, "_ddl_if", None)
        return only is None or only.dialect is None or only.dialect == dialect
    return include


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (a no-op when it is already there)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # many processes may start at once
            connection.execute(text("SELECT pg_advisory_xact_lock(4711)"))
        command.upgrade(alembic_config(connection), "head")


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the models (a developer's tool)."""
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
