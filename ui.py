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
def _services(url: str, build_dir: str) -> pd.DataFrame:
    return attach_areas(_directory(url).service_frame(), _areas(build_dir))


def services() -> pd.DataFrame:
    """All active service locations with their areas (cached; cleared after directory edits)."""
    directory()
    return _services(config.database_url(), str(config.build_dir()))


def services_changed() -> None:
    _services.clear()


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
