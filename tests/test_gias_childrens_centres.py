"""DfE Get Information About Schools children's centres download: open centres and linked
sites become children's centre / family hub locations at their real coordinates.

The files are built in the download's layout (edubasealldata column names,
Windows-1252) by tests/stewards_data.py; Easting/Northing are real GIAS points, so
our British National Grid conversion is checked against GIAS's own latitude/longitude.
"""

from __future__ import annotations

from datetime import date

import pytest

from directory.ingest.gias import CHILDRENS_CENTRES_SOURCE, read_childrens_centres
from directory.ingest.review import commit, review
from tests.stewards_data import TF1_1AA, gias_cc_csv, gias_cc_row, real_gias_points

FILE = "childrenscentres20250524.csv"


@pytest.fixture(scope="module")
def postcodes(areas):
    return areas.postcodes


def test_open_centres_and_linked_sites_at_their_real_coordinates(postcodes):
    rows = [
        gias_cc_row(0, name="Hadley Children’s Centre"),  # curly apostrophe: a Windows-1252 character
        gias_cc_row(1, name="Hadley Linked Site", kind="Children's centre linked site", postcode="TF1 3NT"),
        gias_cc_row(2, name="Closed Centre", status="Closed"),
        gias_cc_row(3, name="Proposed Centre", status="Proposed to open"),
        gias_cc_row(4, name="Closing Centre", status="Open, but proposed to close"),
    ]
    rep = read_childrens_centres(gias_cc_csv(rows), postcodes, FILE)
    assert not rep.problems, rep.problems
    assert [r.name for r in rep.records] == ["Hadley Children’s Centre", "Hadley Linked Site", "Closing Centre"]
    assert rep.skipped == 2 and "Closed 1" in rep.notes[0] and "Proposed to open 1" in rep.notes[0]
    pts = real_gias_points()
    for r, i in zip(rep.records, [0, 1, 4]):
        p = r.places[0]
        # GIAS publishes both: the conversion agrees within about 10 m
        assert abs(p.latitude - pts.latitude[i]) < 1e-4 and abs(p.longitude - pts.longitude[i]) < 1.5e-4
        assert r.types == ["childrens_centre"] and r.source == CHILDRENS_CENTRES_SOURCE
        assert r.organization == "Telford and Wrekin" and r.last_verified == date(2025, 5, 24)
    assert rep.records[0].source_id == "20000" and rep.records[0].places[0].postcode == "TF1 1AA"
    assert "linked site" in rep.records[1].description.lower()
    assert rep.records[0].places[0].address == "Test Street" and rep.records[0].phone == "01952 000000"


def test_rows_with_problems_are_reported_with_their_row(postcodes):
    rows = [
        gias_cc_row(0, name="Good Centre"),
        gias_cc_row(1, name="A School", kind="Community school"),
        gias_cc_row(2, name="", URN="abc"),
        gias_cc_row(3, name="No Coordinates", Easting="", Northing="", postcode="TF1 1AA"),  # placed by postcode
        gias_cc_row(4, name="Nowhere", Easting="", Northing="", postcode=""),
        gias_cc_row(5, name="Off The Grid", Easting="9999999", Northing="1"),
        gias_cc_row(6, name="Odd Postcode", postcode="TF1 1CC"),  # malformed, but the point is known
        gias_cc_row(7, name="Unknown Postcode", Easting="", Northing="", postcode="TF1 1ZZ"),
        gias_cc_row(8, name="Good Centre again", URN="20000"),
    ]
    rep = read_childrens_centres(gias_cc_csv(rows), postcodes, FILE)
    errors = sorted((p.row, p.field) for p in rep.errors)
    assert errors == [(3, "TypeOfEstablishment (name)"), (4, "EstablishmentName"), (4, "URN"), (6, "Easting"),
                      (7, "Easting"), (9, "Postcode"), (10, "source_id")]
    assert [(p.row, p.field) for p in rep.warnings] == [(8, "Postcode")]
    assert [r.name for r in rep.records] == ["Good Centre", "No Coordinates", "Odd Postcode"]
    placed = rep.records[1].places[0]
    assert (placed.latitude, placed.longitude) == (TF1_1AA[1], TF1_1AA[2])
    assert rep.records[2].places[0].postcode == "TF1 1CC"  # kept as written
    assert rep.rows == 9 and rep.rejected_rows == {3, 4, 6, 7, 9, 10}


def test_wrong_file_is_refused_with_the_missing_columns(postcodes):
    rep = read_childrens_centres(b"urn,name\n1,x\n", postcodes, "x.csv")
    assert rep.file_error and "missing column(s)" in rep.errors[0].message
    assert "TypeOfEstablishment (name)" in rep.errors[0].message


def test_import_then_reimport_changes_nothing(empty_directory, postcodes):
    data = gias_cc_csv([gias_cc_row(i, name=f"Centre {i}") for i in range(5)])
    rv = review(read_childrens_centres(data, postcodes, FILE), empty_directory)
    assert rv.counts["new"] == 5
    commit(rv, empty_directory, "steward (gias)")
    again = review(read_childrens_centres(data, postcodes, FILE), empty_directory)
    assert again.counts["unchanged"] == 5 and again.to_write == 0
    # a later download where one centre has closed: it is marked defunct, hidden from families
    later = gias_cc_csv([gias_cc_row(i, name=f"Centre {i}", status="Closed" if i == 0 else "Open") for i in range(5)])
    rv = review(read_childrens_centres(later, postcodes, "childrenscentres20251101.csv"), empty_directory)
    assert rv.report.skipped == 1 and rv.counts["updated"] == 5  # 4 newly verified, 1 closed
    assert [(p.row, "marked defunct" in p.message) for p in rv.report.warnings] == [(2, True)]
    commit(rv, empty_directory, "steward (gias)")
    assert empty_directory.find(CHILDRENS_CENTRES_SOURCE, "20000").record.status == "defunct"
    assert "Centre 0" not in set(empty_directory.service_frame().name)
    assert len(empty_directory.service_frame()) == 4
