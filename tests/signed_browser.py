"""Sign-in in a real browser: a real OpenID Connect provider on loopback (oidc-provider-mock from PyPI)
and `streamlit run` with an [auth] section pointing at it. The `signed_app` fixture (tests/conftest.py)
starts both once per session, with its own directory database and stewards list:

- STEWARD, a steward scoped to Telford and Wrekin;
- ADMIN, an admin (every service, the taxonomy mapping and the stewards list)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port, streamlit_server, wait_for_app, wait_until_up
from tests.signin import TELFORD, add_steward

STEWARD = "sam@telford.gov.uk"
ADMIN = "alex@family-support.example"


@contextlib.contextmanager
def oidc_provider():
    """oidc-provider-mock on a free loopback port; yields its issuer URL."""
    port = free_port()
    exe = Path(sys.executable).with_name("oidc-provider-mock")
    proc = subprocess.Popen([str(exe), "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/.well-known/openid-configuration", proc, lambda: "oidc-provider-mock exited")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def signed_app_server(folder: Path, url: str):
    """Yields (app base URL, directory URL `url`). The base uses `localhost`, the host of the redirect URI."""
    add_steward(STEWARD, name="Sam Patel", authorities=[TELFORD], url=url)
    add_steward(ADMIN, name="Alex Morgan", role="admin", url=url)
    port = free_port()
    with oidc_provider() as issuer:
        secrets = folder / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
            'cookie_secret = "a-test-cookie-secret-of-reasonable-length"\n'
            'client_id = "fsm"\nclient_secret = "fsm-secret"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n')
        with streamlit_server(("--secrets.files", str(secrets)), {"FSM_DATABASE_URL": url}, port=port):
            yield f"http://localhost:{port}", url


def sign_in(page, base: str, email: str) -> None:
    """Through the provider's own authorize page, as a person would; ends on the home page."""
    page.goto(f"{base}/sign-in")
    wait_for_app(page, "Directory stewards: sign in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth2/authorize**", timeout=60_000)
    page.get_by_placeholder("sub").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base}/**", timeout=60_000)
    wait_for_app(page, "Find support near you")


def sidebar_links(page) -> list[str]:
    """The texts of the navigation's links (ui.navigation: page links in the sidebar)."""
    links = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')
    links.first.wait_for(timeout=60_000)
    return [t.strip() for t in links.all_inner_texts()]
