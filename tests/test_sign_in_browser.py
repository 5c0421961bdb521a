"""Sign-in end to end: `streamlit run` with an [auth] section pointing at a real OpenID Connect
provider on loopback (oidc-provider-mock from PyPI, started by the test), driven in Debian's Chromium.

An anonymous visitor has no write control and gets nothing from /manage; an unlisted account is
refused; a listed steward signs in, imports within scope (the out-of-scope row is refused with its
message), is refused an out-of-scope edit, and the audit row records the signed-in email."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from directory.store import Directory
from tests.conftest import ARTIFACTS, wait_for_app
from tests.signed_browser import STEWARD, sidebar_links, sign_in
from tests.stewards_data import TF1_1AA, template_rows

pytestmark = pytest.mark.browser
BIRMINGHAM = (52.479605, -1.903796)


def test_anonymous_visitor_gets_nothing_from_manage(signed_app, page):
    base, _ = signed_app
    page.goto(f"{base}/")
    wait_for_app(page, "Find support near you")
    links = " ".join(sidebar_links(page))
    assert "Steward sign-in" in links and "Manage directory" not in links
    page.goto(f"{base}/manage")
    wait_for_app(page, "Find support near you")  # not a page of the app for them: the home page
    assert page.get_by_text("Import a list").count() == 0
    assert page.locator('input[type="file"]').count() == 0
    assert page.get_by_role("button", name="Commit").count() == 0


def test_unlisted_account_is_refused(signed_app, browser):
    base, _ = signed_app
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        sign_in(page, base, "stranger@example.com")
        assert "Manage directory" not in " ".join(sidebar_links(page))
        page.goto(f"{base}/sign-in")
        wait_for_app(page, "which is not on this directory's list of stewards")
        page.goto(f"{base}/manage")
        wait_for_app(page, "Find support near you")
        assert page.locator('input[type="file"]').count() == 0
    finally:
        ctx.close()


def test_steward_signs_in_imports_within_scope_and_is_refused_outside(signed_app, browser):
    base, url = signed_app
    ARTIFACTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1900})
    page = ctx.new_page()
    try:
        sign_in(page, base, STEWARD)
        expect(page.get_by_text("Signed in as Sam Patel (sam@telford.gov.uk), steward")).to_be_visible()
        page.get_by_role("link", name="Manage directory").click()
        wait_for_app(page, "Load the lists councils")
        assert page.url.endswith("/manage")
        page.get_by_placeholder("e.g. Telford & Wrekin Council family services list").fill("Telford & Wrekin Council")
        page.keyboard.press("Enter")
        wait_for_app(page, "Source: who published this list")
        data = template_rows([
            {"name": "Hadley Stay and Play", "types": "stay_and_play", "postcode": TF1_1AA[0]},
            {"name": "Birmingham Baby Massage", "types": "baby_massage", "latitude": str(BIRMINGHAM[0]),
             "longitude": str(BIRMINGHAM[1])},
        ])
        page.locator('input[type="file"]').first.set_input_files(
            files=[{"name": "telford.csv", "mimeType": "text/csv", "buffer": data}])
        wait_for_app(page, "Validation report")
        # the report's five counts come first (the Record quality tab's metrics follow them)
        for i, value in enumerate(["1", "0", "0", "1", "0"]):
            expect(page.locator('[data-testid="stMetricValue"]').nth(i)).to_have_text(value, timeout=30_000)
        page.get_by_text("Skip the rejected 1 row and import the rest").click()
        commit = page.get_by_role("button", name="Commit: write 1 service")
        expect(commit).to_be_enabled(timeout=30_000)
        wait_for_app(page, "Validation report")  # the run has finished: nothing drawn faded
        page.screenshot(path=str(ARTIFACTS / "sign_in_import.png"), full_page=True)
        commit.click()
        wait_for_app(page, "Imported telford.csv: 1 new")
        d = Directory(url)
        assert {r.name for r in d.records() if r.source == "Telford & Wrekin Council"} == {"Hadley Stay and Play"}
        assert d.history()[0]["actor"] == "sam@telford.gov.uk (Our CSV template: telford.csv)"

        # an edit outside the steward's scope: a Camden nursery school
        page.get_by_role("tab", name="Add or edit a service").click()
        find = page.get_by_label("Find a service (name, postcode or source id)")
        find.fill("Thomas Coram")
        find.press("Enter")
        wait_for_app(page, "Add or edit a service")
        page.get_by_role("tab", name="Add or edit a service").click()  # the flash above the tabs has gone
        page.get_by_text("is outside your scope").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Save", exact=True).click()
        wait_for_app(page, "Add or edit a service")
        page.get_by_role("tab", name="Add or edit a service").click()
        page.get_by_text("Nothing was changed.").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "sign_in_out_of_scope.png"), full_page=True)
        assert all(h["actor"].startswith(("seed", "sam@telford.gov.uk (Our CSV")) for h in d.history(limit=1000))
        d.engine.dispose()

        # families see the import at once
        page.goto(f"{base}/?q=TF1+1AA")
        wait_for_app(page, "Hadley Stay and Play")
    finally:
        ctx.close()
