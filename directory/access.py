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
    (Luo & Qi's Gaussian-derived zone weights).
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
    for C = children 0-15 and C = income-deprived children (IDACI numerator; the 815
    suppressed LSOAs are left out of both sums, and counted in `idaci_suppressed_lsoas`).

Where would new sites help most (maximal covering location problem, Church & ReVelle 1974):
    weights w_i = gap_children_i (deprived children not within reach today);
    a candidate site c covers LSOA i when d_ci <= d0; choose K sites maximising the
    weight covered. Greedy: K times, take the candidate covering the most still-uncovered
    weight, then mark what it covers as covered. Coverage is a monotone submodular
    function, so greedy reaches at least 1 - (1 - 1/K)^K >= 1 - 1/e (63%) of the optimum
    (Nemhauser, Wolsey & Fisher 1978); tests compare it with exhaustive search. Candidates:
    LSOA population-weighted centroids (by default those of the LSOAs given).

API for others (DataFrames in, DataFrames out; every parameter explicit, defaults shown):

    services_of_types(services, types=()) -> services offering any of `types` (empty: all)
    lsoa_measures(lsoa, services, *, types=(), radius_km=1.6, demand="children_0_15",
                  deciles=(1, 2), decay=LUO_QI) -> one row per row of `lsoa`, same order:
        codes and names (LSOA, ward, district ltla24_*, region), x, y, lon, lat,
        imd_decile, imd_score, income_decile, income_score, children_and_young_people_score,
        children_and_young_people_decile, children_0_15, idaci_numerator (<NA> = suppressed),
        under5, nearest_km, n_within, within (bool), sfca_per_1000, e2sfca_per_1000
        (per 1,000 of `demand`), deprived (bool), gap (bool), gap_children (of `demand`)
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
Shares are fractions (0..1); distances km; `measures` is what lsoa_measures returns
(rows may be filtered to an authority first). The low-level functions below
(pairs_within, nearest_km, count_within, fca, lsoa_access) stay as they are.
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


def pairs_within(origins: np.ndarray, dests: np.ndarray, radius_m: float) -> Pairs:
    """Every (origin, destination) pair with distance <= radius_m, via two KD-trees."""
    if len(origins) == 0 or len(dests) == 0:
        e = np.array([], dtype=np.intp)
        return Pairs(e, e.copy(), np.array([], dtype=float))
    to, td = cKDTree(origins), cKDTree(dests)
    m = to.sparse_distance_matrix(td, radius_m, output_type="ndarray")
    return Pairs(m["i"].astype(np.intp), m["j"].astype(np.intp), m["v"].astype(float))


def nearest_km(origins: np.ndarray, dests: np.ndarray) -> np.ndarray:
    """Straight-line distance from each origin to its nearest destination, km (inf when none)."""
    if len(dests) == 0:
        return np.full(len(origins), np.inf)
    d, _ = cKDTree(dests).query(origins, k=1)
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


def lsoa_access(
    lsoa: pd.DataFrame,
    services: pd.DataFrame,
    radius_km: float = DEFAULT_RADIUS_KM,
    demand: str = "children_0_15",
    decay=LUO_QI,
) -> pd.DataFrame:
    """Per LSOA: nearest service (km), services within the radius, 2SFCA and E2SFCA per 1,000 of `demand`.

    `lsoa` needs x, y and the demand column; `services` needs x, y and optionally `capacity`.
    Missing demand (e.g. suppressed IDACI numerators) counts as 0.
    """
    origins = lsoa[["x", "y"]].to_numpy(float)
    dests = services[["x", "y"]].to_numpy(float)
    radius_m = radius_km * 1000.0
    pairs = pairs_within(origins, dests, radius_m)
    P = pd.to_numeric(lsoa[demand], errors="coerce").fillna(0).to_numpy(float)
    if "capacity" in services:
        S = pd.to_numeric(services["capacity"], errors="coerce").fillna(1.0).to_numpy(float)
    else:
        S = np.ones(len(services))
    return pd.DataFrame(
        {
            "lsoa21_code": lsoa["lsoa21_code"].to_numpy(),
            "nearest_km": nearest_km(origins, dests),
            "n_within": count_within(pairs, len(lsoa)),
            "sfca_per_1000": fca(pairs, P, S, radius_m) * 1000.0,
            "e2sfca_per_1000": fca(pairs, P, S, radius_m, decay) * 1000.0,
        }
    )
