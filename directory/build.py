"""Build compact derived files from the official raw files.

    raw folder (FSM_RAW_DATA)  ->  data/build/
        lsoa.parquet                 one row per English LSOA 2021 (33,755)
        districts.parquet            one row per English local authority district 2024 (296)
        places.parquet               names to search: wards, districts, towns (2021 district names), LSOAs
        lsoa_boundaries.parquet      GeoParquet, WGS84
        district_boundaries.parquet  GeoParquet, WGS84, repaired with make_valid
        utla_boundaries.parquet, icb_boundaries.parquet, sicbl_boundaries.parquet
                                     upper-tier authorities, ICBs, sub-ICB locations (geographies.py)
        area_names.parquet           official council names by GSS code (mySociety; empty without it)
        postcodes.sqlite             every English postcode -> point and LSOA 2021, sector and district
                                     points, countries of the others (directory/postcodes.py)
        manifest.json                input checksums; the build is skipped when they are unchanged

Formulas worth knowing:
- LSOA point: the ONS population-weighted centroid (where people live), in BNG metres and WGS84.
- under5: Census 2021 usual residents aged 4 and under (TS007A) when that file is in the raw
  folder (`under5.py`; column `under5_source` says which was used), else
  ONS mid-2020 under-5s on 2011 LSOAs carried to 2021 LSOAs with the ONS best-fit
  lookup; each 2011 LSOA's count is shared among the 2021 LSOAs it maps to in proportion to
  their Census 2021 children aged 0-15 (equally if those are all 0). Unchanged, split,
  merged and irregular changes are all handled by this one rule, and England's total is kept.
- place points (wards, districts, towns): the mean of their LSOA points weighted by children 0-15.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import config, geographies, postcodes
from .crs import TO_WGS84
from .manifest import BUILD_VERSION, input_records, needs_build
from .sources import (
    Catalogue,
    DataError,
    catalogue,
    check_england_rows,
    column_map,
    is_missing,
    list_files,
    read_csv,
    require_files,
)
from .under5 import read_sape_workbook, under5_counts

Progress = Callable[[float, str], None]


#: IoD domains and sub-domains: canonical prefix -> header prefixes used by MHCLG files.
IOD_PREFIXES = {
    "imd": ("imd", "index_of_multiple_deprivation_imd", "index_of_multiple_deprivation"),
    "income": ("income",),
    "employment": ("employment",),
    "education": ("education", "education_skills_and_training"),
    "health": ("health", "health_deprivation_and_disability"),
    "crime": ("crime",),
    "housing_and_services": ("housing_and_services", "barriers_to_housing_and_services"),
    "environment": ("environment", "living_environment"),
    "idaci": ("idaci", "income_deprivation_affecting_children_index_idaci"),
    "idaopi": ("idaopi", "income_deprivation_affecting_older_people_idaopi"),
    "children_and_young_people": ("children_and_young_people", "children_and_young_people_sub_domain"),
    "adult_skills": ("adult_skills", "adult_skills_sub_domain"),
    "geographical_barriers": ("geographical_barriers", "geographical_barriers_sub_domain"),
    "wider_barriers": ("wider_barriers", "wider_barriers_sub_domain"),
    "indoors": ("indoors", "indoors_sub_domain"),
    "outdoors": ("outdoors", "outdoors_sub_domain"),
}
_IOD_RE = re.compile(
    r"^(?P<prefix>"
    + "|".join(sorted({re.escape(p) for ps in IOD_PREFIXES.values() for p in ps}, key=len, reverse=True))
    + r")_(?P<measure>score|rank|decile)(_|$)"
)
_PREFIX_TO_DOMAIN = {p: d for d, ps in IOD_PREFIXES.items() for p in ps}


def iod_column(normalised: str) -> str | None:
    """'index_of_multiple_deprivation_imd_decile_where_1_is_most_deprived_10_of_lsoas' -> 'imd_decile'."""
    m = _IOD_RE.match(normalised)
    return f"{_PREFIX_TO_DOMAIN[m['prefix']]}_{m['measure']}" if m else None


def ensure_built(raw: Path | None = None, out: Path | None = None, progress: Progress | None = None) -> bool:
    """Build if needed. Returns True when a build ran."""
    if needs_build(raw, out):
        build(raw, out, progress)
        return True
    return False


# ---------------------------------------------------------------- the build


def build(raw: Path | None = None, out: Path | None = None, progress: Progress | None = None) -> dict:
    raw, out = config.raw_dir(raw), config.build_dir(out)
    say = progress or (lambda f, m: None)
    cat = catalogue()
    every = list_files(raw)
    missing = [s for s in cat.sources.values() if is_missing(s, raw, cat, every)]
    if missing:
        names = "\n".join(f"  - {s.title}: {', '.join(s.files)} ({s.url or s.page})" for s in missing)
        raise DataError(f"The raw data folder {raw} lacks required files:\n{names}")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    steps: list[tuple[str, Callable[[], None]]] = []
    tables: dict[str, pd.DataFrame] = {}

    def step_lsoa():
        tables["lsoa"] = lsoa_table(raw, cat)
        tables["lsoa"].to_parquet(out / "lsoa.parquet", index=False)

    def step_districts():
        tables["districts"] = district_table(tables["lsoa"], raw, cat)
        tables["districts"].to_parquet(out / "districts.parquet", index=False)
        place_table(tables["lsoa"]).to_parquet(out / "places.parquet", index=False)

    def step_boundaries():
        lsoa_boundaries(raw, cat, set(tables["lsoa"].lsoa21_code)).to_parquet(out / "lsoa_boundaries.parquet")
        district_boundaries(raw, cat, set(tables["districts"].ltla24_code)).to_parquet(
            out / "district_boundaries.parquet"
        )
        geographies.write_boundaries(raw, cat, tables["lsoa"], out)
        names = geographies.official_names(raw, cat)
        pd.DataFrame({"code": list(names), "official_name": list(names.values())}, dtype=str).to_parquet(
            out / "area_names.parquet", index=False)

    def step_postcodes():
        postcodes.build_postcodes(raw, cat, out / "postcodes.sqlite",
                                  lambda f, m: say((len(steps) - 1 + f) / len(steps), f"postcodes: {m}"))

    steps = [
        ("LSOAs: deprivation, population, lookups, centroids", step_lsoa),
        ("districts and places", step_districts),
        ("boundaries", step_boundaries),
        ("postcodes", step_postcodes),
    ]
    for i, (label, fn) in enumerate(steps):
        say(i / len(steps), label)
        fn()
    inputs = input_records(cat, raw)
    manifest = {
        "version": BUILD_VERSION,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - t0, 1),
        "raw": str(raw),
        "under5": tables["lsoa"].attrs.get("under5"),
        "inputs": inputs,
        "outputs": [
            "lsoa.parquet",
            "districts.parquet",
            "places.parquet",
            "lsoa_boundaries.parquet",
            "district_boundaries.parquet",
            *geographies.BOUNDARY_FILES,
            "area_names.parquet",
            "postcodes.sqlite",
        ],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    say(1.0, f"built in {manifest['seconds']} s")
    return manifest


def _num(df: pd.DataFrame, cols) -> pd.DataFrame:
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def _iod(raw: Path, cat: Catalogue, key: str) -> pd.DataFrame:
    source = cat[key]
    path = require_files(source, raw)[0]
    df = read_csv(source, path, extra=lambda h: iod_column(h) is not None)
    df = df.rename(columns={c: iod_column(c) or c for c in df.columns if c != "lsoa21_code"})
    df = df.loc[:, ~df.columns.duplicated()]
    df = check_england_rows(df, "lsoa21_code", source, path)
    return _num(df, [c for c in df.columns if c != "lsoa21_code"])


def lsoa_table(raw: Path, cat: Catalogue) -> pd.DataFrame:
    """One row per English LSOA 2021 with everything the app and the metrics need."""
    ranks = _iod(raw, cat, "iod_ranks")
    subs = _iod(raw, cat, "iod_subdomains")
    subs = subs[["lsoa21_code"] + [c for c in subs.columns if c not in ranks.columns]]

    ind_src = cat["iod_indicators"]
    ind_path = require_files(ind_src, raw)[0]
    ind = check_england_rows(read_csv(ind_src, ind_path), "lsoa21_code", ind_src, ind_path)
    ind = _num(ind, ["idaci_numerator"])[["lsoa21_code", "idaci_numerator"]]

    lk_src = cat["lsoa_lookup"]
    lk_path = require_files(lk_src, raw)[0]
    lookup = check_england_rows(read_csv(lk_src, lk_path), "lsoa21_code", lk_src, lk_path)
    rg_src = cat["region_lookup"]
    rg_path = require_files(rg_src, raw)[0]
    regions = check_england_rows(read_csv(rg_src, rg_path), "ltla24_code", rg_src, rg_path)
    lookup = lookup.merge(regions[["ltla24_code", "region24_code", "region24_name"]], on="ltla24_code", how="left")

    ce_src = cat["lsoa_centroids"]
    ce_path = require_files(ce_src, raw)[0]
    cent = check_england_rows(
        read_csv(ce_src, ce_path, dtype={"x": float, "y": float}), "lsoa21_code", ce_src, ce_path
    )[["lsoa21_code", "x", "y"]]
    lon, lat = TO_WGS84.transform(cent.x.to_numpy(), cent.y.to_numpy())
    cent = cent.assign(lon=np.round(lon, 6), lat=np.round(lat, 6))

    children = census_children(raw, cat)
    under5, under5_info = under5_counts(raw, cat, children, bridge_under5)

    df = lookup[
        ["lsoa21_code", "lsoa21_name", "ward24_code", "ward24_name", "ltla24_code", "ltla24_name",
         "region24_code", "region24_name"]
    ]
    df = df.merge(geographies.commissioning_lookup(raw, cat, df), on="lsoa21_code", how="left",
                  validate="one_to_one")
    for part in (ranks, subs, ind, children, under5, cent):
        df = df.merge(part, on="lsoa21_code", how="left", validate="one_to_one")
    key_cols = ["region24_code", "imd_decile", "imd_score", "children_0_15", "x", "y"]
    bad = df[df[key_cols].isna().any(axis=1)]
    if len(bad):
        raise DataError(
            f"{len(bad)} LSOAs lack one of {key_cols} after joining the sources "
            f"(first: {', '.join(bad.lsoa21_code.head(5))}); are all files of the same vintage?"
        )
    for c in [c for c in df.columns if c.endswith(("_decile", "_rank"))]:
        df[c] = df[c].astype("Int64")
    df["idaci_numerator"] = df["idaci_numerator"].round().astype("Int64")
    df = df.sort_values("lsoa21_code", ignore_index=True)
    df.attrs["under5"] = under5_info
    return df


def census_children(raw: Path, cat: Catalogue) -> pd.DataFrame:
    """Census 2021 usual residents aged 15 and under, per English LSOA 2021."""
    source = cat["census_children"]
    path = require_files(source, raw)[0]
    df = read_csv(source, path)
    df = df[df.age_group.str.lower().str.contains("15 years and under")]
    df = check_england_rows(df, "lsoa21_code", source, path)
    df = df.assign(children_0_15=pd.to_numeric(df.usual_residents).astype("int64"))
    return df[["lsoa21_code", "children_0_15"]]


def bridge_under5(raw: Path, cat: Catalogue, children: pd.DataFrame) -> pd.DataFrame:
    """Mid-2020 under-5s carried from 2011 to 2021 LSOAs (rule in the module docstring)."""
    src = cat["under5"]
    path = require_files(src, raw)[0]
    table = read_sape_workbook(path) if path.name.lower().endswith(".xlsx") else read_csv(src, path)
    u5 = check_england_rows(table.astype({"aged_0_4": float}), "lsoa11_code", src, path)
    lk_src = cat["lsoa11_lsoa21"]
    lk = read_csv(lk_src, require_files(lk_src, raw)[0])
    lk = lk[lk.lsoa11_code.str.startswith("E")][["lsoa11_code", "lsoa21_code"]].drop_duplicates()
    return share_counts(u5[["lsoa11_code", "aged_0_4"]], lk, children, "aged_0_4", "under5")


def share_counts(
    counts: pd.DataFrame, lookup: pd.DataFrame, weights: pd.DataFrame, value: str, name: str
) -> pd.DataFrame:
    """Share each old area's `value` among its new areas in proportion to `children_0_15`."""
    m = lookup.merge(counts, on="lsoa11_code").merge(weights, on="lsoa21_code")
    w = m.children_0_15.astype(float)
    total = w.groupby(m.lsoa11_code).transform("sum")
    n = m.groupby("lsoa11_code").lsoa21_code.transform("count")
    share = np.where(total > 0, w / total.where(total > 0, 1), 1.0 / n)
    m[name] = m[value] * share
    return m.groupby("lsoa21_code", as_index=False)[name].sum()


def _weighted_points(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Children-weighted mean of LSOA points per group (1 added so empty areas still count)."""
    w = df.children_0_15.astype(float) + 1
    g = df.assign(_wx=df.x * w, _wy=df.y * w, _w=w).groupby(by, as_index=False)
    out = g.agg(_wx=("_wx", "sum"), _wy=("_wy", "sum"), _w=("_w", "sum"), n_lsoa=("lsoa21_code", "count"))
    out["x"], out["y"] = out._wx / out._w, out._wy / out._w
    lon, lat = TO_WGS84.transform(out.x.to_numpy(), out.y.to_numpy())
    out["lon"], out["lat"] = np.round(lon, 6), np.round(lat, 6)
    return out.drop(columns=["_wx", "_wy", "_w"])


def district_table(lsoa: pd.DataFrame, raw: Path, cat: Catalogue) -> pd.DataFrame:
    keys = ["ltla24_code", "ltla24_name", "region24_code", "region24_name"]
    sums = lsoa.groupby(keys, as_index=False)[["children_0_15", "under5", "idaci_numerator"]].sum()
    df = sums.merge(_weighted_points(lsoa, keys), on=keys)
    src = cat["iod_districts"]
    path = require_files(src, raw)[0]
    summ = check_england_rows(read_csv(src, path), "ltla24_code", src, path)
    summ = _num(summ, ["imd_average_score", "imd_rank_of_average_score"])
    df = df.merge(summ[["ltla24_code", "imd_average_score", "imd_rank_of_average_score"]], on="ltla24_code", how="left")
    df["imd_rank_of_average_score"] = df["imd_rank_of_average_score"].astype("Int64")
    return df.sort_values("ltla24_code", ignore_index=True)


def town_of(lsoa_name: pd.Series) -> pd.Series:
    """LSOA 2021 names are '<2021 district> <MSOA no.><letter>': 'Harrogate 012B' -> 'Harrogate'."""
    return lsoa_name.str.replace(r"\s+\d{3}[A-Z]$", "", regex=True)


def place_table(lsoa: pd.DataFrame) -> pd.DataFrame:
    """Searchable names: wards, districts, towns (2021 districts, e.g. Harrogate), LSOAs."""
    df = lsoa.assign(town=town_of(lsoa.lsoa21_name))
    wards = _weighted_points(df, ["ward24_code", "ward24_name", "ltla24_name"]).rename(
        columns={"ward24_code": "code", "ward24_name": "name", "ltla24_name": "within"}
    )
    wards["kind"] = "ward"
    dists = _weighted_points(df, ["ltla24_code", "ltla24_name", "region24_name"]).rename(
        columns={"ltla24_code": "code", "ltla24_name": "name", "region24_name": "within"}
    )
    dists["kind"] = "local authority"
    towns = _weighted_points(df, ["town"]).rename(columns={"town": "name"})
    towns = towns[~towns.name.isin(dists.name)]
    towns["code"], towns["within"], towns["kind"] = towns.name, "", "town or former district"
    lsoas = df[["lsoa21_code", "lsoa21_name", "ltla24_name", "x", "y", "lon", "lat"]].rename(
        columns={"lsoa21_code": "code", "lsoa21_name": "name", "ltla24_name": "within"}
    )
    lsoas["n_lsoa"], lsoas["kind"] = 1, "LSOA"
    cols = ["kind", "code", "name", "within", "n_lsoa", "x", "y", "lon", "lat"]
    return pd.concat([dists[cols], towns[cols], wards[cols], lsoas[cols]], ignore_index=True)


def _read_geo(raw: Path, cat: Catalogue, key: str, code: str, keep: set[str]) -> gpd.GeoDataFrame:
    source = cat[key]
    path = require_files(source, raw)[0]
    gdf = gpd.read_file(path)
    mapping = column_map(source, [c for c in gdf.columns if c != gdf.geometry.name], path)
    gdf = gdf.rename(columns=mapping)[[code, gdf.geometry.name]]
    if gdf.geometry.name != "geometry":
        gdf = gdf.rename_geometry("geometry")
    gdf = gdf.to_crs(4326) if gdf.crs and gdf.crs.to_epsg() != 4326 else gdf.set_crs(4326, allow_override=True)
    gdf = gdf[gdf[code].isin(keep)]
    if len(gdf) != len(keep):
        raise DataError(f"{path}: has {len(gdf):,} of the {len(keep):,} English areas expected")
    return gdf.sort_values(code, ignore_index=True)


def lsoa_boundaries(raw: Path, cat: Catalogue, keep: set[str]) -> gpd.GeoDataFrame:
    gdf = _read_geo(raw, cat, "lsoa_boundaries", "lsoa21_code", keep)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    return gdf


def district_boundaries(raw: Path, cat: Catalogue, keep: set[str]) -> gpd.GeoDataFrame:
    gdf = _read_geo(raw, cat, "district_boundaries", "ltla24_code", keep)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    return gdf


# ---------------------------------------------------------------- postcodes

# the postcode sources, their layouts and the LSOA of each postcode live in postcodes.py
normalise_postcode, postcode_points = postcodes.normalise_postcode, postcodes.postcode_points
