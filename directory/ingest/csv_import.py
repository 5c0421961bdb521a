"""Our CSV template of services: read, validate, report; and write the directory back out.

A local authority's list of services arrives as a spreadsheet. Nothing is
written here: `read_services_csv` returns the records it could read and a
report of every problem (row, field, message). The caller shows the report and
only then writes, in one transaction, if the steward commits (see `review`).

Columns (header names are matched case-insensitively; only name, types and a
location are required):
    source_id, name, organization, types, description, address, town, postcode,
    latitude, longitude, min_age_months, max_age_months, pregnancy, free, cost,
    referral, phone, email, website, schedule, languages, last_verified, capacity,
    referral_notes, eligibility, location_name, service_area, status, source

`service_area` says where a service without a building (a helpline, an online group,
home visits) is available: upper-tier authorities (codes like E06000020 or their names)
or England, separated by ";". A row with a service area needs no location; such a
service is listed for its area, never put on the map.

`source` is normally left out or blank (the import's source name is used); the
directory's own CSV export fills it in so that exporting and re-importing
changes nothing. A service at several places is several rows with the same
source_id and the same details apart from the location columns.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
from datetime import date, timedelta

from .. import service_areas as areas_of
from .. import taxonomy, text
from ..geocode import LocateError, PostcodeIndex, parse_full_postcode, postcode_latlon
from ..store import PRECISIONS, Place, ServiceRecord
from .report import (  # noqa: F401 (re-exported)
    UK_LAT, UK_LON, Problem, Report, clean_cells, decode, in_uk, too_big, upload_text)

TEMPLATE_COLUMNS = [
    "source_id", "name", "organization", "types", "description", "address", "town", "postcode",
    "latitude", "longitude", "location_precision", "min_age_months", "max_age_months", "pregnancy", "free", "cost",
    "referral", "phone", "email", "website", "schedule", "languages", "last_verified", "capacity",
    "referral_notes", "eligibility", "location_name", "service_area", "status", "source",
]
LOCATION_COLUMNS = ("location_name", "address", "town", "postcode", "latitude", "longitude", "location_precision")
# location_precision: what a location's point is (store.PRECISIONS); blank: "building" for coordinates given,
# "postcode" for a point looked up from the postcode.
STATUSES = ("active", "inactive", "defunct", "temporarily closed")  # Open Referral UK's

TRUE = {"yes", "y", "true", "1", "free"}
FALSE = {"no", "n", "false", "0"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def template_csv() -> str:
    return ",".join(TEMPLATE_COLUMNS) + "\n"


def _flag(v: str) -> bool | None:
    v = v.strip().lower()
    return True if v in TRUE else False if v in FALSE else None


def _rows(content: str, report: Report) -> list[tuple[int, list[str]]] | None:
    """(line number, values) for each CSV record; None (and a problem naming the line) if unreadable."""
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    out = []
    start = 1
    try:
        for values in reader:
            out.append((start, values))
            start = reader.line_num + 1
    except csv.Error as e:
        report.problems.append(Problem(0, "file", f"Not a readable CSV file: {e} (row {len(out) + 1}, which "
                                                  f"starts on line {start})."))
        return None
    return out


def csv_rows(data: bytes, report: Report, limit_bytes: int | None = None) -> list[tuple[int, list[str]]] | None:
    """(line number, values) of an uploaded CSV's records, header first; None with the problem
    reported when the file is too big, not text, not CSV or empty. Control characters (NUL, bidi
    overrides...) are removed from every cell, each removal reported as a warning."""
    content = upload_text(data, report, limit_bytes)
    rows = None if content is None else _rows(content, report)
    if rows == []:
        report.problems.append(Problem(0, "file", "The file is empty."))
    return clean_cells(rows, report) if rows else None


def read_services_csv(
    data: bytes, source: str, postcodes: PostcodeIndex | None, limit_bytes: int | None = None
) -> Report:
    report = Report()
    rows = csv_rows(data, report, limit_bytes)
    if rows is None:
        return report
    header = [h.strip().lower().replace(" ", "_") for h in rows[0][1]]
    missing = [c for c in ("name", "types") if c not in header]
    if missing:
        report.problems.append(Problem(1, "header", f"Missing column(s): {', '.join(missing)}. "
                                                    f"Expected columns: {', '.join(TEMPLATE_COLUMNS)}."))
        return report
    if not ({"postcode"} <= set(header) or {"latitude", "longitude"} <= set(header) or "service_area" in header):
        report.problems.append(Problem(1, "header", "Need a postcode column, latitude and longitude columns, or "
                                                    "(for services without a building) a service_area column."))
        return report
    by_key: dict[tuple[str, str], int] = {}  # (source, source_id) -> index in report.records
    by_name_pc: dict[tuple[str, str], int] = {}  # (name, postcode) -> row
    for n, values in enumerate((v for _, v in rows[1:]), start=2):
        if not any(v.strip() for v in values):
            continue
        report.rows += 1
        if len(values) > len(header):
            report.problems.append(Problem(n, "row", f"{len(values)} values but {len(header)} columns: "
                                                     "check for an unquoted comma."))
            continue
        # a cell our export (or a spreadsheet) quoted as text ("'=..." ) is read without the quote
        row = dict(zip(header, [text.spreadsheet_unescape(v.strip()) for v in values]
                       + [""] * (len(header) - len(values))))
        rec, problems = _record(row, n, source, postcodes)
        if rec is not None:
            place = rec.places[0] if rec.places else None
            np_key = (rec.name.casefold(), ((place.postcode if place else None) or "").upper())
            i = by_key.get(rec.key)
            if i is not None:
                first = report.records[i]
                if dataclasses.replace(first, places=[]) != dataclasses.replace(rec, places=[]):
                    problems.append(Problem(n, "source_id", f"Duplicate of row {report.record_rows[i]} (same "
                                                            "source_id, different details): give each service its "
                                                            "own source_id."))
                elif place is None or place in first.places:
                    problems.append(Problem(n, "source_id", f"Duplicate of row {report.record_rows[i]} (same "
                                                            "service at the same place)."))
                else:  # the same service at another place
                    first.places.append(place)
                    continue
            elif place is not None and place.postcode and np_key in by_name_pc:
                problems.append(Problem(n, "name", f"Duplicate of row {by_name_pc[np_key]} (same name and "
                                                   "postcode)."))
        report.problems.extend(problems)
        if rec is not None and not problems:
            by_key[rec.key] = len(report.records)
            if place is not None and place.postcode:
                by_name_pc.setdefault(np_key, n)
            report.add(rec, n)
    return report


def record_from_fields(fields: dict[str, str], source: str, postcodes: PostcodeIndex | None,
                       row: int = 0) -> tuple[ServiceRecord | None, list[Problem]]:
    """One service from template columns (e.g. the steward's edit form), validated as a CSV row is."""
    # typed text loses control characters too (NUL, bidi overrides), as an import's does
    row_values = {k: text.strip_controls(("" if v is None else str(v)))[0].strip() for k, v in fields.items()}
    return _record(row_values, row, source, postcodes)


def _auto_id(name: str, where: str) -> str:
    """The id of a row that has none: its name and place (hashed when too long for the column)."""
    sid = f"{name.lower()}|{where}"
    return sid if len(sid) <= 200 else f"{sid[:150]}|{hashlib.sha1(sid.encode()).hexdigest()}"


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
        elif term.code not in types:
            types.append(term.code)
    if not types and not any(p.field == "types" for p in problems):
        bad("types", "Missing type.")

    lat = lon = None
    postcode = row.get("postcode", "")
    pc_display = None
    precision = "building"  # latitude and longitude as given
    stated = row.get("location_precision", "").lower()
    if stated and stated not in PRECISIONS:
        bad("location_precision", f"“{row['location_precision']}” should be one of: {', '.join(PRECISIONS)} "
                                  "(or blank).")
    if row.get("latitude") or row.get("longitude"):
        try:
            lat, lon = float(row.get("latitude", "")), float(row.get("longitude", ""))
            if lat != lat or lon != lon:  # NaN
                raise ValueError
        except ValueError:
            lat = lon = None
            bad("latitude", "Latitude and longitude must both be numbers (e.g. 52.6998, -2.5198).")
        else:
            if not in_uk(lat, lon):
                bad("latitude", f"({lat}, {lon}) is outside the UK: check the numbers are not swapped.")
    if postcode:
        try:
            pc = parse_full_postcode(postcode)
            pc_display = pc.display
            if lat is None and not any(p.field == "latitude" for p in problems):
                point = postcode_latlon(postcodes, pc)
                if point is None:
                    bad("postcode", f"Postcode {pc.display} is not in the loaded postcode directory; "
                                    "check it, or give latitude and longitude.")
                else:
                    lat, lon = point
                    precision = "postcode"  # the postcode's centre, not the building
        except LocateError as e:
            bad("postcode", str(e))
    served, unknown = areas_of.parse_list(row.get("service_area", ""))
    for part in unknown:
        bad("service_area", f"“{part}” is not an upper-tier authority (a code like E06000020, or its name) or "
                            "England.")
    if not postcode and lat is None and not served and not any(p.field in ("latitude", "service_area")
                                                                 for p in problems):
        bad("postcode", "Missing location: give a postcode or latitude and longitude, or, for a service without "
                        "a building (phone, online, home visits), its service_area.")

    def months(col):
        v = row.get(col, "")
        if not v:
            return None
        try:
            m = int(float(v))
            if m < 0 or m > 12 * 25:
                raise ValueError
            return m
        except (ValueError, OverflowError):
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
    email = row.get("email") or None
    if email and not EMAIL.match(email):
        bad("email", f"“{email}” is not an email address.")
    status = (row.get("status") or "active").lower()
    if status not in STATUSES:
        bad("status", f"“{row['status']}” should be one of: {', '.join(STATUSES)}.")
    verified = None
    if row.get("last_verified"):
        try:
            verified = date.fromisoformat(row["last_verified"])
            if verified > date.today() + timedelta(days=1):
                bad("last_verified", f"{verified} is in the future.")
        except ValueError:
            bad("last_verified", f"“{row['last_verified']}” is not a date like 2025-03-31.")
    capacity = None
    if row.get("capacity"):
        try:
            capacity = float(row["capacity"])
            if not capacity > 0 or capacity == float("inf"):
                raise ValueError
        except ValueError:
            bad("capacity", f"“{row['capacity']}” should be a positive number.")
    if problems:
        return None, problems
    where = pc_display or (f"{lat:.5f},{lon:.5f}" if lat is not None else "area " + ";".join(served))
    source_id = row.get("source_id") or _auto_id(name, where)
    rec = ServiceRecord(
        source=row.get("source") or source,
        source_id=source_id,
        name=name,
        types=types,
        places=[Place(latitude=round(lat, 6), longitude=round(lon, 6), name=row.get("location_name") or None,
                      address=row.get("address") or None, town=row.get("town") or None, postcode=pc_display,
                      precision=stated if stated in PRECISIONS else precision)] if lat is not None else [],
        organization=row.get("organization") or None,
        description=row.get("description") or None,
        url=row.get("website") or None,
        email=email,
        phone=row.get("phone") or None,
        fees=row.get("cost") or None,
        is_free=free,
        referral=referral,
        referral_notes=row.get("referral_notes") or None,
        min_age_months=lo,
        max_age_months=hi,
        pregnancy=bool(preg),
        eligibility=row.get("eligibility") or None,
        schedule=row.get("schedule") or None,
        languages=[x.strip() for x in re.split(r"[;,]", row.get("languages", "")) if x.strip()],
        last_verified=verified,
        capacity=capacity,
        status=status,
        service_areas=served,
    )
    return rec, problems


# ---------------------------------------------------------------- writing


def _yes_no(v: bool | None) -> str:
    return "" if v is None else ("yes" if v else "no")


def _num(v) -> str:
    return "" if v is None else repr(v)


def fields_of(r: ServiceRecord, place: Place | None = None) -> dict[str, str]:
    """Template columns of a record at one of its places (the inverse of `record_from_fields`)."""
    place = place or (r.places[0] if r.places else None)
    return {
        "source_id": r.source_id, "name": r.name, "organization": r.organization or "",
        "types": "; ".join(r.types), "description": r.description or "",
        "address": (place.address if place else None) or "", "town": (place.town if place else None) or "",
        "postcode": (place.postcode if place else None) or "",
        "latitude": _num(place.latitude) if place else "", "longitude": _num(place.longitude) if place else "",
        "location_precision": (place.precision if place else None) or "",
        "min_age_months": _num(r.min_age_months), "max_age_months": _num(r.max_age_months),
        "pregnancy": _yes_no(bool(r.pregnancy)), "free": _yes_no(r.is_free), "cost": r.fees or "",
        "referral": r.referral or "", "phone": r.phone or "", "email": r.email or "", "website": r.url or "",
        "schedule": r.schedule or "", "languages": "; ".join(r.languages),
        "last_verified": r.last_verified.isoformat() if r.last_verified else "", "capacity": _num(r.capacity),
        "referral_notes": r.referral_notes or "", "eligibility": r.eligibility or "",
        "location_name": (place.name if place else None) or "", "service_area": "; ".join(r.service_areas),
        "status": r.status or "active",
        "source": r.source,
    }


def export_csv(records: list[ServiceRecord]) -> str:
    """The directory in our template: one row per service place. Importing it back changes nothing.
    Text that a spreadsheet would run as a formula is written quoted (`text.spreadsheet_safe`)."""
    out = io.StringIO()
    w = csv.DictWriter(out, TEMPLATE_COLUMNS, lineterminator="\r\n")
    w.writeheader()
    for r in records:
        for place in r.places or [None]:
            w.writerow({k: text.spreadsheet_safe(v) for k, v in fields_of(r, place).items()})
    return out.getvalue()
