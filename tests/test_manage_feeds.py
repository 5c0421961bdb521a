"""The Manage page's Feeds tab in AppTest: an admin registers an Open Referral UK API (the loopback mimic,
tests/oruk_mimic.py, serving an export of two real services without a building, tests/no_building.py),
checks it (nothing written), commits, and families see the services; a failing feed shows its health;
stewards who are not admins get no Feeds tab. Also DfE's list of family hub sites through the import tab."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from directory.ingest.csv_import import read_services_csv
from directory.ingest.oruk import export_oruk
from directory.store import Directory
from tests.no_building import SEND, rows
from tests.oruk_mimic import Mimic
from tests.stewards_data import template_rows
from tests.test_manage_page import manage, metrics, ok, own_directory  # noqa: F401 (fixture)

FIND = "../views/find_support.py"


def plain(markdown: str) -> str:
    """Page text with its Markdown escapes taken out."""
    return markdown.replace("\\", "")


@pytest.fixture()
def mimic():
    m = Mimic()
    yield m
    m.close()


def test_an_admin_registers_checks_and_commits_a_feed(own_directory, mimic, tmp_path, areas):  # noqa: F811
    src = Directory(f"sqlite:///{tmp_path / 'src.sqlite'}").create()
    src.upsert(read_services_csv(template_rows(rows()), "South Glos and national lines", areas.postcodes).records,
               "test")
    url = mimic.add("two-lines", [{k: v for k, v in d.items() if not k.startswith("fsm_")}
                                  for d in export_oruk(src.stored())["contents"]])
    bad = mimic.add("broken", [], fail="500", fail_page=1)
    at = manage()
    assert "Feeds" in [t.label for t in at.tabs]
    at.text_input(key="mf_name").input("Two phone and online services")
    at.text_input(key="mf_url").input(url)
    ok(next(b for b in at.button if b.label == "Register the feed").click().run())
    assert "Registered Two phone and online services" in plain(at.success[0].value)
    assert any("Last pull: never pulled" in plain(c.value) for c in at.caption)
    ok(at.button(key="mf_check_1").click().run())
    m = metrics(at)
    assert {k: m[k] for k in ("Listed", "New", "Changed", "Gone", "Rejected")} == {
        "Listed": 2, "New": 2, "Changed": 0, "Gone": 0, "Rejected": 0}
    assert any("checked, not committed: 2 listed" in plain(c.value) for c in at.caption)
    ok(at.button(key="mf_commit_1").click().run())
    assert "committed: 2 listed" in plain(at.success[0].value) and "written 2 new" in plain(at.success[0].value)
    fam = AppTest.from_file(FIND, default_timeout=120)
    fam.query_params["q"] = "South Gloucestershire"
    ok(fam.run())
    assert any(SEND in e.label for e in fam.expander)

    # a feed that fails says so, in red, and nothing changes
    at.text_input(key="mf_name").input("A broken feed")
    at.text_input(key="mf_url").input(bad)
    ok(next(b for b in at.button if b.label == "Register the feed").click().run())
    before = Directory().count()
    ok(at.button(key="mf_check_2").click().run())
    assert any("FAILED: /services page 1" in plain(e.value) and "HTTP 500" in plain(e.value) for e in at.error)
    assert Directory().count() == before


def test_stewards_who_are_not_admins_have_no_feeds_tab(own_directory):  # noqa: F811
    at = manage("tel@telford.example", role="steward", authorities=("E06000020",))
    assert "Feeds" not in [t.label for t in at.tabs]


def test_family_hubs_list_through_the_import_tab(own_directory):  # noqa: F811
    from tests.family_hub_rows import published_csv

    at = manage()
    ok(at.radio(key="md_kind").set_value("family-hubs").run())
    assert at.text_input(key="md_source_family-hubs").value == "DfE family hub sites"
    at.file_uploader[0].set_value(("List_of_family_hub_sites.csv", published_csv(), "text/csv"))
    ok(at.run())
    m = metrics(at)
    assert m["New"] == 137 and m["Rejected"] == 0
    ok(at.button(key="md_commit").click().run())
    assert "137 new" in plain(at.success[0].value)
