"""National postcodes: every publisher's layout read into one table, each English postcode in its LSOA 2021.

    raw folder  ->  postcodes.sqlite
        postcode   every English postcode with a grid reference: point (BNG and WGS84), LSOA 2011 where a
                   source carries it, LSOA 2021, how that LSOA was found, which release it came from
        elsewhere  postcodes, sectors and districts of Wales, Scotland and Northern Ireland (and English
                   postcodes with no grid reference), so a search can say "covers England" instead of "unknown"
        sector, outward   postcode sector and district points, the mean of their English postcodes
        release, meta     the files read, their vintages, and the LSOA agreement figures

Readers, one per publisher layout, each giving the same canonical frame (`COLUMNS`):
- `read_nspl`: ONS NSPL or ONSPD (the national CSV, its zip, or a subset such as the 9-area NSPL here);
  terminated postcodes (doterm set) are kept as "not live" rows so that a newer file can retire a postcode.
- `read_codepoint`: OS Code-Point Open as Ordnance Survey ships it, the zip (`codepo_gb.zip`) or its unzipped
  folder: `Data/CSV/<area>.csv` with no header row, the header in `Doc/Code-Point_Open_Column_Headers.csv`,
  the release in `Doc/metadata.txt`. Each area file's row count is checked against metadata.txt. Postcodes
  with Positional_quality_indicator 90 have no coordinates (0, 0): they never get a point.

Newest wins, per postcode. Each file's vintage is a date:
- Code-Point: metadata.txt's COPYRIGHT DATE (2025.4.0 -> 2025-10-20); without it, RM UPDATE DATE.
- NSPL/ONSPD: the month and year in the file name (NSPL_MAY_2025_UK.csv, nspl_nov2021_subset... -> the 1st of
  that month); a file whose name has none is dated by its newest dointr (month of introduction) instead.
- A file with no date at all ranks below every dated one. Equal dates: the later file in name order wins.
For each postcode the row of the newest file that has it is used (its point, country and whether it is still
live); a postcode that only an older file has is kept at that file's point. Latitude and longitude: ONS's
(NSPL/ONSPD convert with OSTN15) when a row with that very grid reference has them, else converted here from
the grid reference with pyproj (Helmert: within ~2 m, as no OSTN15 grid is installed offline). Postcodes the winning row marks
terminated are dropped. LSOA 2011 and 2021 codes published by ONS are taken from the newest file that carries
them (they are fixed geographies), whichever file supplied the point.

LSOA 2021 of each English postcode (`assign_lsoa21`):
1. from the ONS file when one carries it (NSPL/ONSPD since 2021 have lsoa21): `lsoa21_from = "ons"`;
2. else the LSOA 2021 polygon that contains the postcode's point (ONS BSC boundaries projected to BNG,
   point in polygon with a shapely STRtree over all points at once): `"polygon"`;
3. a point outside every polygon (the generalised coastline and estuaries cut off some seafront postcodes)
   takes the nearest polygon within 2 km: `"nearest polygon"`; beyond that (none in Code-Point 2025.4), the
   LSOA with the nearest population-weighted centroid: `"nearest centroid"`.
Agreement (`lsoa_agreement`) is measured on the postcodes whose LSOA ONS published: an LSOA 2011 is carried
to 2021 with the ONS best-fit lookup; for an unchanged (U) or merged (M) LSOA there is exactly one 2021 LSOA
and the test is equality; for a split (S) or irregular change (X) the assigned 2021 LSOA must be one of the
2011 LSOA's successors (a weaker test: the split itself is not checked). Both rates are stored in `meta`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sqlite3
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .crs import TO_BNG, TO_WGS84
from .sources import Catalogue, DataError, Source, column_map, find_files, list_files, read_csv

Progress = Callable[[float, str], None]


ENGLAND = "E92000001"
COUNTRY_NAMES = {
    "E92000001": "England", "W92000004": "Wales", "S92000003": "Scotland", "N92000002": "Northern Ireland",
    "L93000001": "the Channel Islands", "M83000003": "the Isle of Man",
}
#: the canonical frame every reader returns
COLUMNS = ["pcd", "pcds", "x", "y", "lat", "lon", "ctry", "live", "lsoa11", "lsoa21"]
#: a nearest polygon further than this is not trusted; the nearest population-weighted centroid is used
NEAREST_POLYGON_M = 2_000.0
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_MONTH_YEAR = re.compile(r"(?<![a-z])(" + "|".join(_MONTHS) + r")[a-z]*[_\- ]?((?:19|20)\d\d)(?!\d)")


@dataclass
class Release:
    """One postcode file as read: its layout, its vintage and its rows (canonical columns)."""

    kind: str  # "codepoint" or "nspl"
    name: str  # the file or folder, relative to the raw folder
    vintage: dt.date | None
    label: str  # e.g. "OS Code-Point Open 2025.4.0 (20 Oct 2025)"
    frame: pd.DataFrame

    @property
    def sort_key(self) -> tuple:
        return (self.vintage or dt.date.min, self.name)


def normalise_postcode(s: pd.Series) -> pd.Series:
    return s.str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)


def isin(values: pd.Series, among: pd.Series) -> np.ndarray:
    """`values.isin(among)` as a boolean array, by Arrow's hash kernel (pandas' isin on Arrow-backed
    strings builds Python lists: 7x slower on 1.5 million postcodes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.is_in(pa.array(values), value_set=pa.array(among)).to_numpy(zero_copy_only=False).astype(bool)


def _compact(s: pd.Series) -> pd.Series:
    """'WR1 1AA' -> 'WR11AA', fast for files already in capitals (Code-Point): no regex per row."""
    out = s.str.replace(" ", "", regex=False)
    odd = ~out.str.fullmatch("[A-Z0-9]+").fillna(False)
    return out.where(~odd, normalise_postcode(s)) if odd.any() else out


def _display(pcd: pd.Series) -> pd.Series:
    """'WR11AA' -> 'WR1 1AA' (one space before the inward code, however the file spaced it)."""
    return pcd.str[:-3] + " " + pcd.str[-3:]


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    for c in COLUMNS:
        if c not in df:
            df[c] = None
    return df[COLUMNS]


# ---------------------------------------------------------------- NSPL / ONSPD


def nspl_vintage(path: Path, dointr: pd.Series | None = None) -> dt.date | None:
    """The 1st of the month named in the file name; else of the newest dointr (YYYYMM) in the file."""
    m = _MONTH_YEAR.search(path.name.lower())
    if m:
        return dt.date(int(m[2]), _MONTHS[m[1]], 1)
    if dointr is not None:
        months = pd.to_numeric(dointr, errors="coerce").dropna()
        months = months[(months > 190000) & (months < 210000)]
        if len(months):
            top = int(months.max())
            return dt.date(top // 100, top % 100, 1)
    return None


def read_nspl(source: Source, path: Path, raw: Path) -> Release:
    """An NSPL or ONSPD file (CSV, .gz or zip), terminated postcodes kept as not live."""
    df = read_csv(source, path)
    df = df.assign(pcd=normalise_postcode(df.pcds.fillna("")))
    df = df[df.pcd.str.len() >= 5]
    term = df.doterm.fillna("").str.strip()
    x, y = (pd.to_numeric(df[c], errors="coerce") for c in ("x", "y"))
    no_grid = df["quality"].fillna("").str.strip() == "9" if "quality" in df else False
    has_point = x.notna() & y.notna() & (x > 0) & (y > 0) & ~no_grid
    df = df.assign(x=x.where(has_point), y=y.where(has_point), live=term == "")
    for c in ("lat", "long"):
        df[c] = pd.to_numeric(df[c], errors="coerce") if c in df else np.nan
    bad = df.lat.isna() | (df.lat > 90) | ~has_point  # NSPL puts 99.999999 where there is no location
    df["lat"], df["lon"] = df.lat.where(~bad), df.long.where(~bad)
    df["ctry"] = df["ctry"].fillna("").str.strip() if "ctry" in df else ""
    for c in ("lsoa11", "lsoa21"):
        if c in df:
            df[c] = df[c].where(df[c].fillna("").str.strip() != "")
    vintage = nspl_vintage(path, df.get("dointr"))
    when = vintage.strftime("%b %Y") if vintage else "undated"
    what = "ONSPD" if "onspd" in path.name.lower() else "NSPL"
    return Release("nspl", _rel(path, raw), vintage, f"ONS {what} ({when}, {path.name})", _canonical(df))


# ---------------------------------------------------------------- Code-Point Open


class _Zip:
    """Code-Point as shipped: members read straight from the zip."""

    def __init__(self, path: Path):
        self.zf = zipfile.ZipFile(path)
        self.names = {n.lower(): n for n in self.zf.namelist()}

    def doc(self, name: str) -> str | None:
        key = next((k for k in self.names if k.endswith("doc/" + name.lower())), None)
        return self.zf.read(self.names[key]).decode("utf-8", "replace") if key else None

    def areas(self) -> list[tuple[str, Callable[[], io.BufferedIOBase]]]:
        out = []
        for low, name in sorted(self.names.items()):
            m = re.search(r"data/csv/([a-z]{1,2})\.csv$", low)
            if m:
                out.append((m[1].upper(), lambda name=name: self.zf.open(name)))
        return out


class _Folder:
    """The same, unzipped: <folder>/Data/CSV/<area>.csv and <folder>/Doc/."""

    def __init__(self, folder: Path, files: list[Path]):
        self.folder = folder
        self.files = files

    def doc(self, name: str) -> str | None:
        hit = next((p for p in self.files if p.parent.name.lower() == "doc" and p.name.lower() == name.lower()
                    and p.parent.parent == self.folder), None)
        return hit.read_text(encoding="utf-8", errors="replace") if hit else None

    def areas(self) -> list[tuple[str, Callable[[], io.BufferedIOBase]]]:
        out = []
        for p in sorted(self.files):
            if (p.parent.name.lower() == "csv" and p.parent.parent.name.lower() == "data"
                    and p.parent.parent.parent == self.folder and re.fullmatch(r"[a-z]{1,2}\.csv", p.name.lower())):
                out.append((p.stem.upper(), lambda p=p: open(p, "rb")))
        return out


def codepoint_metadata(text: str | None) -> tuple[dt.date | None, str, dict[str, int]]:
    """(vintage, version, rows per area) from Doc/metadata.txt."""
    if not text:
        return None, "", {}
    fields = dict(re.findall(r"^\s*([A-Z][A-Z ]+?):\s*(\S+)\s*$", text, flags=re.M))
    vintage = None
    for key in ("COPYRIGHT DATE", "RM UPDATE DATE"):
        if re.fullmatch(r"\d{8}", fields.get(key, "")):
            vintage = dt.datetime.strptime(fields[key], "%Y%m%d").date()
            break
    counts = {a: int(n) for a, n in re.findall(r"^\s*([A-Z]{1,2})\s+(\d+)\s*$", text, flags=re.M)}
    return vintage, fields.get("DATASET VERSION NUMBER", ""), counts


def codepoint_releases(source: Source, raw: Path, every: list[Path] | None = None) -> list[tuple[str, object]]:
    """Each Code-Point release in the raw folder: (name, reader), a zip or an unzipped folder."""
    every = list_files(raw) if every is None else every
    found = find_files(source, raw, every)
    out: list[tuple[str, object]] = []
    for p in found:
        if p.name.lower().endswith(".zip"):
            out.append((_rel(p, raw), _Zip(p)))
    for p in found:
        if p.name.lower() == "code-point_open_column_headers.csv" and p.parent.name.lower() == "doc":
            folder = p.parent.parent
            files = [f for f in every if folder in f.parents]
            out.append((_rel(folder, raw) or ".", _Folder(folder, files)))
    return out


def read_codepoint(source: Source, name: str, reader, raw: Path | None = None) -> Release:
    """One Code-Point Open release (zip or folder) to the canonical frame."""
    header_text = reader.doc("Code-Point_Open_Column_Headers.csv")
    if not header_text:
        raise DataError(f"{name}: no Doc/Code-Point_Open_Column_Headers.csv, so the columns are unknown")
    # two rows: short codes (PC, PQ, ...) then names (Postcode, Positional_quality_indicator, ...)
    rows = [r for r in pd.read_csv(io.StringIO(header_text), header=None, dtype=str).values.tolist()]
    names = [str(h).strip() for h in rows[-1]]
    mapping = column_map(source, names, Path(name))
    wanted = {names.index(h): c for h, c in mapping.items()}
    vintage, version, counts = codepoint_metadata(reader.doc("metadata.txt"))
    areas = reader.areas()
    if not areas:
        raise DataError(f"{name}: no Data/CSV/<area>.csv files")
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # Arrow's CSV reader: twice as fast as pandas' on these 120 files, same values
    column_names = [wanted.get(i, f"_{i}") for i in range(len(names))]
    types = {"pcds": pa.string(), "ctry": pa.string(), "quality": pa.float64(), "x": pa.float64(),
             "y": pa.float64()}
    options = dict(
        read_options=pacsv.ReadOptions(column_names=column_names, use_threads=False),
        convert_options=pacsv.ConvertOptions(include_columns=list(wanted.values()),
                                             column_types={c: types[c] for c in wanted.values()}),
    )
    tables = []
    for area, opener in areas:
        with opener() as f:
            try:
                table = pacsv.read_csv(f, **options)
            except pa.ArrowInvalid as e:
                raise DataError(f"{name}: Data/CSV/{area.lower()}.csv could not be read ({e})") from e
        if area in counts and table.num_rows != counts[area]:
            raise DataError(f"{name}: Data/CSV/{area.lower()}.csv has {table.num_rows:,} rows but "
                            f"Doc/metadata.txt says {counts[area]:,}: is the file complete?")
        tables.append(table)
    df = pa.concat_tables(tables).to_pandas()
    quality = df.pop("quality")
    has_point = (quality != 90) & (df.x > 0) & (df.y > 0)
    pcd = _compact(df.pcds)
    df = df.assign(pcd=pcd, pcds=_display(pcd), x=df.x.where(has_point), y=df.y.where(has_point), live=True)
    label = f"OS Code-Point Open {version or ''} ({vintage:%d %b %Y})" if vintage else "OS Code-Point Open (undated)"
    return Release("codepoint", name, vintage, label.replace("  ", " "), _canonical(df))


# ---------------------------------------------------------------- all sources, newest wins


def read_releases(raw: Path, cat: Catalogue, say: Progress | None = None) -> list[Release]:
    """Every postcode file in the raw folder, each read by its layout's reader, oldest first."""
    say = say or (lambda f, m: None)
    every = list_files(raw)
    releases = []
    for name, reader in codepoint_releases(cat["codepoint"], raw, every):
        say(0.0, f"reading {name} (Code-Point Open)")
        releases.append(read_codepoint(cat["codepoint"], name, reader, raw))
    for p in find_files(cat["postcodes"], raw, every):
        say(0.0, f"reading {_rel(p, raw)} (NSPL/ONSPD)")
        releases.append(read_nspl(cat["postcodes"], p, raw))
    if not releases:
        raise DataError(
            f"No postcode file in {raw}: put OS Code-Point Open (codepo_gb.zip, or its unzipped folder) or the "
            "ONS NSPL/ONSPD there. See README, Data."
        )
    return sorted(releases, key=lambda r: r.sort_key)


def combine(releases: list[Release]) -> pd.DataFrame:
    """One row per postcode: the newest release's row (rule in the module docstring), plus `src`, the
    release's index in `releases`. ONS LSOA codes come from the newest release that carries them."""
    newest_first = sorted(range(len(releases)), key=lambda i: releases[i].sort_key, reverse=True)
    parts, seen = [], None
    for i in newest_first:
        f = releases[i].frame.drop_duplicates("pcd", keep="last")
        if seen is not None:
            f = f[~isin(f.pcd, seen)]
        parts.append(f.assign(src=i))
        seen = f.pcd if seen is None else pd.concat([seen, f.pcd], ignore_index=True)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    for col in ("lsoa11", "lsoa21"):
        for i in newest_first:
            f = releases[i].frame
            known = f[f[col].notna()]
            if len(known):
                fill = df[col].isna().to_numpy() & isin(df.pcd, known.pcd)
                df.loc[fill, col] = df.pcd[fill].map(known.drop_duplicates("pcd").set_index("pcd")[col])
    # Code-Point has no latitude/longitude: take ONS's (converted with OSTN15) where an older NSPL row has
    # exactly the same grid reference, else postcode_points converts the grid reference itself
    for i in newest_first:
        f = releases[i].frame
        known = f[f.lat.notna() & f.x.notna()]
        fill = df.lat.isna().to_numpy() & df.x.notna().to_numpy()
        if len(known) and fill.any():
            fill &= isin(df.pcd, known.pcd)
            k = known.drop_duplicates("pcd").set_index("pcd").reindex(df.pcd[fill])
            same = (k.x.to_numpy() == df.x[fill].to_numpy()) & (k.y.to_numpy() == df.y[fill].to_numpy())
            rows = np.flatnonzero(fill)[same]
            df.loc[df.index[rows], "lat"] = k.lat.to_numpy()[same]
            df.loc[df.index[rows], "lon"] = k.lon.to_numpy()[same]
    return df


def postcode_points(raw: Path, cat: Catalogue, combined: pd.DataFrame | None = None) -> pd.DataFrame:
    """Live English postcodes with a grid reference, newest source first (canonical columns + src)."""
    df = combine(read_releases(raw, cat)) if combined is None else combined
    df = df[df.live & df.x.notna() & ((df.ctry == ENGLAND) | (df.ctry.fillna("") == ""))]
    df = df.assign(x=df.x.astype(float), y=df.y.astype(float))
    missing = df.lat.isna() | df.lon.isna()
    if missing.any():
        lon, lat = TO_WGS84.transform(df.x.to_numpy()[missing.to_numpy()], df.y.to_numpy()[missing.to_numpy()])
        df.loc[missing, "lon"], df.loc[missing, "lat"] = np.round(lon, 6), np.round(lat, 6)
    df["ctry"] = df.ctry.where(df.ctry.fillna("") != "", ENGLAND)
    return df.sort_values("pcd", ignore_index=True)


def elsewhere(combined: pd.DataFrame, english: pd.DataFrame) -> pd.DataFrame:
    """Live postcodes outside England (and English ones with no grid reference), with the sectors and
    districts that hold no English postcode: code, ctry, kind ('postcode', 'sector', 'district')."""
    live = combined[combined.live & (combined.ctry.fillna("") != "")]
    other = live[(live.ctry != ENGLAND) | live.x.isna()]  # not in `english`, by its definition
    rows = [other.assign(code=other.pcd, kind=np.where(other.ctry == ENGLAND, "no grid reference", "postcode"))]
    abroad = live[live.ctry != ENGLAND]
    for kind, key_len in (("sector", 2), ("district", 3)):
        keys = abroad.pcd.str[:-key_len]
        ours = english.pcd.str[:-key_len].unique()
        # a sector or district with no English postcode: the country of its first postcode
        part = abroad.assign(code=keys)[~isin(keys, pd.Series(ours))].drop_duplicates("code")
        rows.append(part.assign(kind=kind))
    out = pd.concat(rows, ignore_index=True)[["code", "ctry", "kind"]]
    return out.drop_duplicates("code", ignore_index=True)


# ---------------------------------------------------------------- LSOA 2021


def read_lsoa_polygons(raw: Path, cat: Catalogue) -> gpd.GeoDataFrame:
    """English LSOA 2021 polygons in British National Grid metres, repaired."""
    source = cat["lsoa_boundaries"]
    path = find_files(source, raw)
    if not path:
        raise DataError(f"{source.title}: no file matching {', '.join(source.files)} in {raw}")
    gdf = gpd.read_file(path[0])
    mapping = column_map(source, [c for c in gdf.columns if c != gdf.geometry.name], path[0])
    gdf = gdf.rename(columns=mapping)
    gdf = gdf[gdf.lsoa21_code.str.startswith("E")][["lsoa21_code", gdf.geometry.name]]
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    gdf = gdf.to_crs(27700)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    return gdf.reset_index(drop=True)


def assign_lsoa21(x: np.ndarray, y: np.ndarray, polygons: gpd.GeoDataFrame,
                  centroids: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(LSOA 2021 code, method) of each BNG point: containing polygon, else nearest polygon within
    NEAREST_POLYGON_M, else the LSOA of the nearest population-weighted centroid (`centroids`:
    lsoa21_code, x, y)."""
    codes = polygons.lsoa21_code.to_numpy()
    tree = shapely.STRtree(polygons.geometry.values)
    pts = shapely.points(x, y)
    out = np.full(len(pts), None, dtype=object)
    how = np.full(len(pts), None, dtype=object)
    done = np.zeros(len(pts), dtype=bool)
    pi, gi = tree.query(pts, predicate="within")
    # a point on a shared edge lies in no polygon's interior; in overlaps (none in BSC) the first wins
    first = np.unique(pi, return_index=True)[1]
    out[pi[first]], how[pi[first]], done[pi[first]] = codes[gi[first]], "polygon", True
    rest = np.flatnonzero(~done)
    if len(rest):
        (qi, ngi), _ = tree.query_nearest(pts[rest], max_distance=NEAREST_POLYGON_M, return_distance=True,
                                          all_matches=False)
        out[rest[qi]], how[rest[qi]], done[rest[qi]] = codes[ngi], "nearest polygon", True
    rest = np.flatnonzero(~done)
    if len(rest):
        _, idx = cKDTree(centroids[["x", "y"]].to_numpy(float)).query(np.column_stack([x[rest], y[rest]]))
        out[rest], how[rest] = centroids.lsoa21_code.to_numpy()[idx], "nearest centroid"
    return out, how


def lsoa_agreement(assigned: pd.DataFrame, lookup: pd.DataFrame) -> dict:
    """How often the assigned LSOA 2021 agrees with ONS's, on the postcodes ONS placed.

    `assigned`: pcd, lsoa21 (ours), method, lsoa11 and lsoa21_ons (either may be missing).
    `lookup`: lsoa11_code, lsoa21_code, change_code (ONS best fit, E+W).
    """
    out: dict = {}
    direct = assigned[assigned.lsoa21_ons.notna()]
    if len(direct):
        out["ons_lsoa21"] = {"n": len(direct), "agree": int((direct.lsoa21 == direct.lsoa21_ons).sum())}
    via = assigned[assigned.lsoa21_ons.isna() & assigned.lsoa11.notna()]
    via = via[via.lsoa11.isin(lookup.lsoa11_code)]
    if len(via):
        lk = lookup[["lsoa11_code", "lsoa21_code", "change_code"]].drop_duplicates(["lsoa11_code", "lsoa21_code"])
        m = via[["pcd", "lsoa11", "lsoa21", "method"]].merge(lk, left_on="lsoa11", right_on="lsoa11_code")
        hit = m.assign(ok=m.lsoa21 == m.lsoa21_code).groupby("pcd").agg(
            ok=("ok", "any"), n_succ=("lsoa21_code", "count"), change=("change_code", "first"),
            method=("method", "first"))
        single = hit[hit.n_succ == 1]
        out["ons_lsoa11"] = {
            "n": len(hit), "agree": int(hit.ok.sum()),
            "single_successor": {"n": len(single), "agree": int(single.ok.sum())},
            "by_change": {c: {"n": len(g), "agree": int(g.ok.sum())} for c, g in hit.groupby("change")},
            "by_method": {c: {"n": len(g), "agree": int(g.ok.sum())} for c, g in hit.groupby("method")},
        }
    n = sum(v["n"] for v in out.values())
    agree = sum(v["agree"] for v in out.values())
    out["n"], out["agree"] = n, agree
    out["rate"] = round(agree / n, 5) if n else None
    return out


def agreement_line(a: dict) -> str:
    if not a.get("n"):
        return "LSOA 2021 agreement: no postcode with an ONS LSOA to compare with"
    line = f"LSOA 2021 agreement with ONS: {a['rate']:.2%} of {a['n']:,} postcodes"
    s = a.get("ons_lsoa11", {}).get("single_successor")
    if s and s["n"]:
        line += f" ({s['agree'] / s['n']:.2%} of {s['n']:,} whose 2011 LSOA has one 2021 successor)"
    return line


# ---------------------------------------------------------------- sectors, districts, the SQLite file


def sector_points(pcs: pd.DataFrame, raw: Path, cat: Catalogue) -> pd.DataFrame:
    """Postcode sectors ('TF11' = TF1 1): the mean of their postcodes where we have them,
    else the mean of their LSOA 2011 points from the national sector table."""
    own = pcs.assign(sector=pcs.pcd.str[:-2]).groupby("sector", as_index=False).agg(
        x=("x", "mean"), y=("y", "mean"), n=("pcd", "count")
    )
    own["source"] = "postcodes"
    frames = [own]
    src = cat["postcode_sectors"]
    paths = find_files(src, raw)
    if paths:
        sec = read_csv(src, paths[0], dtype={"lat": float, "long": float})
        sec["sector"] = normalise_postcode(sec.sector)
        sec = sec.drop_duplicates(["sector", "lsoa11_code"])
        x, y = TO_BNG.transform(sec.long.to_numpy(), sec.lat.to_numpy())
        sec = sec.assign(x=x, y=y).groupby("sector", as_index=False).agg(
            x=("x", "mean"), y=("y", "mean"), n=("lsoa11_code", "count")
        )
        sec["source"] = "sector table"
        frames.append(sec[~sec.sector.isin(own.sector)])
    out = pd.concat(frames, ignore_index=True)
    lon, lat = TO_WGS84.transform(out.x.to_numpy(), out.y.to_numpy())
    return out.assign(lon=np.round(lon, 6), lat=np.round(lat, 6))


def build_postcodes(raw: Path, cat: Catalogue, path: Path, say: Progress | None = None) -> dict:
    """Read every postcode source, assign LSOAs, write `path` (atomically). Returns the meta record."""
    say = say or (lambda f, m: None)
    t0 = time.perf_counter()
    releases = read_releases(raw, cat, say)
    say(0.35, f"combining {len(releases)} postcode file(s), newest wins: "
        + "; ".join(r.label for r in reversed(releases)))
    combined = combine(releases)
    pcs = postcode_points(raw, cat, combined)
    other = elsewhere(combined, pcs)
    say(0.5, f"{len(pcs):,} English postcodes: LSOA 2021 by point in polygon")
    lsoa21, how = _lsoa21(pcs, raw, cat)
    ons21 = pcs.lsoa21.copy()
    pcs["lsoa21_from"] = np.where(ons21.notna(), "ons", how)
    pcs["lsoa21"] = ons21.where(ons21.notna(), lsoa21)
    lk_src = cat["lsoa11_lsoa21"]
    lk_paths = find_files(lk_src, raw)
    agreement = {}
    if lk_paths and lsoa21 is not None:
        check = pd.DataFrame({"pcd": pcs.pcd, "lsoa21": lsoa21, "method": how, "lsoa11": pcs.lsoa11,
                              "lsoa21_ons": ons21})
        agreement = lsoa_agreement(check, read_csv(lk_src, lk_paths[0]))
        say(0.7, agreement_line(agreement))
    sectors = sector_points(pcs, raw, cat)
    outward = sectors.assign(outward=sectors.sector.str[:-1]).groupby("outward", as_index=False).agg(
        x=("x", "mean"), y=("y", "mean"), lon=("lon", "mean"), lat=("lat", "mean"), n=("n", "sum")
    )
    say(0.8, f"writing {path.name}")
    meta = {
        "releases": [{"id": i, "kind": r.kind, "name": r.name, "label": r.label,
                      "vintage": r.vintage.isoformat() if r.vintage else None, "rows": len(r.frame)}
                     for i, r in enumerate(releases)],
        "newest": releases[-1].label,
        "n_english": len(pcs),
        # every English postcode area (about 105) has postcodes: not a partial file such as the 9-area NSPL
        "national": bool(pcs.pcd.str.extract(r"^([A-Z]+)")[0].nunique() >= 100),
        "n_elsewhere": int((other.kind == "postcode").sum()),
        "lsoa21_from": {k: int(v) for k, v in pcs.lsoa21_from.value_counts().items()},
        "agreement": agreement,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    _write_sqlite(path, pcs, other, sectors, outward, meta)
    return meta


def _lsoa21(pcs: pd.DataFrame, raw: Path, cat: Catalogue):
    if not find_files(cat["lsoa_boundaries"], raw):
        return None, np.full(len(pcs), None, dtype=object)
    polygons = read_lsoa_polygons(raw, cat)
    ce_src = cat["lsoa_centroids"]
    cent = read_csv(ce_src, find_files(ce_src, raw)[0], dtype={"x": float, "y": float})
    cent = cent[cent.lsoa21_code.str.startswith("E")]
    return assign_lsoa21(pcs.x.to_numpy(), pcs.y.to_numpy(), polygons, cent)


def _write_sqlite(path: Path, pcs, other, sectors, outward, meta) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        con.executescript(
            """
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE postcode (pcd TEXT PRIMARY KEY, pcds TEXT, x REAL, y REAL, lon REAL, lat REAL,
                                   ctry TEXT DEFAULT 'E92000001', lsoa11 TEXT, lsoa21 TEXT, lsoa21_from TEXT,
                                   src INTEGER) WITHOUT ROWID;
            CREATE TABLE elsewhere (code TEXT PRIMARY KEY, ctry TEXT, kind TEXT) WITHOUT ROWID;
            CREATE TABLE sector (sector TEXT PRIMARY KEY, x REAL, y REAL, lon REAL, lat REAL, n INTEGER,
                                 source TEXT) WITHOUT ROWID;
            CREATE TABLE outward (outward TEXT PRIMARY KEY, x REAL, y REAL, lon REAL, lat REAL, n INTEGER)
                                 WITHOUT ROWID;
            CREATE TABLE release (id INTEGER PRIMARY KEY, kind TEXT, name TEXT, label TEXT, vintage TEXT, rows INTEGER);
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
            """
        )
        # ctry is England for every row (its default); one bound value fewer per row
        cols = ["pcd", "pcds", "x", "y", "lon", "lat", "lsoa11", "lsoa21", "lsoa21_from", "src"]
        if not (pcs.ctry == ENGLAND).all():
            raise DataError("postcode table: a row outside England reached the English postcode table")
        con.executemany(f"INSERT INTO postcode ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                        zip(*(_sql_values(pcs[c]) for c in cols)))
        con.executemany("INSERT INTO elsewhere VALUES (?,?,?)", other.itertuples(index=False, name=None))
        con.executemany(
            "INSERT INTO sector VALUES (?,?,?,?,?,?,?)",
            sectors[["sector", "x", "y", "lon", "lat", "n", "source"]].itertuples(index=False, name=None),
        )
        con.executemany(
            "INSERT INTO outward VALUES (?,?,?,?,?,?)",
            outward[["outward", "x", "y", "lon", "lat", "n"]].itertuples(index=False, name=None),
        )
        con.executemany("INSERT INTO release VALUES (?,?,?,?,?,?)",
                        [(r["id"], r["kind"], r["name"], r["label"], r["vintage"], r["rows"])
                         for r in meta["releases"]])
        con.executemany("INSERT INTO meta VALUES (?,?)", [(k, json.dumps(v)) for k, v in meta.items()])
        con.commit()
    finally:
        con.close()
    tmp.replace(path)


def _sql_values(col: pd.Series) -> list:
    """A column as Python values for sqlite3, missing values as None (fast: no per-row pandas calls)."""
    if col.dtype.kind in "fiu":
        values = col.to_numpy(dtype=float if col.dtype.kind == "f" else np.int64).tolist()
        return [None if v != v else v for v in values] if col.dtype.kind == "f" and col.isna().any() else values
    return [None if v is None or v != v else v for v in col.tolist()]


def _rel(p: Path, raw: Path) -> str:
    try:
        return Path(p).relative_to(raw).as_posix()
    except ValueError:
        return str(p)
