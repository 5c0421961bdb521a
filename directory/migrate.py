"""Schema migrations (Alembic), run from code so every entry point gets the same schema.

`migrate(engine)` brings a database to the newest revision: an empty one gets
every table; one created before migrations existed (by `create_all`, with the
foundation's tables and no `alembic_version`) is first stamped at the initial
revision, then upgraded. The migration scripts live in alembic/ at the project
root; `alembic upgrade head` from a shell does the same (URL from FSM_DATABASE_URL).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from sqlalchemy import exc, inspect, text
from sqlalchemy.engine import Connection, Engine

from .config import ROOT

if TYPE_CHECKING:
    from alembic.config import Config

ALEMBIC_INI = ROOT / "alembic.ini"
VERSIONS = ROOT / "alembic" / "versions"
BASELINE = "0001"  # the schema the foundation created with create_all


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as c:
        return MigrationContext.configure(c).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the database to `revision` (default: the newest). Returns the revision reached."""
    from alembic import command

    with engine.begin() as conn:
        cfg = alembic_config(conn)
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "service" in tables:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, revision)
    return current(engine)


def script_heads(versions=VERSIONS) -> set[str]:
    """The newest revision(s) of the migration scripts, read from their `revision` and `down_revision`
    assignments without importing Alembic (which takes 0.1 s; the app asks on every start)."""
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.target if isinstance(node, ast.AnnAssign) else (
                node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
            if not isinstance(target, ast.Name) or node.value is None:
                continue
            value = ast.literal_eval(node.value)
            if target.id == "revision":
                revisions.add(value)
            elif target.id == "down_revision" and value:
                parents.update([value] if isinstance(value, str) else value)
    return revisions - parents


def ensure_migrated(engine: Engine) -> None:
    """`migrate(engine)` unless the database already stands at the scripts' head (the usual case: a
    plain SELECT, no Alembic)."""
    try:
        with engine.connect() as c:
            stamped = set(c.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except exc.DBAPIError:  # no alembic_version table yet
        stamped = set()
    if stamped != script_heads():
        migrate(engine)
