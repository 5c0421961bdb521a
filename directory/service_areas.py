"""Services without a building (helplines, online groups, home visiting): the area they serve.

Such a service is a real Open Referral UK service with no location: it is kept with its
service area (ORUK 3.0 `service_areas`), never with a made-up map point. Ours is a list of
GSS codes, each an **upper-tier authority** (utla23: county E10, unitary E06, metropolitan
borough E08, London borough E09: the councils that commission family services) or
**England** (E92000001, for national lines). Families see them under "Phone and online
support for your area": the ones for the upper-tier authority of the place they searched,
and the England-wide ones everywhere.

In ORUK a service area is written with `name` (the area's name) and `uri`, the ONS linked-data
identifier of the area (http://statistics.data.gov.uk/id/statistical-geography/E06000020): an
import reads the code from the `uri`, else from the name ("Telford and Wrekin", "Telford &
Wrekin Council", "England", "National").

Names come from the build (`lsoa.parquet`'s upper-tier columns, `area_names.parquet`'s official
council names), read once per process; without a build only the codes' form is checked.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

ENGLAND = "E92000001"
ENGLAND_NAME = "England"
URI = "http://statistics.data.gov.uk/id/statistical-geography/{code}"
#: the GSS codes of England's upper-tier authorities: unitary, metropolitan, London, county
UTLA_CODE = re.compile(r"^E(06|08|09|10)\d{6}$")
_CODE_IN_TEXT = re.compile(r"\b(E(?:06|08|09|10)\d{6}|E92000001)\b", re.I)
#: what feeds write for a national service (in England: the part of it we cover)
NATIONAL = frozenset({"england", "national", "nationwide", "uk", "united kingdom", "uk wide", "uk-wide",
                      "great britain", "gb", "england and wales", "england wide", "all of england"})
#: words councils add to their names ("Telford & Wrekin Council", "Worcestershire County Council")
_COUNCIL_WORDS = re.compile(r"\b(city|county|borough|metropolitan|district|royal|council|of|the|london)\b")


def _key(text: str) -> str:
    s = str(text).casefold().replace("&", " and ").replace("\u2019", "'")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", s).split())


def _short(text: str) -> str:
    return " ".join(_COUNCIL_WORDS.sub(" ", _key(text)).split())


def is_code(code: str | None) -> bool:
    return bool(code) and (code == ENGLAND or bool(UTLA_CODE.match(code)))


def uri(code: str) -> str:
    return URI.format(code=code)


def code_in(text) -> str | None:
    """A GSS code of ours written in a text or an ONS URI (…/statistical-geography/E06000020)."""
    m = _CODE_IN_TEXT.search(str(text or ""))
    return m[1].upper() if m else None


@lru_cache(maxsize=4)
def _names(build_dir: str) -> tuple[dict[str, str], dict[str, str]]:
    """(code -> name, name key -> code) of England's upper-tier authorities, from the build."""
    import pandas as pd

    folder = Path(build_dir)
    names: dict[str, str] = {}
    try:
        df = pd.read_parquet(folder / "lsoa.parquet", columns=["utla23_code", "utla23_name"]).drop_duplicates()
        names = dict(zip(df.utla23_code.astype(str), df.utla23_name.astype(str)))
    except (OSError, ValueError, KeyError):
        pass
    keys = {}
    for code, name in names.items():
        for k in (_key(name), _short(name)):
            if k:
                keys.setdefault(k, code)
    try:
        off = pd.read_parquet(folder / "area_names.parquet")
        for code, name in zip(off.code.astype(str), off.official_name.astype(str)):
            if code in names and _key(name):
                keys.setdefault(_key(name), code)
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    return names, keys


def names(build_dir: str | None = None) -> dict[str, str]:
    """utla23 code -> name ("E06000020" -> "Telford and Wrekin"), {} without a build."""
    from . import config

    return _names(str(config.build_dir(build_dir)))[0]


def label(code: str, build_dir: str | None = None) -> str:
    """What families read: "England", "Telford and Wrekin" (the code itself when unknown)."""
    if code == ENGLAND:
        return ENGLAND_NAME
    return names(build_dir).get(code, code)


def labels(codes) -> str:
    """'Telford and Wrekin; Shropshire' for a list of codes (England last)."""
    codes = list(codes or [])
    return "; ".join(label(c) for c in sorted(codes, key=lambda c: (c == ENGLAND, label(c))))


def known(code: str, build_dir: str | None = None) -> bool:
    """A code of ours: England, or an upper-tier authority the build knows (any utla-shaped code
    when there is no build to ask)."""
    if code == ENGLAND:
        return True
    table = names(build_dir)
    return code in table if table else bool(UTLA_CODE.match(code or ""))


def resolve(text, build_dir: str | None = None) -> str | None:
    """Our code for a service area as feeds and spreadsheets write it: a code or ONS URI, "England"
    (or "National", "UK"...), an upper-tier authority's name or its council's official name.
    None when it names no area we know (a district, a ward, a free-text description)."""
    if text is None or not str(text).strip():
        return None
    code = code_in(text)
    if code:
        return code if known(code, build_dir) else None
    k = _key(text)
    if k in NATIONAL:
        return ENGLAND
    from . import config

    keys = _names(str(config.build_dir(build_dir)))[1]
    return keys.get(k) or (keys.get(_short(text)) if _short(text) else None)


def parse_list(text, build_dir: str | None = None) -> tuple[list[str], list[str]]:
    """(codes, parts not understood) of a spreadsheet cell: areas separated by ';' or '|'."""
    codes, bad = [], []
    for part in re.split(r"[;|]", str(text or "")):
        if not part.strip():
            continue
        code = resolve(part, build_dir)
        if code is None:
            bad.append(part.strip())
        elif code not in codes:
            codes.append(code)
    return codes, bad


def area_of_origin(areas, x: float, y: float, code: str = "") -> str | None:
    """The upper-tier authority of the place a family searched: the place itself when it is one,
    else the authority of its nearest LSOA point (as services are placed)."""
    if code and UTLA_CODE.match(code):
        return code
    if "utla23_code" not in areas.lsoa_points:
        return None
    import numpy as np

    lsoa = areas.lsoa_of_points(np.array([x]), np.array([y]))[0]
    pts = areas.lsoa_points
    hit = pts.loc[pts.lsoa21_code == lsoa, "utla23_code"]
    return str(hit.iloc[0]) if len(hit) else None


def for_area(frame, utla: str | None):
    """The rows of a frame of services without a building (`Directory.area_service_frame`) that serve
    `utla`: those whose service areas name it, and every England-wide one. Local ones first."""
    if frame.empty:
        return frame
    local = frame.service_areas.map(lambda cs: bool(utla) and utla in (cs or ()))
    national = frame.service_areas.map(lambda cs: ENGLAND in (cs or ()))
    out = frame[local | national].assign(_local=local[local | national])
    return out.sort_values(["_local", "name"], ascending=[False, True], kind="stable").drop(columns="_local")


def with_areas(frame):
    """A frame of services without a building with the area columns located services get from
    `areas.attach_areas`, for the steward's tables: `utla23_code`/`utla23_name` (the first
    authority it serves, or England) and `area` (every area it serves, named)."""
    out = frame.copy()
    first = [next((c for c in cs if c != ENGLAND), ENGLAND) if len(cs) else None for cs in out.service_areas]
    out["utla23_code"] = first
    out["utla23_name"] = [label(c) if c else None for c in first]
    out["area"] = [labels(cs) for cs in out.service_areas]
    return out
