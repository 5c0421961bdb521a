"""Open Referral UK JSON: reading real and published-layout files, reporting what can't be
mapped, and exporting the directory as valid ORUK 3.0 (see tests/stewards_data.py for
where the test files come from)."""

from __future__ import annotations

import json
from datetime import date

import jsonschema
import pytest

from directory import taxonomy
from directory.ingest.oruk import read_oruk, schedule_text
from tests.stewards_data import (
    BRISTOL,
    NORTH_LINCS,
    ORUK_SCHEMA,
    TF1_1AA,
    TF3_1LY,
    oruk_page,
    oruk_service,
    real_summaries,
)

BREASTFEEDING = "Ashby Breastfeeding Support Group"
MASSAGE = "Baby Massage"


@pytest.fixture(scope="module")
def postcodes(areas):
    return areas.postcodes


@pytest.fixture(scope="module")
def terms(seeded):
    """The mapping table as migration 0002 seeds it (common term names, any vocabulary)."""
    return seeded.taxonomy_map()


def test_full_oruk3_page_maps_every_field(postcodes, terms):
    data = oruk_page([
        oruk_service(BREASTFEEDING, lat=TF1_1AA[1], lon=TF1_1AA[2], postcode="tf1 1aa"),
        oruk_service(MASSAGE, postcode=TF3_1LY[0], terms=(("Baby massage", None), ("Under 5s", "nl-audience")),
                     minimum_age=0.5, maximum_age=1, cost_options=[{"id": "x", "option": "Per course",
                                                                    "amount": 15, "amount_description": "£15"}]),
    ])
    rep = read_oruk(data, "North Lincolnshire Council", postcodes, terms)
    assert rep.rows == 2 and not rep.errors, rep.problems
    feeding, massage = rep.records
    real = {s["name"]: s for s in real_summaries()}
    assert feeding.source_id == real[BREASTFEEDING]["id"]
    assert feeding.source == "North Lincolnshire Council"
    assert feeding.types == ["infant_feeding"]  # "Breastfeeding support": a default row of the mapping table
    assert feeding.organization == "NL Family"
    assert feeding.places[0].latitude == TF1_1AA[1] and feeding.places[0].postcode == "TF1 1AA"
    assert feeding.places[0].address == "Family Hub, 1 Test Street" and feeding.places[0].town == "Telford"
    assert feeding.min_age_months == 0 and feeding.max_age_months == 24
    assert feeding.is_free is True
    assert feeding.phone == "01724 298212"
    assert feeding.schedule == "Tuesday 10:00-11:30"
    assert feeding.languages == ["English", "Polish"]
    assert feeding.last_verified == date.fromisoformat(real[BREASTFEEDING]["assured_date"])
    # the real HTML description is stored as plain text
    assert "<p>" in real[BREASTFEEDING]["description"]
    assert "<" not in feeding.description and "peer supporters" in feeding.description
    # placed by postcode look-up (no coordinates in the file)
    assert (massage.places[0].latitude, massage.places[0].longitude) == (TF3_1LY[1], TF3_1LY[2])
    assert (feeding.places[0].precision, massage.places[0].precision) == ("building", "postcode")
    assert massage.types == ["baby_massage"]  # our own label
    assert (massage.min_age_months, massage.max_age_months) == (6, 12)
    assert massage.is_free is False and massage.fees == "£15"
    # the audience term is not ours: reported as a warning, not dropped silently
    assert [p.field for p in rep.warnings] == ["taxonomy"] and "Under 5s" in rep.warnings[0].message
    assert rep.unmapped_terms[("nl-audience", "under-5s", "Under 5s")] == 1


def test_v1_plain_list_with_eligibilitys_regular_schedules_and_physical_addresses(postcodes, terms):
    s = oruk_service(BREASTFEEDING)
    for k in ("attributes", "minimum_age", "maximum_age", "schedules", "service_at_locations"):
        s.pop(k)
    s |= {
        "service_taxonomys": [{"id": "1", "taxonomy": {"id": "bf", "name": "Breastfeeding", "vocabulary": "esd"}}],
        "eligibilitys": [{"id": "e", "eligibility": "Parents of babies", "minimum_age": 0, "maximum_age": 1}],
        "regular_schedules": [{"id": "r", "weekday": "Thursday", "opens_at": "13:00", "closes_at": "15:00"}],
        "service_at_locations": [{"id": "sal", "location": {"id": "l", "name": "Hub", "physical_addresses": [
            {"id": "a", "address_1": "1 Road", "city": "Telford", "postal_code": TF1_1AA[0]}]}}],
    }
    rep = read_oruk(json.dumps([s]).encode(), "NL", postcodes, terms)
    assert not rep.errors, rep.problems
    r = rep.records[0]
    assert r.types == ["infant_feeding"]
    assert (r.min_age_months, r.max_age_months, r.eligibility) == (0, 12, "Parents of babies")
    assert r.schedule == "Thursday 13:00-15:00"
    assert r.places[0].postcode == "TF1 1AA" and r.places[0].latitude == TF1_1AA[1]


def test_steward_mapping_table_maps_foreign_terms(postcodes):
    s = oruk_service(MASSAGE, lat=52.7, lon=-2.5, terms=(("Infant massage classes", "lga-services"),))
    data = json.dumps(s).encode()  # one service object on its own
    unmapped = read_oruk(data, "NL", postcodes, taxonomy.TaxonomyMap())
    assert unmapped.records == [] and unmapped.errors[0].field == "taxonomy"
    assert "Infant massage classes" in unmapped.errors[0].message
    mapped = read_oruk(data, "NL", postcodes,
                       taxonomy.TaxonomyMap([("lga-services", "infant-massage-classes", "baby_massage")]))
    assert mapped.records[0].types == ["baby_massage"]
    ignored = read_oruk(data, "NL", postcodes, taxonomy.TaxonomyMap([("*", "Infant massage classes", "ignore")]))
    assert ignored.records == [] and "mapped to “ignore”" in ignored.errors[0].message
    assert not ignored.unmapped_terms


@pytest.mark.parametrize("path", [NORTH_LINCS, BRISTOL], ids=["north-lincolnshire", "bristol"])
def test_real_council_feeds_are_reported_not_mappable(path, postcodes):
    data = path.read_bytes()
    n = len(json.loads(data))
    rep = read_oruk(data, "council", postcodes, taxonomy.TaxonomyMap())
    assert rep.rows == n and rep.records == []
    assert rep.rejected_rows == set(range(1, n + 1))
    assert {p.field for p in rep.errors} >= {"location", "taxonomy"}
    assert any("list summary" in note for note in rep.notes)
    if path == BRISTOL:  # one real entry has an empty name
        assert any(p.field == "name" and p.message == "Missing name." for p in rep.errors)


def test_published_example_is_read_and_its_fictional_place_refused(postcodes):
    """The standard's own example (fictional: latitude 100, a US address): a format test only."""
    data = (ORUK_SCHEMA / "examples" / "service_full.json").read_bytes()
    rep = read_oruk(data, "example", postcodes, taxonomy.TaxonomyMap())
    assert rep.rows == 1 and rep.records == []
    assert any(p.field == "location" and "outside the UK" in p.message for p in rep.errors)
    listing = read_oruk((ORUK_SCHEMA / "examples" / "service_list.json").read_bytes(), "example", postcodes)
    assert listing.rows == 1 and any("page 1 of 10" in n for n in listing.notes)


@pytest.mark.parametrize("data, where", [
    (b'{"contents": [{"id": "a", "name": "x",}]}', "line 1, column 39"),
    (b'[\n {"id": "a",\n  "name": "x"\n  "status": "active"}\n]', "line 4, column 3"),
])
def test_malformed_json_reports_line_and_column(data, where, postcodes):
    rep = read_oruk(data, "x", postcodes)
    assert rep.records == [] and rep.file_error
    assert "Not valid JSON" in rep.errors[0].message and where in rep.errors[0].message


@pytest.mark.parametrize("doc, expected", [
    ({"hello": 1}, "found an object with keys: hello"),
    (42, "found a JSON int"),
    ([], "holds no services"),
])
def test_wrong_json_shapes_are_reported(doc, expected, postcodes):
    rep = read_oruk(json.dumps(doc).encode(), "x", postcodes)
    assert rep.file_error and expected in rep.errors[0].message


def test_bad_values_reported_per_service(postcodes, terms):
    good = oruk_service(BREASTFEEDING, lat=52.7, lon=-2.5)
    services = [
        good,
        oruk_service(MASSAGE, lat=52.7, lon=-2.5, minimum_age=4, maximum_age=1),  # upside down
        oruk_service("Antenatal workshops - baby care", lat=-2.5, lon=52.7),  # swapped
        oruk_service("Antenatal workshops- baby feeding", postcode="TF1 1ZZ9"),  # bad postcode
        oruk_service("Antenatal parenting group- Solihull Approach", postcode="TF1 1ZZ"),  # in no file
        "not an object",
        dict(good, id=None, name=""),
    ]
    rep = read_oruk(oruk_page(services), "NL", postcodes, terms)
    assert [r.name for r in rep.records] == [BREASTFEEDING]
    by_row = {}
    for p in rep.errors:
        by_row.setdefault(p.row, set()).add(p.field)
    assert by_row == {2: {"maximum_age"}, 3: {"location"}, 4: {"postcode"}, 5: {"postcode"}, 6: {"service"},
                      7: {"id", "name"}}
    assert "upside down" in next(p.message for p in rep.errors if p.row == 2)
    assert "not in the loaded postcode directory" in next(p.message for p in rep.errors if p.row == 5)


def test_duplicate_ids_in_one_file(postcodes, terms):
    s = oruk_service(BREASTFEEDING, lat=52.7, lon=-2.5)
    rep = read_oruk(oruk_page([s, dict(s, name="Another name")]), "NL", postcodes, terms)
    assert len(rep.records) == 1 and rep.errors[0].row == 2 and "Duplicate of service 1" in rep.errors[0].message


def test_oversize_file_refused(postcodes):
    data = oruk_page([oruk_service(BREASTFEEDING, lat=52.7, lon=-2.5)] * 3)
    rep = read_oruk(data, "NL", postcodes, limit_bytes=len(data) - 1)
    assert rep.records == [] and rep.file_error and "the limit is" in rep.errors[0].message


def test_schedule_text_from_rrule_parts():
    assert schedule_text({"byday": "MO,WE", "opens_at": "09:30:00", "closes_at": "12:00:00"}) == \
        "Monday, Wednesday 09:30-12:00"
    assert schedule_text({"freq": "MONTHLY", "byday": "1TH", "opens_at": "10:00"}) == "monthly on Thursday 10:00"
    assert schedule_text({"description": "Term time only"}) == "Term time only"
    assert schedule_text({}) is None


# ---------------------------------------------------------------- export


@pytest.fixture(scope="module")
def service_schema():
    return json.loads((ORUK_SCHEMA / "schema" / "service.json").read_text())


def test_export_is_valid_oruk3(empty_directory, postcodes, terms, service_schema):
    from directory.ingest.oruk import export_oruk
    from directory.store import Place, ServiceRecord

    rep = read_oruk(oruk_page([oruk_service(BREASTFEEDING, lat=52.7, lon=-2.5, postcode="TF1 1AA"),
                               oruk_service(MASSAGE, postcode=TF3_1LY[0])]), "NL", postcodes, terms)
    empty_directory.upsert(rep.records, "test")
    empty_directory.upsert([ServiceRecord(source="csv", source_id="1", name="Bare minimum", types=["antenatal"],
                                          places=[Place(52.65, -2.44)])], "test")
    doc = export_oruk(empty_directory.stored())
    assert doc["total_items"] == 3
    checker = jsonschema.FormatChecker()
    validator = jsonschema.Draft202012Validator(service_schema, format_checker=checker)
    for s in doc["contents"]:
        errors = sorted(validator.iter_errors(s), key=str)
        assert not errors, [e.message for e in errors]
    listed = jsonschema.Draft202012Validator(json.loads((ORUK_SCHEMA / "schema" / "service_list.json").read_text()),
                                             format_checker=checker)
    for s in doc["contents"]:  # each entry is also a valid list entry
        listed.validate(s)
    # and the schema does catch a broken export (the check can fail)
    broken = dict(doc["contents"][0], status="open")
    assert list(validator.iter_errors(broken))
