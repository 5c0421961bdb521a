"""Find support in a real browser: `streamlit run` driven through Debian's Chromium."""

import re

import pytest

from tests.conftest import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser


def map_frame(pg):
    pg.locator('iframe[title="streamlit_folium.st_folium"]').first.wait_for(timeout=60_000)
    frame = pg.frame_locator('iframe[title="streamlit_folium.st_folium"]').first
    # drawn: Leaflet's SVG circles have arc commands once the map has its size
    frame.locator('path.leaflet-interactive[d*="a"]').first.wait_for(timeout=60_000)
    return frame


def test_family_types_a_postcode_and_sees_services(app_url, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{app_url}/?types=early_education")  # the nursery schools (children's centres are nearer)
    wait_for_app(page, "Find support near you")
    box = page.get_by_role("textbox", name="Postcode or place")
    box.fill("tf1 1aa")
    box.press("Enter")
    wait_for_app(page, "Nothing within 2 km of TF1 1AA")
    assert "q=tf1+1aa" in page.url.replace("%20", "+")  # the search is in the link
    page.get_by_text("Oakengates Nursery School").first.wait_for()
    assert page.get_by_text(re.compile(r"4\.4 km · about 56 min walk")).count() == 1

    # widen the radius through the URL a health visitor would send
    page.goto(f"{app_url}/?q=TF1+1AA&radius=10&types=early_education")
    wait_for_app(page, "2 within 10 km of TF1 1AA")
    frame = map_frame(page)
    # the radius circle, the searched point and one marker per service
    page.wait_for_timeout(500)
    assert frame.locator('path.leaflet-interactive[d*="a"]').count() == 4
    # clicking a service marker opens its details (escaped HTML popup)
    markers = frame.locator("path.leaflet-interactive")
    for i in range(markers.count() - 1, -1, -1):
        markers.nth(i).click(force=True)
        if frame.locator(".leaflet-popup-content").count():
            break
    popup = frame.locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    assert "Nursery School" in popup.inner_text() and "Last verified:" in popup.inner_text()
    # the list carries every detail too: open the first entry
    page.get_by_text("Oakengates Nursery School").first.click()
    page.get_by_text("Directions (opens Google Maps)").first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "find_support.png"), full_page=True)


def test_phone_width_has_no_sideways_scroll(app_url, browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    pg = ctx.new_page()
    try:
        pg.goto(f"{app_url}/?q=TF1+1AA&radius=10&types=early_education")
        wait_for_app(pg, "2 within 10 km of TF1 1AA")
        map_frame(pg)
        pg.wait_for_timeout(500)
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        pg.screenshot(path=str(ARTIFACTS / "find_support_phone.png"), full_page=True)
    finally:
        ctx.close()


def test_national_directory_worcester(app_url, page, seeded):
    """A Worcester postcode (outside the old 9 postcode areas): children's centres at their postcode centres."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1900})  # Streamlit scrolls inside the page: all of it in view
    page.goto(f"{app_url}/?q=WR1+1AA&radius=5&types=childrens_centre")
    wait_for_app(page, "within 5 km of WR1 1AA")
    frame = map_frame(page)
    first = page.locator('[data-testid="stExpander"] summary').filter(has_text="km ·").first
    label = first.inner_text()
    assert re.search(r"1\. .* · \d+\.\d km · (about \d+ min walk|under 1 min walk)", label), label
    first.click()
    page.get_by_text("postcode centre (not the exact building)").first.wait_for()
    assert frame.locator("path.leaflet-interactive").count() >= 3
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "find_support_national.png"), full_page=True)
