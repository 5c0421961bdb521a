"""The Manage page's Record quality tab in a real browser (`streamlit run` + Debian's Chromium), signed in
through a real OpenID Connect provider as an admin (tests/signed_browser.py): axe-core finds nothing serious
on the signed-in Manage page, the admin reads the quality table of the whole directory (the GIAS children's
centres and nursery schools), filters it by authority, and clicks a row to open that record in the edit
form. Nothing is written."""

import pytest
from playwright.sync_api import expect

from directory import quality
from directory.areas import attach_areas
from directory.store import Directory
from tests.axe import assert_accessible
from tests.conftest import ARTIFACTS, wait_for_app
from tests.signed_browser import ADMIN, sign_in

pytestmark = pytest.mark.browser


def test_steward_reads_the_quality_table_and_opens_a_record(signed_app, page, areas):
    ARTIFACTS.mkdir(exist_ok=True)
    base, url = signed_app
    page.set_viewport_size({"width": 1400, "height": 1400})
    sign_in(page, base, ADMIN)  # the app has seeded its directory by the time the home page shows
    d = Directory(url)
    records = quality.record_quality(attach_areas(d.service_frame(), areas))
    d.engine.dispose()
    page.goto(f"{base}/manage")
    wait_for_app(page, "Load the lists councils")
    assert_accessible(page, "manage-signed-in", ARTIFACTS)
    page.get_by_role("tab", name="Record quality").click()
    wait_for_app(page, "What a family would be missing")
    metric = page.locator('[data-testid="stMetricValue"]')
    expect(metric.first).to_have_text(f"{len(records):,}", timeout=30_000)
    # filter to one upper-tier authority
    name = records.utla_name.iloc[0]
    page.locator('[data-testid="stMultiSelect"]').filter(has_text="Upper-tier authority").locator("input").click()
    page.keyboard.type(name)
    page.get_by_role("option", name=name).first.click()
    page.keyboard.press("Escape")
    expect(metric.first).to_have_text(f"{int((records.utla_name == name).sum()):,}", timeout=30_000)
    wait_for_app(page, "What a family would be missing")
    grid = page.locator('[data-testid="stDataFrame"]').filter(has_text="missing").first
    grid.wait_for()
    page.screenshot(path=str(ARTIFACTS / "manage_quality.png"), full_page=True)
    assert_accessible(page, "manage-quality", ARTIFACTS)
    # click the first row's selection cell: the record opens in the edit form
    worst = records[records.utla_name == name].iloc[0]
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the row-selection column of the first data row
    wait_for_app(page, "Find a service (name, postcode or source id)")
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value(worst["name"], timeout=30_000)
    expect(page.get_by_text("Record quality:").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "manage_quality_opened.png"), full_page=True)
