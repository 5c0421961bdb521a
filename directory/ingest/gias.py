"""DfE Get Information About Schools (GIAS) establishments as directory records.

Reads both the official `edubasealldataYYYYMMDD.csv` layout (Windows-1252,
headers like "TypeOfEstablishment (name)") and the re-encoded extract in the
shared data folder (snake_case headers, no addresses). Coordinates come from
the establishment's OS easting/northing, converted to WGS84.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

from ..sources import Source, catalogue, require_files, read_csv
from ..store import Place, ServiceRecord

TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)

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

CHILDRENS_CENTRES_SOURCE = "DfE GIAS children's centres"
CHILDRENS_CENTRE_TYPES = {
    "children's centre": "Children's centre registered with the Department for Education (Get Information About "
                         "Schools).",
    "children's centre linked site": "Linked site of a children's centre registered with the Department for "
                                     "Education (Get Information About Schools).",
}

#: The GIAS children's centres download ("Children's centres" on the Downloads page; the same
#: columns as edubasealldata for establishment types 47 and 48).
CHILDRENS_CENTRES = Source(
    key="gias_childrens_centres",
    title="Get Information About Schools: children's centres",
    publisher="Department for Education",
    licence="OGL v3",
    vintage="as downloaded",
    files=("*childrens*centre*.csv", "*childrencentre*.csv"),
    columns={
        "urn": ("URN",),
        "name": ("EstablishmentName",),
        "type": ("TypeOfEstablishment (name)",),
        "status": ("EstablishmentStatus (name)",),
        "la_name": ("LA (name)",),
        "street": ("Street",),
        "locality": ("Locality",),
        "address3": ("Address3",),
        "town": ("Town",),
        "postcode": ("Postcode",),
        "easting": ("Easting",),
        "northing": ("Northing",),
        "phone": ("TelephoneNum",),
        "website": ("SchoolWebsite",),
    },
    optional_columns=frozenset({"la_name", "street", "locality", "address3", "town", "phone", "website"}),
    page="https://get-information-schools.service.gov.uk/Downloads",
)


def _type_key(v: str) -> str:
    return " ".join(v.replace("\u2019", "'").casefold().split())


def read_childrens_centres(data: bytes, postcodes=None, filename: str | None = None,
                           limit_bytes: int | None = None, source: str = CHILDRENS_CENTRES_SOURCE):
    """Open children's centres and linked sites from a GIAS children's centres CSV, with a report.

    Closed and proposed centres are skipped (counted, not reported as problems).
    Coordinates come from Easting/Northing (British National Grid, converted to
    WGS84), or from the postcode when a row has none.
    """
    from ..geocode import LocateError, parse_full_postcode, postcode_latlon
    from ..sources import DataError, column_map
    from .csv_import import csv_rows
    from .report import Problem, Report, WARNING, check_duplicates_in_file, in_uk

    report = Report()
    rows = csv_rows(data, report, limit_bytes)
    if rows is None:
        return report
    header = rows[0][1]
    try:
        mapping = column_map(CHILDRENS_CENTRES, header, Path(filename or "upload"))
    except DataError as e:
        report.problems.append(Problem(1, "header", str(e)))
        return report
    index = {canonical: header.index(h) for h, canonical in mapping.items()}
    verified = extract_date(Path(filename)) if filename else None
    skipped_status: dict[str, int] = {}
    for n, values in enumerate((v for _, v in rows[1:]), start=2):
        if not any(v.strip() for v in values):
            continue
        report.rows += 1

        def get(col, values=values):
            i = index.get(col)
            return values[i].strip() if i is not None and i < len(values) else ""

        problems = []

        def bad(fieldname, message, severity="error"):
            problems.append(Problem(n, fieldname, message, severity))

        kind = _type_key(get("type"))
        if kind not in CHILDRENS_CENTRE_TYPES:
            bad("TypeOfEstablishment (name)", f"Unknown type “{get('type')}”: this import takes “Children's centre” "
                                              "and “Children's centre linked site” rows only.")
            report.problems.extend(problems)
            continue
        status = get("status")
        if not status.casefold().startswith("open"):
            skipped_status[status or "(blank)"] = skipped_status.get(status or "(blank)", 0) + 1
            report.skipped += 1
            if get("urn"):
                report.closed.append((source, get("urn"), n, status or "(blank)"))
            continue
        urn, name = get("urn"), get("name")
        if not urn.isdigit():
            bad("URN", f"“{urn}” is not a URN (a number)." if urn else "Missing URN.")
        if not name:
            bad("EstablishmentName", "Missing name.")
        lat = lon = None
        e_txt, n_txt = get("easting"), get("northing")
        if e_txt or n_txt:
            try:
                e, nn = float(e_txt), float(n_txt)
                if not (0 <= e <= 700_000 and 0 <= nn <= 1_300_000):
                    raise ValueError
                lon, lat = TO_WGS84.transform(e, nn)
            except ValueError:
                bad("Easting", f"Easting/Northing “{e_txt}”, “{n_txt}” are not British National Grid metres.")
            else:
                if not in_uk(lat, lon):
                    bad("Easting", f"Easting/Northing ({e_txt}, {n_txt}) are outside the UK.")
                    lat = lon = None
        pc_text = get("postcode")
        postcode = pc_text or None
        if pc_text:
            try:
                pc = parse_full_postcode(pc_text)
                postcode = pc.display
                if lat is None and not problems:
                    point = postcode_latlon(postcodes, pc)
                    if point is None:
                        bad("Postcode", f"Postcode {pc.display} is not in the loaded postcode directory and the "
                                        "row has no Easting/Northing.")
                    else:
                        lat, lon = point
            except LocateError as err:
                if lat is None:
                    bad("Postcode", str(err))
                else:  # the point is known: the postcode is only part of the address
                    bad("Postcode", f"{err} Kept as written; the centre is placed by its Easting/Northing.",
                        WARNING)
        elif lat is None and not problems:
            bad("Easting", "No Easting/Northing and no postcode: the centre can't be placed on the map.")
        report.problems.extend(problems)
        if any(p.severity == "error" for p in problems):
            continue
        address = ", ".join(p for p in (get("street"), get("locality"), get("address3")) if p)
        report.add(ServiceRecord(
            source=source,
            source_id=urn,
            name=name,
            types=["childrens_centre"],
            places=[Place(latitude=round(float(lat), 6), longitude=round(float(lon), 6), name=name,
                          address=address or None, town=get("town") or None, postcode=postcode)],
            organization=get("la_name") or None,
            description=CHILDRENS_CENTRE_TYPES[kind],
            url=get("website") or None,
            phone=get("phone") or None,
            last_verified=verified,
        ), n)
    if skipped_status:
        report.notes.append("Skipped (not open): " + ", ".join(f"{k} {v}" for k, v in sorted(skipped_status.items()))
                            + ".")
    check_duplicates_in_file(report)
    return report
