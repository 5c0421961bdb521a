"""Small files in the exact layouts stewards load, for the directory-steward tests.

- Open Referral UK 3.0 service objects, laid out as the published `service.json`
  schema (shared/standards/open-referral-uk-3.0). Names, ids, descriptions (with
  their HTML), organisations and assured dates come from the real North
  Lincolnshire Council feed (shared/data/open_referral_feeds); the list summaries
  there have no locations or taxonomy, so the locations, terms, ages and times
  added here are test values. These files only ever go into throwaway test
  databases.
- The DfE "Get Information About Schools" children's centres layout: the
  edubasealldata column names (URN, LA (name), EstablishmentName,
  TypeOfEstablishment (name), EstablishmentStatus (name), Street, Locality,
  Address3, Town, County (name), Postcode, TelephoneNum, Easting, Northing...),
  Windows-1252 like the real download. Easting/Northing are real GIAS points
  (schools in the shared GIAS file), so the conversion can be checked against
  GIAS's own published latitude/longitude.
- Our CSV template.
"""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from directory import config

FEEDS = config.raw_dir() / "open_referral_feeds"
NORTH_LINCS = FEEDS / "north_lincolnshire_council_services_2024-12.json"
BRISTOL = FEEDS / "bristol_council_services_2024-12.json"
ORUK_SCHEMA = config.raw_dir().parent / "standards" / "open-referral-uk-3.0"  # beside the shared data

#: Real postcodes in the loaded NSPL subset (Telford) with their NSPL coordinates.
TF1_1AA = ("TF1 1AA", 52.699797, -2.519838)  # Code-Point 2025.4 has the same grid reference, so ONS lat/long stay
TF3_1LY = ("TF3 1LY", 52.651897, -2.438933)


@lru_cache(maxsize=None)
def real_summaries(path=NORTH_LINCS) -> tuple[dict, ...]:
    return tuple(json.loads(path.read_text(encoding="utf-8")))


def real_summary(name: str) -> dict:
    return dict(next(s for s in real_summaries() if s["name"] == name))


def oruk_service(name: str, *, lat=None, lon=None, postcode=None, terms=(("Breastfeeding support", None),),
                 **extra) -> dict:
    """A full ORUK 3.0 service object grown from a real North Lincolnshire summary."""
    s = real_summary(name)
    address = {"id": "0f7d1e4c-2d3b-4c52-9d16-6f7c6f0b0a01", "address_1": "Family Hub, 1 Test Street",
               "city": "Telford", "state_province": "", "postal_code": postcode or "", "country": "GB",
               "address_type": "physical"}
    location = {"id": "3a19ff88-4620-4d17-9830-ac1d859eb5d5", "location_type": "physical", "name": "Family Hub",
                "addresses": [address]}
    if lat is not None:
        location |= {"latitude": lat, "longitude": lon}
    doc = {
        "id": s["id"],
        "name": s["name"],
        "description": s["description"],
        "url": s.get("url") or None,
        "email": s.get("email") or None,
        "status": s["status"],
        "assured_date": s["assured_date"],
        "organization": {"id": s["organization"]["id"], "name": s["organization"]["name"], "description": ""},
        "service_at_locations": [{"id": "e94c9f38-1e8f-4564-91d4-d53501ab1765", "location": location}],
        "attributes": [
            {"id": f"ae58cc39-8b70-4ab1-8aea-78688{i:07d}", "link_type": "service",
             "taxonomy_term": {"id": f"3f7b145d-84af-42d7-8fae-eaca7{i:07d}", "name": term_name,
                               "description": "", "taxonomy": vocabulary or "nl-family-services",
                               "term": term_name.lower().replace(" ", "-")}}
            for i, (term_name, vocabulary) in enumerate(terms)
        ],
        "minimum_age": 0,
        "maximum_age": 2,
        "schedules": [{"id": "48102e86-bb50-41c4-8f1e-e269368c41d1", "freq": "WEEKLY", "byday": "TU",
                       "opens_at": "10:00:00", "closes_at": "11:30:00"}],
        "contacts": [{"id": "1e7efce3-639b-4880-940c-b95cd30cdb50", "name": "Baby Feeding Team",
                      "phones": [{"id": "1554f2e2-a373-45db-a3fa-9fc48a61c15e", "number": "01724 298212"}]}],
        "languages": [{"id": "2989d3ed-c547-48f8-8f9d-432d81c7892e", "name": "English"},
                      {"id": "2989d3ed-c547-48f8-8f9d-432d81c7892f", "name": "Polish"}],
        "cost_options": [{"id": "1fdf4d39-3d80-484d-9f92-a8ffa08621e7", "option": "Free", "amount": 0}],
    }
    doc.update(extra)
    return doc


def oruk_page(services: list[dict], **paging) -> bytes:
    """An ORUK 3.0 `/services` page (the API's paginated response)."""
    page = {"total_items": len(services), "total_pages": 1, "page_number": 1, "size": len(services),
            "first_page": True, "last_page": True, "empty": not services, "contents": services}
    page.update(paging)
    return json.dumps(page, ensure_ascii=False, indent=1).encode("utf-8")


# ---------------------------------------------------------------- GIAS children's centres

GIAS_CC_COLUMNS = [
    "URN", "LA (code)", "LA (name)", "EstablishmentNumber", "EstablishmentName", "TypeOfEstablishment (code)",
    "TypeOfEstablishment (name)", "EstablishmentTypeGroup (code)", "EstablishmentTypeGroup (name)",
    "EstablishmentStatus (code)", "EstablishmentStatus (name)", "OpenDate", "CloseDate", "Street", "Locality",
    "Address3", "Town", "County (name)", "Postcode", "TelephoneNum", "Easting", "Northing", "SchoolWebsite",
]
CC_TYPES = {"Children's centre": "47", "Children's centre linked site": "48"}
STATUS_CODES = {"Open": "1", "Closed": "2", "Open, but proposed to close": "3", "Proposed to open": "4"}


@lru_cache(maxsize=1)
def real_gias_points() -> pd.DataFrame:
    """Real GIAS establishments in Telford and Wrekin: URN, name, easting, northing and GIAS's own lat/long."""
    path = config.raw_dir() / "gias_open_establishments_20250524.csv.gz"
    df = pd.read_csv(path, usecols=["urn", "la_name", "establishment_name", "easting", "northing", "latitude",
                                    "longitude"])
    for c in ("easting", "northing", "latitude", "longitude"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df[df.la_name == "Telford and Wrekin"].dropna().head(20).reset_index(drop=True)


def gias_cc_row(i: int, *, name: str, kind="Children's centre", status="Open", postcode="TF1 1AA",
                la="Telford and Wrekin", **overrides) -> dict:
    """A children's centre row at the real point of the i-th Telford establishment."""
    p = real_gias_points().iloc[i]
    row = {
        "URN": str(20000 + i), "LA (code)": "894", "LA (name)": la, "EstablishmentNumber": str(1000 + i),
        "EstablishmentName": name, "TypeOfEstablishment (code)": CC_TYPES.get(kind, "99"),
        "TypeOfEstablishment (name)": kind, "EstablishmentTypeGroup (code)": "12",
        "EstablishmentTypeGroup (name)": "Children's centres",
        "EstablishmentStatus (code)": STATUS_CODES.get(status, ""),
        "EstablishmentStatus (name)": status, "OpenDate": "01-04-2006", "CloseDate": "",
        "Street": "Test Street", "Locality": "", "Address3": "", "Town": "Telford", "County (name)": "Shropshire",
        "Postcode": postcode, "TelephoneNum": "01952 000000", "Easting": str(int(p.easting)),
        "Northing": str(int(p.northing)), "SchoolWebsite": "",
    }
    row.update(overrides)
    return row


def gias_cc_csv(rows: list[dict], encoding: str = "cp1252") -> bytes:
    out = io.StringIO()
    w = csv.DictWriter(out, GIAS_CC_COLUMNS, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode(encoding)


# ---------------------------------------------------------------- our CSV template


def template_rows(rows: list[dict], columns: list[str] | None = None, encoding: str = "utf-8") -> bytes:
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    w = csv.DictWriter(out, columns, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode(encoding)


# ---------------------------------------------------------------- GIAS children's centres, real extract


def later_extract(raw: Path, drop: int = 2, close: int = 1, rephone: int = 1) -> tuple[bytes, dict]:
    """The real 21 Aug 2026 GIAS children's centres extract as a later version would change it: the first `drop`
    centres gone, the next `close` listed as Closed, the next `rephone` with a new phone number.
    Returns the file's bytes (UTF-8, GIAS's layout) and the URNs of each change."""
    df = pd.read_csv(raw / "edubaseallchildrencentre20260821.csv", dtype=str, keep_default_na=False)
    df = df[df.Postcode.str.strip() != ""].reset_index(drop=True)  # placeable ones (not the blank postcode)
    dropped = list(df.URN[:drop])
    closed = list(df.URN[drop:drop + close])
    rephoned = list(df.URN[drop + close:drop + close + rephone])
    df.loc[drop:drop + close - 1, "EstablishmentStatus (name)"] = "Closed"
    df.loc[drop + close:drop + close + rephone - 1, "TelephoneNum"] = "01234-567890"
    full = pd.read_csv(raw / "edubaseallchildrencentre20260821.csv", dtype=str, keep_default_na=False)
    blank = full[full.Postcode.str.strip() == ""]
    out = pd.concat([df.iloc[drop:], blank])
    buf = io.StringIO()
    out.to_csv(buf, index=False, quoting=csv.QUOTE_ALL, lineterminator="\n")
    return buf.getvalue().encode("utf-8"), {"dropped": dropped, "closed": closed, "rephoned": rephoned}
