"""Access to services per neighbourhood: distance, counts, supply per child.

All distances are straight lines in British National Grid metres between LSOA
population-weighted centroids (demand) and service locations (supply), found
with KD-trees: only pairs closer than the catchment radius are ever formed, so
England (33,755 LSOAs) against tens of thousands of services stays fast.

Formulas (i = LSOA, j = service, d_ij = distance, d0 = catchment radius,
P_i = demand, e.g. children 0-15, S_j = supply, 1 per service unless a capacity is known):

nearest_km_i  = min_j d_ij / 1000
n_within_i    = #{ j : d_ij <= d0 }
2SFCA (Luo & Wang 2003):
    R_j = S_j / sum_{i: d_ij <= d0} P_i                 (supply per unit of demand in j's catchment)
    A_i = sum_{j: d_ij <= d0} R_j
E2SFCA (Luo & Qi 2009): the same with a distance-decay weight W(d_ij) in both steps:
    R_j = S_j / sum_{i: d_ij <= d0} P_i W(d_ij)
    A_i = sum_{j: d_ij <= d0} R_j W(d_ij)
    W is a step function over three equal zones of the catchment, weights 1.00, 0.68, 0.22
    (Luo & Qi's Gaussian-derived zone weights); a distance exactly on a zone edge belongs to the
    nearer zone, as in PySAL access's weights.step_fn (bench/access_bench.py checks agreement
    with PySAL `access` to 1e-9 on all of England).
A_i is supply per unit of demand; shown per 1,000 children.
Services whose catchment holds no demand (possible with the IDACI demand, whose
suppressed LSOAs count as 0) have an undefined ratio and add nothing.

Gaps (parameters: radius d0, deprived deciles D, default {1, 2}; demand column P):
    deprived_i     = IMD decile_i in D
    within_i       = nearest_km_i <= d0            (a service of the selected types within reach)
    gap_i          = deprived_i and not within_i
    gap_children_i = P_i if gap_i else 0
    The gap list is the gap LSOAs ranked by P_i (most affected children first; ties:
    farther nearest service first, then LSOA code).

Coverage by IMD decile (any set of LSOAs: one authority, a region, England):
    share within reach (decile k) = sum_{i in k, within_i} C_i / sum_{i in k} C_i
    for C = children 0-15, C = under-5s and C = income-deprived children (IDACI numerator; the
    815 suppressed LSOAs are left out of both sums, and counted in `idaci_suppressed_lsoas`).

Equity of reach (`equity`; any set of LSOAs, demand P, e.g. under-5s; h_i = 1 if within_i else 0):
    share_1_2   = sum_{i: decile 1-2} P_i h_i / sum_{i: decile 1-2} P_i     (the most deprived 20%)
    share_9_10  = sum_{i: decile 9-10} P_i h_i / sum_{i: decile 9-10} P_i   (the least deprived 20%)
    ratio       = share_1_2 / share_9_10  (above 1: the deprived are better served; blank when the
                  area has no children of either group)
    concentration index (Wagstaff, van Doorslaer & Watanabe 2003; O'Donnell et al. 2008, ch. 8),
    over the area's own children ranked from the most deprived LSOA (IMD rank 1) to the least:
        W = sum_i P_i,  mu = sum_i P_i h_i / W   (the share within reach)
        R_i = (sum_{k ranked before i} P_k + P_i / 2) / W    (fractional rank, 0..1)
        CI = (2 / (W mu)) sum_i P_i (h_i - mu) (R_i - 1/2)
    CI is in [mu - 1, 1 - mu] for a 0/1 outcome; 0 = reach shared equally across deprivation;
    negative = reach concentrated among the MORE deprived children (pro-poor); positive = among
    the less deprived. With every child within reach (mu = 1) CI = 0; with none (mu = 0) it is
    undefined and left blank.

Where would new sites help most (maximal covering location problem, Church & ReVelle 1974):
    weights w_i = gap_children_i (deprived children not within reach today);
    a candidate site c covers LSOA i when d_ci <= d0; choose K sites maximising the
    weight covered. Greedy: K times, take the candidate covering the most still-uncovered
    weight, then mark what it covers as covered. Coverage is a monotone submodular
    function, so greedy reaches at least 1 - (1 - 1/K)^K >= 1 - 1/e (63%) of the optimum
    (Nemhauser, Wolsey & Fisher 1978); tests compare it with exhaustive search (on seven small
    real authorities, nursery schools, 1.6 km, 2-3 sites: 94-100% of the optimum). Candidates:
    LSOA population-weighted centroids (by default those of the LSOAs given).

API for others (DataFrames in, DataFrames out; every parameter explicit, defaults shown):

    services_of_types(services, types=()) -> services offering any of `types` (empty: all)
    lsoa_measures(lsoa, services, *, types=(), radius_km=1.6, demand="children_0_15",
                  deciles=(1, 2), decay=LUO_QI) -> one row per row of `lsoa`, same order:
        codes and names (LSOA, ward, district ltla24_*, region), x, y, lon, lat,
        imd_decile, imd_score, income_decile, income_score, children_and_young_people_score,
        children_and_young_people_decile, children_0_15, idaci_numerator (<NA> = suppressed),
        under5, nearest_km, n_within, within (bool), sfca_per_1000, e2sfca_per_1000
        (per 1,000 of `demand`), deprived (bool), gap (bool), gap_children (of `demand`),
        distance_basis ("straight line", or "walk" where cost=walking.WalkingCost(network) and the
        network covers the LSOA: then nearest_km, the pairs within the radius and so 2SFCA/E2SFCA
        and gaps follow paths; a pair with one end outside the network stays a straight line)
    gap_list(measures, *, radius_km=1.6, deciles=(1, 2), demand="children_0_15")
        -> the gap LSOAs, ranked (column `rank`, 1 = most affected children)
    coverage_by_decile(measures, *, radius_km=1.6, by=None) -> one row per (group, IMD
        decile 1..10): lsoas, children_0_15, children_within, children_within_share,
        idaci_children, idaci_within, idaci_within_share, idaci_suppressed_lsoas
        (`by`: None for all rows as one group, or a column such as "ltla24_code", "region24_code")
    coverage_summary(measures, *, radius_km=1.6, deciles=(1, 2), demand="children_0_15", by=None)
        -> one row per group: the same counts over all deciles plus deprived_children,
        deprived_within_share, gap_lsoas, gap_children
    compare_with_england(measures, ltla24_code, *, radius_km=1.6) -> per IMD decile, the
        authority's and England's shares within reach (measures must cover England)
    best_new_sites(measures, *, k=3, radius_km=1.6, deciles=(1, 2), demand="children_0_15",
                   candidates=None) -> up to k rows: rank, candidate LSOA, x, y, lon, lat,
        children_gained, lsoas_reached, cumulative_children
    covered_weight(measures, sites_xy, weights, radius_km) -> total weight within reach of the sites
Shares are fractions (0..1); distances km; `measures` is what lsoa_measures returns
(rows may be filtered to an authority first). Compute lsoa_measures on ALL English LSOAs
and filter afterwards: a service's catchment then holds the children across the border too,
so 2SFCA/E2SFCA near authority edges are right. Low-level: kdtree(points),
pairs_within(origins, dests, radius_m, *, origin_tree=None, dest_tree=None), nearest_km(origins,
dests, *, dest_tree=None), count_within(pairs, n), fca(pairs, demand, supply, radius_m, decay=None),
lsoa_access(lsoa, services, radius_km, demand, decay).

Speed (bench/access_bench.py, 2 cores): all four measures for England's 33,755 LSOAs take
about 8 ms against the 378 real services and 40 ms against 30,000 services.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

DEFAULT_RADIUS_KM = 1.6  # about 20 minutes' walk with a pram


@dataclass(frozen=True)
class StepDecay:
    """E2SFCA zone weights: W(d) = weights[k] for the first zone edge with d <= edges[k] * d0."""

    edges: tuple[float, ...] = (1 / 3, 2 / 3, 1.0)
    weights: tuple[float, ...] = (1.0, 0.68, 0.22)

    def __call__(self, d: np.ndarray, radius_m: float) -> np.ndarray:
        edges = np.asarray(self.edges) * radius_m
        k = np.searchsorted(edges, d, side="left")
        w = np.append(np.asarray(self.weights, float), 0.0)
        return w[np.minimum(k, len(self.weights))]


LUO_QI = StepDecay()


@dataclass
class Pairs:
    """Origin-destination pairs closer than a radius: arrays of origin index, destination index, metres."""

    i: np.ndarray
    j: np.ndarray
    d: np.ndarray


def kdtree(points: np.ndarray) -> cKDTree:
    """A KD-tree for BNG points. Unbalanced, uncompacted nodes: about twice as fast to build for
    England's LSOA points, and queries here are as fast (measured in bench/access_bench.py)."""
    return cKDTree(np.asarray(points, float).reshape(-1, 2), balanced_tree=False, compact_nodes=False)


def pairs_within(origins: np.ndarray, dests: np.ndarray, radius_m: float, *, origin_tree: cKDTree | None = None,
                 dest_tree: cKDTree | None = None) -> Pairs:
    """Every (origin, destination) pair with distance <= radius_m, via two KD-trees
    (pass trees already built for the same points to save building them again)."""
    if len(origins) == 0 or len(dests) == 0:
        e = np.array([], dtype=np.intp)
        return Pairs(e, e.copy(), np.array([], dtype=float))
    to = origin_tree if origin_tree is not None else kdtree(origins)
    td = dest_tree if dest_tree is not None else kdtree(dests)
    m = to.sparse_distance_matrix(td, radius_m, output_type="ndarray")
    return Pairs(m["i"].astype(np.intp), m["j"].astype(np.intp), m["v"].astype(float))


def nearest_km(origins: np.ndarray, dests: np.ndarray, *, dest_tree: cKDTree | None = None) -> np.ndarray:
    """Straight-line distance from each origin to its nearest destination, km (inf when none)."""
    if len(dests) == 0:
        return np.full(len(origins), np.inf)
    td = dest_tree if dest_tree is not None else kdtree(dests)
    d, _ = td.query(origins, k=1, workers=-1)
    return d / 1000.0


def count_within(pairs: Pairs, n_origins: int) -> np.ndarray:
    return np.bincount(pairs.i, minlength=n_origins)


def fca(pairs: Pairs, demand: np.ndarray, supply: np.ndarray, radius_m: float, decay=None) -> np.ndarray:
    """Two-step floating catchment: supply per unit of demand for each origin.

    decay=None gives 2SFCA; a weight function W(d, radius_m) gives E2SFCA.
    Services whose catchment holds no demand contribute nothing (their ratio is undefined).
    """
    w = np.ones_like(pairs.d) if decay is None else decay(pairs.d, radius_m)
    demand = np.asarray(demand, float)
    supply = np.asarray(supply, float)
    weighted_demand = np.bincount(pairs.j, weights=demand[pairs.i] * w, minlength=len(supply))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(weighted_demand > 0, supply / weighted_demand, 0.0)
    return np.bincount(pairs.i, weights=ratio[pairs.j] * w, minlength=len(demand))


class StraightLine:
    """The default cost: straight lines in BNG metres, by KD-tree. Another cost (e.g.
    walking.WalkingCost: along paths where an OpenStreetMap network covers the area) offers the
    same three methods, so 2SFCA/E2SFCA, counts, nearest and gaps share one code path."""

    name = "straight line"

    def pairs(self, origins: np.ndarray, dests: np.ndarray, radius_m: float) -> Pairs:
        return pairs_within(origins, dests, radius_m)

    def nearest_km(self, origins: np.ndarray, dests: np.ndarray) -> np.ndarray:
        return nearest_km(origins, dests)

    def basis(self, origins: np.ndarray, dests: np.ndarray) -> np.ndarray:
        """Per origin, what its nearest_km is measured along ("straight line", "walk")."""
        return np.full(len(origins), self.name, dtype=object)


STRAIGHT_LINE = StraightLine()


def lsoa_access(
    lsoa: pd.DataFrame,
    services: pd.DataFrame,
    radius_km: float = DEFAULT_RADIUS_KM,
    demand: str = "children_0_15",
    decay=LUO_QI,
    cost=None,
) -> pd.DataFrame:
    """Per LSOA: nearest service (km), services within the radius, 2SFCA and E2SFCA per 1,000 of
    `demand`, and distance_basis (what the distances follow).

    `lsoa` needs x, y and the demand column; `services` needs x, y and optionally `capacity`.
    Missing demand (e.g. suppressed IDACI numerators) counts as 0. `cost`: None for straight
    lines (KD-trees), or an object like StraightLine (pairs, nearest_km, basis).
    """
    origins = lsoa[["x", "y"]].to_numpy(float)
    dests = services[["x", "y"]].to_numpy(float)
    radius_m = radius_km * 1000.0
    td = kdtree(dests) if len(dests) and cost is None else None
    if cost is None:
        pairs = pairs_within(origins, dests, radius_m, dest_tree=td)
        near, basis = nearest_km(origins, dests, dest_tree=td), STRAIGHT_LINE.basis(origins, dests)
    else:
        pairs = cost.pairs(origins, dests, radius_m) if len(dests) else pairs_within(origins, dests, radius_m)
        near = cost.nearest_km(origins, dests) if len(dests) else nearest_km(origins, dests)
        basis = cost.basis(origins, dests)
    P = pd.to_numeric(lsoa[demand], errors="coerce").fillna(0).to_numpy(float)
    if "capacity" in services:
        S = pd.to_numeric(services["capacity"], errors="coerce").fillna(1.0).to_numpy(float)
    else:
        S = np.ones(len(services))
    return pd.DataFrame(
        {
            "lsoa21_code": lsoa["lsoa21_code"].reset_index(drop=True),  # keeps its string dtype: no copy
            "nearest_km": near,
            "n_within": count_within(pairs, len(lsoa)),
            "sfca_per_1000": fca(pairs, P, S, radius_m) * 1000.0,
            "e2sfca_per_1000": fca(pairs, P, S, radius_m, decay) * 1000.0,
            "distance_basis": basis,
        }
    )


# ---------------------------------------------------------------------------
# Gaps, coverage by deprivation, and where new sites would help most
# ---------------------------------------------------------------------------

DEFAULT_DECILES = (1, 2)
DEMANDS = {
    "children_0_15": "children aged 0-15 (Census 2021)",
    "idaci_numerator": "income-deprived children (IoD2025 IDACI numerator)",
    "under5": "children under 5 (Census 2021 TS007A when present, else ONS mid-2020 estimates carried to 2021 LSOAs)",
}
AREA_COLUMNS = [
    "lsoa21_code", "lsoa21_name", "ward24_code", "ward24_name", "ltla24_code", "ltla24_name",
    "utla23_code", "utla23_name", "sicbl24_code", "sicbl24_name", "icb24_code", "icb24_name",
    "region24_code", "region24_name", "x", "y", "lon", "lat",
]
DEPRIVATION_COLUMNS = [
    "imd_decile", "imd_score", "imd_rank", "income_decile", "income_score",
    "children_and_young_people_score", "children_and_young_people_decile",
]
COUNT_COLUMNS = ["children_0_15", "idaci_numerator", "under5"]


def _deciles(deciles) -> list[int]:
    return sorted({int(d) for d in deciles})


def _demand(df: pd.DataFrame, demand: str) -> np.ndarray:
    if demand not in DEMANDS:
        raise ValueError(f"demand must be one of {sorted(DEMANDS)}, not {demand!r}")
    return pd.to_numeric(df[demand], errors="coerce").fillna(0).to_numpy(float)


def services_of_types(services: pd.DataFrame, types=()) -> pd.DataFrame:
    """The services offering any of `types` (taxonomy codes); all of them when `types` is empty."""
    wanted = set(types or ())
    if not wanted or "types" not in services:
        return services
    keep = services["types"].apply(lambda ts: bool(wanted.intersection(ts if isinstance(ts, (list, tuple)) else [])))
    return services[keep.to_numpy(bool)]


def lsoa_measures(
    lsoa: pd.DataFrame,
    services: pd.DataFrame,
    *,
    types=(),
    radius_km: float = DEFAULT_RADIUS_KM,
    demand: str = "children_0_15",
    deciles=DEFAULT_DECILES,
    decay=LUO_QI,
    cost=None,
) -> pd.DataFrame:
    """Every per-LSOA measure of the module docstring, one row per row of `lsoa` (same order).
    `cost`: None for straight lines, or e.g. walking.WalkingCost(network) to measure along paths
    where the network covers an LSOA (column distance_basis says which, per LSOA).

    `lsoa` is `Areas.lsoa` (or rows of it: the catchments then only see those LSOAs'
    demand, so pass all of England and filter afterwards for correct 2SFCA values near
    authority borders). `services` needs x, y (BNG metres) and, to filter, `types`.
    """
    pool = services_of_types(services, types)
    acc = lsoa_access(lsoa, pool, radius_km=radius_km, demand=demand, decay=decay, cost=cost)
    keep = [c for c in AREA_COLUMNS + DEPRIVATION_COLUMNS + COUNT_COLUMNS if c in lsoa]
    out = lsoa[keep].reset_index(drop=True).copy()
    for c in ("nearest_km", "n_within", "sfca_per_1000", "e2sfca_per_1000", "distance_basis"):
        out[c] = acc[c].to_numpy()
    out["within"] = out["nearest_km"].to_numpy() <= radius_km
    out["deprived"] = out["imd_decile"].isin(_deciles(deciles)).to_numpy(bool)
    out["gap"] = out["deprived"] & ~out["within"]
    out["gap_children"] = np.where(out["gap"], _demand(out, demand), 0.0)
    return out


def _gap_mask(measures: pd.DataFrame, radius_km: float, deciles) -> np.ndarray:
    deprived = measures["imd_decile"].isin(_deciles(deciles)).to_numpy(bool)
    return deprived & ~(measures["nearest_km"].to_numpy(float) <= radius_km)


GAP_LIST_COLUMNS = [
    "rank", "lsoa21_code", "lsoa21_name", "ward24_name", "ltla24_name", "imd_decile", "imd_score",
    "income_decile", "children_and_young_people_score", "children_0_15", "idaci_numerator", "under5",
    "nearest_km", "n_within",
]


def gap_list(
    measures: pd.DataFrame,
    *,
    radius_km: float = DEFAULT_RADIUS_KM,
    deciles=DEFAULT_DECILES,
    demand: str = "children_0_15",
) -> pd.DataFrame:
    """LSOAs in the deprived `deciles` whose nearest service is beyond `radius_km`, ranked by
    their `demand` children (most first; ties: farther nearest service, then LSOA code)."""
    gaps = measures[_gap_mask(measures, radius_km, deciles)].copy()
    gaps["affected_children"] = _demand(gaps, demand)
    gaps = gaps.sort_values(
        ["affected_children", "nearest_km", "lsoa21_code"], ascending=[False, False, True], kind="stable",
        ignore_index=True,
    )
    gaps.insert(0, "rank", np.arange(1, len(gaps) + 1))
    cols = [c for c in GAP_LIST_COLUMNS if c in gaps] + ["affected_children"]
    return gaps[cols]


def _group_keys(df: pd.DataFrame, by) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _coverage_counts(df: pd.DataFrame, radius_km: float) -> pd.DataFrame:
    within = df["nearest_km"].to_numpy(float) <= radius_km
    kids = pd.to_numeric(df["children_0_15"], errors="coerce").fillna(0).to_numpy(float)
    under5 = pd.to_numeric(df["under5"], errors="coerce").fillna(0).to_numpy(float) if "under5" in df else kids * 0
    idaci = pd.to_numeric(df["idaci_numerator"], errors="coerce").to_numpy(float)
    known = ~np.isnan(idaci)
    idaci = np.where(known, idaci, 0.0)
    return pd.DataFrame({
        "lsoas": 1,
        "children_0_15": kids,
        "children_within": np.where(within, kids, 0.0),
        "under5": under5,
        "under5_within": np.where(within, under5, 0.0),
        "idaci_children": idaci,
        "idaci_within": np.where(within, idaci, 0.0),
        "idaci_suppressed_lsoas": (~known).astype(int),
    }, index=df.index)


def _add_shares(t: pd.DataFrame) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        t["children_within_share"] = t["children_within"] / t["children_0_15"].where(t["children_0_15"] > 0)
        t["under5_within_share"] = t["under5_within"] / t["under5"].where(t["under5"] > 0)
        t["idaci_within_share"] = t["idaci_within"] / t["idaci_children"].where(t["idaci_children"] > 0)
    return t


COVERAGE_COLUMNS = [
    "lsoas", "children_0_15", "children_within", "children_within_share", "under5", "under5_within",
    "under5_within_share", "idaci_children", "idaci_within",
    "idaci_within_share", "idaci_suppressed_lsoas",
]


def coverage_by_decile(
    measures: pd.DataFrame,
    *,
    radius_km: float = DEFAULT_RADIUS_KM,
    by=None,
) -> pd.DataFrame:
    """Children (all, and income-deprived) within `radius_km` of a service, per IMD decile 1..10
    (every decile listed, with 0 LSOAs where a group has none; shares are then NaN)."""
    keys = _group_keys(measures, by)
    counts = _coverage_counts(measures, radius_km)
    for k in keys + ["imd_decile"]:
        counts[k] = measures[k].to_numpy()
    t = counts.groupby(keys + ["imd_decile"], sort=True).sum().reset_index()
    groups = t[keys].drop_duplicates() if keys else pd.DataFrame(index=[0])
    full = groups.merge(pd.DataFrame({"imd_decile": np.arange(1, 11)}), how="cross")
    full["imd_decile"] = full["imd_decile"].astype(measures["imd_decile"].dtype)
    t = full.merge(t, on=keys + ["imd_decile"], how="left")
    for c in ("lsoas", "children_0_15", "children_within", "under5", "under5_within", "idaci_children",
              "idaci_within", "idaci_suppressed_lsoas"):
        t[c] = t[c].fillna(0)
    t["lsoas"] = t["lsoas"].astype(int)
    t["idaci_suppressed_lsoas"] = t["idaci_suppressed_lsoas"].astype(int)
    return _add_shares(t)[keys + ["imd_decile"] + COVERAGE_COLUMNS]


def coverage_summary(
    measures: pd.DataFrame,
    *,
    radius_km: float = DEFAULT_RADIUS_KM,
    deciles=DEFAULT_DECILES,
    demand: str = "children_0_15",
    by=None,
) -> pd.DataFrame:
    """Headline numbers per group (all deciles together): the coverage counts and shares,
    plus deprived_children (of `demand`, in the deprived `deciles`), deprived_within_share,
    gap_lsoas and gap_children (deprived children of `demand` with no service within reach)."""
    keys = _group_keys(measures, by)
    counts = _coverage_counts(measures, radius_km)
    dem = _demand(measures, demand)
    deprived = measures["imd_decile"].isin(_deciles(deciles)).to_numpy(bool)
    gap = _gap_mask(measures, radius_km, deciles)
    counts["deprived_children"] = np.where(deprived, dem, 0.0)
    counts["deprived_within"] = np.where(deprived & ~gap, dem, 0.0)
    counts["gap_lsoas"] = gap.astype(int)
    counts["gap_children"] = np.where(gap, dem, 0.0)
    if keys:
        for k in keys:
            counts[k] = measures[k].to_numpy()
        t = counts.groupby(keys, sort=True).sum().reset_index()
    else:
        t = counts.sum().to_frame().T
    t = _add_shares(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        t["deprived_within_share"] = t["deprived_within"] / t["deprived_children"].where(t["deprived_children"] > 0)
    for c in ("lsoas", "idaci_suppressed_lsoas", "gap_lsoas"):
        t[c] = t[c].astype(int)
    return t[keys + COVERAGE_COLUMNS + ["deprived_children", "deprived_within", "deprived_within_share",
                                        "gap_lsoas", "gap_children"]]


EQUITY_COLUMNS = ["within_share_imd1_2", "within_share_imd9_10", "within_ratio_imd1_2_to_9_10",
                  "concentration_index"]


def concentration_index(weight, outcome, rank) -> float:
    """Concentration index of `outcome` (0/1 or any level) over the population ranked by `rank`
    (ascending: 1 = most deprived first), each unit weighted by `weight`. Formula in the module
    docstring; NaN when the total weight or the mean outcome is 0."""
    w = np.asarray(weight, float)
    h = np.asarray(outcome, float)
    order = np.argsort(np.asarray(rank, float), kind="stable")
    w, h = w[order], h[order]
    total = w.sum()
    if total <= 0:
        return float("nan")
    mu = (w * h).sum() / total
    if mu == 0:
        return float("nan")
    r = (np.cumsum(w) - w / 2) / total
    return float(2.0 / (total * mu) * (w * (h - mu) * (r - 0.5)).sum())


def equity(measures: pd.DataFrame, *, radius_km: float = DEFAULT_RADIUS_KM, demand: str = "under5",
           by=None) -> pd.DataFrame:
    """Per group (or one row): the share of `demand` children within reach in IMD deciles 1-2 and
    in deciles 9-10, their ratio, and the concentration index of within-reach over IMD rank
    (definitions in the module docstring). `measures` needs nearest_km, imd_decile, imd_rank and
    the demand column."""
    keys = _group_keys(measures, by)
    dem = _demand(measures, demand)
    h = (measures["nearest_km"].to_numpy(float) <= radius_km).astype(float)
    dec = measures["imd_decile"].to_numpy(float)
    df = pd.DataFrame({"w": dem, "h": h, "rank": measures["imd_rank"].to_numpy(float),
                       "lo": np.isin(dec, [1, 2]), "hi": np.isin(dec, [9, 10])})
    for k in keys:
        df[k] = measures[k].to_numpy()

    def one(g: pd.DataFrame) -> pd.Series:
        lo_w, hi_w = g.w[g.lo].sum(), g.w[g.hi].sum()
        lo = (g.w * g.h)[g.lo].sum() / lo_w if lo_w > 0 else np.nan
        hi = (g.w * g.h)[g.hi].sum() / hi_w if hi_w > 0 else np.nan
        ratio = lo / hi if np.isfinite(lo) and np.isfinite(hi) and hi > 0 else np.nan
        return pd.Series([lo, hi, ratio, concentration_index(g.w, g.h, g["rank"])], index=EQUITY_COLUMNS)

    if not keys:
        return one(df).to_frame().T.reset_index(drop=True)
    rows = [dict(zip(keys, k if isinstance(k, tuple) else (k,))) | one(g).to_dict()
            for k, g in df.groupby(keys, sort=True)]
    return pd.DataFrame(rows, columns=keys + EQUITY_COLUMNS)


def compare_with_england(
    measures: pd.DataFrame,
    code: str,
    *,
    radius_km: float = DEFAULT_RADIUS_KM,
    column: str = "ltla24_code",
) -> pd.DataFrame:
    """Per IMD decile: the area's (rows whose `column` is `code`, e.g. utla23_code) and England's
    shares of children (under 5; 0-15; income-deprived) within reach. `measures` must hold every
    English LSOA."""
    area = coverage_by_decile(measures[measures[column] == code], radius_km=radius_km)
    england = coverage_by_decile(measures, radius_km=radius_km)
    out = area[["imd_decile", "lsoas", "children_0_15", "under5", "children_within_share", "under5_within_share",
                "idaci_within_share"]].rename(
        columns={"children_within_share": "area_children_share", "idaci_within_share": "area_idaci_share",
                 "under5_within_share": "area_under5_share"})
    out["england_children_share"] = england["children_within_share"].to_numpy()
    out["england_under5_share"] = england["under5_within_share"].to_numpy()
    out["england_idaci_share"] = england["idaci_within_share"].to_numpy()
    return out


def covered_weight(measures: pd.DataFrame, sites_xy: np.ndarray, weights: np.ndarray, radius_km: float) -> float:
    """Total weight of the rows of `measures` within `radius_km` of any of `sites_xy` (BNG m)."""
    sites_xy = np.asarray(sites_xy, float).reshape(-1, 2)
    pairs = pairs_within(measures[["x", "y"]].to_numpy(float), sites_xy, radius_km * 1000.0)
    hit = np.zeros(len(measures), bool)
    hit[pairs.i] = True
    return float(np.asarray(weights, float)[hit].sum())


NEW_SITE_COLUMNS = [
    "rank", "lsoa21_code", "lsoa21_name", "ward24_name", "ltla24_name", "imd_decile", "x", "y", "lon", "lat",
    "children_gained", "lsoas_reached", "cumulative_children",
]


def best_new_sites(
    measures: pd.DataFrame,
    *,
    k: int = 3,
    radius_km: float = DEFAULT_RADIUS_KM,
    deciles=DEFAULT_DECILES,
    demand: str = "children_0_15",
    candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Greedy maximal covering: up to `k` candidate sites that bring the most deprived children
    (of `demand`, IMD deciles in `deciles`, not within `radius_km` of a service today) within reach.

    `measures`: the LSOAs whose children count (e.g. one authority's rows of lsoa_measures).
    `candidates`: rows with x, y (and lsoa21_code...) to choose from; default `measures` itself.
    Stops early when no candidate adds anything. Ties go to the candidate listed first.
    """
    cand = measures if candidates is None else candidates
    cand = cand.reset_index(drop=True)
    w = np.where(_gap_mask(measures, radius_km, deciles), _demand(measures, demand), 0.0)
    pairs = pairs_within(cand[["x", "y"]].to_numpy(float), measures[["x", "y"]].to_numpy(float), radius_km * 1000.0)
    rows, total = [], 0.0
    for rank in range(1, max(int(k), 0) + 1):
        gains = np.bincount(pairs.i, weights=w[pairs.j], minlength=len(cand))
        if len(gains) == 0 or gains.max() <= 0:
            break
        c = int(np.argmax(gains))
        reached = pairs.j[(pairs.i == c) & (w[pairs.j] > 0)]
        total += gains[c]
        rows.append({"rank": rank, "_row": c, "children_gained": gains[c], "lsoas_reached": len(reached),
                     "cumulative_children": total})
        w[reached] = 0.0
    picked = pd.DataFrame(rows, columns=["rank", "_row", "children_gained", "lsoas_reached", "cumulative_children"])
    info = cand.iloc[picked["_row"].to_numpy(int)].reset_index(drop=True)
    out = pd.concat([picked.drop(columns="_row"), info.drop(columns=[c for c in picked if c in info])], axis=1)
    return out[[c for c in NEW_SITE_COLUMNS if c in out]]
