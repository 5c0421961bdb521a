"""The Coverage tables page in Streamlit's AppTest: the Area choice (kind switch, search by name, URL),
level selector, preview and the five downloads (their file names, and their bytes read back equal the
tables). Under-5s are the default demand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from directory import coverage as C
from directory import text
from directory import exports as E
from directory.areas import attach_areas
from tests.apptest import open_page

PAGE = "../views/coverage_tables.py"
LABELS = ["CSV", "CSV metadata (JSON)", "Excel (all tables)", "GeoJSON", "GeoPackage (all tables)"]


@pytest.fixture()
def downloads(monkeypatch):
    """file name -> (mime, callable) of every deferred download button registered while the page runs."""
    seen: dict[str, tuple] = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = (mimetype, data_callable)
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return seen


def run(params=None, **state) -> AppTest:
    return open_page(PAGE, params, state, timeout=120)


def expected(areas, seeded, **kw):
    return C.coverage_tables(areas, attach_areas(seeded.service_frame(), areas), **kw)


def test_page_opens_on_upper_tier_authorities_with_preview_and_downloads(seeded, downloads):
    at = run()
    assert at.title[0].value == "Coverage tables"
    assert at.subheader[0].value == "Coverage per upper-tier authority (2023): England"
    assert at.caption[0].value.startswith("**153 rows** × 86 columns. Support of any type within 1.6 km")
    assert "counting children under 5" in at.caption[0].value
    assert "The first 20 of 153 rows" in at.caption[1].value
    preview = at.dataframe[0].value
    assert len(preview) == 20 and preview.columns[0] == "utla23_code"
    assert [b.label for b in at.download_button] == LABELS
    assert sorted(downloads) == sorted([
        "coverage-utla-1.6km-under5.csv", "coverage-utla-1.6km-under5.metadata.json", "coverage-all-1.6km-under5.xlsx",
        "coverage-utla-1.6km-under5.geojson", "coverage-all-1.6km-under5.gpkg"])
    assert downloads["coverage-all-1.6km-under5.xlsx"][0] == E.MIME["xlsx"]


def test_authority_lsoa_downloads_hold_the_tables(seeded, areas, downloads, tmp_path):
    at = run(ct_kind="district", ct_area="E06000020", ct_level="lsoa", ct_radius=2.0)
    assert at.subheader[0].value == ("Access to services per LSOA (2021): "
                                     + text.md("Telford & Wrekin Council (Telford and Wrekin)"))
    assert "**115 rows**" in at.caption[0].value and "within 2 km" in at.caption[0].value
    want = expected(areas, seeded, authority=["E06000020"], radius_km=2.0)
    stem = "coverage-lsoa-E06000020-2km-under5"
    assert {f"{stem}.csv", f"{stem}.metadata.json", f"{stem}.geojson", "coverage-all-E06000020-2km-under5.xlsx",
            "coverage-all-E06000020-2km-under5.gpkg"} == set(downloads)

    csv = downloads[f"{stem}.csv"][1]()
    side = json.loads(downloads[f"{stem}.metadata.json"][1]())
    (tmp_path / f"{stem}.csv").write_bytes(csv)
    (tmp_path / f"{stem}.metadata.json").write_text(json.dumps(side))
    back = E.read_csv(tmp_path / f"{stem}.csv")
    assert_frame_equal(back.frame, want["lsoa"].frame)
    assert side["parameters"]["radius_km"] == 2.0 and side["csv"]["path"] == f"{stem}.csv"

    (tmp_path / "all.xlsx").write_bytes(downloads["coverage-all-E06000020-2km-under5.xlsx"][1]())
    sheets = E.read_xlsx(tmp_path / "all.xlsx")
    assert list(sheets) == list(C.LEVELS)
    for level in C.LEVELS:
        assert_frame_equal(sheets[level], want[level].frame, obj=level)

    (tmp_path / "lsoa.geojson").write_bytes(downloads[f"{stem}.geojson"][1]())
    gj = E.read_geojson(tmp_path / "lsoa.geojson")
    assert_frame_equal(pd.DataFrame(gj.frame.drop(columns="geometry")), want["lsoa"].frame)

    (tmp_path / "all.gpkg").write_bytes(downloads["coverage-all-E06000020-2km-under5.gpkg"][1]())
    layers = E.read_gpkg(tmp_path / "all.gpkg")
    assert list(layers) == list(C.LEVELS)
    assert_frame_equal(pd.DataFrame(layers["service"].frame.drop(columns="geometry")), want["service"].frame)


def rows_caption(at) -> str:
    return next(c.value for c in at.caption if "rows**" in c.value)


def test_area_choice_search_kind_switch_and_url(seeded, areas):
    at = run(ct_level="district")
    # search by the council's short name: Worcestershire County Council, its six districts
    at.text_input(key="ct_find").input("Worcestershire").run()
    assert not at.exception
    assert at.radio(key="ct_kind").value == "utla" and at.selectbox(key="ct_area").value == "E10000034"
    assert at.subheader[0].value.endswith(": Worcestershire County Council")
    assert "**6 rows**" in rows_caption(at) and any("whole areas" in c.value for c in at.caption)
    assert dict(at.query_params) in ({"area": ["E10000034"], "level": ["district"]},
                                     {"area": "E10000034", "level": "district"})
    # the ICB by its full name, then its table
    at.text_input(key="ct_find").input("NHS Herefordshire and Worcestershire Integrated Care Board")
    at.radio(key="ct_level").set_value("lsoa").run()
    assert at.radio(key="ct_kind").value == "icb" and at.selectbox(key="ct_area").value == "E54000019"
    n = int((areas.lsoa.icb24_code == "E54000019").sum())
    assert f"**{n} rows**" in rows_caption(at)
    # switching the kind: an ICB is no region, so the area goes back to England
    at.radio(key="ct_kind").set_value("region").run()
    assert at.selectbox(key="ct_area").value == "E92000001"
    assert at.subheader[0].value.endswith(": England")
    # a link opens the same view
    again = run({"kind": "icb", "area": "E54000019", "level": "icb"})
    assert again.radio(key="ct_kind").value == "icb" and again.radio(key="ct_level").value == "icb"
    assert "**1 rows**" in again.caption[0].value


def test_levels_types_and_gap_settings(seeded, areas):
    at = run()
    at.radio(key="ct_level").set_value("service").run()
    assert f"**{len(seeded.service_frame()):,} rows**" in at.caption[0].value
    at.multiselect(key="ct_types").set_value(["stay_and_play"]).run()
    assert "**0 rows**" in at.caption[0].value and "Stay and play" in at.caption[0].value
    assert "No service location of the chosen types" in at.warning[0].value
    at.radio(key="ct_level").set_value("england")
    at.select_slider(key="ct_deciles").set_value(3).run()
    assert "deciles 1-3" in at.caption[0].value
    england = at.dataframe[0].value.iloc[0]
    # no stay and play in the directory yet: every deprived neighbourhood is a gap
    assert england.children_within == 0
    assert england.gap_lsoas == (areas.lsoa.imd_decile <= 3).sum()
    assert england.gap_children == england.deprived_children


def test_column_dictionary_and_sources_are_shown(seeded):
    at = run(ct_level="lsoa")
    cols = at.dataframe[1].value
    assert cols.name.tolist()[:3] == ["lsoa21_code", "lsoa21_name", "ward24_code"]
    assert "provision gap" in cols.set_index("name").loc["gap", "description"]
    src = at.dataframe[2].value
    assert "IoD2025 (Oct 2025)" in src.vintage.tolist()
