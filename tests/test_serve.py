"""serve.py, the production entry: what it imports before the server listens and the tables it loads
ahead are the ones the first family search then uses. (The browser tests run the app through
serve.py, as scripts/run-dashboard.sh does, so its lifespan is exercised there.)"""

import streamlit as st

import serve
import ui
from directory import nearest
from tests.apptest import open_page

PAGE = "../views/find_support.py"


def test_the_home_page_imports_are_taken_from_its_source_but_not_its_component():
    names = serve.page_modules(serve.HOME)
    for module in ("ui", "directory.maps", "directory.nearest", "directory.geocode", "directory.walking"):
        assert module in names
    assert "streamlit_folium" in serve.HOME.read_text()  # the page uses it...
    assert not [n for n in names if n.startswith("streamlit_")]  # ...but a component registers only in a page run
    serve.import_modules(names)  # names that are functions, not modules ("directory.nearest.near"), are skipped


def test_tables_loaded_ahead_are_the_ones_the_first_search_uses(seeded, monkeypatch):
    st.cache_resource.clear()
    st.cache_data.clear()
    built = []
    real_init = nearest.ServiceIndex.__init__
    monkeypatch.setattr(nearest.ServiceIndex, "__init__", lambda self, s: built.append(len(s)) or real_init(self, s))
    serve.load_tables()
    assert built == [len(seeded.service_frame())]  # the index of every active service location, once
    at = open_page(PAGE, {"q": "TF1 1AA", "radius": "10"})
    assert at.subheader[0].value.endswith("within 10 km of TF1 1AA")
    assert len(built) == 1  # the page found it in the cache: nothing loaded twice


def test_nothing_is_loaded_ahead_when_the_data_must_be_built_first(monkeypatch):
    # the first visitor then sees the build's progress bar, which a background thread cannot show
    st.cache_resource.clear()
    monkeypatch.setattr(ui, "_checked", set())  # not yet found current in this process
    monkeypatch.setattr(ui, "needs_build", lambda *a, **k: True)
    calls = []
    monkeypatch.setattr(ui, "service_index", lambda: calls.append(1))
    serve.load_tables()
    assert calls == []
