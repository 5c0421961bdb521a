"""What changed since 2016 in the DfE register of children's centres (GIAS), by area.

Pure functions over the versions' frames (ingest.gias_cc.read_version gives each one):

    versions           {date: frame}  the open centres and linked sites of each version
    centre_spans       per URN: first and last version listing it, the first version it was
                       missing from, and where it is (its postcode, placed on the national
                       postcode table, and that postcode's LSOA and areas)
    lsoa_reach         per LSOA: straight-line distance to the nearest listed centre in the
                       earliest version and now (the newest version), within reach then / now
    area_history       per area of a kind (area_kinds): listed_then, listed_now,
                       no_longer_listed, newly_listed, under5_within_then/now (overall and in
                       IMD deciles 1-2), first_version, last_version
    listed_by_version  per version: centres listed in an area and in England, both indexed to
                       the first version (= 100)
    lost_reach         the LSOAs of an area that had a listed centre within reach then and not
                       now, ranked by their deprived under-5s

Matching is by URN only: a centre keeps its URN through renames and moves, and a URN that
disappears is "no longer listed" from the first version without it. A URN missing from a
middle version and back later counts as listed in both the earliest and the newest version.
"Centres" here are every open children's centre and linked site (GIAS types 47 and 48).

GIAS lags local closures and changes of use (a centre turned into a family hub, or closed by
the council, may stay listed for years), so "no longer listed" is a floor, not a census.

A centre whose postcode is not in the postcode table (often a retired postcode) cannot be
placed: it counts in England's row and is listed in the notes, never dropped silently.
Distances: British National Grid metres, KD-tree; a centre sits at its postcode's point.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .access import DEFAULT_RADIUS_KM
from .area_kinds import ENGLAND_CODE, KINDS, with_country
from .ingest import gias_cc
from .under5 import BRIDGED, label, source_of

FILE_RE = re.compile(r"edubaseallchildrencentre(\d{8})\.csv(\.gz)?$", re.I)
HISTORY_LEVELS = ("utla", "district", "icb", "region", "england")
FLOOR_NOTE = ("GIAS lags local closures and changes of use, so 'no longer listed' is a floor, not a census: "
              "some centres still listed have closed or become something else.")


def version_files(raw: Path) -> dict[date, Path]:
    """Every children's centres extract under `raw` (history folder and the newest one), by date."""
    out: dict[date, Path] = {}
    for p in sorted(Path(raw).rglob("edubaseallchildrencentre*.csv*")):
        m = FILE_RE.search(p.name)
        if m and not p.name.lower().startswith("links_"):
            d = date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:]))
            out.setdefault(d, p)
    return dict(sorted(out.items()))


def read_versions(files: dict[date, Path]) -> dict[date, pd.DataFrame]:
    """The open centres and linked sites of each version (urn, name, kind, postcode, la_name)."""
    out = {}
    for d, p in files.items():
        df = gias_cc.open_rows(gias_cc.read_version(p))
        out[d] = df[["urn", "name", "kind", "postcode", "la_name"]].drop_duplicates("urn").reset_index(drop=True)
    return out


def normalise_postcode(pc: pd.Series) -> pd.Series:
    return pc.fillna("").astype(str).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)


def postcode_points(sqlite_path: Path, postcodes) -> pd.DataFrame:
    """pcd (compact) -> x, y, lon, lat, lsoa21 from the built postcodes.sqlite (only those found)."""
    wanted = sorted({p for p in postcodes if p})
    rows = []
    con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            q = f"SELECT pcd, x, y, lon, lat, lsoa21 FROM postcode WHERE pcd IN ({','.join('?' * len(chunk))})"
            rows += con.execute(q, chunk).fetchall()
    finally:
        con.close()
    return pd.DataFrame(rows, columns=["pcd", "x", "y", "lon", "lat", "lsoa21"])


def centre_spans(versions: dict[date, pd.DataFrame]) -> pd.DataFrame:
    """One row per URN ever listed: urn, name, kind, postcode, la_name (from its last listing),
    first_version, last_version, first_missing (the first version after last_version; NaT while
    listed now), listed_then (in the earliest version), listed_now (in the newest), versions_listed."""
    dates = list(versions)
    long = pd.concat([v.assign(version=d) for d, v in versions.items()], ignore_index=True)
    long = long.sort_values(["urn", "version"], kind="stable")
    g = long.groupby("urn", sort=True)
    last = g.tail(1).set_index("urn")
    out = pd.DataFrame({
        "name": last["name"], "kind": last["kind"], "postcode": last["postcode"], "la_name": last["la_name"],
        "first_version": g.version.min(), "last_version": g.version.max(), "versions_listed": g.version.size(),
    })
    nxt = {d: dates[i + 1] for i, d in enumerate(dates[:-1])}
    out["first_missing"] = [nxt.get(d) for d in out.last_version]
    out["listed_then"] = out.index.isin(set(versions[dates[0]].urn))
    out["listed_now"] = out.index.isin(set(versions[dates[-1]].urn))
    return out.reset_index()


def place(spans: pd.DataFrame, points: pd.DataFrame, lsoa: pd.DataFrame, lsoa_of_points=None) -> pd.DataFrame:
    """spans with x, y, lon, lat, lsoa21_code and the LSOA's areas (NaN where the postcode is not
    in the table). A postcode without an LSOA gets the nearest LSOA centroid's (lsoa_of_points)."""
    s = spans.assign(pcd=normalise_postcode(spans.postcode))
    s = s.merge(points.drop_duplicates("pcd"), on="pcd", how="left")
    s["placed"] = s.x.notna()
    code = s.lsoa21.where(s.lsoa21.fillna("").str.startswith("E01"))
    need = s.placed & code.isna()
    if need.any() and lsoa_of_points is not None:
        code.loc[need] = lsoa_of_points(s.x[need].to_numpy(float), s.y[need].to_numpy(float))
    s["lsoa21_code"] = code
    cols = [c for k in KINDS.values() if k.key != "england" for c in k.columns] + ["imd_decile"]
    got = lsoa.set_index("lsoa21_code")[cols].reindex(s.lsoa21_code.to_numpy()).reset_index(drop=True)
    s = pd.concat([s.drop(columns=["lsoa21", "pcd"]).reset_index(drop=True), got], axis=1)
    return with_country(s)


def _nearest_km(lsoa: pd.DataFrame, centres: pd.DataFrame) -> np.ndarray:
    if len(centres) == 0:
        return np.full(len(lsoa), np.inf)
    d, _ = cKDTree(centres[["x", "y"]].to_numpy(float)).query(lsoa[["x", "y"]].to_numpy(float), k=1)
    return d / 1000.0


def lsoa_reach(lsoa: pd.DataFrame, placed: pd.DataFrame, radius_km: float = DEFAULT_RADIUS_KM) -> pd.DataFrame:
    """Per LSOA (rows of Areas.lsoa, same order): nearest_then_km, nearest_now_km (to a listed
    centre in the earliest and the newest version), within_then, within_now."""
    ok = placed[placed.placed]
    out = with_country(lsoa).reset_index(drop=True).copy()
    out["nearest_then_km"] = _nearest_km(out, ok[ok.listed_then])
    out["nearest_now_km"] = _nearest_km(out, ok[ok.listed_now])
    out["within_then"] = out.nearest_then_km <= radius_km
    out["within_now"] = out.nearest_now_km <= radius_km
    return out


HISTORY_COLUMNS = ["listed_then", "listed_now", "no_longer_listed", "newly_listed", "under5_within_then",
                   "under5_within_now", "under5_imd1_2", "under5_imd1_2_within_then", "under5_imd1_2_within_now",
                   "first_version", "last_version"]


def area_history(placed: pd.DataFrame, reach: pd.DataFrame, level: str, dates: list[date]) -> pd.DataFrame:
    """One row per area of `level` (a key of HISTORY_LEVELS): <level>_code, <level>_name and
    HISTORY_COLUMNS. England's row also counts the centres that cannot be placed."""
    k = KINDS[level]
    r = reach
    u5 = pd.to_numeric(r.under5, errors="coerce").fillna(0.0)
    dep = r.imd_decile.isin([1, 2]).to_numpy(bool)
    per = pd.DataFrame({
        "code": r[k.code], "name": r[k.name],
        "under5_within_then": np.where(r.within_then, u5, 0.0), "under5_within_now": np.where(r.within_now, u5, 0.0),
        "under5_imd1_2": np.where(dep, u5, 0.0),
        "under5_imd1_2_within_then": np.where(dep & r.within_then, u5, 0.0),
        "under5_imd1_2_within_now": np.where(dep & r.within_now, u5, 0.0),
    }).groupby(["code", "name"], sort=True).sum().reset_index()
    c = placed if level == "england" else placed[placed.placed]
    counts = pd.DataFrame({
        "code": c[k.code].fillna(ENGLAND_CODE) if level == "england" else c[k.code],
        "listed_then": c.listed_then.astype(int), "listed_now": c.listed_now.astype(int),
        "no_longer_listed": (c.listed_then & ~c.listed_now).astype(int),
        "newly_listed": (~c.listed_then & c.listed_now).astype(int),
    }).groupby("code").sum()
    out = per.merge(counts, left_on="code", right_index=True, how="left")
    for col in ("listed_then", "listed_now", "no_longer_listed", "newly_listed"):
        out[col] = out[col].fillna(0).astype(np.int64)
    for col in [c for c in out if c.startswith("under5")]:
        out[col] = out[col].round(2)
    out["first_version"] = dates[0].isoformat()
    out["last_version"] = dates[-1].isoformat()
    out = out.rename(columns={"code": f"{level}_code", "name": f"{level}_name"})
    return out[[f"{level}_code", f"{level}_name"] + HISTORY_COLUMNS]


def listed_by_version(versions: dict[date, pd.DataFrame], placed: pd.DataFrame, level: str, code: str) -> pd.DataFrame:
    """Per version: centres listed in the area (placed by their latest postcode) and in England,
    and both indexed to the first version (100)."""
    k = KINDS[level]
    where = placed.set_index("urn")[k.code] if level != "england" else None
    rows = []
    for d, v in versions.items():
        n_eng = len(v)
        n_area = n_eng if where is None else int((where.reindex(v.urn).to_numpy() == code).sum())
        rows.append({"version": d, "area": n_area, "england": n_eng})
    out = pd.DataFrame(rows)
    for c in ("area", "england"):
        first = out[c].iloc[0]
        out[f"{c}_index"] = np.where(first > 0, 100.0 * out[c] / (first or 1), np.nan)
    return out


def lost_reach(reach: pd.DataFrame, level: str, code: str, deciles=(1, 2)) -> pd.DataFrame:
    """LSOAs of the area with a listed centre within reach in the earliest version and none now,
    ranked by deprived under-5s (under-5s in IMD `deciles`; others 0), then all under-5s."""
    k = KINDS[level]
    r = reach if level == "england" else reach[reach[k.code] == code]
    r = r[r.within_then & ~r.within_now].copy()
    u5 = pd.to_numeric(r.under5, errors="coerce").fillna(0.0)
    r["deprived_under5"] = np.where(r.imd_decile.isin(list(deciles)), u5, 0.0).round(2)
    r["under5"] = u5.round(2)
    r = r.sort_values(["deprived_under5", "under5", "lsoa21_code"], ascending=[False, False, True], kind="stable")
    r.insert(0, "rank", np.arange(1, len(r) + 1))
    cols = ["rank", "lsoa21_code", "lsoa21_name", "ltla24_name", "utla23_name", "imd_decile", "under5",
            "deprived_under5", "nearest_then_km", "nearest_now_km"]
    out = r[cols].reset_index(drop=True)
    out["nearest_then_km"] = out.nearest_then_km.round(3)
    out["nearest_now_km"] = out.nearest_now_km.replace(np.inf, np.nan).round(3)
    return out


@dataclass
class History:
    """Everything the page and the command line show, computed once."""

    dates: list[date]
    versions: dict[date, pd.DataFrame]
    placed: pd.DataFrame  # centre_spans + place
    reach: pd.DataFrame  # lsoa_reach
    radius_km: float
    under5_source: str = BRIDGED  # which under-5 counts the build used (under5.py)

    @property
    def unplaced(self) -> pd.DataFrame:
        return self.placed[~self.placed.placed][["urn", "name", "postcode", "la_name", "first_version",
                                                  "last_version", "listed_now"]]

    def notes(self) -> list[str]:
        un = self.unplaced
        out = [FLOOR_NOTE,
               f"Versions of the register: {', '.join(d.isoformat() for d in self.dates)}; matched by URN; "
               "centres are open children's centres and linked sites.",
               f"Within reach: a listed centre within {self.radius_km:g} km in a straight line of the LSOA's "
               f"population-weighted centre; under-5s are {label(self.under5_source)}."]
        if len(un):
            out.append(f"{len(un)} centres could not be placed (postcode not in the postcode table, often retired); "
                       "they count in England's row only: "
                       + "; ".join(f"URN {r['urn']} {r['name']} ({r['postcode'] or 'no postcode'})"
                                   for r in un.fillna("").to_dict("records")))
        return out

    def table(self, level: str) -> pd.DataFrame:
        if level not in HISTORY_LEVELS:
            raise ValueError(f"level must be one of {', '.join(HISTORY_LEVELS)} (got {level!r})")
        return area_history(self.placed, self.reach, level, self.dates)


def history(versions: dict[date, pd.DataFrame], lsoa: pd.DataFrame, postcodes_sqlite: Path,
            radius_km: float = DEFAULT_RADIUS_KM, lsoa_of_points=None) -> History:
    spans = centre_spans(versions)
    points = postcode_points(postcodes_sqlite, normalise_postcode(spans.postcode))
    placed = place(spans, points, lsoa, lsoa_of_points)
    return History(list(versions), versions, placed, lsoa_reach(lsoa, placed, radius_km), radius_km,
                   source_of(lsoa))


def load(raw: Path, areas, radius_km: float = DEFAULT_RADIUS_KM) -> History:
    """From the raw folder's extracts and the built areas (Areas)."""
    files = version_files(raw)
    if len(files) < 2:
        raise FileNotFoundError(f"{raw}: fewer than two GIAS children's centres extracts "
                                "(edubaseallchildrencentreYYYYMMDD.csv[.gz]) to compare")
    return history(read_versions(files), areas.lsoa, areas.folder / "postcodes.sqlite", radius_km,
                   areas.lsoa_of_points)


# ---------------------------------------------------------------- files


def unplaced_table(h: History) -> pd.DataFrame:
    u = h.unplaced.copy()
    for c in ("first_version", "last_version"):
        u[c] = [d.isoformat() for d in u[c]]
    return u.reset_index(drop=True)


def write(h: History, level: str, path: Path, fmt: str | None = None) -> list[Path]:
    """The area table of `level` as CSV (with NAME.notes.txt beside it: the notes and every centre
    that could not be placed) or XLSX (sheets: the table, notes, unplaced). Every text cell is
    spreadsheet-safe (text.spreadsheet_safe_frame)."""
    from .text import spreadsheet_safe_frame

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    table = spreadsheet_safe_frame(h.table(level))
    notes = h.notes()
    unplaced = spreadsheet_safe_frame(unplaced_table(h))
    if fmt == "csv":
        table.to_csv(path, index=False)
        side = path.with_name(path.stem + ".notes.txt")
        lines = notes[:-1] if len(unplaced) else notes
        body = "\n".join(lines) + "\n"
        if len(unplaced):
            body += (f"\n{len(unplaced)} centres could not be placed (postcode not in the postcode table); "
                     "they count in England's row only:\n" + unplaced.to_csv(index=False))
        side.write_text(body, encoding="utf-8")
        return [path, side]
    if fmt == "xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as xw:
            table.to_excel(xw, sheet_name=level, index=False)
            pd.DataFrame({"note": notes}).pipe(spreadsheet_safe_frame).to_excel(xw, sheet_name="notes", index=False)
            unplaced.to_excel(xw, sheet_name="unplaced", index=False)
        return [path]
    raise ValueError(f"format must be csv or xlsx (got {fmt!r})")


# ---------------------------------------------------------------- map


def centres_map(placed: pd.DataFrame, level: str, code: str, outline=None):
    """Centres of an area on a map: still listed (small green dots) and no longer listed (larger
    white circles with a thick dark-red ring, labelled with the first version without them).
    Every name is escaped."""
    import folium

    from . import text
    from .choropleth import Legend, rounded_geojson
    from .maps import base_map, finish

    k = KINDS[level]
    c = placed[placed.placed & (placed.listed_then | placed.listed_now)]
    if level != "england":
        c = c[c[k.code] == code]
    lat = float(c.lat.mean()) if len(c) else 52.8
    lon = float(c.lon.mean()) if len(c) else -1.6
    m = base_map(lat, lon, zoom=10 if level != "england" else 6)
    if outline is not None and len(outline):
        folium.GeoJson(rounded_geojson(outline.geometry.union_all(), 4), name="Boundary",
                       style_function=lambda f: {"fill": False, "color": "#000000", "weight": 2},
                       interactive=False).add_to(m)
    still = folium.FeatureGroup(name="Still listed", control=False)
    gone = folium.FeatureGroup(name="No longer listed", control=False)
    for r in c.to_dict("records"):
        at = [round(float(r["lat"]), 5), round(float(r["lon"]), 5)]
        if r["listed_now"]:
            folium.CircleMarker(at, radius=4, color="#ffffff", weight=1, fill=True, fill_color="#1a9850",
                                fill_opacity=1.0, tooltip=text.esc(f"{r['name']} (listed)")).add_to(still)
        else:
            missing = r["first_missing"].isoformat() if r["first_missing"] is not None else "?"
            folium.CircleMarker(at, radius=7, color="#7f0000", weight=3, fill=True, fill_color="#ffffff",
                                fill_opacity=0.9,
                                tooltip=text.esc(f"{r['name']}: no longer listed from the {missing} version "
                                                 f"(last listed {r['last_version'].isoformat()})")).add_to(gone)
    still.add_to(m)
    gone.add_to(m)
    Legend("Children's centres (GIAS)", [("#1a9850", "still listed"),
                                         ("#ffffff", "no longer listed (dark-red ring)")]).add_to(m)
    if len(c):
        m.fit_bounds([[float(c.lat.min()), float(c.lon.min())], [float(c.lat.max()), float(c.lon.max())]])
    return finish(m)
