"""DfE Get Information About Schools (GIAS) children's centres extracts, as GIAS ships them.

GIAS's Downloads page offers "Children's centres" as `edubaseallchildrencentreYYYYMMDD.csv`:
every open children's centre (type 47) and linked site (type 48) in England, with its
address, postcode, phone and website, and NO coordinates. The layout changed over the
years; each is described once, as data, in `LAYOUTS`:

    layout      encoding       columns                         type names
    2016-2017   Windows-1252   21 (no LastChangedDate)         "Children's Centre", "... Linked Site"
                                                               (sentence case by Nov 2017)
    2019        UTF-8          21                              "Children's centre", "... linked site"
    2020 on     UTF-8          22 (LastChangedDate added)      as 2019

A file with another header is still read by its column names when it has the columns a
centre needs (e.g. the all-establishments `edubasealldata` file cut to types 47 and 48,
which also has Easting/Northing).

`read_version(path)` reads any version (plain or .gz) to one canonical DataFrame. It never
reads HeadFirstName/HeadLastName (the centre managers' names, personal data): those
columns are not even parsed. The history of the register (issue 11) and record quality
(issue 13) use it as it is.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

#: canonical column -> the GIAS header it comes from (one spelling: GIAS has kept its names)
FIELDS = {
    "urn": "URN",
    "la_code": "LA (code)",
    "la_name": "LA (name)",
    "name": "EstablishmentName",
    "type_code": "TypeOfEstablishment (code)",
    "type_name": "TypeOfEstablishment (name)",
    "status_code": "EstablishmentStatus (code)",
    "status": "EstablishmentStatus (name)",
    "open_date": "OpenDate",
    "last_changed": "LastChangedDate",
    "street": "Street",
    "locality": "Locality",
    "address3": "Address3",
    "town": "Town",
    "county_code": "County (code)",
    "county_name": "County (name)",
    "postcode": "Postcode",
    "website": "SchoolWebsite",
    "phone": "TelephoneNum",
    "region": "GOR (name)",
    "easting": "Easting",  # only in the all-establishments file; the extracts have none
    "northing": "Northing",
}
#: Personal data in every version: never read.
PERSONAL = ("HeadFirstName", "HeadLastName", "HeadTitle (name)", "HeadPreferredJobTitle")
#: What a file must have to be read at all (a centre needs an id, a name, a type and a place).
REQUIRED = ("urn", "name", "type_name", "status")
DATE_COLUMNS = ("open_date", "last_changed")

_BASE_21 = ("URN", "LA (code)", "LA (name)", "EstablishmentName", "TypeOfEstablishment (code)",
            "TypeOfEstablishment (name)", "EstablishmentStatus (code)", "EstablishmentStatus (name)", "OpenDate",
            "Street", "Locality", "Address3", "Town", "County (code)", "County (name)", "Postcode",
            "SchoolWebsite", "TelephoneNum", "HeadFirstName", "HeadLastName", "GOR (name)")


_SENTENCE_CASE = (("Children's centre", "centre"), ("Children's centre linked site", "linked_site"))
_TITLE_CASE = (("Children's Centre", "centre"), ("Children's Centre Linked Site", "linked_site"))


@dataclass(frozen=True)
class Layout:
    name: str
    encoding: str  # what GIAS wrote ("cp1252" or "utf-8")
    columns: tuple[str, ...]  # the header, in order
    types: tuple[tuple[str, str], ...]  # (TypeOfEstablishment (name), kind) as this layout spells them


LAYOUTS = (
    Layout("2020 on", "utf-8", _BASE_21[:9] + ("LastChangedDate",) + _BASE_21[9:], _SENTENCE_CASE),
    Layout("2019", "utf-8", _BASE_21, _SENTENCE_CASE),
    # 2016 files say "Children's Centre"; by November 2017 GIAS wrote "Children's centre"
    Layout("2016-2017", "cp1252", _BASE_21, _TITLE_CASE + _SENTENCE_CASE),
)
#: a header that is none of the above, read by its column names
BY_NAME = Layout("by column names", "", (), _SENTENCE_CASE)


def type_key(v) -> str:
    return " ".join(str(v).replace("\u2019", "'").casefold().split()) if isinstance(v, str) else ""


#: type name (any layout, any case) -> "centre" | "linked_site"
KINDS = {type_key(t): k for lay in LAYOUTS + (BY_NAME,) for t, k in lay.types}


class LayoutError(ValueError):
    """The file is not a GIAS children's centres file we can read; the message says why."""


def extract_date(name: str | Path | None) -> date | None:
    """The date GIAS puts in its file names: edubaseallchildrencentre20260821.csv -> 2026-08-21."""
    m = re.search(r"(20\d{2})(\d{2})(\d{2})", Path(name).name) if name else None
    try:
        return date(int(m[1]), int(m[2]), int(m[3])) if m else None
    except ValueError:
        return None


def file_bytes(path: Path | str) -> bytes:
    """The bytes of a file, gunzipped when it is gzip (by its content, whatever its name)."""
    return maybe_gunzip(Path(path).read_bytes())


def maybe_gunzip(data: bytes, limit_bytes: int | None = None) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(-1 if limit_bytes is None else limit_bytes + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise LayoutError(f"The file looks gzip-compressed but can't be unpacked ({e}).") from e
    if limit_bytes is not None and len(out) > limit_bytes:
        raise LayoutError(f"The file unpacks to more than {limit_bytes / 1e6:.0f} MB: split it into smaller files.")
    return out


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM) when it decodes, else Windows-1252."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def identify(header: list[str], encoding: str) -> Layout:
    """The layout of a header (and the encoding the bytes decode with)."""
    same = [lay for lay in LAYOUTS if tuple(header) == lay.columns]
    if same:
        return next((lay for lay in same if lay.encoding == encoding), same[0])
    have = set(header)
    missing = [FIELDS[c] for c in REQUIRED if FIELDS[c] not in have]
    if "Postcode" not in have and not {"Easting", "Northing"} <= have:
        missing.append("Postcode (or Easting and Northing)")
    if missing:
        raise LayoutError(
            f"Not a GIAS children's centres file: missing column(s) {', '.join(missing)}. Expected the "
            "“Children's centres” download from Get Information About Schools (edubaseallchildrencentreYYYYMMDD.csv)."
        )
    return BY_NAME


def read_version_text(text: str, encoding: str = "utf-8", name: str | None = None) -> pd.DataFrame:
    """The canonical frame of a GIAS children's centres file's text (see `read_version`)."""
    try:
        header = pd.read_csv(io.StringIO(text), nrows=0).columns.tolist()
    except (pd.errors.EmptyDataError, pd.errors.ParserError, ValueError) as e:
        raise LayoutError(f"Not a readable CSV file ({e}).") from e
    header = [h.strip().lstrip("\ufeff") for h in header]
    layout = identify(header, encoding)
    wanted = {h: c for c, h in FIELDS.items() if h in header}  # never a PERSONAL column
    try:
        df = pd.read_csv(io.StringIO(text), header=0, names=header, usecols=list(wanted), dtype=str,
                         keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, ValueError) as e:
        raise LayoutError(f"Not a readable CSV file ({e}).") from e
    df = df.rename(columns=wanted)
    for c in FIELDS:
        if c not in df:
            df[c] = pd.NA
    df = df[list(FIELDS)]
    text_cols = [c for c in FIELDS if c not in DATE_COLUMNS + ("easting", "northing")]
    for c in text_cols:
        s = df[c].astype("string").str.strip()
        df[c] = s.mask(s == "")
    for c in DATE_COLUMNS:
        df[c] = pd.to_datetime(df[c], format="%d-%m-%Y", errors="coerce")
    for c in ("easting", "northing"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df.insert(df.columns.get_loc("type_name") + 1, "kind", df.type_name.map(lambda v: KINDS.get(type_key(v))))
    df.attrs.update(layout=layout.name, encoding=encoding, extract_date=extract_date(name))
    return df


def read_version(path: Path | str) -> pd.DataFrame:
    """Any version of the GIAS children's centres extract (plain or .gz, every layout since 2016)
    as one canonical DataFrame, one row per establishment in the file:

    urn, la_code, la_name, name, type_code, type_name, kind ("centre", "linked_site" or None
    for another type), status_code, status, open_date, last_changed (datetimes; NaT where the
    layout has no such column), street, locality, address3, town, county_code, county_name,
    postcode, website, phone, region (strings, <NA> when blank), easting, northing (floats; NaN:
    the extracts have no coordinates).

    `df.attrs` holds layout, encoding and extract_date (from the file name). The managers'
    names are never read. Raises LayoutError for a file that is not one of these.
    """
    text, encoding = decode(file_bytes(path))
    return read_version_text(text, encoding, str(path))


def read_version_bytes(data: bytes, name: str | None = None, limit_bytes: int | None = None) -> pd.DataFrame:
    """`read_version` for an upload's bytes (plain or gzip)."""
    text, encoding = decode(maybe_gunzip(data, limit_bytes))
    return read_version_text(text, encoding, name)


def open_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The open centres and linked sites of a version ("Open" and "Open, but proposed to close")."""
    return df[df.kind.notna() & df.status.fillna("").str.casefold().str.startswith("open")]


# ---------------------------------------------------------------- links between centres

LINK_FIELDS = {"urn": "URN", "link_urn": "LinkURN", "link_name": "LinkName", "link_type": "LinkType",
               "link_established": "LinkEstablishedDate"}


def links_name(path: Path | str) -> str:
    """The links file GIAS publishes beside an extract: links_edubaseallchildrencentreYYYYMMDD.csv."""
    p = Path(path).name
    return "links_" + (p[:-3] if p.lower().endswith(".gz") else p)


def links_beside(path: Path | str) -> Path | None:
    """GIAS's links file for an extract, when it sits beside it (plain or .gz), else None."""
    path = Path(path)
    for name in (links_name(path), links_name(path) + ".gz", links_name(path).removesuffix(".csv") + ".csv"):
        if (path.parent / name).is_file():
            return path.parent / name
    return None


def read_links_bytes(data: bytes) -> pd.DataFrame:
    """GIAS's links between children's centres: urn, link_urn, link_name, link_type, link_established."""
    text, _ = decode(maybe_gunzip(data))
    header = [h.strip().lstrip("\ufeff") for h in pd.read_csv(io.StringIO(text), nrows=0).columns]
    missing = [h for h in ("URN", "LinkURN", "LinkName") if h not in header]
    if missing:
        raise LayoutError(f"Not a GIAS links file: missing column(s) {', '.join(missing)}.")
    wanted = {h: c for c, h in LINK_FIELDS.items() if h in header}
    df = pd.read_csv(io.StringIO(text), header=0, names=header, usecols=list(wanted), dtype=str,
                     keep_default_na=False, na_values=[""]).rename(columns=wanted)
    for c in LINK_FIELDS:
        df[c] = df[c].str.strip() if c in df else pd.NA
    return df


def parents(links: pd.DataFrame, versions: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Linked site URN -> (its centre's URN, the centre's name), from the links file.

    A linked site's row in the links file names its centre (LinkURN, LinkName); the centre's
    name is taken from the extract when the centre is in it, else from the links file.
    """
    kind = dict(zip(versions.urn, versions.kind))
    name = dict(zip(versions.urn, versions.name))
    out: dict[str, tuple[str, str]] = {}
    for urn, link_urn, link_name in links[["urn", "link_urn", "link_name"]].itertuples(index=False):
        if kind.get(urn) != "linked_site" or kind.get(link_urn) == "linked_site" or not isinstance(link_urn, str):
            continue
        centre = name.get(link_urn) if isinstance(name.get(link_urn), str) else link_name
        if isinstance(centre, str) and urn not in out:
            out[urn] = (link_urn, centre)
    return out


# ---------------------------------------------------------------- directory records

CHILDRENS_CENTRES_SOURCE = "DfE GIAS children's centres"
DESCRIPTIONS = {
    "centre": "Children's centre registered with the Department for Education (Get Information About Schools): "
              "support for families from pregnancy until children start school.",
    "linked_site": "Linked site of a children's centre registered with the Department for Education (Get "
                   "Information About Schools): some of the centre's services are offered here.",
}
#: Children's centres are for families from pregnancy until a child turns five.
AGES = {"pregnancy": True, "min_age_months": 0, "max_age_months": 59}
PRECISION_NOTE = {
    "postcode": "placed at the centre of its postcode (GIAS publishes no coordinates)",
    "sector": "placed at the middle of its postcode sector (about 1 km)",
}


@dataclass(frozen=True)
class Placed:
    lat: float
    lon: float
    precision: str  # "building", "postcode" or "sector"
    postcode: str | None  # as displayed ("CB23 8DY"), or as written when it is not a postcode
    warning: str | None = None


class Unplaceable(ValueError):
    """No point for a centre: the reason says why (listed in the report by URN and name)."""


def _parsed(postcode: str | None):
    from ..geocode import LocateError, parse_full_postcode

    try:
        return parse_full_postcode(postcode) if postcode else None
    except LocateError:
        return None


def place_of(postcode: str | None, easting: float, northing: float, postcodes,
             known: dict[str, tuple] | None = None, parsed: dict | None = None) -> Placed:
    """Where a centre goes on the map: its Easting/Northing when a file has them (the building),
    else its postcode's centre in the loaded postcode sources, else the middle of its postcode
    sector (about a kilometre), else Unplaceable. `known`: `postcodes.postcodes(...)` already
    looked up for a whole file (compact postcode -> row)."""
    import math

    from ..geocode import postcode_latlon
    from .gias import TO_WGS84

    pc = parsed[postcode] if parsed is not None and postcode in parsed else _parsed(postcode)
    shown = pc.display if pc else postcode
    if not (math.isnan(easting) or math.isnan(northing)) and 0 < easting <= 700_000 and 0 < northing <= 1_300_000:
        lon, lat = TO_WGS84.transform(easting, northing)
        return Placed(lat, lon, "building", shown)
    if not postcode:
        raise Unplaceable("No postcode (and no coordinates): the centre can't be placed on the map.")
    if pc is None:
        raise Unplaceable(f"“{postcode}” is not a full postcode: the centre can't be placed on the map.")
    if known is not None:
        hit = known.get(pc.compact)
        point = (hit[4], hit[3]) if hit else None
    else:
        point = postcode_latlon(postcodes, pc)
    if point is not None:
        return Placed(point[0], point[1], "postcode", shown)
    sector = postcodes.sector(pc.sector) if postcodes is not None else None
    if sector is not None:
        label = f"{pc.outward} {pc.sector[-1]}"
        return Placed(sector[4], sector[3], "sector", shown,
                      f"Postcode {pc.display} is in none of the loaded postcode sources (retired or new?): placed "
                      f"at the middle of its postcode sector {label} (about 1 km); families are told so.")
    raise Unplaceable(f"Postcode {pc.display} and its sector are in none of the loaded postcode sources: the centre "
                      "can't be placed on the map.")


def _strip_controls(df: pd.DataFrame, report) -> pd.DataFrame:
    """NUL, other control characters and bidi controls removed from every text cell, each removal
    a warning naming the row (the header is row 1) and GIAS's column."""
    from ..text import CONTROL_CHARS, describe_controls, strip_controls
    from .report import WARNING, Problem

    attrs = dict(df.attrs)
    for c in df.columns:
        s = df[c]
        if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
            continue
        hit = s.map(lambda v: isinstance(v, str) and bool(CONTROL_CHARS.search(v))).astype(bool).to_numpy()
        if not hit.any():
            continue
        s = s.astype(object).copy()
        for i in hit.nonzero()[0]:
            clean, n = strip_controls(s.iloc[i])
            s.iloc[i] = clean
            report.problems.append(Problem(int(i) + 2, FIELDS.get(c, c), describe_controls(n), WARNING))
        df = df.assign(**{c: s})
    df.attrs.update(attrs)
    return df


def read_childrens_centres(data: bytes, postcodes=None, filename: str | None = None,
                           limit_bytes: int | None = None, source: str = CHILDRENS_CENTRES_SOURCE,
                           links: bytes | None = None):
    """The open children's centres and linked sites of a GIAS extract (any layout), with a report.

    Each centre is placed at its postcode (precision "postcode"), or at its postcode sector
    when no loaded source knows the postcode ("sector", a warning), or not at all (listed in
    `report.unplaceable` by URN and name, not imported). Closed and proposed centres are
    skipped and counted. `links`: GIAS's links file, which says which centre each linked site
    belongs to. The file is a full register: `report.listed` (every URN in it) lets the review
    find the stored centres it no longer lists.
    """
    from ..text import safe_url
    from .report import ERROR, WARNING, Problem, Report, too_big
    from ..store import Place, ServiceRecord

    report = Report()
    big = too_big(data, limit_bytes)
    if big:
        report.problems.append(big)
        return report
    from .report import decode as decode_upload, wide_encoding

    if wide_encoding(data):  # UTF-16 ("Unicode Text"): an encoding message, not "missing columns"
        try:
            decode_upload(data)
        except ValueError as e:
            report.problems.append(Problem(0, "file", str(e)))
            return report
    try:
        df = read_version_bytes(data, filename, limit_bytes)
    except LayoutError as e:
        report.problems.append(Problem(1, "header", str(e)))
        return report
    df = _strip_controls(df, report)
    version = df.attrs["extract_date"]
    report.rows = len(df)
    report.listed = {u for u in df.urn.dropna()}
    report.version_date = version
    report.notes.append(f"GIAS children's centres extract{f' of {version:%d %B %Y}' if version else ''}: "
                        f"{df.attrs['layout']} layout ({'Windows-1252' if df.attrs['encoding'] == 'cp1252' else 'UTF-8'}"
                        f"), {len(df):,} rows.")
    if version is None:
        report.notes.append("The file name has no date (GIAS names its files edubaseallchildrencentreYYYYMMDD.csv): "
                            "records get no last-verified date, and centres no longer listed are dated today.")
    linked_to: dict[str, tuple[str, str]] = {}
    if links is not None:
        try:
            linked_to = parents(read_links_bytes(links), df)
        except (LayoutError, ValueError, pd.errors.ParserError) as e:
            report.problems.append(Problem(0, "links", f"The links file can't be read: {e}", WARNING))
    n_linked = int((df.kind == "linked_site").sum())
    report.links_known = links is not None
    if n_linked and links is None:
        report.notes.append("No links file (links_edubaseallchildrencentreYYYYMMDD.csv): linked sites won't say "
                            "which centre they belong to (stored links are kept).")
    skipped_status: dict[str, int] = {}
    by_precision: dict[str, int] = {}
    parsed = {p: _parsed(p) for p in set(df.postcode.dropna())}
    known = postcodes.postcodes([pc for pc in parsed.values() if pc]) if postcodes is not None else {}
    plain = df.astype(object).where(df.notna(), None)  # plain Python values: much faster to walk than Arrow's
    for n, row in zip(range(2, len(df) + 2), plain.itertuples(index=False)):
        def bad(fieldname, message, severity=ERROR, n=n):
            report.problems.append(Problem(n, fieldname, message, severity))

        urn = row.urn if isinstance(row.urn, str) else ""
        name = row.name if isinstance(row.name, str) else ""
        if row.kind is None:
            bad("TypeOfEstablishment (name)", f"Unknown type “{row.type_name if isinstance(row.type_name, str) else ''}"
                                              "”: this import takes children's centres and linked sites only.")
            continue
        status = row.status if isinstance(row.status, str) else ""
        if not status.casefold().startswith("open"):
            skipped_status[status or "(blank)"] = skipped_status.get(status or "(blank)", 0) + 1
            report.skipped += 1
            if urn:
                report.closed.append((source, urn, n, status or "(blank)"))
            continue
        if not urn.isdigit():
            bad("URN", f"“{urn}” is not a URN (a number)." if urn else "Missing URN.")
        if not name:
            bad("EstablishmentName", "Missing name.")
        if not urn.isdigit() or not name:
            continue
        postcode = row.postcode if isinstance(row.postcode, str) else None
        try:
            at = place_of(postcode, float("nan") if row.easting is None else row.easting,
                          float("nan") if row.northing is None else row.northing, postcodes, known, parsed)
        except Unplaceable as e:
            report.unplaceable.append((n, urn, name, str(e)))
            continue
        if at.warning:
            bad("Postcode", at.warning, WARNING)
        by_precision[at.precision] = by_precision.get(at.precision, 0) + 1
        website = row.website if isinstance(row.website, str) else None
        url = safe_url(website)
        if website and not url:
            bad("SchoolWebsite", f"“{website}” is not a web address (http or https): left out.", WARNING)
        address = ", ".join(p for p in (row.street, row.locality, row.address3) if isinstance(p, str)) or None
        parent = linked_to.get(urn) if row.kind == "linked_site" else None
        report.add(ServiceRecord(
            source=source,
            source_id=urn,
            name=name,
            types=["childrens_centre"],
            places=[Place(latitude=round(float(at.lat), 6), longitude=round(float(at.lon), 6), name=name,
                          address=address, town=row.town if isinstance(row.town, str) else None,
                          postcode=at.postcode, precision=at.precision)],
            organization=row.la_name if isinstance(row.la_name, str) else None,
            description=DESCRIPTIONS[row.kind],
            url=url,
            phone=row.phone if isinstance(row.phone, str) else None,
            last_verified=version,
            part_of_id=parent[0] if parent else None,
            part_of_name=parent[1] if parent else None,
            **AGES,
        ), n)
    if skipped_status:
        report.notes.append("Skipped (not open): " + ", ".join(f"{k} {v}" for k, v in sorted(skipped_status.items()))
                            + ".")
    if by_precision:
        report.notes.append("Placed: " + ", ".join(f"{by_precision[k]:,} at their {w}" for k, w in
                                                    (("building", "grid reference"), ("postcode", "postcode's centre"),
                                                     ("sector", "postcode sector (about 1 km)"))
                                                    if by_precision.get(k)) + ".")
    if report.unplaceable:
        report.notes.append(f"{len(report.unplaceable)} open centre(s) can't be placed on the map and are not "
                            "imported: " + "; ".join(f"URN {u} {nm} ({why})" for _, u, nm, why in report.unplaceable))
    _check_duplicates(report)
    return report


def _check_duplicates(report) -> None:
    """A URN twice in the file is an error (the second is rejected). The same name and postcode
    under two URNs is how GIAS lists some sites (a centre and its linked site, or a site
    registered twice): both are imported, with a warning for the steward."""
    from .report import WARNING, Problem

    first_urn: dict[str, int] = {}
    first_place: dict[tuple[str, str], tuple[int, str]] = {}
    keep, rows = [], []
    for rec, n in zip(report.records, report.record_rows):
        if rec.source_id in first_urn:
            report.problems.append(Problem(n, "URN", f"Duplicate of row {first_urn[rec.source_id]} (same URN)."))
            continue
        first_urn[rec.source_id] = n
        key = (" ".join(rec.name.casefold().split()), (rec.places[0].postcode or "").replace(" ", ""))
        if key[1] and key in first_place:
            row, urn = first_place[key]
            report.problems.append(Problem(n, "EstablishmentName", f"Same name and postcode as URN {urn} (row {row}): "
                                                                   "GIAS lists both; both are imported.", WARNING))
        first_place.setdefault(key, (n, rec.source_id))
        keep.append(rec)
        rows.append(n)
    report.records, report.record_rows = keep, rows
