"""Find services near a point, with the filters families use.

Distances are straight lines in British National Grid metres (EPSG:27700),
found with a KD-tree over the service locations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .config import WALKING_KMH
from .taxonomy import NO_AGES_MAX, PERINATAL_TYPES, PREGNANCY_TYPES, STAGE_BY_CODE, stage_code  # noqa: F401


@dataclass(frozen=True)
class Filters:
    types: tuple[str, ...] = ()  # empty: every type
    self_referral: bool = False
    free_only: bool = False
    stage: str | None = None  # a taxonomy.STAGES code (or an old one, see taxonomy.OLD_STAGE_CODES)


def filter_services(services: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Services matching the filters.

    Stage rules (taxonomy.stages_of says the same for one service): "pregnant" matches services flagged for pregnancy or of a pregnancy
    type; a child stage matches services whose age range overlaps it. A service that
    states no ages is taken to cover every child stage, except antenatal-only services
    (pregnancy only) and perinatal-only ones (pregnancy and the first year).
    """
    keep = pd.Series(True, index=services.index)
    if f.types:
        wanted = set(f.types)
        keep &= services.types.apply(lambda ts: bool(wanted.intersection(ts)))
    if f.self_referral:
        keep &= services.referral.isin(["self", "both"])
    if f.free_only:
        keep &= services.is_free.fillna(False).astype(bool)
    if f.stage:
        stage = STAGE_BY_CODE[stage_code(f.stage)]
        types = services.types.apply(set)
        if stage.min_months is None:
            keep &= services.pregnancy.fillna(False).astype(bool) | types.apply(lambda ts: bool(ts & PREGNANCY_TYPES))
        else:
            lo = services.min_age_months.astype("Float64")
            hi = services.max_age_months.astype("Float64")
            no_ages = (lo.isna() & hi.isna()).to_numpy(bool)
            # implied ages when none are stated
            antenatal_only = types.apply(lambda ts: bool(ts) and ts <= {"antenatal"}).to_numpy(bool)
            perinatal_only = types.apply(lambda ts: bool(ts) and ts <= PREGNANCY_TYPES).to_numpy(bool)
            lo = lo.fillna(0).to_numpy(float)
            hi = hi.fillna(NO_AGES_MAX).to_numpy(float)
            hi = np.where(no_ages & perinatal_only, 11, hi)
            hi = np.where(no_ages & antenatal_only, -1, hi)
            keep &= (lo <= stage.max_months) & (hi >= stage.min_months)
    return services[keep.to_numpy(bool)]


def walking_minutes(distance_km):
    return np.asarray(distance_km, float) / WALKING_KMH * 60


@dataclass
class Found:
    table: pd.DataFrame  # matching services with distance_km and walk_min, nearest first
    within_radius: bool  # False: nothing in the radius, `table` holds the nearest few instead
    n_matching: int  # services matching the filters anywhere


def near(services: pd.DataFrame, x: float, y: float, radius_km: float, filters: Filters = Filters(),
         fallback: int = 3) -> Found:
    """Services within `radius_km` of BNG point (x, y), nearest first.

    When none is within the radius, the `fallback` nearest matching services are
    returned (flagged), so a family always sees where the closest help is.
    """
    pool = filter_services(services, filters)
    if pool.empty:
        return Found(pool.assign(distance_km=[], walk_min=[]), False, 0)
    pts = pool[["x", "y"]].to_numpy(float)
    tree = cKDTree(pts)
    idx = np.asarray(tree.query_ball_point([x, y], r=radius_km * 1000.0), dtype=int)
    within = idx.size > 0
    if within:
        d = np.hypot(pts[idx, 0] - x, pts[idx, 1] - y)
    else:
        k = min(fallback, len(pool))
        d, idx = tree.query([x, y], k=k)
        d, idx = np.atleast_1d(d), np.atleast_1d(idx)
    out = pool.iloc[idx].assign(distance_km=d / 1000.0)
    out["walk_min"] = walking_minutes(out.distance_km)
    out = out.sort_values(["distance_km", "name"], kind="stable", ignore_index=True)
    return Found(out, within, len(pool))
