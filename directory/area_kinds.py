"""Kinds of area, as one table: maps, coverage tables, the command line and URL state all read it.

    kind       code / name columns (of Areas.lsoa)   boundaries (Areas attribute)  parent
    utla       utla23_code / utla23_name             utla_boundaries               region
    district   ltla24_code / ltla24_name             district_boundaries           utla
    icb        icb24_code / icb24_name               icb_boundaries                england
    sicbl      sicbl24_code / sicbl24_name           sicbl_boundaries              icb
    region     region24_code / region24_name         dissolved from districts      england
    england    country_code / country_name           dissolved from districts      -

Every LSOA lies in exactly one area of each kind, and every area of a kind lies in one area of
its parent kind (districts in upper-tier authorities, those in regions; sub-ICB locations in
ICBs), so rows of one kind add up to England. A new kind is one row here plus its columns in
the build. Upper-tier authorities come first: they commission children's centres and family hubs.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import pandas as pd

ENGLAND_CODE, ENGLAND_NAME = "E92000001", "England"


@dataclass(frozen=True)
class AreaKind:
    key: str  # in URLs and on the command line
    code: str  # column of Areas.lsoa (and access.lsoa_measures)
    name: str
    label: str  # "Upper-tier authority"
    plural: str  # "upper-tier authorities"
    boundaries: str | None  # attribute of Areas, or None: dissolved from the districts
    parent: str | None  # key of the kind each area lies in
    sources: tuple[str, ...]  # catalogue keys of the lookups and boundaries (vintages in metadata)
    geometry: str  # what geographic exports draw
    example: str  # a code, for messages
    title: str = ""  # of its coverage table

    @property
    def columns(self) -> list[str]:
        return [self.code, self.name]


KINDS: dict[str, AreaKind] = {k.key: k for k in (
    AreaKind("utla", "utla23_code", "utla23_name", "Upper-tier authority", "upper-tier authorities (county and "
             "unitary councils, metropolitan and London boroughs)", "utla_boundaries", "region",
             ("utla_lookup", "utla_boundaries", "la_names"),
             "ONS counties and unitary authorities (Dec 2023) boundaries, super generalised (BSC)", "E10000034",
             "Coverage per upper-tier authority (2023)"),
    AreaKind("district", "ltla24_code", "ltla24_name", "District", "local authority districts (2024)",
             "district_boundaries", "utla", ("lsoa_lookup", "district_boundaries", "la_names"),
             "ONS local authority district (May 2024) boundaries, ultra generalised clipped (BUC)", "E06000020",
             "Coverage per local authority district (2024)"),
    AreaKind("icb", "icb24_code", "icb24_name", "Integrated Care Board", "NHS Integrated Care Boards (2024)",
             "icb_boundaries", "england", ("icb_lookup", "icb_boundaries"),
             "ONS Integrated Care Boards (Apr 2023) boundaries, super generalised (BSC)", "E54000019",
             "Coverage per Integrated Care Board (2024)"),
    AreaKind("sicbl", "sicbl24_code", "sicbl24_name", "Sub-ICB location", "NHS sub-ICB locations (2024)",
             "sicbl_boundaries", "icb", ("icb_lookup", "sicbl_boundaries"),
             "ONS sub-ICB locations (Apr 2023) boundaries, super generalised (BSC)", "E38000236",
             "Coverage per sub-ICB location (2024)"),
    AreaKind("region", "region24_code", "region24_name", "Region", "regions (2024)", None, "england",
             ("region_lookup",), "dissolved from the district boundaries", "E12000005",
             "Coverage per region"),
    AreaKind("england", "country_code", "country_name", "England", "England", None, None, (),
             "dissolved from the district boundaries", ENGLAND_CODE, "Coverage for England"),
)}
DEFAULT_KIND = "utla"
#: Kinds England can be drawn by on a map (aggregated: a few hundred polygons at most).
ENGLAND_DRAWN_BY = ("utla", "icb")


def kind(key: str) -> AreaKind:
    try:
        return KINDS[key]
    except KeyError:
        raise ValueError(f"unknown kind of area {key!r}: choose from {', '.join(KINDS)}") from None


def with_country(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with England's code and name columns (every English LSOA is in England)."""
    if "country_code" in frame:
        return frame
    return frame.assign(country_code=ENGLAND_CODE, country_name=ENGLAND_NAME)


def key_columns(k: AreaKind) -> list[str]:
    """The columns naming a row of kind `k`: its code and name, then its parent's, its parent's
    parent's... (not England's): a district row names its upper-tier authority and region."""
    cols = list(k.columns)
    p = KINDS.get(k.parent or "")
    while p is not None and p.key != "england":
        cols += p.columns
        p = KINDS.get(p.parent or "")
    return cols


def units(lsoa: pd.DataFrame, k: AreaKind, official: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per area of kind `k`: code, name, official_name, lsoas, children_0_15, under5,
    parent_code, parent_name (sorted by name). `lsoa` is Areas.lsoa."""
    df = with_country(lsoa)
    p = KINDS.get(k.parent or "")
    cols = k.columns + (p.columns if p is not None else [])
    g = df.groupby(cols, as_index=False, sort=False).agg(
        lsoas=("lsoa21_code", "size"), children_0_15=("children_0_15", "sum"), under5=("under5", "sum"))
    g = g.rename(columns={k.code: "code", k.name: "name"})
    if p is not None:
        g = g.rename(columns={p.code: "parent_code", p.name: "parent_name"})
    else:
        g["parent_code"], g["parent_name"] = "", ""
    names = official or {}
    g["official_name"] = [names.get(c) or n for c, n in zip(g.code, g.name)]
    g.insert(0, "kind", k.key)
    return g.sort_values(["name", "code"], ignore_index=True)[
        ["kind", "code", "name", "official_name", "parent_code", "parent_name", "lsoas", "children_0_15", "under5"]]


def all_units(lsoa: pd.DataFrame, official: dict[str, str] | None = None) -> pd.DataFrame:
    return pd.concat([units(lsoa, k, official) for k in KINDS.values()], ignore_index=True)


def label(row) -> str:
    """'Worcestershire County Council' for a selectbox (the ONS name too when it reads differently)."""
    off, name = str(row["official_name"]), str(row["name"])
    return off if name.lower() in off.lower() else f"{off} ({name})"


def _norm(s: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in str(s).lower().replace("&", " and ")).split())


def search(table: pd.DataFrame, query: str, kinds: tuple[str, ...] | None = None, limit: int = 10) -> pd.DataFrame:
    """Areas whose name or official name matches `query` (rows of `all_units`), best first:
    exact name, then names starting with it, then containing every word. Within a tier, the
    kinds' order in KINDS (upper-tier first), then the name."""
    q = _norm(query)
    if not q:
        return table.iloc[:0]
    t = table if kinds is None else table[table.kind.isin(kinds)]
    names = [_norm(n) for n in t.name]
    offs = [_norm(o) for o in t.official_name]
    words = q.split()
    tier = np.full(len(t), 9)
    for i, (n, o) in enumerate(zip(names, offs)):
        if q in (n, o) or q == _norm(t.code.iloc[i]):
            tier[i] = 0
        elif n.startswith(q) or o.startswith(q):
            tier[i] = 1
        elif all(w in n or w in o for w in words):
            tier[i] = 2
    order = {k: i for i, k in enumerate(KINDS)}
    out = t.assign(_tier=tier, _kind=t.kind.map(order))
    out = out[out._tier < 9].sort_values(["_tier", "_kind", "name"], kind="stable")
    return out.drop(columns=["_tier", "_kind"]).head(limit).reset_index(drop=True)


def lsoa_mask(frame: pd.DataFrame, k: AreaKind, codes) -> np.ndarray:
    """Rows of `frame` (LSOA or service rows carrying k's code column) in any of `codes`."""
    if k.key == "england":
        return np.ones(len(frame), bool)
    return frame[k.code].isin(list(codes)).to_numpy(bool)
