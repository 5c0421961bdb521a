"""Alembic environment: migrations of the directory database.

The URL is `directory.config.database_url()` (FSM_DATABASE_URL, default the
SQLite file). `Directory.create()` runs the migrations itself on its own
connection (passed in `config.attributes["connection"]`), so the app, the tests
and the command line all give SQLite and PostgreSQL the same schema.
"""

from logging.config import fileConfig

from alembic import context

from directory import config as fsm_config
from directory.model import Base

config = context.config
if config.config_file_name is not None and not config.attributes.get("connection"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _configure(**kw):
    url = kw.get("url") or str(kw["connection"].engine.url)
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=url.startswith("sqlite"),  # SQLite alters tables by copying them
        compare_type=True,
        **kw,
    )


def run_migrations_offline() -> None:
    _configure(url=fsm_config.database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from directory.store import make_engine

    engine = make_engine(fsm_config.database_url())
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
