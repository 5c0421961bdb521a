"""Our CSV template of services: read, validate, report.

A local authority's list of services arrives as a spreadsheet. Nothing is
written here: `read_services_csv` returns the records it could read and a
report of every problem (row, field, message). The caller shows the report and
only then writes, in one transaction, if the steward commits and there are no
problems.

Columns (header names are matched case-insensitively; only name, types and a
location are required):
    source_id, name, organization, types, description, address, town, postcode,
    latitude, longitude, min_age_months, max_age_months, pregnancy, free, cost,
    referral, phone, email, website, schedule, languages, last_verified, capacity
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from .. import config, taxonomy
from ..geocode import LocateError, PostcodeIndex, parse_postcode
from ..store import Place, ServiceRecord

TEMPLATE_COLUMNS = [
    "source_id", "name", "organization", "types", "description", "address", "town", "postcode",
    "latitude", "longitude", "min_age_months", "max_age_months", "pregnancy", "free", "cost",
    "referral", "phone", "email", "website", "schedule", "languages", "last_verified", "capacity",
]

#: A generous box around the UK and its islands (WGS84).
UK_LAT = (49.8, 60.95)
UK_LON = (-8.75, 1.8)

TRUE = {"yes", "y", "true", "1", "free"}
FALSE = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class Problem:
    row: int  # spreadsheet row: the header is row 1
    field: str
    message: str


@dataclass
class Report:
    records: list[ServiceRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.records)

    @property
    def rejected_rows(self) -> set[int]:
        return {p.row for p in self.problems if p.row > 0}


def decode(data: bytes) -> tuple[str, str]:
    """Text of an uploaded file: UTF-8 (with or without BOM), else Windows-1252 (Excel's default)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as e:
        raise ValueError(
            f"The file is neither UTF-8 nor Windows-1252 text (byte {e.start}); save it as CSV UTF-8 and try again."
        ) from e


def template_csv() -> str:
    return ",".join(TEMPLATE_COLUMNS) + "\n"


def _flag(v: str) -> bool | None:
    v = v.strip().lower()
    return True if v in TRUE else False if v in FALSE else None


def read_services_csv(
    data: bytes, source: str, postcodes: PostcodeIndex | None, limit_bytes: int | None = None
) -> Report:
    report = Report()
    limit = config.upload_limit_bytes() if limit_bytes is None else limit_bytes
    if len(data) > limit:
        report.problems.append(Problem(0, "file", f"The file is {len(data) / 1e6:.1f} MB; the limit is "
                                                  f"{limit / 1e6:.0f} MB. Split it into smaller files."))
        return report
    try:
        content, _ = decode(data)
    except ValueError as e:
        report.problems.append(Problem(0, "file", str(e)))
        return report
    try:
        rows = list(csv.reader(io.StringIO(content, newline="")))
    except csv.Error as e:
        report.problems.append(Problem(0, "file", f"Not a readable CSV file: {e}"))
        return report
    if not rows:
        report.problems.append(Problem(0, "file", "The file is empty."))
        return report
    header = [h.strip().lower().replace(" ", "_") for h in rows[0]]
    missing = [c for c in ("name", "types") if c not in header]
    if missing:
        report.problems.append(Problem(1, "header", f"Missing column(s): {', '.join(missing)}. "
                                                    f"Expected columns: {', '.join(TEMPLATE_COLUMNS)}."))
        return report
    if not ({"postcode"} <= set(header) or {"latitude", "longitude"} <= set(header)):
        report.problems.append(Problem(1, "header", "Need a postcode column or latitude and longitude columns."))
        return report
    seen: dict[tuple, int] = {}
    for n, values in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        report.rows += 1
        if len(values) > len(header):
            report.problems.append(Problem(n, "row", f"{len(values)} values but {len(header)} columns: "
                                                     "check for an unquoted comma."))
            continue
        row = dict(zip(header, [v.strip() for v in values] + [""] * (len(header) - len(values))))
        rec, problems = _record(row, n, source, postcodes)
        if rec is not None:
            place = rec.places[0]
            for key in (("id", rec.source_id), ("name+postcode", rec.name.lower(), (place.postcode or "").upper())):
                if key in seen and not (key[0] == "name+postcode" and not place.postcode):
                    problems.append(Problem(n, "name" if key[0] != "id" else "source_id",
                                            f"Duplicate of row {seen[key]} ({key[0]})."))
                seen.setdefault(key, n)
        report.problems.extend(problems)
        if rec is not None and not problems:
            report.records.append(rec)
    return report


def _record(row: dict, n: int, source: str, postcodes: PostcodeIndex | None):
    problems: list[Problem] = []

    def bad(fieldname, message):
        problems.append(Problem(n, fieldname, message))

    name = row.get("name", "")
    if not name:
        bad("name", "Missing name.")
    types = []
    for t in re.split(r"[;|]", row.get("types", "")):
        if not t.strip():
            continue
        term = taxonomy.resolve(t)
        if term is None:
            bad("types", f"Unknown type “{t.strip()}”. Use one of: {', '.join(x.code for x in taxonomy.TERMS)}.")
        else:
            types.append(term.code)
    if not types and not any(p.field == "types" for p in problems):
        bad("types", "Missing type.")

    lat = lon = None
    postcode = row.get("postcode", "")
    pc_display = None
    if row.get("latitude") or row.get("longitude"):
        try:
            lat, lon = float(row.get("latitude", "")), float(row.get("longitude", ""))
        except ValueError:
            bad("latitude", "Latitude and longitude must both be numbers (e.g. 52.6998, -2.5198).")
        else:
            if not (UK_LAT[0] <= lat <= UK_LAT[1] and UK_LON[0] <= lon <= UK_LON[1]):
                bad("latitude", f"({lat}, {lon}) is outside the UK: check the numbers are not swapped.")
    if postcode:
        try:
            pc = parse_postcode(postcode)
            if not pc.inward:
                raise LocateError(f"“{postcode}” is not a full postcode.", "malformed")
            pc_display = pc.display
            if lat is None and not any(p.field == "latitude" for p in problems):
                hit = postcodes.postcode(pc) if postcodes else None
                if hit is None:
                    bad("postcode", f"Postcode {pc.display} is not in the loaded postcode directory; "
                                    "give latitude and longitude, or load the full NSPL.")
                else:
                    lat, lon = hit[4], hit[3]
        except LocateError as e:
            bad("postcode", str(e))
    elif lat is None and not problems:
        bad("postcode", "Missing location: give a postcode or latitude and longitude.")

    def months(col):
        v = row.get(col, "")
        if not v:
            return None
        try:
            m = int(float(v))
            if m < 0 or m > 12 * 25:
                raise ValueError
            return m
        except ValueError:
            bad(col, f"“{v}” is not a number of months between 0 and 300.")
            return None

    lo, hi = months("min_age_months"), months("max_age_months")
    if lo is not None and hi is not None and lo > hi:
        bad("max_age_months", f"Age range is upside down: from {lo} to {hi} months.")
    referral = row.get("referral", "").lower() or None
    if referral and referral not in {"self", "professional", "both"}:
        bad("referral", f"“{row['referral']}” should be self, professional or both.")
    free = _flag(row.get("free", "")) if row.get("free") else None
    if row.get("free") and free is None:
        bad("free", f"“{row['free']}” should be yes or no.")
    preg = _flag(row.get("pregnancy", "")) if row.get("pregnancy") else False
    if row.get("pregnancy") and preg is None:
        bad("pregnancy", f"“{row['pregnancy']}” should be yes or no.")
    verified = None
    if row.get("last_verified"):
        try:
            verified = date.fromisoformat(row["last_verified"])
            if verified > date.today():
                bad("last_verified", f"{verified} is in the future.")
        except ValueError:
            bad("last_verified", f"“{row['last_verified']}” is not a date like 2025-03-31.")
    capacity = None
    if row.get("capacity"):
        try:
            capacity = float(row["capacity"])
            if capacity <= 0:
                raise ValueError
        except ValueError:
            bad("capacity", f"“{row['capacity']}” should be a positive number.")
    if problems:
        return None, problems
    source_id = row.get("source_id") or f"{name.lower()}|{pc_display or f'{lat:.5f},{lon:.5f}'}"
    rec = ServiceRecord(
        source=source,
        source_id=source_id,
        name=name,
        types=types,
        places=[Place(latitude=round(lat, 6), longitude=round(lon, 6), name=None,
                      address=row.get("address") or None, town=row.get("town") or None, postcode=pc_display)],
        organization=row.get("organization") or None,
        description=row.get("description") or None,
        url=row.get("website") or None,
        email=row.get("email") or None,
        phone=row.get("phone") or None,
        fees=row.get("cost") or None,
        is_free=free,
        referral=referral,
        min_age_months=lo,
        max_age_months=hi,
        pregnancy=bool(preg),
        schedule=row.get("schedule") or None,
        languages=[x.strip() for x in re.split(r"[;,]", row.get("languages", "")) if x.strip()],
        last_verified=verified,
        capacity=capacity,
    )
    return rec, problems
