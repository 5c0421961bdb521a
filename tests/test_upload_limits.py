"""Upload hygiene: encodings the importers don't read get an encoding message, sizes are stated in
one unit, a file whose rows are all rejected says so, and browser uploads are capped in bytes and rows."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from directory.ingest.csv_import import read_services_csv
from directory.ingest.gias import read_childrens_centres
from directory.ingest.oruk import read_oruk
from directory.ingest.report import MB, megabytes
from directory.ingest.review import read_file, review
from tests.signin import add_steward, signed_in
from tests.stewards_data import gias_cc_csv, gias_cc_row, oruk_page, oruk_service, template_rows

ROWS = [{"name": f"Group {i}", "types": "stay_and_play", "postcode": "TF1 1AA", "source_id": str(i)}
        for i in range(6)]


def test_utf16_files_get_an_encoding_message(areas):
    text = template_rows(ROWS).decode("utf-8")
    for data in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-16-be")):
        rep = read_services_csv(data, "Council", areas.postcodes)
        (p,) = rep.errors
        assert p.row == 0 and "UTF-16" in p.message and "CSV UTF-8" in p.message, p.message
        assert "Missing column" not in p.message and not rep.records
    gias = read_childrens_centres(gias_cc_csv([gias_cc_row(0, name="Hadley Children's Centre")]).decode("cp1252")
                                  .encode("utf-16"), areas.postcodes, "childrenscentres20250524.csv")
    assert "UTF-16" in gias.errors[0].message
    feed = oruk_page([oruk_service("Baby Massage", postcode="TF1 1AA")]).decode("utf-8").encode("utf-16")
    assert "UTF-16" in read_oruk(feed, "NL", areas.postcodes).errors[0].message


def test_size_messages_use_one_unit(areas, monkeypatch):
    monkeypatch.setenv("FSM_UPLOAD_LIMIT_MB", "1")
    data = template_rows(ROWS) + b"\n" * int(1.5 * MB)
    (p,) = read_services_csv(data, "Council", areas.postcodes).errors
    assert p.message.startswith("The file is 1.5 MB; the limit is 1 MB (FSM_UPLOAD_LIMIT_MB)")
    assert megabytes(20 * MB) == "20 MB" and megabytes(int(6.2 * MB)) == "6.2 MB"
    just_over = template_rows(ROWS) + b" " * (MB - len(template_rows(ROWS)) + 10)
    (p,) = read_services_csv(just_over, "Council", areas.postcodes).errors
    assert p.message.startswith("The file is 1.000 MB; the limit is 1 MB")  # never "1 MB; the limit is 1 MB"


def test_a_file_whose_rows_are_all_rejected_says_so(areas, empty_directory):
    bad = [{"name": "", "types": "stay_and_play", "postcode": "TF1 1AA"},
           {"name": "No type", "types": "", "postcode": "TF1 1AA"}]
    rv = review(read_services_csv(template_rows(bad), "Council", areas.postcodes), empty_directory)
    for skip in (False, True):
        reason = rv.refusal(skip)
        assert reason.startswith("Nothing to write: all 2 rows were rejected") and "already" not in reason


def test_row_cap_for_browser_uploads(areas, monkeypatch):
    rep = read_file("csv", template_rows(ROWS), "Council", areas.postcodes, None, "six.csv", max_rows=5)
    (p,) = rep.problems
    assert p.message.startswith("The file holds 6 rows; an upload in the browser takes at most 5 "
                                "(FSM_UPLOAD_MAX_ROWS)") and not rep.records
    assert read_file("csv", template_rows(ROWS), "Council", areas.postcodes, None, max_rows=6).records
    services = [oruk_service("Baby Massage", postcode="TF1 1AA", id=f"0000000{i}-0000-4000-8000-000000000000")
                for i in range(3)]
    rep = read_file("oruk", oruk_page(services), "NL", areas.postcodes, None, max_rows=2)
    assert rep.problems[0].message.startswith("The file holds 3 services; an upload in the browser takes at most 2")
    assert json.loads(oruk_page(services))["contents"]


def test_manage_page_caps_rows(tmp_path, monkeypatch, areas):
    monkeypatch.setenv("FSM_DATABASE_URL", f"sqlite:///{tmp_path / 'cap.sqlite'}")
    monkeypatch.setenv("FSM_UPLOAD_MAX_ROWS", "5")
    add_steward("ana@example.org", "admin")
    at = signed_in(AppTest.from_file("../views/manage_directory.py", default_timeout=120), "ana@example.org").run()
    assert "up to 20 MB and 5 rows" in at.file_uploader[0].label
    at.radio(key="md_kind").set_value("csv").run()
    at.text_input(key="md_source_csv").input("Council").run()
    at.file_uploader[0].set_value(("six.csv", template_rows(ROWS), "text/csv"))
    at.run()
    assert not at.exception
    problems = at.dataframe[0].value
    assert problems["where"].tolist() == ["file"] and "holds 6 rows" in problems.problem[0]
    assert at.button(key="md_commit").disabled
