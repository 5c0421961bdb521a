"""The Provision gaps page in Streamlit's AppTest: the Area choice (kinds, search by name, URL
state), measure switches, gap list contents, headline and equity numbers, new sites, payload and
escaping. Under-5s are the default demand."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from directory import access
from directory.store import Directory, Place, ServiceRecord
from tests.apptest import checked, open_page

PAGE = "../views/provision_gaps.py"
BIRMINGHAM = "E08000025"
HASTINGS = "E07000062"
WORCESTERSHIRE = "E10000034"
HW_ICB = "E54000019"  # NHS Herefordshire and Worcestershire Integrated Care Board


def run(params=None) -> AppTest:
    return open_page(PAGE, params, timeout=120)


settle = checked  # run again after a widget change


def gap_table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "Rank" in d.value.columns)


def sites_table(at) -> pd.DataFrame | None:
    return next((d.value for d in at.dataframe if "Site" in d.value.columns), None)


def map_args(at) -> dict:
    comps = [c for c in at.get("component_instance") if "st_folium" in c.proto.component_name]
    assert len(comps) == 2  # the gaps map, then the history map
    return json.loads(comps[0].proto.json_args)


def metrics(at) -> dict:
    return {m.label: (m.value, m.delta) for m in at.metric}


def params(at) -> dict:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}


@pytest.fixture(scope="module")
def measures(areas, seeded):
    return access.lsoa_measures(areas.lsoa, seeded.service_frame(), radius_km=1.6)


def test_england_by_default(seeded, measures):
    at = run()
    assert at.subheader[0].value == "England: deprived children far from support"
    n = len(seeded.service_frame())
    assert f"{n:,} service locations" in at.caption[0].value and "counting children under 5" in at.caption[0].value
    assert at.radio(key="pg_kind").value == "utla" and at.radio(key="pg_demand").value == "under5"
    # England is drawn by its 153 upper-tier authorities: a small payload, no LSOA polygons
    args = map_args(at)
    assert len(args["script"]) < 2_000_000 and "E01" not in args["script"]
    assert "E10000034" in args["script"] and "Upper-tier authority" in args["script"]
    # the national gap list equals the library's (under-5s), first 100 shown
    expected = access.gap_list(measures, radius_km=1.6, demand="under5")
    shown = gap_table(at)
    assert len(shown) == 100
    assert shown.Neighbourhood.tolist() == expected.lsoa21_name.head(100).tolist()
    assert f"Gap list: {len(expected):,} deprived neighbourhoods" in "".join(m.value for m in at.markdown)
    m = metrics(at)
    summary = access.coverage_summary(measures, radius_km=1.6, demand="under5")
    assert m["Children under 5 within 1.6 km of a service"][0] == f"{summary.under5_within_share.iloc[0]:.0%}"
    assert m["Deprived children under 5 far from support"][0] == f"{summary.gap_children.iloc[0]:,.0f}"
    eq = access.equity(measures, radius_km=1.6, demand="under5").iloc[0]
    assert m["Most deprived 20%: children under 5 within reach"][0] == f"{eq.within_share_imd1_2:.0%}"
    assert m["Least deprived 20%: children under 5 within reach"][0] == f"{eq.within_share_imd9_10:.0%}"
    assert m["Equity: ratio and concentration index"] == (f"{eq.within_ratio_imd1_2_to_9_10:.2f}",
                                                           f"CI {eq.concentration_index:+.2f}")
    assert params(at) == {}


def test_kind_switch_url_state_and_search_by_name(seeded, measures):
    at = run()
    # search by the official council name: the kind and the area follow, and the link holds both
    at.text_input(key="pg_find").input("Worcestershire County Council")
    settle(at)
    assert at.radio(key="pg_kind").value == "utla" and at.selectbox(key="pg_area").value == WORCESTERSHIRE
    assert at.subheader[0].value == "Worcestershire County Council: deprived children far from support"
    assert params(at) == {"area": WORCESTERSHIRE}
    rows = measures[measures.utla23_code == WORCESTERSHIRE]
    assert len(rows) == 374 and rows.ltla24_name.nunique() == 6  # one county, six districts
    expected = access.gap_list(rows, radius_km=1.6, demand="under5")
    assert gap_table(at).Neighbourhood.tolist() == expected.lsoa21_name.head(100).tolist()
    assert "District" in gap_table(at).columns  # a county's gap list names the district
    script = map_args(at)["script"]
    assert all(code in script for code in rows.lsoa21_code)
    # an ICB by its full name
    at.text_input(key="pg_find").input("NHS Herefordshire and Worcestershire Integrated Care Board")
    settle(at)
    assert at.radio(key="pg_kind").value == "icb" and at.selectbox(key="pg_area").value == HW_ICB
    assert params(at) == {"kind": "icb", "area": HW_ICB}
    icb_rows = measures[measures.icb24_code == HW_ICB]
    assert all(code in map_args(at)["script"] for code in icb_rows.lsoa21_code)
    # switching the kind: the ICB is no district, so the view goes to England by district
    at.radio(key="pg_kind").set_value("district")
    settle(at)
    assert at.selectbox(key="pg_area").value == "E92000001"
    assert params(at) == {"kind": "district"}
    assert "296 local authority districts" in next(c.value for c in at.caption if "is drawn as its" in c.value)
    # a link restores kind and area
    at2 = run({"kind": "icb", "area": HW_ICB})
    assert at2.radio(key="pg_kind").value == "icb" and at2.selectbox(key="pg_area").value == HW_ICB
    # an unknown name says so and changes nothing
    at2.text_input(key="pg_find").input("Atlantis")
    settle(at2)
    assert at2.selectbox(key="pg_area").value == HW_ICB
    assert any("No area's name matches" in c.value for c in at2.caption)


def test_authority_switch(seeded, measures):
    at = run({"kind": "district"})
    at.selectbox(key="pg_area").set_value(BIRMINGHAM)
    settle(at)
    assert at.subheader[0].value == "Birmingham City Council: deprived children far from support"
    assert params(at) == {"kind": "district", "area": BIRMINGHAM}
    rows = measures[measures.ltla24_code == BIRMINGHAM]
    expected = access.gap_list(rows, radius_km=1.6, demand="under5")
    shown = gap_table(at)
    assert shown.Neighbourhood.tolist() == expected.lsoa21_name.head(100).tolist()
    assert shown["Affected children under 5"].tolist() == expected.affected_children.head(100).tolist()
    assert (shown["IMD decile"] <= 2).all() and (shown["Nearest service (km)"] > 1.6).all()
    assert "District" not in shown.columns  # one district: no need to repeat its name
    # headline numbers against England
    here = access.coverage_summary(rows, radius_km=1.6).iloc[0]
    eng = access.coverage_summary(measures, radius_km=1.6).iloc[0]
    value, delta = metrics(at)["Children under 5 within 1.6 km of a service"]
    assert value == f"{here.under5_within_share:.0%}"
    assert delta == f"{100 * (here.under5_within_share - eng.under5_within_share):+.0f} points vs England"
    # the map holds Birmingham's 659 LSOAs, under the payload bound
    script = map_args(at)["script"]
    assert len(script) < 2_000_000
    assert all(code in script for code in rows.lsoa21_code)
    # new sites: the library's greedy choice, with the children gained
    sites = sites_table(at)
    best = access.best_new_sites(rows, k=3, radius_km=1.6, demand="under5")
    assert sites.Neighbourhood.tolist() == best.lsoa21_name.tolist()
    assert sites["Deprived children under 5 gained"].tolist() == best.children_gained.tolist()
    # and the chart data compares with England per decile
    assert any("Birmingham" in str(d.value.columns.tolist()) for d in at.dataframe)
    # switch to another authority
    at.selectbox(key="pg_area").set_value(HASTINGS)
    settle(at)
    assert at.subheader[0].value == "Hastings Borough Council: deprived children far from support"
    h = access.gap_list(measures[measures.ltla24_code == HASTINGS], radius_km=1.6, demand="under5")
    assert gap_table(at).Neighbourhood.tolist() == h.lsoa21_name.tolist()


def test_measure_switch_changes_map_and_legend(seeded):
    at = run({"area": HASTINGS})
    at.selectbox(key="pg_measure").set_value("nearest")
    settle(at)
    assert at.subheader[0].value == "Hastings Borough Council: distance to the nearest service"
    legend = next(c.value for c in at.caption if c.value.startswith("**Legend"))
    assert "Distance to the nearest service (km)" in legend and "within reach" in legend
    script = map_args(at)["script"]
    assert "Distance to the nearest service (km)" in script and " km" in script
    assert params(at) == {"kind": "district", "area": HASTINGS, "measure": "nearest"}
    at.selectbox(key="pg_measure").set_value("imd")
    settle(at)
    legend = next(c.value for c in at.caption if c.value.startswith("**Legend"))
    assert "IMD decile" in legend and "1; 2; 3" in legend


def test_url_restores_every_choice(seeded, measures):
    at = run({"area": HASTINGS, "measure": "e2sfca", "types": "early_education", "radius": "3", "deciles": "3",
              "demand": "idaci", "k": "2"})
    assert at.selectbox(key="pg_area").value == HASTINGS
    assert at.selectbox(key="pg_measure").value == "e2sfca"
    assert at.multiselect(key="pg_types").value == ["early_education"]
    assert at.select_slider(key="pg_radius").value == 3.0
    assert at.select_slider(key="pg_deciles").value == 3
    assert at.radio(key="pg_demand").value == "idaci_numerator"
    assert at.slider(key="pg_k").value == 2
    assert params(at) == {"kind": "district", "area": HASTINGS, "measure": "e2sfca", "types": "early_education", "radius": "3",
                          "deciles": "3", "demand": "idaci", "k": "2"}
    # the gap list follows: deciles 1-3, 3 km, ranked by income-deprived children
    m = access.lsoa_measures(measures[measures.ltla24_code == HASTINGS], access.services_of_types(
        seeded.service_frame(), ["early_education"]), radius_km=3.0, demand="idaci_numerator", deciles=(1, 2, 3))
    expected = access.gap_list(m, radius_km=3.0, deciles=(1, 2, 3), demand="idaci_numerator")
    if expected.empty:
        assert any("has a service within 3 km" in s.value for s in at.success)
    else:
        shown = gap_table(at)
        assert shown.Neighbourhood.tolist() == expected.lsoa21_name.tolist()
        assert "Affected income-deprived children" in shown.columns
    # changing a widget updates the link
    at.select_slider(key="pg_radius").set_value(1.0)
    settle(at)
    assert params(at)["radius"] == "1"


def test_no_new_sites_when_k_is_zero(seeded):
    at = run({"area": HASTINGS, "k": "0"})
    assert sites_table(at) is None
    assert any("Choose a number of new sites" in i.value for i in at.info)


def test_types_with_no_service_warn(seeded):
    at = run({"area": HASTINGS, "types": "baby_massage"})
    assert any("No service in the directory offers these types" in w.value for w in at.warning)
    assert metrics(at)["Children under 5 within 1.6 km of a service"][0] == "0%"


def test_directory_text_is_escaped_in_the_map(tmp_path, monkeypatch, areas):
    url = f"sqlite:///{tmp_path / 'evil.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    d = Directory(url).create()
    d.upsert([ServiceRecord(source="test", source_id="1", name="<script>alert(1)</script>", types=["stay_and_play"],
                            places=[Place(latitude=50.8573, longitude=0.5730)])], actor="t")
    at = run({"area": HASTINGS})
    script = map_args(at)["script"]
    assert "<script>alert(1)</script>" not in script and "&lt;script&gt;alert(1)&lt;/script&gt;" in script


def test_gap_list_downloads_as_csv(seeded, measures, monkeypatch):
    files = {}
    original = MediaFileManager.add

    def spy(self, path_or_data, mimetype, coordinates, file_name=None, **kw):
        files[file_name] = path_or_data
        return original(self, path_or_data, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add", spy)
    at = run({"area": BIRMINGHAM, "deciles": "1"})
    assert [b.label for b in at.download_button] == ["Download the gap list (CSV)",
                                                     "Download the neighbourhoods that lost reach (CSV)"]
    name = "provision-gaps-utla-E08000025-1.6km-deciles1-1-under5.csv"
    got = pd.read_csv(io.BytesIO(files[name].encode() if isinstance(files[name], str) else files[name]))
    expected = access.gap_list(measures[measures.ltla24_code == BIRMINGHAM], radius_km=1.6, deciles=(1,),
                               demand="under5")
    # every gap LSOA (not only the 100 shown), ranked, with its measures
    assert got.lsoa21_code.tolist() == expected.lsoa21_code.tolist()
    assert got["rank"].tolist() == list(range(1, len(expected) + 1))
    assert (got.imd_decile == 1).all() and (got.nearest_km > 1.6).all()
    assert {"lsoa21_name", "ward24_name", "imd_score", "income_decile", "children_and_young_people_score",
            "children_0_15", "idaci_numerator", "affected_children"} <= set(got.columns)


def test_counting_children_under_5_by_default(measures):
    # new parents' children: the gap list counts under-5s unless the link says otherwise
    at = run({"area": BIRMINGHAM})
    assert at.radio(key="pg_demand").value == "under5"
    assert any("children under 5" in label for label in metrics(at))
    rows = measures[measures.ltla24_code == BIRMINGHAM]
    expected = access.gap_list(rows, demand="under5")
    got = gap_table(at)
    assert len(got) == min(len(expected), 100)
    assert got["Neighbourhood"].tolist()[:20] == expected["lsoa21_name"].tolist()[:20]
    assert got["Affected children under 5"].round(6).tolist()[:20] == expected["affected_children"].round(6).tolist()[:20]
    # a different order from counting all children 0-15: the choice matters
    by_all = access.gap_list(rows, demand="children_0_15")
    assert expected["lsoa21_name"].tolist()[:20] != by_all["lsoa21_name"].tolist()[:20]
    assert "demand" not in params(at)
    at.radio(key="pg_demand").set_value("children_0_15")
    settle(at)
    assert params(at)["demand"] == "children"
    assert gap_table(at)["Neighbourhood"].tolist()[:20] == by_all["lsoa21_name"].tolist()[:20]


def test_what_changed_since_2016(areas, raw):
    from directory import history as H

    at = run({"kind": "utla", "area": "E08000025"})  # Birmingham
    assert "What changed since 2016" in [s.value for s in at.subheader]
    assert any("floor, not a census" in w.value for w in at.warning)
    h = H.load(raw, areas)
    row = h.table("utla").set_index("utla_code").loc["E08000025"]
    m = metrics(at)
    assert m["No longer listed"][0] == f"{row.no_longer_listed:,}"
    assert m["Centres listed Aug 2016"][0] == f"{row.listed_then:,}"
    lost = H.lost_reach(h.reach, "utla", "E08000025")
    shown = next(d.value for d in at.dataframe if "Deprived under-5s" in d.value.columns)
    assert shown.Neighbourhood.tolist() == lost.lsoa21_name.head(50).tolist()
    assert "Download the neighbourhoods that lost reach (CSV)" in [b.label for b in at.download_button]
    # the map of centres no longer listed: one history map besides the choropleth
    comps = [c for c in at.get("component_instance") if "st_folium" in c.proto.component_name]
    assert len(comps) == 2 and "no longer listed from the" in comps[1].proto.json_args
    assert "Under-5s with a listed centre within 1.6 km" in m  # the page's own distance (its default)


def test_what_changed_follows_the_pages_distance(areas, raw):
    from directory import history as H

    at = run({"kind": "utla", "area": "E08000025", "radius": "1"})
    row = H.load(raw, areas, 1.0).table("utla").set_index("utla_code").loc["E08000025"]
    m = metrics(at)
    assert m["Under-5s with a listed centre within 1 km"][0] == f"{row.under5_within_now:,.0f}"
    assert any("(a listed centre within 1 km in" in md.value for md in at.markdown)
