"""Alembic environment: runs migrations on the URL the caller configured."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from services.catalog.db import is_sqlite, make_engine
from services.catalog.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = context.config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if is_sqlite(url):
        # One transaction for the whole upgrade: SQLite's DDL is transactional, but the driver
        # only opens transactions before DML, so a crash between a migration's steps left a
        # schema that the migration could not run on again. make_engine's BEGIN fixes that.
        engine = make_engine(url, immediate=True, foreign_keys=False)
        transactional_ddl = True
    else:
        engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                    poolclass=pool.NullPool)
        transactional_ddl = None    # the dialect's own (PostgreSQL: transactional)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                              transactional_ddl=transactional_ddl)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations_online()
