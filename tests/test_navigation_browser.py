"""A link to a page other than the home page, opened as the first request to a freshly started server
(a shared link after a restart), shows that page inside the app's navigation."""

import pytest

from tests.conftest import streamlit_server, wait_for_app

pytestmark = pytest.mark.browser


def test_first_request_to_a_page_link_uses_the_apps_navigation(seeded, page):
    with streamlit_server() as url:
        page.goto(f"{url}/about")
        wait_for_app(page, "About the data")
        sidebar = page.locator('[data-testid="stSidebar"]')
        for section in ("For families", "For commissioners", "For directory stewards", "For analysts"):
            assert sidebar.get_by_text(section).count() == 1, section
        assert page.get_by_text("Page not found").count() == 0
        assert page.title() == "Family Support Map"  # set by dashboard.py, so it ran
