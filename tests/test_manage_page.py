"""The Manage directory page in Streamlit's AppTest: a steward loads a real-layout ORUK feed
and a GIAS children's centres file, reads the report, commits, corrects a service, and
families see it on the Find support page. Each test has its own throwaway directory."""

from __future__ import annotations

import os
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from directory.store import Directory
from tests.signin import add_steward, signed_in
from tests.stewards_data import TF1_1AA, later_extract, oruk_page, oruk_service, template_rows

MANAGE = "../views/manage_directory.py"
FIND = "../views/find_support.py"
FEEDING = "Ashby Breastfeeding Support Group"
MASSAGE = "Baby Massage"


@pytest.fixture()
def own_directory(tmp_path, monkeypatch, areas):
    """The app's directory for this test: a new SQLite file (seeded with the GIAS nursery schools on first use)."""
    monkeypatch.setenv("FSM_DATABASE_URL", f"sqlite:///{tmp_path / 'steward.sqlite'}")
    return tmp_path


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def manage(who: str | None = "sam@steward.example", role: str = "admin", authorities=()) -> AppTest:
    """The Manage page as a signed-in steward on the list (an admin unless said otherwise)."""
    if who:
        add_steward(who, role, authorities)
    return ok(signed_in(AppTest.from_file(MANAGE, default_timeout=120), who).run())


def upload(at: AppTest, kind: str, name: str, data: bytes, source: str | None = None) -> AppTest:
    ok(at.radio(key="md_kind").set_value(kind).run())
    if source is not None:
        ok(at.text_input(key=f"md_source_{kind}").input(source).run())
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    return ok(at.run())


def metrics(at: AppTest) -> dict[str, int]:
    # counts as numbers (thousands separators allowed); other metrics (e.g. a quality score "5.0 / 10") left out
    out = {}
    for m in at.metric:
        v = str(m.value).replace(",", "")
        if v.lstrip("-").isdigit():
            out[m.label] = int(v)
    return out


def family_sees(q: str) -> list[str]:
    at = AppTest.from_file(FIND, default_timeout=120)
    at.query_params["q"] = q
    ok(at.run())
    return [e.label for e in at.expander if e.label not in ("Filters", "Share this search")]


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_steward_loads_oruk_feed_commits_corrects_and_families_see_it(own_directory):
    feed = oruk_page([
        oruk_service(FEEDING, lat=TF1_1AA[1], lon=TF1_1AA[2], postcode=TF1_1AA[0]),
        oruk_service(MASSAGE, postcode="TF1 3NT", terms=(("Baby massage", None), ("Under 5s", "nl-audience"))),
        oruk_service("Antenatal workshops - baby care"),  # no place at all: rejected
    ])
    at = upload(manage(), "oruk", "north-lincs-services.json", feed, "North Lincolnshire Council")
    want = {"New": 2, "Updated": 0, "Unchanged": 0, "Rejected": 1, "Warnings": 1}
    assert {k: v for k, v in metrics(at).items() if k in want} == want  # the quality tab has metrics too
    problems = at.dataframe[0].value
    assert list(problems["where"]) == ["service 2", "service 3"]
    assert "Under 5s" in problems.problem.iloc[0]
    assert "neither latitude/longitude nor a postcode" in problems.problem.iloc[1]
    editor = next(d for d in at.dataframe if "note" in d.value.columns)  # the taxonomy mapping editor
    unmapped = editor.value[editor.value.term == "under-5s"]
    assert list(unmapped.vocabulary) == ["nl-audience"] and unmapped.code.isna().all()
    ok(at.button(key="md_terms_save").click().run())  # a row with no code yet is not saved
    assert "Mapping saved (0 rows added, changed or removed)" in at.success[0].value
    at.file_uploader[0].set_value(("north-lincs-services.json", feed, "application/json"))
    ok(at.run())
    commit_button = at.button(key="md_commit")
    assert commit_button.disabled  # a rejected service: the steward must choose to skip it
    ok(at.checkbox(key="md_skip").check().run())
    ok(at.button(key="md_commit").click().run())
    assert "2 new" in at.success[0].value
    assert at.file_uploader[0].value is None  # the upload is cleared: nothing to commit twice

    seen = family_sees("TF1 1AA")
    assert any(FEEDING in label for label in seen) and any(MASSAGE in label for label in seen)

    # correct a service: find it, change its name and phone, save
    at = manage()
    ok(at.text_input(key="md_find").input("Ashby").run())
    assert at.text_input(key="md_f_name").value == FEEDING
    at.text_input(key="md_f_name").input("Ashby Breastfeeding Group (Tuesdays)")
    at.text_input(key="md_f_phone").input("01724 000111")
    ok(button(at, "Save").click().run())
    assert "Saved Ashby Breastfeeding Group \\(Tuesdays\\) (version 2)" in at.success[0].value
    seen = family_sees("TF1 1AA")
    assert any("Ashby Breastfeeding Group \\(Tuesdays\\)" in label for label in seen)
    assert not any(label.endswith(FEEDING) for label in seen)

    # the steward checks it with the service: families see when it was last verified
    ok(at.button(key="md_verify").click().run())
    assert "verified today" in at.success[0].value
    fam = AppTest.from_file(FIND, default_timeout=120)
    fam.query_params["q"] = "TF1 1AA"
    ok(fam.run())
    entry = next(e for e in fam.expander if "Tuesdays" in e.label)
    assert f"**Last verified:** {date.today():%d %B %Y}" in entry.markdown[0].value

    # and the correction is in the audit trail, undoable
    ok(at.button(key="md_undo_one").click().run())  # undoes the verification
    assert "Undid the last change (update)" in at.success[0].value
    ok(at.button(key="md_undo_one").click().run())  # then the correction
    assert "Undid the last change (update)" in at.success[0].value
    assert any(FEEDING in label for label in family_sees("TF1 1AA"))


def test_gias_childrens_centres_sync_review_through_the_page(own_directory, raw):
    # the directory starts with the 21 Aug 2026 extract; a later version with its links file is a sync review
    data, changed = later_extract(raw)
    at = manage()
    ok(at.radio(key="md_kind").set_value("gias-cc").run())
    assert at.text_input(key="md_source_gias-cc").value == "DfE GIAS children's centres"
    at.file_uploader[0].set_value(("edubaseallchildrencentre20260901.csv", data, "text/csv"))
    at.file_uploader[1].set_value(("links_edubaseallchildrencentre20260901.csv",
                                   (raw / "links_edubaseallchildrencentre20260821.csv").read_bytes(), "text/csv"))
    ok(at.run())
    m = metrics(at)
    assert (m["New"], m["Changed"], m["No longer listed"], m["Reappeared"], m["Listed as closed"],
            m["Can't be placed"]) == (0, 1, 2, 0, 1, 6)
    sync = next(d.value for d in at.dataframe if "change" in d.value.columns)
    assert set(sync.id[sync.change == "no longer listed"]) == set(changed["dropped"])
    assert list(sync.id[sync.change == "changed"]) == changed["rephoned"]
    assert list(sync.details[sync.change == "changed"]) == ["phone"]
    ok(at.button(key="md_commit").click().run())
    gone = Directory(os.environ["FSM_DATABASE_URL"]).find("DfE GIAS children's centres", changed["dropped"][0])
    assert gone.record.status == "defunct" and str(gone.record.closed_on) == "2026-09-01"


def test_oversize_and_malformed_uploads_are_refused_with_a_message(own_directory, monkeypatch):
    monkeypatch.setenv("FSM_UPLOAD_LIMIT_MB", "0.001")
    big = template_rows([{"name": f"Group {i}", "types": "stay_and_play", "postcode": "TF1 1AA"} for i in range(100)])
    at = upload(manage(), "csv", "big.csv", big, "Council")
    problems = at.dataframe[0].value
    assert problems["where"].iloc[0] == "file" and "the limit is" in problems.problem.iloc[0]
    assert at.button(key="md_commit").disabled
    monkeypatch.delenv("FSM_UPLOAD_LIMIT_MB")
    at = upload(manage(), "oruk", "broken.json", b'{"contents": [\n {"id": "1", "name": "x",}\n]}', "Council")
    assert "line 2, column 26" in at.dataframe[0].value.problem.iloc[0]
    assert at.button(key="md_commit").disabled
    ok(at.button(key="md_cancel").click().run())
    assert at.success[0].value == "Cancelled: nothing was written."


def test_two_stewards_editing_the_same_service(own_directory):
    a, b = manage("a@steward.example"), manage("b@steward.example")
    for at in (a, b):
        ok(at.text_input(key="md_find").input("Thomas Coram").run())
        assert at.text_input(key="md_f_name").value == "Thomas Coram Centre"
    a.text_input(key="md_f_phone").input("020 7000 0001")
    ok(button(a, "Save").click().run())
    assert "version 2" in a.success[0].value
    b.text_input(key="md_f_phone").input("020 7000 0002")
    ok(button(b, "Save").click().run())
    assert "Someone else saved this service after you opened it" in b.error[0].value
    assert not b.success
    assert b.text_input(key="md_f_phone").value == "020 7000 0002"  # B's typing is not thrown away
    ok(b.button(key="md_reload").click().run())  # B reloads and sees A's change
    assert b.text_input(key="md_f_phone").value == "020 7000 0001"
    b.text_input(key="md_f_phone").input("020 7000 0002")
    ok(button(b, "Save").click().run())
    assert "version 3" in b.success[0].value


def test_new_service_postcode_lookup_fills_coordinates_and_shows_the_map(own_directory):
    at = manage()
    assert at.selectbox(key="md_pick").value == "__new__"
    at.text_input(key="md_f_name").input("Hadley Stay and Play")
    at.multiselect(key="md_f_types").set_value(["stay_and_play"])
    at.text_input(key="md_f_postcode").input("tf1 1aa")
    ok(button(at, "Look up the postcode and show it on the map").click().run())
    assert at.text_input(key="md_f_latitude").value == f"{TF1_1AA[1]:.6f}"
    assert at.text_input(key="md_f_postcode").value == "TF1 1AA"
    assert any("Where families will see it: 52.69980, -2.51984" in c.value for c in at.caption)
    maps = [c for c in at.get("component_instance") if "Hadley Stay and Play" in str(c.proto)]
    assert maps, "the preview map shows the new service"
    ok(button(at, "Save").click().run())
    assert "Saved Hadley Stay and Play (version 1)" in at.success[0].value
    assert any("Hadley Stay and Play" in label for label in family_sees("TF1 1AA"))


def test_form_problems_are_shown_and_nothing_is_saved(own_directory):
    at = manage()
    at.text_input(key="md_f_name").input("No place yet")
    ok(button(at, "Save").click().run())
    assert "Not saved" in at.error[0].value and "Missing type" in at.error[0].value
    assert "Missing location" in at.error[0].value


def unverified(at: AppTest) -> int:
    head = next(s.value for s in at.subheader if s.value.startswith("Not verified for more than a year"))
    return int(head.rsplit(":", 1)[1])


def test_check_tab_lists_unverified_and_recent_changes(own_directory):
    from datetime import date, timedelta

    at = manage()
    # the seeded GIAS nursery schools were verified on the file's date, 24 May 2025
    before = unverified(at)
    assert before == (378 if date.today() - timedelta(days=365) > date(2025, 5, 24) else 0)
    data = template_rows([{"name": "Old group", "types": "stay_and_play", "postcode": "TF1 1AA",
                           "last_verified": "2023-01-31"}])
    at = upload(at, "csv", "old.csv", data, "Council")
    ok(at.button(key="md_commit").click().run())
    at = manage()
    assert unverified(at) == before + 1
    recent = [d.value for d in at.dataframe if "change" in getattr(d.value, "columns", [])][0]
    assert recent.change.iloc[0] == "create" and recent.service.iloc[0] == "Old group"
    assert recent.who.iloc[0] == "sam@steward.example (Our CSV template: old.csv)"  # the signed-in email
