"""Schema migrations (Alembic), run from code so every entry point gets the same schema.

`migrate(engine)` brings a database to the newest revision: an empty one gets
every table; one created before migrations existed (by `create_all`, with the
foundation's tables and no `alembic_version`) is first stamped at the initial
revision, then upgraded. The migration scripts live in alembic/ at the project
root; `alembic upgrade head` from a shell does the same (URL from FSM_DATABASE_URL).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from .config import ROOT

ALEMBIC_INI = ROOT / "alembic.ini"
BASELINE = "0001"  # the schema the foundation created with create_all


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as c:
        return MigrationContext.configure(c).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the database to `revision` (default: the newest). Returns the revision reached."""
    with engine.begin() as conn:
        cfg = alembic_config(conn)
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "service" in tables:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, revision)
    return current(engine)
