"""DfE's "List of family hub sites" (GOV.UK), as the directory's family hubs, placed by postcode.

The publication (https://www.gov.uk/government/publications/list-of-family-hub-sites) is one CSV,
`List_of_family_hub_sites.csv`, with the columns Region, Local_Authority, Family_Hub, Postcode: in
March 2025, 641 hubs (551 in the 75 local authorities of the Family Hubs and Start for Life
programme, 90 in the 13 of the Family Hubs Transformation Fund). DfE says it is management
information from local authorities and may not list every hub. Headers are matched case- and
punctuation-insensitively; a column naming the programme ("programme", "fund"), if the file has
one, goes into the description. UTF-8 or Windows-1252.

Each row becomes a service of type "childrens_centre" (our "Children's centre / family hub"),
source "DfE family hub sites", organisation the local authority as written, placed at its
postcode's centre (precision "postcode": DfE publishes no coordinates), or at its postcode sector
when no loaded postcode source knows the postcode (a warning), or not at all (listed, not
imported). The file has no ids: a hub's id is its authority and name (with its postcode when
one authority lists a name twice), so a re-import of a newer list updates the same records. The
list is a register: a re-import is a sync review (new, changed, no longer listed: marked closed,
kept), as for GIAS. Hubs are offered as duplicates of GIAS children's centres at the same
postcode (`duplicates.py`): many hubs are children's centres renamed.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from ..sources import norm
from ..store import Place, ServiceRecord
from .gias_cc import Unplaceable, _parsed, place_of
from .report import ERROR, WARNING, Problem, Report, check_duplicates_in_file, clean_cells, upload_text

SOURCE = "DfE family hub sites"
PAGE = "https://www.gov.uk/government/publications/list-of-family-hub-sites"
COLUMNS = {"region": "Region", "local_authority": "Local_Authority", "family_hub": "Family_Hub",
           "postcode": "Postcode"}
DESCRIPTION = ("Family hub listed by the Department for Education (“List of family hub sites”, GOV.UK): one place "
               "for families to get support and information from a variety of services, such as infant feeding, "
               "parenting, perinatal mental health and early language development.")
#: Family hubs serve families from pregnancy (Start for Life) with children aged 0 to 19 (25 with SEND).
AGES = {"pregnancy": True, "min_age_months": 0, "max_age_months": 19 * 12}
ELIGIBILITY = "Families with children aged 0 to 19 (up to 25 for children with special educational needs)"


def _id(la: str, name: str) -> str:
    return f"{' '.join(la.casefold().split())}|{' '.join(name.casefold().split())}"[:200]


def read_family_hubs(data: bytes, postcodes=None, filename: str | None = None, limit_bytes: int | None = None,
                     source: str = SOURCE) -> Report:
    """The hubs of DfE's list (see the module), with a report; nothing is written."""
    report = Report(pairs_offered=True)  # a hub at a GIAS centre of the same name: a pair, not a refusal
    content = upload_text(data, report, limit_bytes)
    if content is None:
        return report
    try:
        rows = [(n, v) for n, v in enumerate(csv.reader(io.StringIO(content, newline="")), start=1)]
    except csv.Error as e:
        report.problems.append(Problem(0, "file", f"Not a readable CSV file: {e}."))
        return report
    rows = [(n, v) for n, v in rows if any(x.strip() for x in v)]
    if not rows:
        report.problems.append(Problem(0, "file", "The file is empty."))
        return report
    rows = clean_cells(rows, report)
    header = [norm(h.lstrip("\ufeff")) for h in rows[0][1]]
    at = {c: header.index(c) for c in COLUMNS if c in header}
    missing = [COLUMNS[c] for c in COLUMNS if c not in at and c != "region"]
    if missing:
        report.problems.append(Problem(1, "header", f"Not DfE's list of family hub sites: missing column(s) "
                                                    f"{', '.join(missing)}. Expected Region, Local_Authority, "
                                                    f"Family_Hub, Postcode (from {PAGE})."))
        return report
    programme = next((i for i, h in enumerate(header) if "programme" in h or "fund" in h), None)
    body = rows[1:]
    report.rows = len(body)
    cells = [{c: (v[i].strip() if i < len(v) else "") for c, i in at.items()} for _, v in body]
    parsed = {r["postcode"]: _parsed(r["postcode"]) for r in cells if r["postcode"]}
    known = postcodes.postcodes([pc for pc in parsed.values() if pc]) if postcodes is not None else {}
    names: dict[str, int] = {}
    for r in cells:
        if r["local_authority"] and r["family_hub"]:
            k = _id(r["local_authority"], r["family_hub"])
            names[k] = names.get(k, 0) + 1
    report.listed = set()
    report.version_date = version = _date_in(filename)
    by_precision: dict[str, int] = {}
    for (n, values), r in zip(body, cells):
        def bad(fieldname, message, severity=ERROR, n=n):
            report.problems.append(Problem(n, fieldname, message, severity))

        la, name, postcode = r["local_authority"], r["family_hub"], r["postcode"] or None
        if not name:
            bad("Family_Hub", "Missing the hub's name.")
        if not la:
            bad("Local_Authority", "Missing the local authority.")
        if not name or not la:
            continue
        sid = _id(la, name)
        if names.get(sid, 0) > 1:  # one authority lists the name twice: told apart by postcode
            sid = f"{sid}|{(postcode or '').upper().replace(' ', '')}"[:200]
        report.listed.add(sid)
        try:
            placed = place_of(postcode, float("nan"), float("nan"), postcodes, known, parsed)
        except Unplaceable as e:
            report.unplaceable.append((n, sid, name, str(e).replace("the centre", "the hub")))
            continue
        if placed.warning:
            bad("Postcode", placed.warning.replace("centre", "hub"), WARNING)
        by_precision[placed.precision] = by_precision.get(placed.precision, 0) + 1
        extra = values[programme].strip() if programme is not None and programme < len(values) else ""
        report.add(ServiceRecord(
            source=source, source_id=sid, name=name, types=["childrens_centre"],
            places=[Place(latitude=round(float(placed.lat), 6), longitude=round(float(placed.lon), 6), name=name,
                          postcode=placed.postcode, precision=placed.precision)],
            organization=la,
            description=DESCRIPTION + (f" Programme: {extra}." if extra else ""),
            eligibility=ELIGIBILITY, last_verified=version, **AGES,
        ), n)
    report.notes.append(f"DfE list of family hub sites: {report.rows:,} rows"
                        + (f" ({report.version_date:%B %Y})" if report.version_date else "") + "; placed "
                        + ", ".join(f"{by_precision[k]:,} at their {w}" for k, w in
                                    (("postcode", "postcode's centre"), ("sector", "postcode sector (about 1 km)"))
                                    if by_precision.get(k)) + ". DfE publishes no coordinates or addresses.")
    if report.unplaceable:
        report.notes.append(f"{len(report.unplaceable)} hub(s) can't be placed on the map and are not imported: "
                            + "; ".join(f"{nm} ({why})" for _, _, nm, why in report.unplaceable))
    check_duplicates_in_file(report, "row", same_place_warns=True)
    return report


def _date_in(filename: str | None) -> date | None:
    """A date in the file's name (List_of_family_hub_sites_2025-03.csv, ..._20250331.csv), else None."""
    m = re.search(r"(20\d{2})[-_]?(\d{2})(?:[-_]?(\d{2}))?", filename or "")
    try:
        return date(int(m[1]), int(m[2]), int(m[3] or 1)) if m else None
    except ValueError:
        return None

