"""Streamlit glue shared by the pages: cached data, first-run build, the footer.

The domain logic lives in `directory/` (which never imports streamlit); this
module only caches what it loads and shows progress while the data is built.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from directory import config, text
from directory.areas import Areas, attach_areas
from directory.bootstrap import seed
from directory.manifest import needs_build
from directory.nearest import ServiceIndex
from directory.sources import DataError, catalogue
from directory.store import Directory
from directory.stewards import Account, Stewards, idle_expired


#: (raw folder, build folder) pairs this process has checked: the loaded tables are kept for the life of the
#: process (`_areas` below), so checking the raw files again on every page run (a walk of the folder and a
#: stat of each file, three times per run) would change nothing. `python -m directory data build` or a
#: restart picks up new raw files.
_checked: set[tuple[str, str]] = set()


def _folders() -> tuple[str, str]:
    return str(config.raw_dir()), str(config.build_dir())


def data_current() -> bool:
    """True when the derived data is up to date (asked of the files once per process, while it is)."""
    if _folders() in _checked:
        return True
    if needs_build():
        return False
    _checked.add(_folders())
    return True


def _ensure_built() -> None:
    if data_current():
        return
    from directory.build import build

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
    _checked.add(_folders())


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


@st.cache_resource(show_spinner="Loading services...", max_entries=2)
def _services(url: str, build_dir: str, version: int) -> pd.DataFrame:
    from directory.duplicates import merge_linked, same_links

    # services a steward linked as one place are shown once, naming every source
    return merge_linked(_all_services(url, build_dir, version), same_links(_directory(url)))


def services() -> pd.DataFrame:
    """All active service locations with their areas, cached per directory version: every write (this
    process, another app process, the command line) bumps the version in the database, so the next
    run of any page in any process reads the new services. One small SELECT per run.

    One frame per version for every session, handed out as a shallow copy: with pandas' copy-on-write a
    page that changes its copy changes nothing shared (st.cache_data's pickled copy cost ~20 ms a run)."""
    d = directory()
    return _services(config.database_url(), str(config.build_dir()), d.version()).copy(deep=False)


@st.cache_resource(show_spinner=False, max_entries=2)
def _service_index(url: str, build_dir: str, version: int) -> ServiceIndex:
    return ServiceIndex(_services(url, build_dir, version))


def service_index() -> ServiceIndex:
    """`services()` ready for family searches (KD-tree, filter results), built once per directory version
    and shared by every session: read only (its `services` too)."""
    d = directory()
    return _service_index(config.database_url(), str(config.build_dir()), d.version())


@st.cache_resource(show_spinner=False, max_entries=2)
def _area_services(url: str, version: int) -> pd.DataFrame:
    from directory.service_areas import with_areas

    return with_areas(_directory(url).area_service_frame())


def area_services() -> pd.DataFrame:
    """Every active service without a building (helplines, online groups, home visits), with its
    service areas, cached per directory version like `services()` (read only: shared)."""
    d = directory()
    return _area_services(config.database_url(), d.version())


def steward_services() -> pd.DataFrame:
    """`all_services()` and the services without a building: what stewards check (record quality)."""
    located, other = all_services(), area_services()
    return pd.concat([located, other], ignore_index=True) if len(other) else located


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


#: Styles for every page: a focus ring that is always visible (WCAG 2.4.7, 2.4.13), the phone layout
#: of Find support (the List / Map switch only shows on narrow screens) and clean printing.
PAGE_CSS = """
<style>
:focus-visible, [data-testid="stExpander"] summary:focus-visible, a:focus-visible {
  outline: 3px solid #1d6f5f !important; outline-offset: 2px !important; box-shadow: 0 0 0 5px #fff !important;
}
/* checkboxes and radios hide their input and draw a box beside it: ring the whole label */
[data-testid="stCheckbox"] label:has(input:focus-visible), [data-testid="stRadio"] label:has(input:focus-visible) {
  outline: 3px solid #1d6f5f; outline-offset: 2px; border-radius: 4px;
}
/* a multiselect's text box shrinks to 12 px beside its chips on a phone: keep a 24 px target (WCAG 2.5.8) */
[data-testid="stMultiSelect"] input { min-width: 24px !important; }
/* a link in a caption (e.g. an auto-linked email) takes the caption's own colour, which keeps 4.5:1, and an
   underline; the link colour drawn at the caption's reduced strength gives 3.0:1 (WCAG 1.4.3) */
[data-testid="stCaptionContainer"] a { color: inherit !important; text-decoration: underline !important; }
@media (min-width: 640px) { .st-key-fs_view_switch { display: none; } }
.st-key-shortlist_entries p, .st-key-shortlist_entries li { font-size: 1.125rem; }
@media print {
  @page { size: A4; margin: 15mm; }
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
  [data-testid="stSidebarCollapsedControl"], [data-testid="stBottom"], .st-key-no_print, iframe { display: none !important; }
  html, body, [data-testid="stApp"], [data-testid="stAppViewContainer"], [data-testid="stMain"], .stMain,
  [data-testid="stMainBlockContainer"] { overflow: visible !important; height: auto !important;
    position: static !important; background: #fff !important; }
  [data-testid="stMainBlockContainer"] { padding: 0 !important; max-width: none !important; }
  .st-key-shortlist_entries p, .st-key-shortlist_entries li { font-size: 13pt !important; line-height: 1.45 !important; }
  [class*="st-key-shortlist_entry_"] { break-inside: avoid; }
  a { color: #000 !important; text-decoration: underline !important; }
}
</style>
"""


def navigation(sections: dict, unlisted=()):
    """The app's navigation: every page registered with st.navigation (hidden), and a plain sidebar of
    section headings and links. Streamlit's own sectioned sidebar puts `li`s outside any list and `div`s
    inside a `ul` (WCAG 1.3.1 failures in axe); links under bold headings need no list markup.
    A page left out of `sections` gets no link (e.g. one for signed-in stewards only); `unlisted` pages
    (a service's page, a shortlist) are reached by their links. Returns the page to run."""
    page = st.navigation([p for ps in sections.values() for p in ps] + list(unlisted), position="hidden")
    st.html(PAGE_CSS)
    with st.sidebar:
        for section, section_pages in sections.items():
            if section_pages:
                st.markdown(f"**{section}**")
                for p in section_pages:
                    st.page_link(p)
    return page


def absolute_url(relative: str) -> str:
    """A page's full address for sending ('service?id=...' -> 'https://host/service?id=...'), or the relative
    link when there is no browser context (tests)."""
    try:
        base = urlsplit(st.context.url)
        folder = base.path.rsplit("/", 1)[0]
        return f"{base.scheme}://{base.netloc}{folder}/{relative}"
    except Exception:
        return relative


SHORTLIST_KEY = "shortlist"


def shortlist() -> list[str]:
    """Service ids ticked in this browser session (kept across searches and pages)."""
    return st.session_state.setdefault(SHORTLIST_KEY, [])


def toggle_shortlist(service_id: str, key: str) -> None:
    """on_change of a "Shortlist" checkbox (widget `key`) for a service."""
    ids = shortlist()
    if st.session_state.get(key):
        if service_id not in ids:
            ids.append(service_id)
    elif service_id in ids:
        ids.remove(service_id)


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
