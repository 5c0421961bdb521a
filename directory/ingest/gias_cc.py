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
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        out = f.read(-1 if limit_bytes is None else limit_bytes + 1)
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
