"""Alembic environment: runs on the connection handed over by :mod:`storage.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the connection provided through ``config.attributes``."""
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through storage.migrate (ponte db upgrade)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; use ponte db upgrade")
run_migrations_online()
