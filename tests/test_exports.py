"""Exports: every format read back equals the table in memory (dtypes too, restored from the
schema where the format cannot keep them), metadata travels with the data, text stays text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook
from pandas.testing import assert_frame_equal

from directory import coverage as C
from directory import exports as E
from directory.areas import attach_areas

NORTH_EAST = "E12000001"
STAMP = "2025-11-24T12:00:00Z"


@pytest.fixture(scope="module")
def services(seeded, areas):
    return attach_areas(seeded.service_frame(), areas)


@pytest.fixture(scope="module")
def ne(areas, services):
    """Every table for the North East (1,682 LSOAs, 12 districts, 28 nursery schools)."""
    return C.coverage_tables(areas, services, region=[NORTH_EAST], generated_at=STAMP)


@pytest.fixture(scope="module")
def england_lsoa(areas, services):
    return C.lsoa_table(areas, services, generated_at=STAMP)


def plain(frame):
    return pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))


# ---------------------------------------------------------------- CSV


@pytest.mark.parametrize("level", C.LEVELS)
def test_csv_round_trip(ne, tmp_path, level):
    t = ne[level]
    paths = E.export(t, tmp_path / f"{level}.csv")
    assert [p.name for p in paths] == [f"{level}.csv", f"{level}.metadata.json"]
    back = E.read_csv(paths[0])
    assert_frame_equal(back.frame, t.frame)  # values and dtypes (Int64 blanks, bools, str)
    assert back.metadata == t.metadata


def test_national_lsoa_csv_is_plain_and_complete(england_lsoa, tmp_path):
    path, side = E.write_csv(england_lsoa, tmp_path / "lsoa.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == list(england_lsoa.frame.columns)  # a header row, no comment lines
    assert len(lines) == 33_756 and not any(l.startswith("#") for l in lines)
    assert_frame_equal(E.read_csv(path).frame, england_lsoa.frame)
    # any CSV reader gets the numbers, blanks where IDACI is suppressed (815, never guessed)
    raw = pd.read_csv(path)
    assert raw.idaci_numerator.isna().sum() == 815
    assert raw.children_0_15.sum() == england_lsoa.frame.children_0_15.sum()
    meta = json.loads(side.read_text())
    assert meta["csv"]["path"] == "lsoa.csv" and meta["generated_at"] == STAMP
    fields = {f["name"]: f for f in meta["tables"]["lsoa"]["columns"]}
    assert fields["gap"]["type"] == "boolean" and fields["idaci_numerator"]["pandas_dtype"] == "Int64"


HOSTILE = ['=HYPERLINK("http://example.invalid","click")', "+44 1952", "-2", "@SUM(A1)", "'quoted", "\tTab"]


def hostile(table: C.CoverageTable) -> C.CoverageTable:
    f = table.frame.copy()
    f.loc[: len(HOSTILE) - 1, "name"] = HOSTILE[: len(f)]
    return C.CoverageTable(f, table.metadata)


def test_csv_cells_never_start_a_formula_and_read_back_unchanged(ne, tmp_path):
    t = hostile(ne["service"])
    path, _ = E.write_csv(t, tmp_path / "s.csv")
    names = pd.read_csv(path, dtype=str, keep_default_na=False).name.tolist()
    # a plain number ("-2") is not a formula: it is written as it is (text.spreadsheet_safe)
    assert names[: len(HOSTILE)] == [h if h == "-2" else "'" + h for h in HOSTILE]
    assert_frame_equal(E.read_csv(path).frame, t.frame)


# ---------------------------------------------------------------- Excel


def test_xlsx_round_trip_every_table_in_one_workbook(ne, tmp_path):
    path = tmp_path / "ne.xlsx"
    E.export(ne, path)
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == [*C.LEVELS, "metadata"]
    wb.close()
    back = E.read_xlsx(path)
    assert list(back) == list(C.LEVELS)
    for level, t in ne.items():
        assert_frame_equal(back[level], t.frame, obj=level)


def test_xlsx_metadata_sheet_states_parameters_and_columns(ne, tmp_path):
    path = tmp_path / "ne.xlsx"
    E.write_xlsx(ne, path)
    flat, columns = E.read_xlsx_metadata(path)
    merged = C.merge_metadata(ne.values())
    expected = {k: (None if v == "" else v) for k, v in E.flatten(merged)}
    assert flat == expected
    assert flat["parameters.radius_km"] == 1.6 and flat["filters.region.1.name"] == "North East"
    assert flat["generated_at"] == STAMP and flat["tables.lsoa.rows"] == 1682
    assert [c["name"] for c in columns["district"]] == list(ne["district"].frame.columns)


def test_xlsx_text_is_never_a_formula_and_headers_are_frozen(ne, tmp_path):
    path = tmp_path / "s.xlsx"
    E.write_xlsx(hostile(ne["service"]), path)
    ws = load_workbook(path)["service"]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b
    cell = ws.cell(row=2, column=list(ne["service"].frame.columns).index("name") + 1)
    assert cell.value == HOSTILE[0] and cell.data_type == "s"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


# ---------------------------------------------------------------- GeoJSON


@pytest.mark.parametrize("level", C.LEVELS)
def test_geojson_round_trip(ne, areas, tmp_path, level):
    t = ne[level]
    path = tmp_path / f"{level}.geojson"
    E.export(t, path, areas=areas)
    back = E.read_geojson(path)
    assert_frame_equal(plain(back.frame), t.frame)
    assert back.metadata == t.metadata
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc  # RFC 7946: WGS84 only
    assert doc["metadata"]["parameters"]["radius_km"] == 1.6
    assert len(doc["features"]) == len(t.frame)
    kinds = {f["geometry"]["type"] for f in doc["features"]}
    assert kinds <= ({"Point"} if level == "service" else {"Polygon", "MultiPolygon"})


def test_geojson_geometry_is_the_lsoa_boundary(ne, areas, tmp_path):
    path = tmp_path / "lsoa.geojson"
    E.write_geojson(ne["lsoa"], areas, path)
    back = E.read_geojson(path).frame
    want = areas.lsoa_boundaries.set_index("lsoa21_code").geometry.reindex(back.lsoa21_code)
    # RFC 7946 writes 7 decimals (about 1 cm) and may re-orient rings
    assert shapely.equals_exact(back.geometry.to_numpy(), want.to_numpy(), tolerance=1e-6, normalize=True).all()


# ---------------------------------------------------------------- GeoPackage


def test_gpkg_round_trip_every_table_as_a_layer(ne, areas, tmp_path):
    path = tmp_path / "ne.gpkg"
    E.export(ne, path, areas=areas)
    layers = dict(pyogrio.list_layers(path))
    assert list(layers) == [*C.LEVELS, "metadata"] and layers["metadata"] is None
    back = E.read_gpkg(path)
    for level, t in ne.items():
        assert_frame_equal(plain(back[level].frame), t.frame, obj=level)
        assert back[level].metadata == t.metadata
        assert pyogrio.read_info(path, layer=level)["layer_metadata"]["DESCRIPTION"] == C.TITLES[level]
    # the format keeps ints, floats, bools and text itself; only Int64 with blanks comes back as float
    raw = pyogrio.read_dataframe(path, layer="lsoa")
    assert raw.children_0_15.dtype == np.int64 and raw.gap.dtype == bool and raw.nearest_km.dtype == np.float64
    assert raw.idaci_numerator.isna().sum() == ne["lsoa"].frame.idaci_numerator.isna().sum()
    kv = pyogrio.read_dataframe(path, layer="metadata").set_index("key").value
    assert kv["parameters.radius_km"] == "1.6" and kv["generated_at"] == STAMP
    # geometry exactly the build's boundaries (no re-projection needed: both WGS84)
    want = areas.lsoa_boundaries.set_index("lsoa21_code").geometry.reindex(back["lsoa"].frame.lsoa21_code)
    assert shapely.equals_exact(back["lsoa"].frame.geometry.to_numpy(), want.to_numpy()).all()
    pts = back["service"].frame
    assert np.allclose(pts.geometry.x, ne["service"].frame.lon) and np.allclose(pts.geometry.y, ne["service"].frame.lat)


def test_national_lsoa_geopackage_and_geojson(england_lsoa, areas, tmp_path):
    for fmt in ("gpkg", "geojson"):
        path = tmp_path / f"england.{fmt}"
        E.export(england_lsoa, path, areas=areas)
        back = E.read_gpkg(path)["lsoa"] if fmt == "gpkg" else E.read_geojson(path)
        assert_frame_equal(plain(back.frame), england_lsoa.frame, obj=fmt)
        assert back.frame.geometry.notna().all()


def test_region_and_england_outlines_cover_their_districts(ne, areas):
    reg = E.geometries(areas, ne["region"]).iloc[0]
    districts = E.geometries(areas, ne["district"])
    assert reg.area == pytest.approx(districts.union_all().area, rel=1e-9)
    eng = E.geometries(areas, ne["england"]).iloc[0]
    assert eng.contains(reg.representative_point())


# ---------------------------------------------------------------- entry points


def test_bytes_for_downloads_equal_the_files(ne, areas, tmp_path):
    t = ne["district"]
    assert E.to_bytes(t, "csv") == E.csv_bytes(t)
    (tmp_path / "d.xlsx").write_bytes(E.to_bytes(ne, "xlsx"))
    assert_frame_equal(E.read_xlsx(tmp_path / "d.xlsx")["district"], t.frame)
    (tmp_path / "d.gpkg").write_bytes(E.to_bytes(t, "gpkg", areas))
    assert_frame_equal(plain(E.read_gpkg(tmp_path / "d.gpkg")["district"].frame), t.frame)
    assert E.file_name(t, "csv") == "coverage-district-E12000001-1.6km-under5.csv"
    assert E.file_name(t, "json") == "coverage-district-E12000001-1.6km-under5.metadata.json"
    assert E.file_name(ne, "xlsx") == "coverage-all-E12000001-1.6km-under5.xlsx"


def test_export_refuses_what_a_format_cannot_hold(ne, tmp_path):
    with pytest.raises(E.ExportError, match="holds one table"):
        E.export(ne, tmp_path / "x.csv")
    with pytest.raises(E.ExportError, match="holds one table"):
        E.export([ne["lsoa"], ne["district"]], tmp_path / "x.geojson")
    with pytest.raises(E.ExportError, match="cannot tell the format"):
        E.format_of(tmp_path / "x.txt")
    assert E.format_of("x.TXT", "gpkg") == "gpkg" and E.format_of("a/b.GeoJSON") == "geojson"
