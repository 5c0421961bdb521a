"""Upper-tier authorities and ICBs in a real browser: Worcestershire and the NHS Herefordshire and
Worcestershire ICB with the "What changed since 2016" section (screenshots to look at), and the
drawing time of the largest upper-tier authority (Kent) and the largest ICB (North East and North
Cumbria), printed for the report (never asserted: the machine is shared)."""

import time

import pytest

from tests.conftest import ARTIFACTS, ROOT, wait_for_app

pytestmark = pytest.mark.browser

FRAME = 'iframe[title="streamlit_folium.st_folium"]'


def first_map(pg, n_paths: int):
    pg.locator(FRAME).first.wait_for(timeout=120_000)
    frame = pg.frame_locator(FRAME).first
    frame.locator(".leaflet-interactive").first.wait_for(timeout=120_000)
    pg.wait_for_function(
        """([sel, n]) => { const f = document.querySelector(sel);
             return f && f.contentDocument && f.contentDocument.querySelectorAll('path.leaflet-interactive').length >= n; }""",
        arg=[FRAME, n_paths], timeout=120_000)
    return frame


def test_worcestershire_and_its_icb_with_history(app_url, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 3000})
    page.goto(f"{app_url}/gaps?area=E10000034")
    wait_for_app(page, "Worcestershire County Council: deprived children far from support", timeout=120_000)
    frame = first_map(page, 374)  # the county's 374 neighbourhoods
    assert "Deprived children far from support" in frame.locator(".fsm-legend").inner_text()
    page.get_by_text("What changed since 2016").first.wait_for()
    page.get_by_text("floor, not a census").first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "gaps_worcestershire.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ROOT / "docs" / "provision-gaps.png"))

    page.set_viewport_size({"width": 1400, "height": 4400})  # Streamlit scrolls inside: a tall window shows it all
    page.goto(f"{app_url}/gaps?kind=icb&area=E54000019")
    wait_for_app(page, "NHS Herefordshire and Worcestershire Integrated Care Board: deprived children far",
                 timeout=120_000)
    first_map(page, 500)
    page.get_by_text("What changed since 2016").first.wait_for()
    hist = page.frame_locator(FRAME).nth(1)
    hist.locator(".leaflet-interactive").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "gaps_icb_history.png"), full_page=True)


@pytest.mark.parametrize("url, title, n", [
    ("/gaps?area=E10000016", "Kent County Council: deprived children far from support", 938),
    ("/gaps?kind=icb&area=E54000050", "NHS North East and North Cumbria Integrated Care Board: deprived", 1889),
])
def test_drawing_time_of_the_largest_areas(app_url, page, url, title, n):
    t0 = time.perf_counter()
    page.goto(app_url + url)
    wait_for_app(page, title, timeout=180_000)
    t1 = time.perf_counter()
    first_map(page, n)
    t2 = time.perf_counter()
    print(f"\n{title.split(':')[0]}: page ready {t1 - t0:.1f} s, {n} neighbourhoods drawn {t2 - t1:.1f} s later "
          f"({t2 - t0:.1f} s in all)")
