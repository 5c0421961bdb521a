"""DfE Get Information About Schools (GIAS) establishments as directory records.

Reads both the official `edubasealldataYYYYMMDD.csv` layout (Windows-1252,
headers like "TypeOfEstablishment (name)") and the re-encoded extract in the
shared data folder (snake_case headers, no addresses). Coordinates come from
the establishment's OS easting/northing, converted to WGS84. Children's centres
(a separate GIAS download with no coordinates) are read by `gias_cc`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..crs import TO_WGS84
from ..sources import Source, catalogue, require_files, read_csv
from ..store import Place, ServiceRecord

SOURCE = "DfE GIAS"
NURSERY_TYPE = "Local authority nursery school"


def extract_date(path: Path) -> date | None:
    """GIAS files carry their date in the name: edubasealldata20250524.csv -> 2025-05-24."""
    m = re.search(r"(20\d{2})(\d{2})(\d{2})", Path(path).name)
    return date(int(m[1]), int(m[2]), int(m[3])) if m else None


def _text(v) -> str | None:
    return v.strip() if isinstance(v, str) and v.strip() and v.strip().upper() != "NA" else None


def _age_months(v) -> int | None:
    try:
        return int(float(v)) * 12
    except (TypeError, ValueError):
        return None


def establishment_records(
    df: pd.DataFrame, service_type: str, description: str, verified: date | None, **fields
) -> list[ServiceRecord]:
    """Records for open establishments in `df` (canonical GIAS columns, as read by `read_csv`)."""
    if "status" in df:
        df = df[df.status.fillna("Open").str.startswith("Open")]
    e = pd.to_numeric(df.easting, errors="coerce").to_numpy(float)
    n = pd.to_numeric(df.northing, errors="coerce").to_numpy(float)
    lon, lat = TO_WGS84.transform(e, n)
    out = []
    for row, lo, la in zip(df.itertuples(index=False), lon, lat):
        if not (np.isfinite(lo) and np.isfinite(la)):
            continue
        address = ", ".join(p for p in (_text(getattr(row, c, None)) for c in ("street", "locality", "address3")) if p)
        low, high = _age_months(getattr(row, "low_age", None)), _age_months(getattr(row, "high_age", None))
        out.append(
            ServiceRecord(
                source=SOURCE,
                source_id=str(row.urn),
                name=row.name.strip(),
                types=[service_type],
                places=[Place(latitude=round(float(la), 6), longitude=round(float(lo), 6), name=row.name.strip(),
                              address=address or None, town=_text(getattr(row, "town", None)),
                              postcode=_text(getattr(row, "postcode", None)))],
                organization=_text(row.la_name),
                description=description,
                url=_text(getattr(row, "website", None)),
                phone=_text(getattr(row, "phone", None)),
                min_age_months=low,
                max_age_months=high - 1 if high else None,
                last_verified=verified,
                **fields,
            )
        )
    return out


def nursery_school_records(raw: Path, source: Source | None = None) -> list[ServiceRecord]:
    """The local authority maintained nursery schools in the GIAS file (378 in May 2025)."""
    source = source or catalogue()["gias"]
    path = require_files(source, raw)[0]
    df = read_csv(source, path)
    df = df[df.type == NURSERY_TYPE]
    return establishment_records(
        df,
        "early_education",
        "Local authority maintained nursery school: early education before children start school.",
        extract_date(path),
        referral="self",
        referral_notes="Parents apply to the school or through the council's early years admissions.",
    )


# ---------------------------------------------------------------- children's centres
# The GIAS children's centres extract (its real layouts, placing by postcode, links): gias_cc.py.
from .gias_cc import CHILDRENS_CENTRES_SOURCE, read_childrens_centres, read_version  # noqa: E402,F401
