"""National postcodes from OS Code-Point Open (zip and unzipped folder) and NSPL, newest wins, LSOA 2021 of
each postcode: checked against the official files read directly in the test (Python's csv module)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import sqlite3
import zipfile

import numpy as np
import pandas as pd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from directory import text
from directory.manifest import build_inputs
from directory.geocode import LocateError, locate, parse_postcode
from directory.postcodes import combine, nspl_vintage, read_releases
from directory.sources import DataError, catalogue

ZIP = "codepo_gb.zip"
AREAS = ["wr", "ng", "pl", "tf", "cf", "eh"]  # Worcester, Nottingham, Plymouth, Telford, Cardiff, Edinburgh


@pytest.fixture(scope="module")
def codepoint_rows(raw) -> dict[str, list[list[str]]]:
    """The raw rows of a few area files, straight from the zip."""
    with zipfile.ZipFile(raw / ZIP) as zf:
        return {a: list(csv.reader(io.TextIOWrapper(zf.open(f"Data/CSV/{a}.csv"), encoding="utf-8")))
                for a in AREAS}


def english_points(rows) -> dict[str, tuple[float, float]]:
    """Postcode -> (easting, northing) of English rows with coordinates (quality 90 has none)."""
    return {r[0].replace(" ", ""): (float(r[2]), float(r[3])) for r in rows if r[4] == "E92000001" and r[1] != "90"}


def db(areas) -> sqlite3.Connection:
    return sqlite3.connect(areas.postcodes.path)


def test_every_english_codepoint_postcode_is_searchable_at_its_grid_reference(areas, raw, codepoint_rows):
    con = db(areas)
    for area in ["wr", "ng", "pl", "tf"]:
        expected = english_points(codepoint_rows[area])
        got = {pcd: (x, y) for pcd, x, y in con.execute(
            "SELECT pcd, x, y FROM postcode WHERE src = (SELECT id FROM release WHERE kind = 'codepoint') "
            "AND pcd GLOB ?", (area.upper() + "[0-9]*",))}
        assert got == expected, area
    # the zip is a build input (checksummed in the manifest: a new release rebuilds the table)
    manifest = json.loads((areas.folder / "manifest.json").read_text())
    assert str(raw / ZIP) in manifest["inputs"]
    # the national count: England's rows in the zip less the 813 with no coordinates (quality 90)
    with zipfile.ZipFile(raw / ZIP) as zf:
        meta = zf.read("Doc/metadata.txt").decode()
    assert "DATASET VERSION NUMBER: 2025.4.0" in meta
    n_cp = con.execute("SELECT count(*) FROM postcode WHERE src = 1").fetchone()[0]
    assert n_cp == 1_492_125 - 813
    # a quality-90 postcode has no point: it is not in the table, and a search says why
    q90 = next(r[0] for r in csv.reader(io.TextIOWrapper(zipfile.ZipFile(raw / ZIP).open("Data/CSV/po.csv")))
               if r[1] == "90" and r[4] == "E92000001")
    assert con.execute("SELECT 1 FROM postcode WHERE pcd = ?", (q90.replace(" ", ""),)).fetchone() is None
    with pytest.raises(LocateError, match="gives it no location") as e:
        locate(q90, areas.postcodes, areas.places)
    assert e.value.kind == "unknown_postcode"


def test_unzipped_folder_reads_like_the_zip(tmp_path, raw, codepoint_rows):
    folder = tmp_path / "codepo_gb"
    with zipfile.ZipFile(raw / ZIP) as zf:
        for name in zf.namelist():
            if name.startswith("Doc/") and not name.endswith("/") or name in ("Data/CSV/wr.csv", "Data/CSV/cf.csv"):
                zf.extract(name, folder)
    (release,) = read_releases(tmp_path, catalogue())
    assert (release.kind, release.name, release.vintage) == ("codepoint", "codepo_gb", dt.date(2025, 10, 20))
    assert "2025.4.0" in release.label
    rows = codepoint_rows["wr"] + codepoint_rows["cf"]
    assert len(release.frame) == len(rows)
    f = release.frame.set_index("pcd")
    for r in rows[::97]:
        pcd = r[0].replace(" ", "")
        assert f.at[pcd, "ctry"] == r[4]
        if r[1] != "90":
            assert (f.at[pcd, "x"], f.at[pcd, "y"]) == (float(r[2]), float(r[3]))
    # every file of the folder is a build input, so editing one rebuilds the postcode table
    inputs = {p.relative_to(tmp_path).as_posix() for p in build_inputs(catalogue(), tmp_path)}
    assert {"codepo_gb/Data/CSV/wr.csv", "codepo_gb/Data/CSV/cf.csv", "codepo_gb/Doc/metadata.txt",
            "codepo_gb/Doc/Code-Point_Open_Column_Headers.csv"} <= inputs
    # a truncated area file is refused, naming it (metadata.txt gives each area's row count)
    wr = folder / "Data" / "CSV" / "wr.csv"
    wr.write_text("".join(wr.read_text().splitlines(keepends=True)[:-5]))
    with pytest.raises(DataError, match=r"wr.csv has .* rows but Doc/metadata.txt says"):
        read_releases(tmp_path, catalogue())


def test_newest_file_wins_per_postcode(tmp_path, raw):
    # Code-Point 2025.4 (TF only, unzipped) beside the real NSPL of Nov 2021: Code-Point's point wins
    folder = tmp_path / "codepo_gb"
    with zipfile.ZipFile(raw / ZIP) as zf:
        for name in ["Doc/Code-Point_Open_Column_Headers.csv", "Doc/metadata.txt", "Data/CSV/tf.csv"]:
            zf.extract(name, folder)
    (tmp_path / "nspl_nov2021_subset_9_areas.csv.gz").symlink_to(raw / "nspl_nov2021_subset_9_areas.csv.gz")
    with gzip.open(raw / "nspl_nov2021_subset_9_areas.csv.gz", "rt") as f:
        nspl = pd.read_csv(f, dtype=str)
    nspl_tf = nspl[nspl.pcds.str.startswith("TF")].assign(pcd=lambda d: d.pcds.str.replace(" ", ""))
    cp = {r[0].replace(" ", ""): r for r in csv.reader(open(folder / "Data/CSV/tf.csv"))}
    moved = next(r for r in nspl_tf.itertuples() if r.doterm != r.doterm and r.pcd in cp
                 and float(cp[r.pcd][2]) != float(r.oseast1m))
    only_nspl = next(r for r in nspl_tf.itertuples() if r.doterm != r.doterm and r.pcd not in cp)

    releases = read_releases(tmp_path, catalogue())
    assert [r.kind for r in releases] == ["nspl", "codepoint"]  # oldest first
    assert releases[0].vintage == dt.date(2021, 11, 1)
    c = combine(releases).set_index("pcd")
    assert c.at[moved.pcd, "x"] == float(cp[moved.pcd][2])  # Code-Point (Oct 2025) is newer
    assert c.at[moved.pcd, "lsoa11"] == moved.lsoa11  # ONS's LSOA 2011 still carried from the NSPL
    assert c.at[only_nspl.pcd, "x"] == float(only_nspl.oseast1m)  # only the older file has it: kept

    # the same NSPL rows in a file named as a newer release: now the NSPL point wins
    newer = tmp_path / "NSPL_MAY_2026_UK.csv"
    nspl_tf.drop(columns="pcd").to_csv(newer, index=False)
    (tmp_path / "nspl_nov2021_subset_9_areas.csv.gz").unlink()
    releases = read_releases(tmp_path, catalogue())
    assert [(r.kind, r.vintage) for r in releases] == [("codepoint", dt.date(2025, 10, 20)),
                                                       ("nspl", dt.date(2026, 5, 1))]
    c = combine(releases).set_index("pcd")
    assert c.at[moved.pcd, "x"] == float(moved.oseast1m)


def test_nspl_vintage_from_its_name_or_contents(tmp_path):
    assert nspl_vintage(tmp_path / "NSPL21_FEB_2024_UK.csv") == dt.date(2024, 2, 1)
    assert nspl_vintage(tmp_path / "ONSPD_NOV_2021_UK.zip") == dt.date(2021, 11, 1)
    assert nspl_vintage(tmp_path / "nspl_nov2021_subset_9_areas.csv.gz") == dt.date(2021, 11, 1)
    assert nspl_vintage(tmp_path / "postcodes.csv", pd.Series(["198001", "202108", None])) == dt.date(2021, 8, 1)
    assert nspl_vintage(tmp_path / "postcodes.csv") is None


def test_welsh_and_scottish_postcodes_say_england_only(areas, codepoint_rows):
    welsh = next(r[0] for r in codepoint_rows["cf"] if r[4] == "W92000004")
    scottish = next(r[0] for r in codepoint_rows["eh"] if r[4] == "S92000003")
    for typed, country in [(welsh, "Wales"), (welsh.lower().replace(" ", ""), "Wales"), (scottish, "Scotland")]:
        with pytest.raises(LocateError) as e:
            locate(typed, areas.postcodes, areas.places)
        assert e.value.kind == "outside_england"
        assert f"is in {country}. Family Support Map covers England" in str(e.value)
    with pytest.raises(LocateError, match="The postcode district CF10 is in Wales"):
        locate("CF10", areas.postcodes, areas.places)
    at = AppTest.from_file("../views/find_support.py", default_timeout=60)
    at.query_params["q"] = welsh
    at.run()
    assert not at.exception
    assert f"{welsh} is in Wales. Family Support Map covers England" in at.warning[0].value


def test_retired_or_mistyped_postcode_falls_back_to_its_sector(areas, raw):
    # DT1 1AJ was terminated before the Nov 2021 NSPL and is not in Code-Point 2025.4
    with gzip.open(raw / "nspl_nov2021_subset_9_areas.csv.gz", "rt") as f:
        row = next(r for r in csv.DictReader(f) if r["pcds"] == "DT1 1AJ")
    assert row["doterm"]
    assert areas.postcodes.postcode(parse_postcode("DT1 1AJ")) is None
    loc = locate("dt1 1aj", areas.postcodes, areas.places)
    assert loc.precision == "postcode sector" and loc.label == "DT1 1 (postcode sector)"
    assert "couldn't find DT1 1AJ in the postcode directory" in loc.note
    assert "new or no longer in use" in loc.note and "OS Code-Point Open 2025.4.0" in loc.note
    # the sector's point is the mean of its live postcodes
    con = db(areas)
    x, y = con.execute("SELECT avg(x), avg(y) FROM postcode WHERE pcd LIKE 'DT11%' AND length(pcd) = 6").fetchone()
    assert (loc.x, loc.y) == pytest.approx((x, y))
    at = AppTest.from_file("../views/find_support.py", default_timeout=60)
    at.query_params["q"] = "DT1 1AJ"
    at.run()
    assert "couldn't find DT1 1AJ" in at.info[0].value


@pytest.mark.parametrize("area", ["wr", "ng", "pl"])
def test_family_page_distances_equal_brute_force_on_codepoint(area, seeded, codepoint_rows):
    # a postcode outside the 9 NSPL areas: distances from its own Code-Point grid reference
    rows = [r for r in codepoint_rows[area] if r[1] == "10" and r[4] == "E92000001"]
    typed, ex, ey = rows[len(rows) // 2][0], float(rows[len(rows) // 2][2]), float(rows[len(rows) // 2][3])
    services = seeded.service_frame()
    d = np.hypot(services.x.to_numpy() - ex, services.y.to_numpy() - ey) / 1000
    order = np.lexsort((services.name.to_numpy(), d))
    at = AppTest.from_file("../views/find_support.py", default_timeout=60)
    at.query_params["q"] = typed
    at.query_params["radius"] = "10"
    at.run()
    assert not at.exception
    within = int((d <= 10).sum())
    shown = [e.label for e in at.expander if e.label not in ("Filters", "Share this search")]
    expect = order[: within or 3][: len(shown)]
    assert len(shown) == min(within or 3, 50) and shown
    for label, i in zip(shown, expect):
        assert f"**{text.md(services.name.iloc[i])}** · {d[i]:.1f} km" in label
    head = at.subheader[0].value
    assert head == (f"{within} within 10 km of {typed}" if within else f"Nothing within 10 km of {typed}")


def test_lsoa21_of_each_postcode_agrees_with_ons(areas, raw):
    a = areas.postcodes.agreement
    # documented floor (README): 89.3% measured on the 52,232 NSPL postcodes with an ONS LSOA 2011
    assert a["n"] > 50_000 and a["rate"] >= 0.88
    s = a["ons_lsoa11"]["single_successor"]
    assert s["agree"] / s["n"] >= 0.88
    con = db(areas)
    assert con.execute("SELECT count(*) FROM postcode WHERE lsoa21 IS NULL").fetchone()[0] == 0
    lsoa = set(areas.lsoa.lsoa21_code)
    got = pd.read_sql("SELECT pcd, x, y, lsoa11, lsoa21, lsoa21_from FROM postcode WHERE pcd LIKE 'NG7%' "
                      "OR pcd LIKE 'WR1%' OR pcd LIKE 'TF1%'", con)
    assert set(got.lsoa21) <= lsoa
    # independently: each postcode placed "by polygon" lies inside that LSOA's polygon (BNG, as built)
    poly = areas.lsoa_boundaries.to_crs(27700).set_index("lsoa21_code").geometry
    inside = got[got.lsoa21_from == "polygon"]
    assert len(inside) > 2_000
    assert shapely.contains_xy(poly.loc[inside.lsoa21].values, inside.x.to_numpy(), inside.y.to_numpy()).mean() \
        > 0.999
    # and the agreement rate recomputed here for Telford's unchanged LSOAs
    lk = pd.read_csv(raw / "lookup_lsoa11_lsoa21_ltla22.csv")
    unchanged = set(lk[lk.change_code == "U"].lsoa11_code)
    tf = got[got.pcd.str.startswith("TF1") & got.lsoa11.isin(unchanged)]
    assert len(tf) > 1_000
    assert (tf.lsoa21 == tf.lsoa11).mean() >= 0.85


def test_about_page_states_national_postcodes(seeded, areas):
    at = AppTest.from_file("../views/about.py", default_timeout=60)
    at.run()
    assert not at.exception
    assert [m.value for m in at.metric if m.label == "Postcodes searchable"] == [f"{areas.postcodes.n_postcodes:,}"]
    assert areas.postcodes.n_postcodes == 1_492_079
    caption = " ".join(c.value for c in at.caption)
    assert "every English postcode" in caption and "OS Code-Point Open 2025.4.0" in caption
    assert f"{areas.postcodes.agreement['rate']:.1%}" in caption and "9 areas" not in caption
