"""Provision gaps page state <-> URL query parameters, so a commissioner can share a view.

Parameters (only non-defaults are written): area (a local authority district code, or
E92000001 for England), measure, types (comma-separated taxonomy codes), radius (km),
deciles (the deprived deciles are 1..N; N here), demand (children | idaci), k (new sites).
Unknown or out-of-range values fall back to defaults or are clamped, never fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .access import DEFAULT_RADIUS_KM
from .choropleth import ENGLAND, MEASURES
from .urlstate import param_radius, param_types

RADII_KM = (0.5, 0.8, 1.0, 1.6, 2.0, 3.0, 5.0, 8.0, 10.0)
DEMANDS = {"children": "children_0_15", "idaci": "idaci_numerator", "under5": "under5"}
DEMAND_KEYS = {v: k for k, v in DEMANDS.items()}
MAX_K = 10


@dataclass
class GapState:
    area: str = ENGLAND
    measure: str = "gap"
    types: list[str] = field(default_factory=list)
    radius_km: float = DEFAULT_RADIUS_KM
    max_decile: int = 2  # deprived = IMD deciles 1..max_decile
    demand: str = "children_0_15"  # a column of access.lsoa_measures
    k: int = 3

    @property
    def deciles(self) -> tuple[int, ...]:
        return tuple(range(1, self.max_decile + 1))


def _int(v, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(float(v))))
    except (TypeError, ValueError):
        return default


def decode(params, areas: set[str] | frozenset[str] = frozenset()) -> GapState:
    """From st.query_params (or any mapping of str to str). `areas`: the valid district codes."""
    get = params.get
    area = (get("area") or ENGLAND).strip().upper()
    if area != ENGLAND and area not in areas:
        area = ENGLAND
    measure = get("measure") or "gap"
    return GapState(
        area=area,
        measure=measure if measure in MEASURES else "gap",
        types=param_types(params),
        radius_km=param_radius(params, RADII_KM, DEFAULT_RADIUS_KM),
        max_decile=_int(get("deciles"), 2, 1, 10),
        demand=DEMANDS.get(get("demand") or "", "children_0_15"),
        k=_int(get("k"), 3, 0, MAX_K),
    )


def encode(s: GapState) -> dict[str, str]:
    out: dict[str, str] = {}
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
    if s.demand != "children_0_15":
        out["demand"] = DEMAND_KEYS[s.demand]
    if s.k != 3:
        out["k"] = str(s.k)
    return out
