"""What an importer found in a file: the records it could read and every problem.

Shared by the CSV template, Open Referral UK JSON and GIAS children's centres
importers. Nothing here writes: the steward reads the report, then commits or
cancels (see `review`).

A problem's `row` is where a steward finds it in the file: the spreadsheet row
for CSV files (the header is row 1), the position of the service in the file
for JSON (the first service is 1). Row 0 is the file as a whole.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from .. import config
from ..text import describe_controls, strip_controls
from ..store import ServiceRecord

ERROR, WARNING = "error", "warning"

#: A generous box around the UK and its islands (WGS84).
UK_LAT = (49.8, 60.95)
UK_LON = (-8.75, 1.8)


@dataclass(frozen=True)
class Problem:
    row: int
    field: str
    message: str
    severity: str = ERROR  # "error": the row is rejected; "warning": imported, but worth a look


@dataclass
class Report:
    records: list[ServiceRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows: int = 0  # rows (or services) read, blank rows aside
    unit: str = "row"  # what `Problem.row` counts: "row" (CSV) or "service" (JSON)
    record_rows: list[int] = field(default_factory=list)  # the row each record came from
    skipped: int = 0  # rows deliberately not imported (e.g. closed centres): not problems
    notes: list[str] = field(default_factory=list)  # what the steward should know about the file
    unmapped_terms: Counter = field(default_factory=Counter)  # (vocabulary, term) -> services
    closed: list[tuple[str, str, int, str]] = field(default_factory=list)  # (source, id, row, status) the file
    # lists as closed: review() marks them defunct if they are stored and active
    unplaceable: list[tuple[int, str, str, str]] = field(default_factory=list)  # (row, id, name, why): open
    # services the file lists that can't be put on the map (not imported, never silently dropped)
    listed: set[str] | None = None  # a full register (GIAS): every id it lists, any status; the review
    # marks stored services of the source it no longer lists as closed
    version_date: date | None = None  # the register's date (from its file name)
    links_known: bool = True  # False: the file came without the links that say what each site is part of
    pairs_offered: bool = False  # the same name and postcode in another source is a duplicate pair to offer
    # stewards (DfE's family hubs beside GIAS centres), a warning, not a rejection

    def add(self, record: ServiceRecord, row: int) -> None:
        self.records.append(record)
        self.record_rows.append(row)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != ERROR]

    @property
    def file_error(self) -> bool:
        """The file as a whole could not be read (too big, not CSV/JSON, wrong layout)."""
        return any(p.row <= 1 and p.field in ("file", "header") and p.severity == ERROR for p in self.problems)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.records)

    @property
    def rejected_rows(self) -> set[int]:
        return {p.row for p in self.errors if p.row > 0 and p.field not in ("file", "header")}

    def row_of(self, record: ServiceRecord) -> int:
        for r, n in zip(self.records, self.record_rows):
            if r is record:
                return n
        return 0


MB = 1024 * 1024  # one unit for every size the app states (FSM_UPLOAD_LIMIT_MB counts these too)


def megabytes(n: int) -> str:
    """'6.2 MB', '20 MB', '0.01 MB': enough digits to tell a size from the limit it is compared with."""
    v = n / MB
    for digits in (0, 1, 2, 3):
        text = f"{v:.{digits}f}"
        if abs(float(text) - v) < 0.01 * max(v, 0.001) or digits == 3:
            return f"{float(text):g} MB"
    return f"{v:g} MB"


def too_big(data: bytes, limit_bytes: int | None = None) -> Problem | None:
    limit = config.upload_limit_bytes() if limit_bytes is None else limit_bytes
    if len(data) > limit:
        size = megabytes(len(data))
        if size == megabytes(limit):
            size = f"{len(data) / MB:.3f} MB"
        return Problem(0, "file", f"The file is {size}; the limit is {megabytes(limit)} "
                                  "(FSM_UPLOAD_LIMIT_MB). Split it into smaller files.")
    return None


#: Byte-order marks of encodings we don't read as text (Excel's "Unicode Text" is UTF-16).
_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16",
         b"\xfe\xff": "UTF-16"}


def wide_encoding(data: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when the file is in one of them (by its byte-order mark, or by the zero
    bytes every other byte of ASCII text has in UTF-16), else None."""
    for bom, name in _BOMS.items():
        if data.startswith(bom):
            return name
    head = data[:4000]
    if len(head) >= 8 and head.count(0) * 3 > len(head):
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if max(even, odd) * 4 > len(head):  # zeros in one of the two byte positions: UTF-16
            return "UTF-16"
    return None


def decode(data: bytes) -> tuple[str, str]:
    """Text of an uploaded file: UTF-8 (with or without BOM), else Windows-1252 (Excel's default)."""
    wide = wide_encoding(data)
    if wide:
        raise ValueError(
            f"The file is {wide} text (what Excel calls “Unicode Text”), which this import does not read. In "
            "Excel choose File > Save As > “CSV UTF-8 (Comma delimited)” (or export the feed as UTF-8) and "
            "upload that file.")
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


def upload_text(data: bytes, report: "Report", limit_bytes: int | None = None) -> str | None:
    """The text of an upload, or None with the reason added to `report` (too big, not text)."""
    big = too_big(data, limit_bytes)
    if big:
        report.problems.append(big)
        return None
    try:
        return decode(data)[0]
    except ValueError as e:
        report.problems.append(Problem(0, "file", str(e)))
        return None


def in_uk(lat: float, lon: float) -> bool:
    return UK_LAT[0] <= lat <= UK_LAT[1] and UK_LON[0] <= lon <= UK_LON[1]


def name_key(name: str | None) -> str:
    return " ".join((name or "").casefold().split())


def postcode_key(postcode: str | None) -> str:
    return re.sub(r"\s+", "", (postcode or "").upper())


def check_duplicates_in_file(report: Report, what: str = "row", same_place_warns: bool = False) -> None:
    """Reject a record whose source id, or name and postcode, repeat an earlier one in the same file.
    `same_place_warns`: records keyed by their ids (a feed) may share a name and postcode (two sessions
    at one centre): a warning only."""
    seen: dict[tuple, int] = {}
    keep_records, keep_rows = [], []
    for rec, n in zip(report.records, report.record_rows):
        dup = None
        keys = [("source id", rec.source, rec.source_id)]
        keys += [("name and postcode", name_key(rec.name), postcode_key(p.postcode)) for p in rec.places if p.postcode]
        for key in keys:
            if key in seen and seen[key] != n:
                dup = (key[0], seen[key])
                break
        if dup and same_place_warns and dup[0] != "source id":
            report.problems.append(Problem(n, "name", f"Same name and postcode as {what} {dup[1]}, under another "
                                                      "id: check it is not listed twice.", WARNING))
            dup = None
        if dup:
            report.problems.append(Problem(n, "source_id" if dup[0] == "source id" else "name",
                                           f"Duplicate of {what} {dup[1]} (same {dup[0]})."))
            continue
        for key in keys:
            seen.setdefault(key, n)
        keep_records.append(rec)
        keep_rows.append(n)
    report.records, report.record_rows = keep_records, keep_rows


def clean_cells(rows: list[tuple[int, list[str]]], report: Report) -> list[tuple[int, list[str]]]:
    """CSV rows (header first) with control characters removed from every cell, each removal a
    warning naming the row (as the importers count them: the header is row 1) and the column."""
    header = rows[0][1] if rows else []
    out = []
    for n, (line, values) in enumerate(rows, start=1):
        cleaned = []
        for i, v in enumerate(values):
            v, removed = strip_controls(v)
            if removed:
                name = header[i].strip() if i < len(header) and n > 1 else f"column {i + 1}"
                report.problems.append(Problem(n, name or f"column {i + 1}", describe_controls(removed), WARNING))
            cleaned.append(v)
        out.append((line, cleaned))
    return out


def clean_json(value, row: int, report: Report, path: str = ""):
    """A JSON value with control characters removed from every string (keys too), each removal a
    warning naming the service and the field's path in it (e.g. contacts[0].phones[0].number)."""
    if isinstance(value, str):
        v, removed = strip_controls(value)
        if removed:
            report.problems.append(Problem(row, path or "service", describe_controls(removed), WARNING))
        return v
    if isinstance(value, list):
        return [clean_json(v, row, report, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = clean_json(k, row, report, f"{path}.{k}" if path else str(k)) if isinstance(k, str) else k
            out[key] = clean_json(v, row, report, f"{path}.{key}" if path else str(key))
        return out
    return value


def count_rows(kind: str, data: bytes) -> int | None:
    """How many records (CSV rows below the header, or JSON services) a file holds, cheaply, before
    it is validated; None if that can't be told (the importer then reports why)."""
    import csv
    import io
    import json

    try:
        content = decode(data)[0]
    except ValueError:
        return None
    if kind == "oruk":
        try:
            doc = json.loads(content)
        except (ValueError, RecursionError):
            return None
        if isinstance(doc, list):
            return len(doc)
        if isinstance(doc, dict):
            for key in ("contents", "content"):
                if isinstance(doc.get(key), list):
                    return len(doc[key])
            return 1
        return None
    try:
        n = sum(1 for values in csv.reader(io.StringIO(content, newline="")) if any(v.strip() for v in values))
    except csv.Error:
        return None
    return max(0, n - 1)


def too_many_rows(kind: str, data: bytes, max_rows: int) -> Problem | None:
    n = count_rows(kind, data)
    if n is not None and n > max_rows:
        unit = "services" if kind == "oruk" else "rows"
        return Problem(0, "file", f"The file holds {n:,} {unit}; an upload in the browser takes at most "
                                  f"{max_rows:,} (FSM_UPLOAD_MAX_ROWS). Split it into smaller files, or import it "
                                  "with the command line (python -m directory import).")
    return None
