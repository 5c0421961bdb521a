"""Services without a building (helplines, online groups, home visits): kept with their service areas
through every importer and exporter, counted by record quality, never put on the map, and listed on Find
support under "Phone and online support for your area" for the family's upper-tier authority (England-wide
ones everywhere). The two services are real (tests/no_building.py says where each value comes from)."""

from __future__ import annotations

import json
from datetime import date

import jsonschema
import pytest
from streamlit.testing.v1 import AppTest

from directory import quality, service_areas
from directory.areas import attach_areas
from directory.ingest.csv_import import export_csv, read_services_csv
from directory.ingest.oruk import export_json, export_oruk, read_oruk
from directory.store import Directory
from tests.no_building import FAMILYLINE, NORTH_LINCOLNSHIRE, SEND, SOUTH_GLOS, rows
from tests.stewards_data import ORUK_SCHEMA, template_rows

FIND = "../views/find_support.py"
SERVICE = "../views/service.py"


def read_rows(postcodes, extra=()):
    return read_services_csv(template_rows(rows() + list(extra)), "Test council list", postcodes)


def test_the_codes_and_names_of_service_areas():
    assert len(service_areas.names()) == 153  # England's upper-tier authorities, from the build
    assert service_areas.resolve("South Gloucestershire") == SOUTH_GLOS
    assert service_areas.resolve("North Lincolnshire Council") == NORTH_LINCOLNSHIRE
    assert service_areas.resolve(service_areas.uri(NORTH_LINCOLNSHIRE)) == NORTH_LINCOLNSHIRE
    assert service_areas.resolve("National") == service_areas.resolve("UK") == service_areas.ENGLAND
    # a district, a town and a made-up code are not upper-tier authorities
    assert [service_areas.resolve(t) for t in ("E07000223", "Dawley", "E06999999", "")] == [None] * 4
    assert service_areas.label(service_areas.ENGLAND) == "England"


def test_a_csv_row_with_a_service_area_needs_no_location_and_round_trips(empty_directory, areas):
    rep = read_rows(areas.postcodes, extra=[
        {"name": "No place, no area", "types": "antenatal"},
        {"name": "A district is not an upper-tier authority", "types": "antenatal", "service_area": "E07000223"}])
    assert [r.name for r in rep.records] == [FAMILYLINE, SEND]
    assert [r.places for r in rep.records] == [[], []]
    assert [r.service_areas for r in rep.records] == [[service_areas.ENGLAND], [SOUTH_GLOS]]
    errors = {(p.row, p.field) for p in rep.errors}
    assert errors == {(4, "postcode"), (5, "service_area")}
    assert "service_area" in next(p.message for p in rep.errors if p.row == 4)
    empty_directory.upsert(rep.records, "test")
    assert empty_directory.service_frame().empty  # never a map point
    frame = empty_directory.area_service_frame()
    assert sorted(frame.name) == [FAMILYLINE, SEND]
    assert dict(zip(frame.name, frame.service_areas)) == {FAMILYLINE: [service_areas.ENGLAND], SEND: [SOUTH_GLOS]}
    # our CSV export has the service_area column, and importing it changes nothing
    out = export_csv(empty_directory.records())
    assert "service_area" in out.splitlines()[0].split(",")
    back = read_services_csv(out.encode(), "Test council list", areas.postcodes)
    assert not back.errors and set(empty_directory.classify(back.records).values()) == {"unchanged"}


def test_oruk_export_has_valid_service_areas_and_reads_back(empty_directory, tmp_path, areas, seeded):
    empty_directory.upsert(read_rows(areas.postcodes).records, "test")
    doc = export_oruk(empty_directory.stored())
    schema = json.loads((ORUK_SCHEMA / "schema" / "service.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for s in doc["contents"]:
        assert not list(validator.iter_errors(s)), [e.message for e in validator.iter_errors(s)]
        assert "service_at_locations" not in s
    by_name = {s["name"]: s["service_areas"] for s in doc["contents"]}
    assert [(a["name"], a["uri"]) for a in by_name[SEND]] == [("South Gloucestershire", service_areas.uri(SOUTH_GLOS))]
    assert [a["name"] for a in by_name[FAMILYLINE]] == ["England"]
    other = Directory(f"sqlite:///{tmp_path / 'other.sqlite'}").create()
    rep = read_oruk(export_json(empty_directory.stored()).encode(), "x", areas.postcodes, seeded.taxonomy_map())
    assert not rep.errors
    other.upsert(rep.records, "test")
    assert other.records() == empty_directory.records()


def test_a_feed_says_its_service_area_by_name_or_uri(areas, seeded):
    base = {"status": "active", "attributes": [{"id": "a", "taxonomy_term": {"term": "parenting_programme",
                                                                            "taxonomy": "family-support-map"}}]}
    docs = [dict(base, id="1", name=FAMILYLINE, service_areas=[{"id": "x", "name": "North Lincolnshire Council"}]),
            dict(base, id="2", name=SEND, service_areas=[{"id": "y", "uri": service_areas.uri(SOUTH_GLOS)},
                                                         {"id": "z", "name": "Our MyCity area"}]),
            dict(base, id="3", name="Neither", attending_type="Phone")]
    rep = read_oruk(json.dumps(docs).encode(), "A feed", areas.postcodes, seeded.taxonomy_map())
    assert [(r.name, r.service_areas, r.places) for r in rep.records] == [
        (FAMILYLINE, [NORTH_LINCOLNSHIRE], []), (SEND, [SOUTH_GLOS], [])]
    assert [(p.row, p.field, p.severity) for p in rep.problems] == [(2, "service_areas", "warning"),
                                                                    (3, "location", "error")]
    assert "no service area" in rep.problems[1].message


def test_quality_counts_the_service_area_as_their_place(empty_directory, areas):
    empty_directory.upsert(read_rows(areas.postcodes).records, "test")
    table = service_areas.with_areas(empty_directory.area_service_frame())
    q = quality.record_quality(table, today=date(2024, 12, 31)).set_index("name")
    assert list(q.location_precision) == ["area", "area"]
    assert q.location.all() and q.address.all()
    assert q.loc[FAMILYLINE, "utla_code"] == service_areas.ENGLAND and q.loc[SEND, "utla_name"] == "South Gloucestershire"
    # FamilyLine states phone, email, website, cost, hours and was verified in 2024 (its real assured date)
    assert q.loc[FAMILYLINE, "missing"] == "ages;referral"


def test_a_steward_of_the_area_may_change_it_and_england_wide_ones_are_admins(areas):
    from directory.stewards import Account, authorities_of, may_change

    recs = read_rows(areas.postcodes).records
    assert authorities_of(recs, areas) == [{None}, {SOUTH_GLOS}]
    glos = Account("s@south-glos.example", "S", authorities=frozenset({SOUTH_GLOS}))
    assert may_change(glos, recs[1].source, {SOUTH_GLOS}) is None
    assert may_change(glos, recs[0].source, {None}) is not None


@pytest.fixture()
def app_directory(tmp_path, monkeypatch, areas, seeded):
    from tests.conftest import copy_of

    url = copy_of(seeded, tmp_path / "find.sqlite")
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    d = Directory(url).create()
    d.upsert(read_rows(areas.postcodes).records, "test")
    return d


def _area_section(at: AppTest) -> tuple[bool, list[str]]:
    heads = [h.value for h in at.subheader]
    labels = [e.label for e in at.expander]
    return "Phone and online support for your area" in heads, [lab for lab in labels if " · " in lab
                                                             and not lab[0].isdigit()]


def test_find_support_lists_them_for_the_family_area_and_never_on_the_map(app_directory):
    at = AppTest.from_file(FIND, default_timeout=120)
    at.query_params["q"] = "South Gloucestershire"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown, labels = _area_section(at)
    assert shown and labels == [f"**{SEND}** · South Gloucestershire", f"**{FAMILYLINE}** · England-wide"]
    listed = [e.label for e in at.expander if e.label[:1].isdigit()]
    assert listed and not any(FAMILYLINE in lab or SEND in lab for lab in listed)  # not among the located ones
    body = " ".join(m.value for m in at.markdown)
    assert "Families anywhere in England" in body and "No building to visit" in body

    # Telford families see the national line, not South Gloucestershire's workshops
    at = AppTest.from_file(FIND, default_timeout=120)
    at.query_params["q"] = "TF1 1AA"
    at.run()
    assert _area_section(at)[1] == [f"**{FAMILYLINE}** · England-wide"]

    # the family's filters apply too: a search for children's centres only lists neither
    at = AppTest.from_file(FIND, default_timeout=120)
    at.query_params.update({"q": "South Gloucestershire", "types": "childrens_centre"})
    at.run()
    shown, labels = _area_section(at)
    assert shown and labels == []


def test_the_service_page_of_a_service_without_a_building(app_directory):
    sid = app_directory.area_service_frame().set_index("name").loc[SEND, "service_id"]
    at = AppTest.from_file(SERVICE, default_timeout=60)
    at.query_params["id"] = sid
    at.run()
    assert not at.exception
    assert at.title[0].value == SEND
    assert "Families in South Gloucestershire" in at.info[0].value
    body = " ".join(m.value for m in at.markdown)
    assert "Directions" not in body and "Available to" in body


def test_attach_areas_is_not_given_services_without_a_building(app_directory, areas):
    # the located frame the maps and coverage read holds only services with a point
    located = attach_areas(app_directory.service_frame(), areas)
    assert located.lat.notna().all() and not set(located.name) & {FAMILYLINE, SEND}
