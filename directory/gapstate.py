"""Provision gaps page state <-> URL query parameters, so a commissioner can share a view.

Parameters (only non-defaults are written): kind (an area kind of area_kinds: utla, the default,
district, icb, sicbl, region), area (a code of that kind, or E92000001 for England: England is
then drawn by areas of that kind), measure, types (comma-separated taxonomy codes), radius (km),
deciles (the deprived deciles are 1..N; N here), demand (under5, the default | children | idaci),
k (new sites), walk (1: distances along mapped paths where OpenStreetMap covers the area). Unknown or out-of-range values fall back to defaults or are clamped, never fail.
A link without `kind` whose area is a code of another kind (an old district link) opens that kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .access import DEFAULT_RADIUS_KM
from .area_kinds import DEFAULT_KIND, ENGLAND_CODE, KINDS
from .choropleth import MEASURES
from .urlstate import param_radius, param_types

ENGLAND = ENGLAND_CODE
RADII_KM = (0.5, 0.8, 1.0, 1.6, 2.0, 3.0, 5.0, 8.0, 10.0)
DEMANDS = {"under5": "under5", "children": "children_0_15", "idaci": "idaci_numerator"}
DEMAND_KEYS = {v: k for k, v in DEMANDS.items()}
DEFAULT_DEMAND = "under5"
#: kinds offered in the Area choice (England is the "all of England" entry of each)
PICKER_KINDS = tuple(k for k in KINDS if k != "england")
MAX_K = 10


@dataclass
class GapState:
    area: str = ENGLAND
    measure: str = "gap"
    types: list[str] = field(default_factory=list)
    radius_km: float = DEFAULT_RADIUS_KM
    max_decile: int = 2  # deprived = IMD deciles 1..max_decile
    demand: str = DEFAULT_DEMAND  # a column of access.lsoa_measures
    k: int = 3
    kind: str = DEFAULT_KIND
    walk: bool = False  # distances along mapped paths (issue 15) instead of straight lines

    @property
    def deciles(self) -> tuple[int, ...]:
        return tuple(range(1, self.max_decile + 1))


def _int(v, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(float(v))))
    except (TypeError, ValueError):
        return default


def decode_area(params, codes: Mapping[str, set[str] | frozenset[str]]) -> tuple[str, str]:
    """(kind, area) from `kind` and `area`; `codes`: valid codes per kind (kinds missing: none valid)."""
    get = params.get
    kind = (get("kind") or "").strip().lower()
    area = (get("area") or ENGLAND).strip().upper()
    if kind not in PICKER_KINDS:
        kind = next((k for k in PICKER_KINDS if area in codes.get(k, ())), DEFAULT_KIND) if not kind else DEFAULT_KIND
    if area != ENGLAND and area not in codes.get(kind, ()):
        area = ENGLAND
    return kind, area


def decode(params, areas: Mapping[str, set[str] | frozenset[str]] | set[str] | frozenset[str] = frozenset()) -> GapState:
    """From st.query_params (or any mapping of str to str). `areas`: valid codes per kind
    (a plain set counts as district codes, as older callers passed)."""
    get = params.get
    codes = areas if isinstance(areas, Mapping) else {"district": set(areas)}
    kind, area = decode_area(params, codes)
    measure = get("measure") or "gap"
    return GapState(
        area=area,
        measure=measure if measure in MEASURES else "gap",
        types=param_types(params),
        radius_km=param_radius(params, RADII_KM, DEFAULT_RADIUS_KM),
        max_decile=_int(get("deciles"), 2, 1, 10),
        demand=DEMANDS.get(get("demand") or "", DEMANDS[DEFAULT_DEMAND]),
        k=_int(get("k"), 3, 0, MAX_K),
        kind=kind,
        walk=(get("walk") or "").strip().lower() in ("1", "yes", "true"),
    )


def encode(s: GapState) -> dict[str, str]:
    out: dict[str, str] = {}
    if s.kind != DEFAULT_KIND:
        out["kind"] = s.kind
    if s.area != ENGLAND:
        out["area"] = s.area
    if s.measure != "gap":
        out["measure"] = s.measure
    if s.types:
        out["types"] = ",".join(s.types)
    if s.radius_km != DEFAULT_RADIUS_KM:
        out["radius"] = f"{s.radius_km:g}"
    if s.max_decile != 2:
        out["deciles"] = str(s.max_decile)
    if s.demand != DEMANDS[DEFAULT_DEMAND]:
        out["demand"] = DEMAND_KEYS[s.demand]
    if s.k != 3:
        out["k"] = str(s.k)
    if s.walk:
        out["walk"] = "1"
    return out
