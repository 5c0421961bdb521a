"""Families in north-west Nottingham see walking times along real paths: AppTest and Chromium.

The directory for these tests is the seeded one (GIAS) plus the children's centres mapped in the
Nottingham OpenStreetMap extract itself (real places, with their OSM names and postcodes)."""

from __future__ import annotations

import html
import re

import pytest
from streamlit.testing.v1 import AppTest

from directory import walking
from directory.store import Directory, Place, ServiceRecord
from tests.conftest import ARTIFACTS, copy_of, streamlit_server, wait_for_app
from tests.test_find_browser import map_frame

PAGE = "../views/find_support.py"
BULWELL = "NG6 9EE"  # a street of houses in Bulwell (Code-Point Open: 454973, 344283)


@pytest.fixture(scope="module")
def notts_db(tmp_path_factory, seeded, raw):
    # a copy of the session's seeded directory (the same GIAS seed, without seeding it again)
    url = copy_of(seeded, tmp_path_factory.mktemp("walkpage") / "directory.sqlite")
    d = Directory(url).create()
    cc = walking.tagged_childrens_centres(raw / "osm" / "nottingham-nw-ng86ba-20180521.osm.pbf")
    cc = cc[cc.name.str.contains("Children", na=False) & (cc.name != "Children's Centre")]
    d.upsert([ServiceRecord(source="openstreetmap", source_id=r.osm, name=r.name, types=["childrens_centre"],
                            pregnancy=True, min_age_months=0, max_age_months=59,
                            places=[Place(latitude=r.lat, longitude=r.lon, address=r.street, postcode=r.postcode)])
              for r in cc.itertuples()], actor="test: OSM children's centres")
    return url


def test_bulwell_family_sees_walks_along_paths(notts_db, monkeypatch, raw):
    monkeypatch.setenv("FSM_DATABASE_URL", notts_db)
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    at.text_input(key="fs_q").input(BULWELL).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [e.label for e in at.expander if e.label not in ("Filters", "Share this search")]
    assert labels and all("min walk along paths" in l for l in labels), labels
    assert any("Sure Start Children's Centre Bulwell" in l for l in labels)
    parsed = [re.search(r"· (\d+\.\d) km · about (\d+) min walk along paths \((\d+\.\d) km\)", l) for l in labels]
    walks = [float(m[3]) for m in parsed]
    assert walks == sorted(walks)  # nearest on foot first
    for m in parsed:
        straight, minutes, walk = float(m[1]), int(m[2]), float(m[3])
        assert walk >= straight and minutes == pytest.approx(walk / 4.8 * 60, abs=1.5)
    walk = walks[0]
    # independent: the point OS Code-Point Open gives NG6 9EE, walked along the same network to each listed centre
    import zipfile

    import numpy as np

    with zipfile.ZipFile(raw / "codepo_gb.zip") as z:
        row = next(l for l in z.read("Data/CSV/ng.csv").decode().splitlines() if l.startswith('"NG6 9EE"'))
    x, y = map(float, row.split(",")[2:4])
    d = Directory(notts_db).service_frame()
    net = walking.ensure_network()
    names = [html.unescape(re.search(r"\*\*(.+?)\*\*", l)[1]) for l in labels]  # md-escaped for the page
    pts = d.set_index("name").loc[names, ["x", "y"]].to_numpy(float)
    np.testing.assert_allclose(walks, np.round(net.distances([[x, y]], pts)[0] / 1000, 1), atol=0.051)
    assert "NG6 9EE" in at.caption[0].value and not at.info  # the exact postcode, not its sector
    caption = at.caption[0].value
    assert "streets and footpaths mapped by OpenStreetMap" in caption and "4.8 km/h" in caption
    # the slower pace with a pram
    at.radio(key="fs_pace").set_value(walking.PRAM_KMH).run()
    slow = [e.label for e in at.expander if e.label not in ("Filters", "Share this search")][0]
    assert int(re.search(r"about (\d+) min walk along paths", slow)[1]) == pytest.approx(walk / 3.2 * 60, abs=1.5)
    assert "3.2 km/h" in at.caption[0].value


@pytest.fixture(scope="module")
def notts_app(notts_db):
    """The app on the Nottingham directory, shared by this file's Chromium tests."""
    with streamlit_server(env={"FSM_DATABASE_URL": notts_db}) as url:
        yield url


@pytest.mark.browser
def test_bulwell_walks_along_paths_in_chromium(notts_app, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{notts_app}/?q={BULWELL.replace(' ', '+')}")
    wait_for_app(page, "Sure Start Children's Centre Bulwell", timeout=120_000)
    assert page.get_by_text(re.compile(r"min walk along paths")).count() >= 3
    page.get_by_text(re.compile("streets and footpaths mapped by OpenStreetMap")).first.wait_for()
    map_frame(page)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "find_bulwell_walking.png"), full_page=True)


def test_walking_access_page_ranks_neighbourhoods_by_detour(notts_db, monkeypatch, areas):
    monkeypatch.setenv("FSM_DATABASE_URL", notts_db)
    at = AppTest.from_file("../views/walking_access.py", default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value == "Walk ÷ straight line to the nearest service"
    sb = at.selectbox(key="wa_extract")
    notts = next(i for i, o in enumerate(sb.options) if o.startswith("nottingham-nw-ng86ba-20180521.osm.pbf"))
    sb.set_value(notts).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "(71 neighbourhoods)" in sb.options[notts]
    df = at.dataframe[0].value
    assert len(df) == 71  # the LSOA centres inside the Nottingham extract (bench/walk_bench.py counts them too)
    known = df["walk_detour"].notna()
    assert known.sum() >= 50 and (df.loc[known, "walk_detour"] >= 1).all()  # some blank: a centre off the network is nearer
    assert (df.loc[known, "nearest_walk_km"] >= df.loc[known, "nearest_line_km"]).all()
    assert df["walk_detour"].is_monotonic_decreasing or df.loc[known, "walk_detour"].is_monotonic_decreasing
    assert "© OpenStreetMap contributors" in at.caption[0].value


@pytest.mark.browser
def test_detour_map_in_chromium(notts_app, page):
    page.set_viewport_size({"width": 1400, "height": 1200})
    page.goto(f"{notts_app}/walking")
    wait_for_app(page, "Walk ÷ straight line to the nearest service", timeout=120_000)
    page.locator('iframe[title="streamlit_folium.st_folium"]').first.wait_for(timeout=60_000)
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').first
    frame.locator("path.leaflet-interactive").first.wait_for(timeout=60_000)
    assert frame.locator("path.leaflet-interactive").count() > 60
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "walking_detour_map.png"), full_page=True)


def test_coverage_cli_lsoa_table_gains_walks_blank_outside_the_network(notts_db, monkeypatch, tmp_path, areas, raw):
    import numpy as np
    import pandas as pd

    from directory.__main__ import main

    monkeypatch.setenv("FSM_DATABASE_URL", notts_db)
    out = tmp_path / "nottingham.csv"
    assert main(["coverage", "--level", "lsoa", "--authority", "Nottingham", "--types", "childrens_centre",
                 "--out", str(out)]) == 0
    t = pd.read_csv(out)
    assert {"nearest_walk_km", "walk_detour"} <= set(t.columns)
    net = walking.ensure_network()
    pts = areas.lsoa.set_index("lsoa21_code").loc[t.lsoa21_code, ["x", "y"]].to_numpy()
    on = net.snap(pts).covered
    assert 0 < on.sum() < len(t)  # the city's north-west only
    assert t.loc[~on, "nearest_walk_km"].isna().all() and t.loc[~on, "walk_detour"].isna().all()
    # independent: the walks to every children's centre in the directory, the shortest per LSOA
    d = Directory(notts_db).service_frame()
    cc = d[d.types.apply(lambda ts: "childrens_centre" in ts)]
    full = net.distances(pts[on], cc[["x", "y"]].to_numpy(float))
    got = t.loc[on, "nearest_walk_km"].to_numpy()
    known = ~np.isnan(got)
    assert known.sum() >= 40
    np.testing.assert_allclose(got[known], np.nanmin(full, axis=1)[known] / 1000, atol=1e-4)
    assert (t.loc[on, "walk_detour"].dropna() >= 1).all()
    # the straight line stays in nearest_km, never longer than the walk
    assert (t.loc[on, "nearest_km"].to_numpy()[known] <= got[known] + 1e-4).all()


def test_outside_every_extract_the_list_keeps_straight_lines_and_says_so(seeded):
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    at.text_input(key="fs_q").input("TF1 1AA").run()  # Telford: no OpenStreetMap extract covers it
    assert not at.exception, [e.value for e in at.exception]
    labels = [e.label for e in at.expander if e.label not in ("Filters", "Share this search")]
    assert labels and all(l.endswith(("min walk (straight line)", "too far to walk")) for l in labels), labels
    assert not any("along paths" in l for l in labels)
    km, minutes = re.search(r"· ([\d.]+) km · about (\d+) min walk \(straight line\)", labels[0]).groups()
    assert int(minutes) == pytest.approx(float(km) / 4.8 * 60, abs=1.5)
    assert "walking routes are not mapped here yet" in at.caption[0].value


def test_gap_list_can_walk_along_paths_in_nottingham(notts_db, monkeypatch, areas):
    """Provision gaps with the walking switch: Nottingham's gap list uses walks where the network
    covers the LSOA, and says so; the same list with the switch off uses straight lines."""
    import numpy as np

    from directory import access

    monkeypatch.setenv("FSM_DATABASE_URL", notts_db)
    at = AppTest.from_file("../views/provision_gaps.py", default_timeout=180)
    at.query_params["area"] = "E06000018"  # Nottingham
    at.query_params["types"] = "childrens_centre"
    at.query_params["radius"] = "1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "1 km in a straight line" in at.caption[0].value
    before = next(d.value for d in at.dataframe if "Rank" in d.value.columns)
    at.toggle(key="pg_walk").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    cap = at.caption[0].value
    walked = int(re.search(r"walking along mapped paths for ([\d,]+) neighbourhoods", cap)[1].replace(",", ""))
    after = next(d.value for d in at.dataframe if "Rank" in d.value.columns)
    # independent: the LSOAs the network covers, walked to every children's centre of the directory
    net = walking.ensure_network()
    d = Directory(notts_db).service_frame()
    cc = d[d.types.apply(lambda ts: "childrens_centre" in ts)]
    m = access.lsoa_measures(areas.lsoa, cc, radius_km=1.0, cost=walking.WalkingCost(net))
    assert walked == int(m.distance_basis.eq("walk").sum()) >= 60  # Nottingham (the other extracts hold no centre)
    notts = m[(m.ltla24_code == "E06000018") & m.distance_basis.eq("walk")]
    full = net.distances(notts[["x", "y"]].to_numpy(float), cc[["x", "y"]].to_numpy(float))
    np.testing.assert_allclose(notts.nearest_km, np.nanmin(full, axis=1) / 1000)
    # walking never brings a service nearer: every straight-line gap is still a gap, and some are new
    assert set(before.iloc[:, 1]) <= set(after.iloc[:, 1]) and len(after) > len(before)
    # the switch is in the link, and the link brings it back
    walk_param = at.query_params.get("walk")
    assert (walk_param[0] if isinstance(walk_param, list) else walk_param) == "1"
    again = AppTest.from_file("../views/provision_gaps.py", default_timeout=180)
    for k, v in {"area": "E06000018", "types": "childrens_centre", "radius": "1", "walk": "1"}.items():
        again.query_params[k] = v
    again.run()
    assert not again.exception and again.toggle(key="pg_walk").value is True
    assert next(d.value for d in again.dataframe if "Rank" in d.value.columns).equals(after)
