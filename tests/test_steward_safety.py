"""HTML and script in any text field of an import are stored as text and shown escaped
everywhere families and stewards see them: the results list, the map popup and tooltip,
the Manage page's tables and its preview map."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from directory import maps, text
from directory.geocode import locate
from directory.ingest.csv_import import read_services_csv
from directory.ingest.review import commit, review
from directory.nearest import near
from tests.stewards_data import template_rows

PAYLOAD = '<script>alert("fsm")</script><img src=x onerror=alert(2)>'
ESCAPED = "&lt;script&gt;alert(&quot;fsm&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
TEXT_FIELDS = ["name", "organization", "description", "address", "town", "location_name", "cost", "referral_notes",
               "eligibility", "schedule", "languages"]
PHONE = "<b>01952</b>"  # the phone column holds 50 characters


def hostile_csv() -> bytes:
    row = {f: f"{f}: {PAYLOAD}" for f in TEXT_FIELDS}
    row |= {"types": "stay_and_play", "postcode": "TF1 1AA", "free": "yes", "referral": "self", "phone": PHONE,
            "email": "<script>alert(3)</script>@example.org", "website": "javascript:alert(4)"}
    return template_rows([row])


@pytest.fixture()
def hostile_directory(tmp_path, monkeypatch, areas):
    url = f"sqlite:///{tmp_path / 'hostile.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    from directory.store import Directory

    d = Directory(url).create()
    rv = review(read_services_csv(hostile_csv(), "Council", areas.postcodes), d)
    assert rv.counts["new"] == 1, rv.report.problems
    commit(rv, d, "steward")
    yield d
    d.engine.dispose()


def test_stored_as_text(hostile_directory):
    r = hostile_directory.records()[0]
    assert r.name == f"name: {PAYLOAD}" and r.schedule == f"schedule: {PAYLOAD}"
    assert r.places[0].address == f"address: {PAYLOAD}"


def test_popup_and_tooltip_escape_every_field(hostile_directory, areas):
    services = hostile_directory.service_frame()
    origin = locate("TF1 1AA", areas.postcodes, areas.places)
    found = near(services, origin.x, origin.y, 2, )
    html = maps.search_map(origin, 2, found.table).get_root().render()
    assert "<script>alert" not in html and "<img src=x" not in html and "javascript:alert" not in html
    popup = text.details_html(found.table.iloc[0].to_dict())
    for f in ("name", "organization", "address", "town", "cost", "referral_notes", "eligibility", "schedule",
              "languages"):
        assert f"{f}: {ESCAPED}" in popup, f
    assert "&lt;b&gt;01952&lt;/b&gt;" in popup and "javascript:" not in popup
    # the tooltip is escaped too: folium puts it in the page as given
    assert f"name: {ESCAPED}" in html.replace("\\u0026", "&")


def test_family_list_shows_every_field_as_text(hostile_directory):
    at = AppTest.from_file("../views/find_support.py", default_timeout=120)
    at.query_params["q"] = "TF1 1AA"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    entry = next(e for e in at.expander if "fsm" in e.label)
    assert "<script>" not in entry.label and "&lt;script&gt;" in entry.label
    body = entry.markdown[0].value
    assert "<script>" not in body and "<img" not in body and "javascript:" not in body
    for f in ("organization", "schedule", "eligibility", "languages"):
        assert f"{text.md(f + ': ' + PAYLOAD)}" in body, f
    for c in at.get("component_instance"):  # the map: only escaped text in its script
        assert "<script>alert" not in str(c.proto) and "<img src=x" not in str(c.proto)


def test_manage_page_tables_and_preview_hold_text(hostile_directory):
    from tests.signin import add_steward, signed_in

    add_steward("steward@example.org", "admin", name="Steward <b>")
    at = signed_in(AppTest.from_file("../views/manage_directory.py", default_timeout=120),
                   "steward@example.org").run()
    at.text_input(key="md_find").input("name:").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_input(key="md_f_name").value == f"name: {PAYLOAD}"  # a form field: plain text
    recent = [d.value for d in at.dataframe if isinstance(d.value, pd.DataFrame) and "service" in d.value.columns]
    assert recent[0].service.iloc[0] == f"name: {PAYLOAD}"  # a table cell is text, drawn as text
    for el in list(at.markdown) + list(at.caption) + list(at.info) + list(at.success) + list(at.warning):
        assert "<script>" not in el.value and "<img" not in el.value
    previews = [c for c in at.get("component_instance") if "alert" in str(c.proto)]
    assert previews and all("<script>alert" not in str(c.proto) for c in previews)
    # an upload's text reaches the report tables as text, never as markup
    at.file_uploader[0].set_value(("evil.csv", hostile_csv().replace(b"TF1 1AA", b"<b>TF1</b>"), "text/csv"))
    at.text_input(key="md_source_csv").input("Council <i>").run()
    problems = at.dataframe[0].value
    assert "<b>TF1</b>" in " ".join(problems.problem)
    for el in list(at.markdown) + list(at.caption) + list(at.error) + list(at.warning):
        assert "<b>TF1</b>" not in el.value and "<script>" not in el.value
