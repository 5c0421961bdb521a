"""Coverage tables in a real browser: `streamlit run` through Debian's Chromium, one real download."""

import pytest

from tests.conftest import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser


def test_analyst_previews_and_downloads_the_lsoa_table(app_url, page, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1750})  # the app scrolls inside itself: show the downloads
    page.goto(f"{app_url}/coverage")
    wait_for_app(page, "Coverage per upper-tier authority (2023): England")  # upper-tier authorities by default
    page.get_by_text("153 rows").first.wait_for()
    assert page.get_by_text("Page not found").count() == 0

    # the page settles after its first run: wait until the level selector takes clicks
    page.wait_for_function("""() => Array.from(document.querySelectorAll('[data-testid=stRadio] p'))
        .some(p => p.textContent === 'Neighbourhoods (LSOA)' && !p.closest('[inert]'))""", timeout=60_000)
    page.locator('[data-testid="stRadio"]').get_by_text("Neighbourhoods (LSOA)").click()
    wait_for_app(page, "Access to services per LSOA (2021): England")
    page.get_by_text("33,755 rows").first.wait_for()
    page.wait_for_timeout(800)  # let the data grid paint
    page.screenshot(path=str(ARTIFACTS / "coverage_tables.png"), full_page=True)

    # the file is made on the click (deferred) and arrives under its name
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="CSV", exact=True).click()
    download = info.value
    assert download.suggested_filename == "coverage-lsoa-1.6km-under5.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("lsoa21_code,lsoa21_name,ward24_code") and len(lines) == 33_756
