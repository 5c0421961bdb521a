"""Loading the built area tables: LSOAs, districts, regions, places, postcodes, boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from . import config
from .geocode import Places, PostcodeIndex

if TYPE_CHECKING:
    import geopandas as gpd


def _read_geo(path: Path) -> gpd.GeoDataFrame:
    import geopandas  # only the pages with maps of areas need it (0.05 s to import)

    return geopandas.read_parquet(path)


@dataclass
class Areas:
    """The built tables of one build folder (load once, share: they are read-only)."""

    folder: Path

    @classmethod
    def load(cls, folder: Path | None = None) -> "Areas":
        return cls(config.build_dir(folder))

    @cached_property
    def lsoa(self) -> pd.DataFrame:
        return pd.read_parquet(self.folder / "lsoa.parquet")

    @cached_property
    def lsoa_points(self) -> pd.DataFrame:
        """Each LSOA's point and the areas it lies in (SERVICE_AREA_COLUMNS): what placing a service
        needs, read alone (0.02 s) when the whole table (64 columns, 0.06-0.12 s) is not loaded yet, as
        on an app's first family search."""
        columns = ["lsoa21_code", "x", "y", *SERVICE_AREA_COLUMNS]
        if "lsoa" in self.__dict__:
            return self.lsoa[columns]
        return pd.read_parquet(self.folder / "lsoa.parquet", columns=columns)

    @cached_property
    def districts(self) -> pd.DataFrame:
        return pd.read_parquet(self.folder / "districts.parquet")

    @cached_property
    def regions(self) -> pd.DataFrame:
        keys = ["region24_code", "region24_name"]
        return self.districts.groupby(keys, as_index=False)[["children_0_15", "under5", "idaci_numerator"]].sum()

    @cached_property
    def places(self) -> Places:
        return Places(pd.read_parquet(self.folder / "places.parquet"))

    @cached_property
    def postcodes(self) -> PostcodeIndex:
        return PostcodeIndex(self.folder / "postcodes.sqlite")

    @cached_property
    def lsoa_boundaries(self) -> gpd.GeoDataFrame:
        return _read_geo(self.folder / "lsoa_boundaries.parquet")

    @cached_property
    def district_boundaries(self) -> gpd.GeoDataFrame:
        return _read_geo(self.folder / "district_boundaries.parquet")

    @cached_property
    def utla_boundaries(self) -> gpd.GeoDataFrame:
        return _read_geo(self.folder / "utla_boundaries.parquet")

    @cached_property
    def icb_boundaries(self) -> gpd.GeoDataFrame:
        return _read_geo(self.folder / "icb_boundaries.parquet")

    @cached_property
    def sicbl_boundaries(self) -> gpd.GeoDataFrame:
        return _read_geo(self.folder / "sicbl_boundaries.parquet")

    @cached_property
    def official_names(self) -> dict[str, str]:
        """GSS code -> official council name ("Worcestershire County Council"); {} when not built."""
        path = self.folder / "area_names.parquet"
        if not path.exists():
            return {}
        df = pd.read_parquet(path)
        return dict(zip(df.code, df.official_name))

    @cached_property
    def units(self) -> pd.DataFrame:
        """Every area of every kind (area_kinds.all_units): kind, code, name, official_name, parent, counts."""
        from .area_kinds import all_units

        return all_units(self.lsoa, self.official_names)

    def unit_codes(self) -> dict[str, set[str]]:
        return {k: set(g.code) for k, g in self.units.groupby("kind")}

    def boundaries(self, kind: str) -> gpd.GeoDataFrame:
        """Boundaries of one kind of area (area_kinds), with its code column; regions and England
        are dissolved from the districts."""
        from .area_kinds import kind as area_kind

        k = area_kind(kind)
        if k.boundaries:
            return getattr(self, k.boundaries)
        return self._dissolved(k.code)

    def _dissolved(self, code: str) -> gpd.GeoDataFrame:
        cache = self.__dict__.setdefault("_dissolved_cache", {})
        if code not in cache:
            from .area_kinds import with_country

            keys = with_country(self.districts)[["ltla24_code", code]]
            d = self.district_boundaries.merge(keys, on="ltla24_code")
            cache[code] = d.dissolve(by=code, as_index=False)[[code, "geometry"]]
        return cache[code]

    def lsoa_of_points(self, x, y):
        """The LSOA whose population-weighted centroid is nearest each BNG point (KD-tree).

        An approximation of point-in-polygon that needs no boundaries; good enough to
        attach a service to its neighbourhood's deprivation decile.
        """
        _, idx = self._lsoa_tree.query(np.column_stack([x, y]))
        return self.lsoa_points.lsoa21_code.to_numpy()[idx]

    @cached_property
    def _lsoa_tree(self) -> cKDTree:
        return cKDTree(self.lsoa_points[["x", "y"]].to_numpy())


#: What attach_areas copies from a service's LSOA.
SERVICE_AREA_COLUMNS = ["ward24_name", "ltla24_code", "ltla24_name", "utla23_code", "utla23_name", "sicbl24_code",
                        "sicbl24_name", "icb24_code", "icb24_name", "region24_name", "imd_decile"]


def attach_areas(services: pd.DataFrame, areas: Areas) -> pd.DataFrame:
    """Add each service's LSOA, ward, district, upper-tier authority, sub-ICB location, ICB, region and
    IMD decile (by nearest LSOA point)."""
    if services.empty:
        return services.assign(lsoa21_code=[], area=[], **{c: [] for c in SERVICE_AREA_COLUMNS if c != "ward24_name"})
    codes = areas.lsoa_of_points(services.x.to_numpy(), services.y.to_numpy())
    lsoa = areas.lsoa_points.set_index("lsoa21_code")
    out = services.assign(lsoa21_code=codes)
    info = lsoa.loc[codes, SERVICE_AREA_COLUMNS]
    for c in info.columns:
        out[c] = info[c].to_numpy()
    out["area"] = out.ward24_name + ", " + out.ltla24_name
    return out
