"""Commissioning geographies for the build: upper-tier authorities, sub-ICB locations, ICBs.

Children's centres and family hubs are commissioned by the 153 upper-tier authorities of
England (counties, unitaries, metropolitan and London boroughs); perinatal mental health by
the 42 NHS Integrated Care Boards, each made of sub-ICB locations (106). This module reads:

    utla_lookup        district (LTLA 2023; the codes equal LAD 2024 codes in England) -> upper tier
    icb_lookup         LSOA 2021 -> sub-ICB location 2024 -> ICB 2024
    *_boundaries       ONS super-generalised boundaries, repaired with make_valid, England only
    la_names           official council names (mySociety; optional): "Worcestershire County Council"

and checks that every English LSOA gets exactly one of each, and that the counts are the
official ones (153, 106, 42), so a partial or mixed-vintage file is refused with its name.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from .sources import Catalogue, DataError, check_england_rows, column_map, find_files, read_csv, require_files

#: Commissioning columns added to every LSOA (the contract with the other modules).
LSOA_COLUMNS = ["utla23_code", "utla23_name", "sicbl24_code", "sicbl24_name", "icb24_code", "icb24_name"]
EXPECTED = {"utla23_code": 153, "sicbl24_code": 106, "icb24_code": 42}


def commissioning_lookup(raw: Path, cat: Catalogue, lsoa: pd.DataFrame) -> pd.DataFrame:
    """lsoa21_code + LSOA_COLUMNS for each row of `lsoa` (needs lsoa21_code, ltla24_code)."""
    u_src = cat["utla_lookup"]
    u_path = require_files(u_src, raw)[0]
    utla = check_england_rows(read_csv(u_src, u_path), "ltla23_code", u_src, u_path)
    utla = utla.drop_duplicates("ltla23_code")[["ltla23_code", "utla23_code", "utla23_name"]]
    i_src = cat["icb_lookup"]
    i_path = require_files(i_src, raw)[0]
    icb = check_england_rows(read_csv(i_src, i_path), "lsoa21_code", i_src, i_path)
    icb = icb.drop_duplicates("lsoa21_code")[["lsoa21_code", "sicbl24_code", "sicbl24_name", "icb24_code",
                                              "icb24_name"]]
    out = lsoa[["lsoa21_code", "ltla24_code"]].merge(
        utla.rename(columns={"ltla23_code": "ltla24_code"}), on="ltla24_code", how="left", validate="many_to_one"
    ).merge(icb, on="lsoa21_code", how="left", validate="one_to_one")
    for col, n in EXPECTED.items():
        missing = out[col].isna()
        if missing.any():
            path = u_path if col == "utla23_code" else i_path
            raise DataError(f"{path}: {int(missing.sum()):,} English LSOAs have no {col[:-5]} "
                            f"(first: {', '.join(out.lsoa21_code[missing].head(3))}); is the file of the right "
                            "vintage (LSOA 2021, districts 2023/2024)?")
        got = out[col].nunique()
        if got != n:
            raise DataError(f"expected {n} English {col[:-5]} areas, found {got}: is the lookup complete?")
    return out[["lsoa21_code"] + LSOA_COLUMNS]


def official_names(raw: Path, cat: Catalogue) -> dict[str, str]:
    """GSS code -> official council name ("Worcestershire County Council"); {} without the file."""
    src = cat.sources.get("la_names")
    paths = find_files(src, raw) if src else []
    if not paths:
        return {}
    df = read_csv(src, paths[0])
    if "end_date" in df:
        df = df[df.end_date.isna()]
    df = df[df.gss_code.fillna("").str.startswith("E")]
    return dict(zip(df.gss_code, df.official_name))


def read_boundaries(raw: Path, cat: Catalogue, key: str, code: str, keep: set[str]) -> gpd.GeoDataFrame:
    """One boundary file: England's areas in `keep`, WGS84, made valid, sorted by code."""
    source = cat[key]
    path = require_files(source, raw)[0]
    gdf = gpd.read_file(path)
    mapping = column_map(source, [c for c in gdf.columns if c != gdf.geometry.name], path)
    gdf = gdf.rename(columns=mapping)
    if gdf.geometry.name != "geometry":
        gdf = gdf.rename_geometry("geometry")
    gdf = gdf[[code, "geometry"]]
    gdf = gdf.to_crs(4326) if gdf.crs and gdf.crs.to_epsg() != 4326 else gdf.set_crs(4326, allow_override=True)
    gdf = gdf[gdf[code].isin(keep)].drop_duplicates(code)
    if len(gdf) != len(keep):
        absent = sorted(keep - set(gdf[code]))[:3]
        raise DataError(f"{path}: has {len(gdf):,} of the {len(keep):,} English areas expected "
                        f"(missing e.g. {', '.join(absent)})")
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    return gdf.sort_values(code, ignore_index=True)


BOUNDARY_FILES = {  # output file -> (source key, code column)
    "utla_boundaries.parquet": ("utla_boundaries", "utla23_code"),
    "icb_boundaries.parquet": ("icb_boundaries", "icb24_code"),
    "sicbl_boundaries.parquet": ("sicbl_boundaries", "sicbl24_code"),
}


def write_boundaries(raw: Path, cat: Catalogue, lsoa: pd.DataFrame, out: Path) -> list[str]:
    for name, (key, code) in BOUNDARY_FILES.items():
        read_boundaries(raw, cat, key, code, set(lsoa[code])).to_parquet(out / name)
    return list(BOUNDARY_FILES)
