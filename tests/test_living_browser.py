"""In a real browser (`streamlit run` + Debian's Chromium), with axe-core: Find support's "Phone and online
support for your area" (two real services without a building, tests/no_building.py, in a copy of the seeded
directory), and the Manage page's Feeds tab, signed in as an admin, checking a feed served by the loopback
mimic (tests/oruk_mimic.py) without committing it (the shared signed-in directory's services are unchanged)."""

import pytest
from playwright.sync_api import expect

from directory.ingest.csv_import import read_services_csv
from directory.ingest.oruk import export_oruk
from directory.store import Directory
from tests.axe import assert_accessible
from tests.conftest import ARTIFACTS, copy_of, streamlit_server, wait_for_app
from tests.no_building import FAMILYLINE, SEND, rows
from tests.oruk_mimic import Mimic
from tests.signed_browser import ADMIN, sign_in
from tests.stewards_data import template_rows

pytestmark = pytest.mark.browser


def test_phone_and_online_support_on_find_support(page, seeded, areas, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    url = copy_of(seeded, tmp_path / "living.sqlite")
    d = Directory(url)
    d.upsert(read_services_csv(template_rows(rows()), "Test council list", areas.postcodes).records, "test")
    d.engine.dispose()
    with streamlit_server(env={"FSM_DATABASE_URL": url}) as base:
        page.goto(f"{base}/?q=South+Gloucestershire")
        wait_for_app(page, "Phone and online support for your area")
        section = page.get_by_text("Phone and online support for your area")
        section.scroll_into_view_if_needed()
        expect(page.get_by_text(SEND, exact=False).first).to_be_visible()
        page.get_by_text(FAMILYLINE).first.click()  # open its entry
        expect(page.get_by_text("Families anywhere in England").first).to_be_visible(timeout=30_000)
        wait_for_app(page, "Families anywhere in England")
        page.wait_for_timeout(600)  # the expander's opening animation
        page.get_by_text("Shortlist FamilyLine").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "find_phone_online.png"), full_page=True)
        assert_accessible(page, "find-phone-online", ARTIFACTS)


def test_an_admin_checks_a_feed_in_the_browser(signed_app, page, areas, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    base, url = signed_app
    src = Directory(f"sqlite:///{tmp_path / 'src.sqlite'}").create()
    src.upsert(read_services_csv(template_rows(rows()), "A council", areas.postcodes).records, "test")
    mimic = Mimic()
    feed = mimic.add("browser", [{k: v for k, v in doc.items() if not k.startswith("fsm_")}
                                 for doc in export_oruk(src.stored())["contents"]])
    try:
        page.set_viewport_size({"width": 1400, "height": 1400})
        sign_in(page, base, ADMIN)
        before = Directory(url).count()
        page.goto(f"{base}/manage")
        wait_for_app(page, "Load the lists councils")
        page.get_by_role("tab", name="Feeds").click()
        wait_for_app(page, "Register a feed")
        page.get_by_label("Name (the source its services are stored under)").fill("A council's phone lines")
        page.get_by_label("API base URL (its /services lists the services)").fill(feed)
        page.get_by_role("button", name="Register the feed").click()
        wait_for_app(page, "check it to see what it holds")
        page.get_by_role("tab", name="Feeds").click()
        page.get_by_role("button", name="Check now (nothing is written)").last.click()
        wait_for_app(page, "What changes when you commit")
        expect(page.get_by_role("button", name="Commit: write 2 services")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "manage_feeds.png"), full_page=True)
        assert_accessible(page, "manage-feeds", ARTIFACTS)
        page.get_by_role("button", name="Cancel").last.click()
        assert Directory(url).count() == before  # a check writes nothing
    finally:
        mimic.close()
