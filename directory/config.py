"""Where things live: raw data, derived files, the directory database, map assets.

Every setting comes from an environment variable with a sensible default, so the
same code runs on a laptop, in CI and in a deployment:

FSM_RAW_DATA       folder of official raw files (default data/raw/)
FSM_BUILD_DIR      folder of derived files (default data/build/)
FSM_DATABASE_URL   SQLAlchemy URL of the directory (default SQLite file data/directory.sqlite)
FSM_MAP_ASSETS     "local" (Leaflet served by the app), "cdn" or "auto" (local when present)
FSM_UPLOAD_LIMIT_MB  largest accepted upload or import file (default 20)
FSM_UPLOAD_MAX_ROWS  most rows (or services) one browser upload may hold (default 20,000)
FSM_SESSION_IDLE_MINUTES  a signed-in steward idle this long signs in again (default 30)
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
SOURCES_FILE = DATA_DIR / "sources.toml"
STATIC_DIR = ROOT / "static"

#: Assumed walking speed for the "minutes on foot" estimate: 4.8 km/h (3 mph),
#: the usual planning figure for an adult; with a pram and a toddler it is slower.
WALKING_KMH = 4.8


def raw_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(override or os.environ.get("FSM_RAW_DATA") or DATA_DIR / "raw").resolve()


def build_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(override or os.environ.get("FSM_BUILD_DIR") or DATA_DIR / "build").resolve()


def database_url(override: str | None = None) -> str:
    return override or os.environ.get("FSM_DATABASE_URL") or f"sqlite:///{DATA_DIR / 'directory.sqlite'}"


def map_assets() -> str:
    return os.environ.get("FSM_MAP_ASSETS", "auto").lower()


def upload_limit_bytes() -> int:
    return int(float(os.environ.get("FSM_UPLOAD_LIMIT_MB", "20")) * 1024 * 1024)


def upload_max_rows() -> int:
    return int(os.environ.get("FSM_UPLOAD_MAX_ROWS", "20000"))


def session_idle_minutes() -> float:
    return float(os.environ.get("FSM_SESSION_IDLE_MINUTES", "30"))
