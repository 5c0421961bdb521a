"""Our CSV template: encodings, the size limit, malformed files, every row check, a service
at several places, and the directory's CSV export read back unchanged."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from directory.ingest.csv_import import TEMPLATE_COLUMNS, export_csv, read_services_csv, template_csv
from tests.stewards_data import TF1_1AA, template_rows

HEADER = "source_id,name,types,postcode,latitude,longitude,min_age_months,max_age_months,email,status\n"


@pytest.fixture(scope="module")
def postcodes(areas):
    return areas.postcodes


def test_template_has_every_column_and_is_accepted(postcodes):
    assert template_csv().strip().split(",") == TEMPLATE_COLUMNS
    rep = read_services_csv(template_csv().encode(), "x", postcodes)
    assert rep.rows == 0 and rep.records == [] and not rep.problems


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_utf8_and_windows_1252(encoding, postcodes):
    data = template_rows([{"name": "Café Stay & Play – Ketley’s “Little Ones”", "types": "Stay and play",
                           "postcode": "tf1 1aa", "cost": "£2 per family"}], encoding=encoding)
    rep = read_services_csv(data, "Council", postcodes)
    assert not rep.problems, rep.problems
    r = rep.records[0]
    assert r.name == "Café Stay & Play – Ketley’s “Little Ones”" and r.fees == "£2 per family"
    assert r.places[0].postcode == "TF1 1AA" and r.places[0].latitude == TF1_1AA[1]
    assert r.places[0].precision == "postcode"  # placed at the postcode's centre, and said so


def test_given_coordinates_are_a_building_and_a_postcode_alone_its_centre(postcodes):
    data = template_rows([{"name": "At the hub", "types": "stay_and_play", "postcode": "TF1 1AA",
                           "latitude": "52.70", "longitude": "-2.51"},
                          {"name": "Postcode only", "types": "stay_and_play", "postcode": "TF1 1AA"}])
    rep = read_services_csv(data, "Council", postcodes)
    assert not rep.problems, rep.problems
    assert {r.name: r.places[0].precision for r in rep.records} == {"At the hub": "building",
                                                                    "Postcode only": "postcode"}
    # a stated precision is kept (an export read back), a wrong one is named
    data = template_rows([{"name": "Sector", "types": "stay_and_play", "latitude": "52.70", "longitude": "-2.51",
                           "location_precision": "Sector"},
                          {"name": "Odd", "types": "stay_and_play", "postcode": "TF1 1AA", "location_precision": "street"}])
    rep = read_services_csv(data, "Council", postcodes)
    assert [r.places[0].precision for r in rep.records] == ["sector"]
    assert [(p.row, p.field) for p in rep.errors] == [(3, "location_precision")]


def test_oversize_upload_refused_with_the_limit(postcodes, monkeypatch):
    data = template_rows([{"name": f"Group {i}", "types": "stay_and_play", "postcode": "TF1 1AA"}
                          for i in range(2000)])
    monkeypatch.setenv("FSM_UPLOAD_LIMIT_MB", "0.01")  # configurable; the default is 20 MB
    rep = read_services_csv(data, "Council", postcodes)
    assert rep.records == [] and rep.file_error
    assert "the limit is" in rep.errors[0].message and "FSM_UPLOAD_LIMIT_MB" in rep.errors[0].message
    monkeypatch.delenv("FSM_UPLOAD_LIMIT_MB")
    assert len(read_services_csv(data, "Council", postcodes).records) == 2000


@pytest.mark.parametrize("data, where", [
    (b'name,types,postcode\n"Group",stay_and_play,TF1 1AA\n"Bad "quote" here",stay_and_play,TF1 1AA\n',
     "starts on line 3"),
    (b'name,types,postcode\nA,stay_and_play,TF1 1AA\nB,stay_and_play,TF1 1AA\n"never closed,x,y\n', "starts on line 4"),
])
def test_malformed_csv_reports_the_line(data, where, postcodes):
    rep = read_services_csv(data, "Council", postcodes)
    assert rep.file_error and rep.records == []
    assert "Not a readable CSV file" in rep.errors[0].message and where in rep.errors[0].message


def test_not_text_at_all(postcodes):
    rep = read_services_csv(bytes(range(256)) * 4, "Council", postcodes)
    assert rep.file_error and rep.records == []


def test_each_row_problem_names_row_and_field(postcodes):
    future = (date.today() + timedelta(days=30)).isoformat()
    rows = [
        "ok,Good group,stay_and_play,TF1 1AA,,,0,48,hello@example.org,",
        "a,,stay_and_play,TF1 1AA,,,,,,",                      # 3 missing name
        "b,Group B,juggling,TF1 1AA,,,,,,",                     # 4 unknown type
        "c,Group C,stay_and_play,TF1 1ZZZ,,,,,,",               # 5 bad postcode
        "d,Group D,stay_and_play,TF1 1ZZ,,,,,,",                # 6 postcode in no postcode file
        "e,Group E,stay_and_play,,-2.5,52.7,,,,",               # 7 coordinates outside the UK (swapped)
        "f,Group F,stay_and_play,TF1 1AA,,,48,12,,",            # 8 age range upside down
        "g,Group G,stay_and_play,TF1 1AA,,,,,not-an-email,",    # 9 email
        "h,Group H,stay_and_play,TF1 1AA,,,,,,closed",          # 10 status
        "ok,Good group again,stay_and_play,TF1 3NT,,,,,,",      # 11 same id, different details
        "i,good group,stay_and_play,tf1 1aa,,,,,,",             # 12 same name and postcode as row 2
        "j,Group J,stay_and_play,TF1 1AA,,,,,,,extra",          # 13 too many values
    ]
    rows += ["k,Group K,stay_and_play,TF1 1AA,,,,,,", "l,Group L,stay_and_play,TF1 1AA,,,,,,"]
    rep = read_services_csv((HEADER + "\n".join(rows) + "\n").encode(), "Council", postcodes)
    got = {(p.row, p.field) for p in rep.errors}
    assert got == {(3, "name"), (4, "types"), (5, "postcode"), (6, "postcode"), (7, "latitude"),
                   (8, "max_age_months"), (9, "email"), (10, "status"), (11, "source_id"), (12, "name"), (13, "row")}
    messages = {p.row: p.message for p in rep.errors}
    assert "upside down" in messages[8] and "outside the UK" in messages[7]
    assert "not in the loaded postcode directory" in messages[6] and "Unknown type" in messages[4]
    assert "Duplicate of row 2" in messages[11] and "Duplicate of row 2" in messages[12]
    assert [r.source_id for r in rep.records] == ["ok", "k", "l"]
    assert rep.rows == 14 and rep.rejected_rows == set(range(3, 14))
    # last_verified in the future, capacity not positive
    rep = read_services_csv(template_rows([{"name": "X", "types": "antenatal", "postcode": "TF1 1AA",
                                            "last_verified": future, "capacity": "-3"}]), "C", postcodes)
    assert {p.field for p in rep.errors} == {"last_verified", "capacity"}


def test_a_service_at_several_places_is_several_rows(postcodes):
    row = {"source_id": "hv-1", "name": "Health visitor drop-in", "types": "health_visiting", "phone": "01952 1"}
    data = template_rows([row | {"postcode": "TF1 1AA", "location_name": "Hadley"},
                          row | {"postcode": "TF3 1LY", "location_name": "Stirchley"},
                          row | {"postcode": "TF3 1LY", "location_name": "Stirchley"}])
    rep = read_services_csv(data, "NHS trust", postcodes)
    assert len(rep.records) == 1 and [p.name for p in rep.records[0].places] == ["Hadley", "Stirchley"]
    assert [(p.row, p.field) for p in rep.errors] == [(4, "source_id")]  # the same place twice


def test_html_and_script_are_kept_as_text(postcodes):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    rep = read_services_csv(template_rows([{"name": evil, "types": "stay_and_play", "postcode": "TF1 1AA",
                                            "description": evil, "organization": evil, "schedule": evil}]),
                            "Council", postcodes)
    r = rep.records[0]
    assert (r.name, r.description, r.organization, r.schedule) == (evil, evil, evil, evil)


def test_export_is_read_back_as_the_same_records(empty_directory, postcodes):
    data = template_rows([
        {"source_id": "1", "name": "Baby massage, Tuesdays", "types": "baby_massage; stay_and_play",
         "postcode": "TF1 1AA", "description": "Line one\nLine two, with \"quotes\"", "free": "no", "cost": "£20",
         "languages": "Welsh; English", "pregnancy": "yes", "referral": "both", "capacity": "8",
         "last_verified": "2025-02-01", "min_age_months": "1", "max_age_months": "7"},
        {"source_id": "2", "name": "Antenatal", "types": "antenatal", "latitude": "52.651897",
         "longitude": "-2.438933"},
    ])
    first = read_services_csv(data, "Council", postcodes)
    empty_directory.upsert(first.records, "t")
    exported = export_csv(empty_directory.records()).encode()
    second = read_services_csv(exported, "another name", postcodes)
    assert not second.problems
    assert empty_directory.classify(second.records) == {("Council", "1"): "unchanged", ("Council", "2"): "unchanged"}
