"""Streamlit glue shared by the pages: cached data, first-run build, the footer.

The domain logic lives in `directory/` (which never imports streamlit); this
module only caches what it loads and shows progress while the data is built.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from directory import config, text
from directory.areas import Areas, attach_areas
from directory.bootstrap import seed
from directory.build import build, needs_build
from directory.sources import DataError, catalogue
from directory.store import Directory
from directory.stewards import Account, Stewards, idle_expired


def _ensure_built() -> None:
    if not needs_build():
        return
    bar = st.progress(0.0, text="Preparing the data (first run only)...")
    try:
        build(progress=lambda f, m: bar.progress(min(f, 1.0), text=f"Preparing the data: {m}"))
    except DataError as e:
        bar.empty()
        st.error(f"The official data files are not ready.\n\n{e}")
        st.info(
            f"Put the raw files in `{config.raw_dir()}` (or set FSM_RAW_DATA to their folder), "
            "or run `python -m directory data download` on a machine with internet."
        )
        st.stop()
    bar.empty()


@st.cache_resource(show_spinner="Loading areas...")
def _areas(build_dir: str) -> Areas:
    return Areas.load(build_dir)


def areas() -> Areas:
    _ensure_built()
    return _areas(str(config.build_dir()))


@st.cache_resource(show_spinner=False)
def _directory(url: str) -> Directory:
    d = Directory(url).create()
    seed(d)
    return d


def directory() -> Directory:
    areas()  # seeding needs the built data
    return _directory(config.database_url())


@st.cache_data(show_spinner="Loading services...", max_entries=2)
def _all_services(url: str, build_dir: str, version: int) -> pd.DataFrame:
    return attach_areas(_directory(url).service_frame(), _areas(build_dir))


def all_services() -> pd.DataFrame:
    """Every active service location as stored, linked duplicates kept apart (for stewards),
    cached per directory version like `services()`."""
    d = directory()
    return _all_services(config.database_url(), str(config.build_dir()), d.version())


@st.cache_data(show_spinner="Loading services...", max_entries=2)
def _services(url: str, build_dir: str, version: int) -> pd.DataFrame:
    from directory.duplicates import merge_linked, same_links

    # services a steward linked as one place are shown once, naming every source
    return merge_linked(_all_services(url, build_dir, version), same_links(_directory(url)))


def services() -> pd.DataFrame:
    """All active service locations with their areas, cached per directory version: every write (this
    process, another app process, the command line) bumps the version in the database, so the next
    run of any page in any process reads the new services. One small SELECT per run."""
    d = directory()
    return _services(config.database_url(), str(config.build_dir()), d.version())


def services_changed() -> None:
    """Nothing to clear: the next `services()` sees the new directory version (kept for callers)."""


# ---------------------------------------------------------------- sign-in (OpenID Connect via st.login)

AUTH_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def auth_configured() -> bool:
    """True when .streamlit/secrets.toml has an [auth] section st.login can use."""
    try:
        auth = st.secrets.get("auth") if st.secrets.load_if_toml_exists() else None
    except Exception:  # no secrets file at all
        return False
    if not auth or not all(auth.get(k) for k in AUTH_KEYS):
        return False
    providers = [auth] + [v for v in auth.values() if hasattr(v, "get")]
    return any(all(p.get(k) for k in PROVIDER_KEYS) for p in providers)


def signed_in_email() -> str | None:
    """The identity provider's email claim of the signed-in person (only with sign-in configured)."""
    if not auth_configured():
        return None
    user = dict(st.user)
    if user.get("is_logged_in") is not True:
        return None
    email = user.get("email")
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


def _signed_in_at():
    from datetime import datetime, timezone

    user = dict(st.user)
    for k in ("auth_time", "iat"):
        v = user.get(k)
        if isinstance(v, (int, float)):
            return datetime.fromtimestamp(v, timezone.utc)
    return None


def sign_in_state() -> tuple[str, Account | None]:
    """("unconfigured" | "signed_out" | "not_listed" | "expired" | "steward", account)."""
    if not auth_configured():
        return "unconfigured", None
    email = signed_in_email()
    if email is None:
        return "signed_out", None
    stewards = Stewards(directory())
    account = stewards.active(email)
    if account is None:
        return "not_listed", None
    if idle_expired(account, _signed_in_at(), config.session_idle_minutes()):
        return "expired", account
    stewards.touch(email)
    return "steward", account


def account() -> Account | None:
    """The signed-in steward (listed, enabled, not idle too long), else None."""
    state, acct = sign_in_state()
    return acct if state == "steward" else None


def account_box(acct: Account | None) -> None:
    """Who is signed in, and sign-out, in the sidebar."""
    email = signed_in_email()
    if email:
        with st.sidebar:
            who = f"{text.md(acct.name)} ({text.md(acct.email)})" if acct else text.md(email)
            st.caption(f"Signed in as {who}" + (f", {acct.role}" if acct else ""))
            st.button("Sign out", on_click=st.logout, key="fsm_sign_out")


@st.cache_resource(show_spinner=False)
def _walking_network(raw: str, build_dir: str):
    from directory import walking

    if not walking.needs_network(raw, build_dir):
        return walking.ensure_network(raw, build_dir)
    bar = st.progress(0.0, text="Preparing walking routes (first run only)...")
    try:
        return walking.ensure_network(raw, build_dir, progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
    finally:
        bar.empty()


def walking_network():
    """The walking network of the raw folder's OpenStreetMap extracts (None without any); built once."""
    areas()
    return _walking_network(str(config.raw_dir()), str(config.build_dir()))


def footer() -> None:
    st.divider()
    st.caption(
        catalogue().attribution
        + " Map data © OpenStreetMap contributors. Service details come from the sources named on each entry."
    )
