"""The server: `streamlit run serve.py` serves the dashboard (dashboard.py), ready for its first visitor.

`streamlit run dashboard.py` works too, but then a process does nothing until somebody opens the
site, and that first visitor's page waits for every import (about 0.9 s of CPU) and table (about
0.4 s) after their browser has loaded Streamlit's frontend (about 1 s). Here a background thread,
started as the server starts listening, does that work while the browser loads the frontend, into
the same caches the pages use (bench/find_bench.py measures both entries).

This pays off when the browser runs elsewhere, as a family's does. A browser on the server's own
two CPUs (the benchmark's shared-CPU figures) gains nothing: browser and server then wait for the
same CPUs (about 1.7 s of the browser's and 2.2 s of the server's for a first visit), and while an
extension module (numpy, pandas, pyproj) initialises the thread holds Python's lock, so the event
loop sends the frontend's files later.
"""

from __future__ import annotations

import ast
import importlib
import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent
ENTRY = ROOT / "dashboard.py"
HOME = ROOT / "views" / "find_support.py"

log = logging.getLogger("fsm.serve")


def page_modules(page: Path) -> list[str]:
    """The modules a page imports at its top level. A page is run from its source, not imported, so
    its imports only happen when it first runs.

    Streamlit components (packages named streamlit_*, e.g. streamlit_folium) are left out: a component
    registers with the server only when its module is first imported inside a page run, and one
    imported here would answer 404 for its frame. What they import (folium) comes in with our modules."""
    names = []
    for node in ast.parse(page.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]  # "from directory import maps"
    return [n for n in names if not n.startswith("streamlit_")]


def import_modules(names: list[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:  # "from x import a_function": x is imported, the function is not a module
            pass


def load_tables() -> None:
    """What a family search needs, loaded as the first page run would load it (into the same caches):
    the areas, the directory (seeded on a first start), the search index, place names and the walking
    network. Nothing when the derived data must be built first: the first visitor then sees the
    build's progress, as without this."""
    import ui

    if not ui.data_current():
        return
    ui.service_index()
    ui.areas().places
    ui.walking_network()


class _NotFromLoader(logging.Filter):
    """Streamlit warns of "missing ScriptRunContext" when a cached function's spinner is asked for
    outside a page run: expected of the loader thread, so not logged for it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != LOADER


LOADER = "fsm-warm-up"
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_NotFromLoader())


def warm_up() -> None:
    """The entry script's and the home page's imports, then the tables (run by the loader thread)."""
    try:
        import_modules([*page_modules(ENTRY), *page_modules(HOME)])
        load_tables()
    except Exception:  # the first page run meets the same problem and tells its visitor
        log.warning("warming up failed; the first page run will load what it needs", exc_info=True)


@asynccontextmanager
async def lifespan(_app):
    # Streamlit's runtime has started (caches find their storage in it), and the server is about to listen.
    threading.Thread(target=warm_up, name=LOADER, daemon=True).start()
    yield


app = st.App(ENTRY, lifespan=lifespan)
