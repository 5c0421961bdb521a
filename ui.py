"""Streamlit glue shared by the pages: cached data, first-run build, the footer.

The domain logic lives in `directory/` (which never imports streamlit); this
module only caches what it loads and shows progress while the data is built.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from directory import config
from directory.areas import Areas, attach_areas
from directory.bootstrap import seed
from directory.build import build, needs_build
from directory.sources import DataError, catalogue
from directory.store import Directory


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


@st.cache_data(show_spinner="Loading services...", ttl=300)
def _all_services(url: str, build_dir: str) -> pd.DataFrame:
    return attach_areas(_directory(url).service_frame(), _areas(build_dir))


def all_services() -> pd.DataFrame:
    """Every active service location as stored, linked duplicates kept apart (for stewards)."""
    directory()
    return _all_services(config.database_url(), str(config.build_dir()))


@st.cache_data(show_spinner="Loading services...", ttl=300)
def _services(url: str, build_dir: str) -> pd.DataFrame:
    from directory.duplicates import merge_linked, same_links

    # services a steward linked as one place are shown once, naming every source
    return merge_linked(_all_services(url, build_dir), same_links(_directory(url)))


def services() -> pd.DataFrame:
    """All active service locations with their areas (cached; cleared after directory edits)."""
    directory()
    return _services(config.database_url(), str(config.build_dir()))


def services_changed() -> None:
    _services.clear()
    _all_services.clear()


def footer() -> None:
    st.divider()
    st.caption(
        catalogue().attribution
        + " Map data © OpenStreetMap contributors. Service details come from the sources named on each entry."
    )
