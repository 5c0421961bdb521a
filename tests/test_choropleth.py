"""Map builders for the Provision gaps page: payload bound, rounding, properties, escaping,
colour classes, area aggregates (any kind of area), and the page's URL state."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from directory import access, choropleth, gapstate
from directory.choropleth import MEASURES

TWO_MB = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def measures(areas, seeded):
    return access.lsoa_measures(areas.lsoa, seeded.service_frame(), radius_km=1.6)


def largest(areas, column: str) -> str:
    return areas.lsoa.groupby(column).size().idxmax()


@pytest.mark.parametrize("kind, column, name, n", [
    ("district", "ltla24_code", "Birmingham", 659),
    ("utla", "utla23_code", "Kent", 938),  # the largest upper-tier authority by LSOA count
    ("icb", "icb24_code", "NHS North East and North Cumbria Integrated Care Board", 1889),  # the largest ICB
])
def test_largest_area_maps_stay_under_2_mb(areas, seeded, measures, kind, column, name, n):
    code = largest(areas, column)
    rows = measures[measures[column] == code]
    assert rows[column.replace("_code", "_name")].iloc[0] == name and len(rows) == n
    services = seeded.service_frame()
    sites = access.best_new_sites(rows, k=10)
    bounds = areas.boundaries(kind)
    for code_ in ("gap", "imd", "e2sfca"):
        m, _ = choropleth.authority_map(areas.lsoa_boundaries, rows, MEASURES[code_], radius_km=1.6,
                                        services=services, sites=sites, outline=bounds[bounds[column] == code])
        size = choropleth.page_bytes(m)
        assert size < TWO_MB, f"{code_}: {size:,} bytes"
    # the GeoJSON alone: every LSOA, rounded, only the tooltip's properties
    classes = choropleth.classify(rows.gap_children, MEASURES["gap"], 1.6)
    gj = choropleth.lsoa_features(areas.lsoa_boundaries, rows, MEASURES["gap"], classes)
    assert len(gj["features"]) == n
    assert len(json.dumps(gj)) < TWO_MB
    f = gj["features"][0]
    assert set(f["properties"]) == {"name", "decile", "children", "under5", "km", "value", "f"}
    assert f["id"] == rows.lsoa21_code.iloc[0]  # stable key: the LSOA code
    coords = re.findall(r"-?\d+\.\d+", json.dumps(f["geometry"]))
    assert coords and max(len(c.split(".")[1]) for c in coords) <= 5


@pytest.mark.parametrize("kind, n", [("utla", 153), ("icb", 42), ("district", 296), ("sicbl", 106), ("region", 9)])
def test_england_is_drawn_by_areas_not_by_lsoa(areas, seeded, measures, kind, n):
    table = choropleth.area_values(measures, MEASURES["gap"], kind)
    assert len(table) == n
    m, _ = choropleth.england_map(areas.boundaries(kind), table, MEASURES["gap"], radius_km=1.6,
                                  services=seeded.service_frame(), kind=kind)
    html = m.get_root().render()
    assert len(re.findall(r'"type":\s*"Feature"[,}]', html)) == n  # one polygon feature per area
    assert choropleth.page_bytes(m) < TWO_MB
    # area sums equal the LSOA sums
    assert table.gap_children.sum() == pytest.approx(measures.gap_children.sum())
    assert table.value.sum() == pytest.approx(measures.gap_children.sum())


def test_area_aggregates_by_hand():
    # district A: two LSOAs with 100 and 300 children at 1 km and 3 km, IMD deciles 1 and 5, IDACI 10 and 30,
    # E2SFCA 2.0 and 0.0 per 1,000; district B: one LSOA, 50 children, 2 km, decile 2
    m = pd.DataFrame({
        "ltla24_code": ["A", "A", "B"], "ltla24_name": ["Aa", "Aa", "Bb"],
        "children_0_15": [100, 300, 50], "idaci_numerator": pd.array([10, 30, None], "Int64"),
        "nearest_km": [1.0, 3.0, 2.0], "gap_children": [0.0, 0.0, 50.0], "imd_decile": pd.array([1, 5, 2], "Int64"),
        "e2sfca_per_1000": [2.0, 0.0, 0.0],
    })
    t = choropleth.area_values(m, MEASURES["nearest"], "district").set_index("code")
    # children-weighted mean distance: (100*1 + 300*3) / 400 = 2.5 km
    assert t.loc["A", "value"] == pytest.approx(2.5) and t.loc["B", "value"] == pytest.approx(2.0)
    # E2SFCA, demand-weighted with demand = income-deprived children: (10*2 + 30*0) / 40 = 0.5
    t = choropleth.area_values(m, MEASURES["e2sfca"], "district", demand="idaci_numerator").set_index("code")
    assert t.loc["A", "value"] == pytest.approx(0.5)
    assert np.isnan(t.loc["B", "value"])  # B's only LSOA has a suppressed count: no demand, no average
    # IMD decile: the share of children in deciles 1-2: A 100/400 = 25%, B 100%
    t = choropleth.area_values(m, MEASURES["imd"], "district", deciles=(1, 2)).set_index("code")
    assert t.loc["A", "value"] == pytest.approx(25.0) and t.loc["B", "value"] == pytest.approx(100.0)
    # gap: a sum
    assert choropleth.area_values(m, MEASURES["gap"], "district").value.tolist() == [0.0, 50.0]


def test_colour_classes():
    # deciles: fixed, 1 = darkest red, 10 = darkest blue
    c = choropleth.classify([1, 5, 10], MEASURES["imd"], 1.6)
    assert c.colour(1) == choropleth.DECILE_COLOURS[0] and c.colour(10) == choropleth.DECILE_COLOURS[9]
    assert [label for _, label in c.legend()] == [str(i) for i in range(1, 11)]
    # distances: fixed around the radius; a point exactly at the radius is within reach (second class)
    c = choropleth.classify([0.1, 9.0], MEASURES["nearest"], 1.6)
    assert c.colour(0.5) == c.colours[0] and c.colour(1.6) == c.colours[1] and c.colour(1.61) == c.colours[2]
    assert c.labels[1] == "0.8 to 1.6 (within reach)" and c.colour(np.inf) == c.colours[-1]
    # counts with a zero class of its own (gap children): 0 is pale grey, the rest quantiles
    c = choropleth.classify([0, 0, 10, 20, 30, 40, 50], MEASURES["gap"], 1.6)
    assert c.colour(0) == choropleth.NONE_COLOUR and c.legend()[0] == (choropleth.NONE_COLOUR, "0")
    assert c.colour(50) == choropleth.REDS[-1] and c.colour(10) != c.colour(50)
    # missing values are grey, not a class
    assert c.colour(float("nan")) == choropleth.NONE_COLOUR


def test_tooltip_text_is_escaped(areas, measures):
    rows = measures[measures.ltla24_name == "Hastings"].copy()
    rows.loc[rows.index[0], "lsoa21_name"] = '<img src=x onerror="alert(1)">'
    classes = choropleth.classify(rows.gap_children, MEASURES["gap"], 1.6)
    gj = choropleth.lsoa_features(areas.lsoa_boundaries, rows, MEASURES["gap"], classes)
    assert gj["features"][0]["properties"]["name"] == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    services = pd.DataFrame({"name": ["<b>Evil</b>"], "lat": [50.86], "lon": [0.57], "types": [["stay_and_play"]],
                             "x": [581000.0], "y": [110000.0]})
    m, _ = choropleth.authority_map(areas.lsoa_boundaries, rows, MEASURES["gap"], radius_km=1.6, services=services)
    html = m.get_root().render()
    assert "<b>Evil</b>" not in html and "&lt;b&gt;Evil&lt;/b&gt;" in html
    assert 'onerror="alert(1)"' not in html


def test_url_state_round_trip():
    codes = {"utla": {"E08000025", "E06000001", "E10000034"}, "district": {"E08000025", "E06000001", "E07000237"},
             "icb": {"E54000019"}}
    s = gapstate.GapState(area="E08000025", measure="nearest", types=["stay_and_play", "early_education"],
                          radius_km=3.0, max_decile=3, demand="idaci_numerator", k=5)
    enc = gapstate.encode(s)
    assert enc == {"area": "E08000025", "measure": "nearest", "types": "stay_and_play,early_education",
                   "radius": "3", "deciles": "3", "demand": "idaci", "k": "5"}
    assert gapstate.decode(enc, codes) == s
    assert s.deciles == (1, 2, 3)
    # defaults are left out of links
    assert gapstate.encode(gapstate.GapState()) == {}
    # bad values fall back or are clamped rather than failing
    bad = gapstate.decode({"area": "E99999999", "measure": "x", "types": "nope", "radius": "abc",
                           "deciles": "42", "demand": "adults", "k": "-3"}, codes)
    assert bad == gapstate.GapState(max_decile=10, k=0)
    assert gapstate.decode({"radius": "1.7", "area": "e08000025"}, codes).radius_km == 1.6
    assert gapstate.decode({"area": "e08000025"}, codes).area == "E08000025"
    # kind and area: an ICB; an old district link without a kind opens the district
    icb = gapstate.GapState(kind="icb", area="E54000019")
    assert gapstate.encode(icb) == {"kind": "icb", "area": "E54000019"}
    assert gapstate.decode(gapstate.encode(icb), codes) == icb
    assert gapstate.decode({"area": "E07000237"}, codes) == gapstate.GapState(kind="district", area="E07000237")
    # a code of another kind falls back to England of the kind asked for
    assert gapstate.decode({"kind": "icb", "area": "E10000034"}, codes) == gapstate.GapState(kind="icb")
    assert gapstate.decode({"kind": "parish"}, codes) == gapstate.GapState()
    # under-5s are the default demand: not written; all children are
    assert gapstate.GapState().demand == "under5"
    assert gapstate.encode(gapstate.GapState(demand="children_0_15")) == {"demand": "children"}
