"""Schema migrations (Alembic), run from code so `gridloop init-db` needs no alembic.ini."""
from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def _config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (a no-op when it is already there)."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the models (a developer's tool)."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
