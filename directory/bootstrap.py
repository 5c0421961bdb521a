"""Get a fresh install ready: build the derived data, create the directory, seed it.

Seeding uses real data only: the local authority maintained nursery schools in
DfE's Get Information About Schools file. It runs when the directory holds no
GIAS record yet, so a steward's deletions of other records are never undone.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from .build import Progress, ensure_built
from .ingest.gias import SOURCE as GIAS_SOURCE
from .ingest.gias import nursery_school_records
from .model import Service
from .sources import catalogue, find_files
from .store import Directory


def seed(directory: Directory, raw: Path | None = None) -> int:
    """Load the maintained nursery schools from GIAS if none are stored. Returns how many were added."""
    from . import config

    raw = config.raw_dir(raw)
    with directory.Session() as s:
        have = s.scalar(select(func.count()).select_from(Service).where(Service.source == GIAS_SOURCE))
    if have or not find_files(catalogue()["gias"], raw):
        return 0
    return directory.upsert(nursery_school_records(raw), actor="seed: DfE GIAS").new


def ensure_ready(raw: Path | None = None, build: Path | None = None, db_url: str | None = None,
                 progress: Progress | None = None) -> Directory:
    ensure_built(raw, build, progress)
    directory = Directory(db_url).create()
    seed(directory, raw)
    return directory
