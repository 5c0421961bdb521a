"""Databases for the bench scripts and tests: a throwaway PostgreSQL schema (tests/conftest.py's `db_url` uses it).

    for label, url in bench_databases(tmp): ...   # SQLite in `tmp`, then PostgreSQL if FSM_TEST_DATABASE_URL is set
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, text


@contextlib.contextmanager
def throwaway_schema(base: str, prefix: str = "fsm_bench") -> Iterator[str]:
    """A URL of `base` whose tables all go to a fresh schema, dropped (with everything in it) afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(text("SET lock_timeout = '20s'"))  # a connection left open must not hang the drop for ever
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench_databases(tmp: str | os.PathLike, name: str = "bench.sqlite") -> Iterator[tuple[str, str]]:
    """(label, URL): a fresh SQLite file in `tmp`, then a throwaway PostgreSQL schema when
    FSM_TEST_DATABASE_URL is set (else a line saying how to bench it too)."""
    yield "SQLite", f"sqlite:///{Path(tmp) / name}"
    base = os.environ.get("FSM_TEST_DATABASE_URL")
    if not base:
        print("PostgreSQL: set FSM_TEST_DATABASE_URL to bench it too")
        return
    with throwaway_schema(base) as url:
        yield "PostgreSQL", url
