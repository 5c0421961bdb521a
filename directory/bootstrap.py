"""Get a fresh install ready: build the derived data, create the directory, seed it.

Seeding uses real data only: the local authority maintained nursery schools in
DfE's Get Information About Schools file, and every open children's centre and
linked site in the newest GIAS children's centres extract in the raw folder
(`edubaseallchildrencentreYYYYMMDD.csv`, by the date in its name; older versions
may sit beside it), placed at their postcodes. Each part runs when the directory
holds no record of its source yet, so a steward's changes are never undone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from .ingest.gias import SOURCE as GIAS_SOURCE
from .ingest.gias import nursery_school_records
from .ingest.gias_cc import CHILDRENS_CENTRES_SOURCE, extract_date, links_beside
from .model import Service
from .sources import catalogue, find_files
from .store import Directory

if TYPE_CHECKING:
    from .build import Progress


def _have(directory: Directory, source: str) -> int:
    with directory.Session() as s:
        return s.scalar(select(func.count()).select_from(Service).where(Service.source == source))


def newest_centres_file(raw: Path) -> Path | None:
    """The newest GIAS children's centres extract in the raw folder (by the date in its name)."""
    dated = [(extract_date(p), p) for p in find_files(catalogue()["gias_childrens_centres"], raw)]
    dated = [(d, p) for d, p in dated if d is not None]
    return max(dated)[1] if dated else None


def seed_childrens_centres(directory: Directory, raw: Path, postcodes=None) -> int:
    """Every open children's centre and linked site of the newest extract, if none are stored.
    Centres that can't be placed are left out (the CLI import lists them). Returns how many were added."""
    from .ingest.gias_cc import read_childrens_centres
    from .ingest.review import commit, review

    path = newest_centres_file(raw)
    if path is None or _have(directory, CHILDRENS_CENTRES_SOURCE):
        return 0
    if postcodes is None:
        from . import config
        from .geocode import PostcodeIndex

        postcodes = PostcodeIndex(config.build_dir() / "postcodes.sqlite")
    links = links_beside(path)
    report = read_childrens_centres(path.read_bytes(), postcodes, path.name, limit_bytes=1 << 30,
                                    links=links.read_bytes() if links else None)
    rv = review(report, directory)
    if not rv.to_write:
        return 0
    return commit(rv, directory, f"seed: {CHILDRENS_CENTRES_SOURCE} ({path.name})", skip_rejected=True).new


def seed(directory: Directory, raw: Path | None = None, postcodes=None) -> int:
    """Load the maintained nursery schools and the children's centres from GIAS where none of
    each are stored. Returns how many services were added."""
    from . import config

    raw = config.raw_dir(raw)
    added = 0
    if not _have(directory, GIAS_SOURCE) and find_files(catalogue()["gias"], raw):
        added += directory.upsert(nursery_school_records(raw), actor="seed: DfE GIAS").new
    added += seed_childrens_centres(directory, raw, postcodes)
    return added


def prepare(raw: Path | None = None, build: Path | None = None, db_url: str | None = None,
            progress: Progress | None = None) -> tuple[Directory, int]:
    """Build the derived data if needed, create the directory and seed it: (directory, services added)."""
    from . import config
    from .build import ensure_built  # geopandas, shapely: only here, not for the app's seed()
    from .geocode import PostcodeIndex

    ensure_built(raw, build, progress)
    directory = Directory(db_url).create()
    return directory, seed(directory, raw, PostcodeIndex(config.build_dir(build) / "postcodes.sqlite"))


def ensure_ready(raw: Path | None = None, build: Path | None = None, db_url: str | None = None,
                 progress: Progress | None = None) -> Directory:
    return prepare(raw, build, db_url, progress)[0]
