"""Provision gaps in a real browser: `streamlit run` driven through Debian's Chromium, for Birmingham
(the largest authority: 659 neighbourhoods drawn as polygons)."""

import re

import pytest

from tests.conftest import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser

FRAME = 'iframe[title="streamlit_folium.st_folium"]'


def map_frame(pg):
    pg.locator(FRAME).first.wait_for(timeout=60_000)
    frame = pg.frame_locator(FRAME).first
    frame.locator(".leaflet-interactive").first.wait_for(timeout=60_000)
    return frame


def test_commissioner_sees_birmingham_gaps(app_url, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 2100})
    page.goto(f"{app_url}/gaps?area=E08000025")
    wait_for_app(page, "Birmingham City Council: deprived children far from support")
    assert page.get_by_text("Page not found").count() == 0
    frame = map_frame(page)
    # every LSOA is a polygon (plus the services, the boundary and the new sites' circles)
    polygons = frame.locator("path.leaflet-interactive")
    assert polygons.count() >= 659
    legend = frame.locator(".fsm-legend")
    assert "Deprived children far from support (children)" in legend.inner_text()
    # hovering a neighbourhood shows its name, decile, children and distance
    box = frame.locator(".leaflet-container").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.45)
    tip = frame.locator(".leaflet-tooltip")
    tip.first.wait_for(timeout=10_000)
    text = tip.first.inner_text()
    if "Neighbourhood (LSOA)" in text:  # (the pointer may land on a service dot instead)
        assert re.search(r"Birmingham \d{3}[A-Z]", text)
        for label in ("IMD decile", "Children aged 0-15", "Nearest service"):
            assert label in text
    # the gap list and the chart are beside the map; the CSV is downloadable
    page.get_by_text(re.compile(r"Gap list: \d+ deprived neighbourhoods")).first.wait_for()
    assert page.get_by_role("button", name="Download the gap list (CSV)").count() == 1
    # under-5s, all children, income-deprived children by decile; the register since 2016
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 4
    # the suggested new sites are numbered on the map
    assert frame.locator(".leaflet-marker-icon").count() == 3
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "gaps_birmingham.png"))

    # switching the measure in the page updates the map, its legend and the link
    page.get_by_role("combobox", name="Measure on the map").click()
    page.get_by_role("option", name="Distance to the nearest service").click()
    wait_for_app(page, "Birmingham City Council: distance to the nearest service")
    assert "measure=nearest" in page.url and "area=E08000025" in page.url
    frame = map_frame(page)
    frame.locator(".fsm-legend", has_text="Distance to the nearest service (km)").wait_for(timeout=30_000)
    assert "within reach" in frame.locator(".fsm-legend").inner_text()


def test_england_is_drawn_by_upper_tier_authority(app_url, page):
    page.goto(f"{app_url}/gaps")
    wait_for_app(page, "England: deprived children far from support")
    assert page.get_by_text("Page not found").count() == 0
    frame = map_frame(page)
    page.wait_for_timeout(500)
    n = frame.locator("path.leaflet-interactive").count()
    # 153 upper-tier authorities + at most 1,500 service dots + 3 new sites' circles; never 33,755 neighbourhoods
    assert 153 <= n < 2000
