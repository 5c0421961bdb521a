"""The Manage page's Record quality, Imports and Duplicates tabs in Streamlit's AppTest, each
test on its own throwaway directory (seeded from the real GIAS files: nursery schools and
children's centres), signed in as an admin steward."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from directory import quality
from directory.areas import Areas, attach_areas
from directory.store import Directory
from tests.test_manage_page import button, manage, ok, own_directory, upload  # noqa: F401 (fixture)
from tests.stewards_data import template_rows


def quality_table(at: AppTest):
    return next(d.value for d in at.dataframe if "fixed" in getattr(d.value, "columns", []))


def stored(own_directory) -> Directory:
    return Directory(f"sqlite:///{own_directory / 'steward.sqlite'}")


def test_quality_table_filters_opens_the_edit_form_and_shows_what_was_fixed(own_directory):
    at = manage()
    table = quality_table(at)
    d = stored(own_directory)
    expected = quality.record_quality(attach_areas(d.service_frame(), Areas.load()))
    assert len(expected) > 3000  # every seeded service; the page shows the worst 500 (the download has all)
    assert next(m.value for m in at.metric if m.label == "Records") == f"{len(expected):,}"
    assert list(table.name) == list(expected.name[:500])
    assert list(table.missing) == [quality.missing_labels(m) for m in expected.missing[:500]]
    assert (table.fixed == "").all()

    # filter by authority: only that council's records
    code, name = expected.utla_code.iloc[0], expected.utla_name.iloc[0]
    ok(at.multiselect(key="mq_utla").set_value([code]).run())
    table = quality_table(at)
    assert len(table) == min(500, (expected.utla_code == code).sum()) and set(table.authority) == {name}
    ok(at.multiselect(key="mq_utla").set_value([]).run())
    ok(at.multiselect(key="mq_sources").set_value(["DfE GIAS"]).run())
    assert next(m.value for m in at.metric if m.label == "Records") == "378"  # the nursery schools
    ok(at.multiselect(key="mq_sources").set_value([]).run())

    # open the worst record lacking a phone and opening times in the edit form, add them, save
    shown = expected[:500]
    worst = shown[shown.missing.str.contains("phone") & shown.missing.str.contains("hours")].iloc[0]
    ok(at.selectbox(key="mq_pick").set_value(worst.service_id).run())
    ok(at.button(key="mq_open").click().run())
    assert at.session_state["md_tab"] == "Add or edit a service"
    assert at.text_input(key="md_f_name").value == worst["name"]
    at.text_input(key="md_f_phone").input("020 7000 0001")
    at.text_input(key="md_f_schedule").input("Monday to Friday 8:00-18:00")
    ok(button(at, "Save").click().run())
    assert any(s.value == "Fixed: Phone, Opening times." for s in at.success)
    table = quality_table(at)
    row = table[table.name == worst["name"]].iloc[0]
    assert row.fixed == "Phone, Opening times" and row.score == f"{worst.score + 2}/10"
    assert "Phone" not in row.missing


def test_imports_tab_lists_an_import_and_undoes_it(own_directory):
    data = template_rows([{"name": "Hadley Stay and Play", "types": "stay_and_play", "postcode": "TF1 1AA"},
                          {"name": "Baby Massage at the Hub", "types": "baby_massage", "postcode": "TF1 1AA"}])
    at = manage()
    before = stored(own_directory).count()
    at = upload(at, "csv", "telford.csv", data, "Telford & Wrekin Council")
    ok(at.button(key="md_commit").click().run())
    assert stored(own_directory).count() == before + 2
    listed = next(d.value for d in at.dataframe if "unchanged" in getattr(d.value, "columns", []))
    first = listed.iloc[0]
    assert (first.steward, first.source, first.file, first.new, first.updated, first.undone) == (
        "sam@steward.example", "Telford & Wrekin Council", "telford.csv", 2, 0, "")
    assert at.button(key="mq_batch_undo").disabled  # not before the steward confirms
    ok(next(c for c in at.checkbox if c.label.startswith("Yes, undo every change")).check().run())
    ok(at.button(key="mq_batch_undo").click().run())
    assert any("Undid import" in s.value and "2 services removed" in s.value for s in at.success), (
        [e.value for e in at.error], [s.value for s in at.success])
    assert stored(own_directory).count() == before
    listed = next(d.value for d in at.dataframe if "unchanged" in getattr(d.value, "columns", []))
    assert listed.undone.iloc[0].endswith("by sam@steward.example")


def test_duplicates_tab_links_a_pair_and_families_see_one_entry(own_directory, areas):
    from tests.test_duplicates import GIAS_SOURCE, COUNCIL, bristol_records

    d = stored(own_directory)
    d.create()
    d.upsert(bristol_records(d, areas), "test")
    at = manage()
    assert any(s.value == "To decide: 1" for s in at.subheader)
    fam = AppTest.from_file("../views/find_support.py", default_timeout=120)
    fam.query_params["q"] = "BS11 9LG"
    ok(fam.run())
    before = [e.label for e in fam.expander if "Avonmouth" in e.label]
    assert len(before) == 2  # the register's entry and the council's
    ok(button(at, "Same place: link them").click().run())
    assert any("linked as one place" in s.value for s in at.success)
    assert any(s.value == "To decide: 0" for s in at.subheader)
    ok(fam.run())
    entries = [e for e in fam.expander if "Avonmouth" in e.label]
    assert len(entries) == 1
    details = entries[0].markdown[0].value
    assert f"**Source:** {GIAS_SOURCE}; {COUNCIL}" in details.replace("\\", "") or \
        f"**Source:** {COUNCIL}; {GIAS_SOURCE}" in details.replace("\\", "")
