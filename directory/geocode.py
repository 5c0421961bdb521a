"""Turn what a family types into a point: a postcode or a place name.

Everything here is local (the built postcodes.sqlite and places.parquet): no web
call is ever made, and nothing a family types is logged or stored.

Postcode sources (OS Code-Point Open, ONS NSPL/ONSPD) and their rules are in postcodes.py.
Precision, best first: full postcode (its own grid reference, ~1-10 m) > postcode sector
(e.g. "TF1 1", mean of its postcodes or LSOA points, ~1 km) > postcode district
("TF1") > named place (children-weighted mean of its LSOA points).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

# UK postcode grammar (Royal Mail / BS 7666): area letters, district, sector digit, unit letters.
_AREA1 = "[A-PR-UWYZ]"
_AREA2 = "[A-HK-Y]"
_OUTWARD = re.compile(
    rf"^(?:{_AREA1}[0-9]{{1,2}}|{_AREA1}{_AREA2}[0-9]{{1,2}}|{_AREA1}[0-9][A-HJKPSTUW]|{_AREA1}{_AREA2}[0-9][ABEHMNPRVWXY])$"
)
_UNIT_LETTERS = set("ABDEFGHJLNPQRSTUWXYZ")
_LOOKS_LIKE_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]{0,5}$")


class LocateError(Exception):
    """Why a search text could not be placed; `kind` lets the page choose what to offer."""

    def __init__(self, message: str, kind: str, candidates: list["Location"] | None = None):
        super().__init__(message)
        self.kind = kind  # "empty", "malformed", "unknown_postcode", "outside_england", "no_place", "ambiguous"
        self.candidates = candidates or []


@dataclass(frozen=True)
class Postcode:
    outward: str
    inward: str | None = None  # "1AA"; None for a district or sector search
    sector_digit: str | None = None

    @property
    def compact(self) -> str:
        return self.outward + (self.inward or self.sector_digit or "")

    @property
    def display(self) -> str:
        tail = self.inward or self.sector_digit
        return f"{self.outward} {tail}" if tail else self.outward

    @property
    def sector(self) -> str | None:
        digit = self.inward[0] if self.inward else self.sector_digit
        return self.outward + digit if digit else None


@dataclass(frozen=True)
class Location:
    label: str
    x: float  # British National Grid metres
    y: float
    lon: float
    lat: float
    precision: str  # "postcode", "postcode sector", "postcode district", or a place kind
    note: str = ""
    code: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def looks_like_postcode(text: str) -> bool:
    compact = re.sub(r"\s+", "", text.upper())
    return bool(_LOOKS_LIKE_POSTCODE.match(compact)) and len(text.split()) <= 2


def parse_postcode(text: str) -> Postcode:
    """A full postcode, a sector ("TF1 1") or a district ("TF1"), in any case or spacing.

    Raises LocateError("malformed") saying which part is wrong.
    """
    raw = text.strip().upper()
    if not raw:
        raise LocateError("Please type a postcode (like TF1 1AA) or a place name.", "empty")
    odd = sorted({c for c in raw if not (c.isascii() and c.isalnum()) and not c.isspace()})
    if odd:
        raise LocateError(
            f"“{text.strip()}” has {', '.join(repr(c) for c in odd)}: postcodes only have letters and digits.",
            "malformed",
        )
    parts = raw.split()
    compact = "".join(parts)
    if len(compact) > 7:
        raise LocateError(
            f"“{text.strip()}” is too long for a postcode: they have 5 to 7 letters and digits, like TF1 1AA.",
            "malformed",
        )
    # district ("TF1") or sector ("TF1 1") on their own
    if len(parts) == 1 and _OUTWARD.match(compact) and len(compact) <= 4:
        return Postcode(outward=compact)
    if len(parts) == 2 and len(parts[1]) == 1 and parts[1].isdigit() and _OUTWARD.match(parts[0]):
        return Postcode(outward=parts[0], sector_digit=parts[1])
    if not compact[0].isalpha():
        raise LocateError(
            f"“{text.strip()}” does not start like a postcode: postcodes start with 1 or 2 letters "
            "(like TF1 1AA or SW1A 1AA).",
            "malformed",
        )
    if len(compact) < 5:
        raise LocateError(
            f"“{text.strip()}” is too short for a full postcode and is not a postcode district "
            "(1 or 2 letters then a number, like TF1 or SW1A).",
            "malformed",
        )
    if len(parts) == 2:
        outward, inward = parts
    else:
        outward, inward = compact[:-3], compact[-3:]
    if len(inward) != 3 or not inward[0].isdigit() or not inward[1:].isalpha():
        raise LocateError(
            f"The second part of the postcode, “{inward}”, should be a digit then two letters (like 1AA).",
            "malformed",
        )
    if not set(inward[1:]) <= _UNIT_LETTERS:
        bad = "".join(sorted(set(inward[1:]) - _UNIT_LETTERS))
        raise LocateError(
            f"The second part of the postcode, “{inward}”, has {bad}: the letters C, I, K, M, O and V "
            "are never used there.",
            "malformed",
        )
    if not _OUTWARD.match(outward):
        raise LocateError(
            f"The first part of the postcode, “{outward}”, is not a postcode district: it should be "
            "1 or 2 letters then a number, sometimes with a letter after it (like TF1, HG12 or SW1A).",
            "malformed",
        )
    return Postcode(outward=outward, inward=inward)


def parse_full_postcode(text: str) -> Postcode:
    """A full postcode (outward and inward parts), as a service's address needs; else LocateError."""
    pc = parse_postcode(text)
    if not pc.inward:
        raise LocateError(f"“{text}” is not a full postcode.", "malformed")
    return pc


def postcode_latlon(index: "PostcodeIndex | None", pc: Postcode) -> tuple[float, float] | None:
    """(latitude, longitude) of a full postcode in the loaded directory, or None."""
    hit = index.postcode(pc) if index else None
    return (hit[4], hit[3]) if hit else None


class PostcodeIndex:
    """Read-only lookups in the built postcodes.sqlite (one read-only connection per thread)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._threads = threading.local()
        con = self._con()
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            meta = dict(con.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
            self.n_postcodes = (json.loads(meta["n_english"]) if "n_english" in meta
                                else con.execute("SELECT count(*) FROM postcode").fetchone()[0])
            # areas from the ~2,300 districts, not a scan of 1.5 million postcodes (this runs at start-up)
            two = [r[0] for r in con.execute("SELECT outward FROM outward")]
            self._elsewhere = "elsewhere" in tables
        finally:
            con.close()
        #: postcode areas with postcodes, e.g. ["DT", "HG", ...]: all ~110 English ones with a national file
        self.areas = sorted({re.match(r"[A-Z]+", a).group(0) for a in two})
        #: the postcode files read, newest first, e.g. ["OS Code-Point Open 2025.4.0 (20 Oct 2025)", ...]
        self.releases = [r["label"] for r in sorted(json.loads(meta.get("releases", "[]")),
                                                    key=lambda r: r["vintage"] or "", reverse=True)]
        #: how each postcode's LSOA 2021 was found and how well that agrees with ONS (see postcodes.py)
        self.lsoa21_from = json.loads(meta.get("lsoa21_from", "{}"))
        self.agreement = json.loads(meta.get("agreement", "{}"))
        #: True when every English postcode area is loaded (then an unknown postcode is mistyped or retired)
        self.national = bool(json.loads(meta.get("national", "false")))

    def _con(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def _local(self) -> sqlite3.Connection:
        """This thread's read-only connection, opened once (opening costs more than a lookup); a thread's
        connection is closed when the thread ends."""
        con = getattr(self._threads, "con", None)
        if con is None:
            con = self._threads.con = self._con()
        return con

    def _one(self, sql: str, key: str) -> tuple | None:
        return self._local().execute(sql, (key,)).fetchone()

    def postcode(self, pc: Postcode) -> tuple | None:
        return self._one("SELECT pcds, x, y, lon, lat, lsoa11, lsoa21 FROM postcode WHERE pcd = ?", pc.compact)

    def postcodes(self, pcs: list[Postcode]) -> dict[str, tuple]:
        """`postcode` for many at once (one connection): compact postcode -> the same row."""
        keys = sorted({pc.compact for pc in pcs})
        out: dict[str, tuple] = {}
        con = self._con()
        try:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                q = ("SELECT pcd, pcds, x, y, lon, lat, lsoa11, lsoa21 FROM postcode "
                     f"WHERE pcd IN ({','.join('?' * len(part))})")
                out.update((row[0], row[1:]) for row in con.execute(q, part))
        finally:
            con.close()
        return out

    def sector(self, sector: str) -> tuple | None:
        return self._one("SELECT sector, x, y, lon, lat, n, source FROM sector WHERE sector = ?", sector)

    def outward(self, outward: str) -> tuple | None:
        return self._one("SELECT outward, x, y, lon, lat, n FROM outward WHERE outward = ?", outward)

    def covers_area(self, pc: Postcode) -> bool:
        return re.match(r"[A-Z]+", pc.outward).group(0) in self.areas

    def elsewhere(self, pc: Postcode) -> tuple[str, str] | None:
        """(country code, kind) of a postcode, sector or district outside England (kind 'postcode',
        'sector', 'district'), or of an English postcode with no grid reference ('no grid reference')."""
        if not self._elsewhere:
            return None
        keys = [k for k in (pc.compact if pc.inward else None, pc.sector, pc.outward) if k]
        for key in keys:
            row = self._one("SELECT ctry, kind FROM elsewhere WHERE code = ?", key)
            if row:
                return row
        return None


FULL_DIRECTORY_HINT = (
    "To search every postcode in England, put OS Code-Point Open (codepo_gb.zip, free from the OS Data Hub) "
    "or the ONS National Statistics Postcode Lookup (NSPL) in the raw data folder and restart: no code change "
    "is needed."
)

COUNTRY_NAMES = {
    "W92000004": "Wales", "S92000003": "Scotland", "N92000002": "Northern Ireland",
    "L93000001": "the Channel Islands", "M83000003": "the Isle of Man",
}


#: postcode areas beyond Great Britain, which Code-Point Open does not hold (the full NSPL does)
_AREAS_OUTSIDE_GB = {"BT": "N92000002", "IM": "M83000003", "GY": "L93000001", "JE": "L93000001"}


def _outside_england(what: str, ctry: str) -> LocateError:
    where = COUNTRY_NAMES.get(ctry, "outside England")
    where = f"in {where}" if ctry in COUNTRY_NAMES else where
    return LocateError(
        f"{what} is {where}. Family Support Map covers England only, so it has no services or distances "
        "there: your local council can tell you about family support near you.",
        "outside_england",
    )


def locate_postcode(pc: Postcode, index: PostcodeIndex) -> Location:
    """A full postcode at its own point; else, by the rules below, its sector or district, or a clear error.

    A full postcode not in the postcode table: outside England -> "covers England" (kind 'outside_england');
    in no source (mistyped, retired or brand new) or with no grid reference -> its sector's point with a note
    saying so; no sector either -> 'unknown_postcode'.
    """
    if pc.inward:
        row = index.postcode(pc)
        if row:
            pcds, x, y, lon, lat, _, _ = row
            return Location(pcds, x, y, lon, lat, "postcode", code=pcds)
    other = index.elsewhere(pc)
    area = re.match(r"[A-Z]+", pc.outward).group(0)
    if not other and area in _AREAS_OUTSIDE_GB and not index.covers_area(pc):
        other = (_AREAS_OUTSIDE_GB[area], "postcode" if pc.inward else "district")
    if other and other[0] in COUNTRY_NAMES:
        kind = other[1]
        what = pc.display if kind == "postcode" and pc.inward else (
            f"The postcode sector {pc.outward} {pc.sector[-1]}" if kind == "sector" else
            f"The postcode district {pc.outward}")
        raise _outside_england(what, other[0])
    sector = index.sector(pc.sector) if pc.sector else None
    if sector:
        _, x, y, lon, lat, _, _ = sector
        label = f"{pc.outward} {pc.sector[-1]}"
        note = ""
        if pc.inward:
            where = f"middle of its postcode sector {label} (within about a kilometre)"
            if other and other[1] == "no grid reference":
                note = (f"{pc.display} is a real postcode but its file gives it no grid reference, so we "
                        f"searched around the {where}.")
            elif index.covers_area(pc) and index.national:
                note = (f"We couldn't find {pc.display} in the postcode directory ({index.releases[0]}): "
                        "please check it, or it may be new or no longer in use. We searched around the "
                        f"{where}. You can also search by town or ward.")
            else:
                note = (f"{pc.display} is not in the loaded postcode directory, so we searched around the "
                        f"{where}. You can also search by town or ward. " + FULL_DIRECTORY_HINT)
        return Location(f"{label} (postcode sector)", x, y, lon, lat, "postcode sector", note=note, code=label)
    district = index.outward(pc.outward)
    if district and not pc.inward:
        _, x, y, lon, lat, _ = district
        return Location(
            f"{pc.outward} (postcode district)", x, y, lon, lat, "postcode district",
            note="A postcode district covers several square kilometres: add the rest of the postcode "
            "for distances from your door.",
            code=pc.outward,
        )
    if other and other[1] == "no grid reference":
        raise LocateError(
            f"{pc.display} is a real postcode, but the postcode directory gives it no location (often a PO box "
            "or a large organisation's postcode). Try the postcode of the address, or a town or ward name.",
            "unknown_postcode",
        )
    if district:  # a full postcode whose sector is unknown (new or retired sector)
        hint = "" if index.national else " " + FULL_DIRECTORY_HINT
        raise LocateError(
            f"We couldn't find {pc.display} in the postcode directory: please check it (it may also be new or "
            "no longer in use). Try a town or ward name instead." + hint,
            "unknown_postcode",
        )
    raise LocateError(
        f"{pc.outward} is not a postcode district in England that we know of. Check the postcode, "
        "or search by town or ward name (this map covers England only).",
        "unknown_postcode",
    )


# ---------------------------------------------------------------- places

_KIND_ORDER = {"local authority": 0, "town or former district": 1, "ward": 2, "LSOA": 3}


def _key(s: pd.Series | str):
    if isinstance(s, str):
        return re.sub(r"[^a-z0-9]+", " ", s.lower().replace("&", " and ")).strip()
    return s.str.lower().str.replace("&", " and ").str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()


class Places:
    """Name search over wards, local authorities, towns (2021 districts) and LSOAs."""

    def __init__(self, table: pd.DataFrame):
        self.table = table.assign(
            key=_key(table.name), order=table.kind.map(_KIND_ORDER).fillna(9), code_key=table.code.str.upper()
        )

    def search(self, text: str, limit: int = 10) -> list[Location]:
        q = _key(text)
        if not q:
            return []
        t = self.table
        hits = t[t.code_key == text.strip().upper()]
        if hits.empty:
            exact = t[t.key == q]
            if not exact.empty:
                hits = exact
            else:
                starts = t[t.key.str.startswith(q)]
                contains = t[t.key.str.contains(rf"\b{re.escape(q)}", regex=True)]
                hits = pd.concat([starts, contains]).drop_duplicates(["kind", "code"])
        hits = hits.sort_values(["order", "n_lsoa"], ascending=[True, False]).head(limit)
        return [self._location(r) for r in hits.itertuples()]

    @staticmethod
    def _location(r) -> Location:
        within = f", {r.within}" if r.within else ""
        label = f"{r.name}{within} ({r.kind})"
        return Location(label, r.x, r.y, r.lon, r.lat, r.kind, code=r.code, extra={"name": r.name})


def locate(text: str, index: PostcodeIndex, places: Places) -> Location:
    """Where to search from. Raises LocateError with a message a family can act on."""
    text = (text or "").strip()
    if not text:
        raise LocateError("Please type a postcode (like TF1 1AA) or a place name.", "empty")
    found = places.search(text) if not looks_like_postcode(text) else []
    exact = [p for p in found if _key(p.extra["name"]) == _key(text) or p.code.upper() == text.upper()]
    if len(exact) == 1 or (found and len(found) == 1):
        return (exact or found)[0]
    if len(exact) > 1:
        raise LocateError(f"There are {len(exact)} places called “{text}”: which one?", "ambiguous", exact)
    if found:
        raise LocateError("Did you mean one of these places?", "ambiguous", found)
    if looks_like_postcode(text) or any(c.isdigit() for c in text):
        return locate_postcode(parse_postcode(text), index)
    raise LocateError(
        f"We couldn't find a place called “{text}”. Try a postcode, a town, a ward or a local authority name.",
        "no_place",
    )
