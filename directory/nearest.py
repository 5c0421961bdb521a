"""Find services near a point, with the filters families use.

Distances are straight lines in British National Grid metres (EPSG:27700),
found with a KD-tree over the service locations.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
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


def matches(services: pd.DataFrame, f: Filters) -> np.ndarray:
    """A boolean array, one per row of `services`: True where the service matches the filters.

    Stage rules (taxonomy.stages_of says the same for one service): "pregnant" matches services flagged for pregnancy or of a pregnancy
    type; a child stage matches services whose age range overlaps it. A service that
    states no ages is taken to cover every child stage, except antenatal-only services
    (pregnancy only) and perinatal-only ones (pregnancy and the first year).
    """
    keep = np.ones(len(services), bool)
    if f.types:
        wanted = set(f.types)
        keep &= np.fromiter((not wanted.isdisjoint(ts) for ts in services.types), bool, len(services))
    if f.self_referral:
        keep &= services.referral.isin(["self", "both"]).to_numpy(bool)
    if f.free_only:
        keep &= services.is_free.fillna(False).astype(bool).to_numpy(bool)
    if f.stage:
        stage = STAGE_BY_CODE[stage_code(f.stage)]
        types = services.types.apply(set)
        if stage.min_months is None:
            keep &= (services.pregnancy.fillna(False).astype(bool)
                     | types.apply(lambda ts: bool(ts & PREGNANCY_TYPES))).to_numpy(bool)
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
    return keep


def filter_services(services: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """The services matching the filters (see `matches` for the rules)."""
    return services[matches(services, f)]


def walking_minutes(distance_km):
    return np.asarray(distance_km, float) / WALKING_KMH * 60


@dataclass
class Found:
    table: pd.DataFrame  # matching services with distance_km and walk_min, nearest first
    within_radius: bool  # False: nothing in the radius, `table` holds the nearest few instead
    n_matching: int  # services matching the filters anywhere


class ServiceIndex:
    """The services of one directory version, ready for many searches.

    Built once (the app keeps one per directory version): a KD-tree over every service location,
    each service's place in name order (the tie-break of equal distances), and, for the most recent
    sets of filters, the matching rows and a KD-tree over them alone (for the nearest few when
    nothing matches within the radius). `services` must not change while the index is in use.
    """

    MAX_FILTER_SETS = 64

    def __init__(self, services: pd.DataFrame, many: bool = True):
        self.services = services
        self.xy = services[["x", "y"]].to_numpy(float)
        # the rows a search returns, with its two columns; for many searches, text is held as Python
        # strings (still the "str" dtype), which pandas takes rows of several times faster than Arrow text
        rows = services.assign(distance_km=np.nan, walk_min=np.nan)
        text = {c: pd.StringDtype("python", na_value=t.na_value) for c, t in rows.dtypes.items()
                if isinstance(t, pd.StringDtype) and t.storage != "python"}
        self.rows = rows.astype(text) if many and text else rows
        self.tree = cKDTree(self.xy) if len(services) else None
        # rank in (name, row) order: pandas' own string order, missing names last, as sort_values does
        order = services["name"].reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
        self.name_rank = np.empty(len(services), np.int64)
        self.name_rank[order] = np.arange(len(services))
        self._filtered: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._trees: dict[tuple, cKDTree] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.services)

    @staticmethod
    def _key(f: Filters) -> tuple:
        return tuple(f.types), f.self_referral, f.free_only, f.stage

    def matching(self, f: Filters) -> tuple[np.ndarray, np.ndarray]:
        """(mask, positions) of the services matching `f`, computed once per filter set."""
        key = self._key(f)
        with self._lock:  # one index serves every session of the app (threads)
            hit = self._filtered.get(key)
            if hit is not None:
                self._filtered.move_to_end(key)
                return hit
        mask = matches(self.services, f)
        hit = (mask, np.flatnonzero(mask))
        with self._lock:
            self._filtered[key] = hit
            while len(self._filtered) > self.MAX_FILTER_SETS:
                old, _ = self._filtered.popitem(last=False)
                self._trees.pop(old, None)
        return hit

    def nearest(self, f: Filters, x: float, y: float, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances in metres, positions) of the k nearest services matching `f`, nearest first."""
        mask, pos = self.matching(f)
        if len(pos) == len(self.services):
            tree, pos = self.tree, None
        else:
            key = self._key(f)
            tree = self._trees.get(key)
            if tree is None:
                tree = cKDTree(self.xy[pos])
                with self._lock:
                    self._trees[key] = tree
        d, j = tree.query([x, y], k=k)
        d, j = np.atleast_1d(d), np.atleast_1d(j)
        return d, (j if pos is None else pos[j])


def near(services: pd.DataFrame | ServiceIndex, x: float, y: float, radius_km: float,
         filters: Filters = Filters(), fallback: int = 3) -> Found:
    """Services within `radius_km` of BNG point (x, y), nearest first (equal distances by name).

    When none is within the radius, the `fallback` nearest matching services are
    returned (flagged), so a family always sees where the closest help is. Pass a `ServiceIndex`
    to search the same services many times (a DataFrame is indexed for this one search).
    """
    ix = services if isinstance(services, ServiceIndex) else ServiceIndex(services, many=False)
    mask, pos = ix.matching(filters)
    if pos.size == 0:
        return Found(ix.services.iloc[:0].assign(distance_km=[], walk_min=[]), False, 0)
    idx = np.asarray(ix.tree.query_ball_point([x, y], r=radius_km * 1000.0), dtype=np.intp)
    idx = idx[mask[idx]]
    within = idx.size > 0
    if within:
        d = np.hypot(ix.xy[idx, 0] - x, ix.xy[idx, 1] - y)
    else:
        d, idx = ix.nearest(filters, x, y, min(fallback, pos.size))
    order = np.lexsort((ix.name_rank[idx], d))
    out = ix.rows.take(idx[order])
    out.index = pd.RangeIndex(len(out))
    out["distance_km"] = d[order] / 1000.0
    out["walk_min"] = walking_minutes(d[order] / 1000.0)
    return Found(out, within, int(pos.size))
