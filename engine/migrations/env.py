"""Alembic environment: migrations run against the connection the engine hands over."""
from alembic import context

from gridloop.engine.migrate import objects_for
from gridloop.engine.model import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                      include_object=objects_for(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
