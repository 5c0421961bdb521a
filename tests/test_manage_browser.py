"""The Manage directory page in a real browser (`streamlit run` + Debian's Chromium): a steward
uploads an Open Referral UK feed and reads the validation report. The session directory is
shared and read-only for tests, so the import is cancelled, not committed."""

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS, wait_for_app
from tests.stewards_data import TF1_1AA, oruk_page, oruk_service

pytestmark = pytest.mark.browser


def test_steward_uploads_a_feed_and_reads_the_report(app_url, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1900})  # the app scrolls inside itself: fit the report
    # arrive as a steward does, through the sidebar
    page.goto(f"{app_url}/")
    wait_for_app(page, "Find support near you")
    page.get_by_role("link", name="Manage directory").click()
    wait_for_app(page, "Load the lists councils")
    assert page.url.endswith("/manage")
    name = page.get_by_role("textbox", name="Your name (recorded with every change)")
    name.fill("Sam Steward")
    name.press("Enter")
    wait_for_app(page, "Import a list")
    page.get_by_text("Open Referral UK JSON").first.click()
    source = page.get_by_placeholder("e.g. North Lincolnshire Council ORUK feed")  # the ORUK kind's box
    source.fill("North Lincolnshire Council")
    source.press("Enter")
    wait_for_app(page, "Source: who published this list")
    feed = oruk_page([
        oruk_service("Ashby Breastfeeding Support Group", lat=TF1_1AA[1], lon=TF1_1AA[2], postcode=TF1_1AA[0]),
        oruk_service("Baby Massage", postcode="TF1 3NT", terms=(("Baby massage", None), ("Under 5s", "audience"))),
        oruk_service("Antenatal workshops - baby care"),
    ])
    page.locator('input[type="file"]').first.set_input_files(
        files=[{"name": "north-lincs-services.json", "mimeType": "application/json", "buffer": feed}])
    wait_for_app(page, "Validation report")
    page.get_by_text("3 services read from north-lincs-services.json").wait_for()
    # new, updated, unchanged, rejected, warnings
    expect(page.locator('[data-testid="stMetricValue"]')).to_have_text(["2", "0", "0", "1", "1"], timeout=30_000)
    commit = page.get_by_role("button", name="Commit: write 2 services")
    assert commit.is_disabled()  # a rejected service: the steward must choose to skip it first
    page.get_by_text("Skip the rejected 1 service and import the rest").click()
    expect(page.get_by_role("button", name="Commit: write 2 services")).to_be_enabled(timeout=30_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "manage_import.png"), full_page=True)
    page.get_by_role("button", name="Cancel").click()
    wait_for_app(page, "Cancelled: nothing was written.")
