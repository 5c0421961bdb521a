"""Sign-in for AppTest: the [auth] secrets st.login needs and a signed-in user, plus the stewards list."""

from __future__ import annotations

import os
import time

from streamlit.testing.v1 import AppTest

from directory.store import Directory
from directory.stewards import Stewards

#: What .streamlit/secrets.toml would hold (never used to talk to a provider in AppTest).
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-cookie-secret",
        "client_id": "fsm", "client_secret": "fsm-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}

TELFORD = "E06000020"  # Telford and Wrekin (a unitary authority: upper tier too)


def add_steward(email: str, role: str = "steward", authorities=(), sources=(), name: str | None = None,
                url: str | None = None):
    """Put an account on the stewards list of the app's directory (FSM_DATABASE_URL) unless it is there."""
    d = Directory(url or os.environ["FSM_DATABASE_URL"]).create()
    try:
        book = Stewards(d)
        if book.get(email) is None:
            book.add(email, name or email.split("@")[0].title(), role, authorities, sources, actor="test")
        return book.get(email)
    finally:
        d.engine.dispose()


def signed_in(at: AppTest, email: str | None, name: str = "Test Steward", auth_time: float | None = None) -> AppTest:
    """Sign-in configured; `email` signed in (None: an anonymous visitor)."""
    at.secrets["auth"] = AUTH
    if email is None:
        at.user = {"is_logged_in": False}
    else:
        at.user = {"is_logged_in": True, "email": email, "name": name, "auth_time": int(auth_time or time.time())}
    return at
