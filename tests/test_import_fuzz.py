"""Fuzzing the importers with hypothesis (bounded): whatever the file, they either import
valid records or report problems; they never raise."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from directory import taxonomy
from directory.ingest.csv_import import TEMPLATE_COLUMNS, read_services_csv
from directory.ingest.gias import read_childrens_centres
from directory.ingest.oruk import read_oruk
from directory.ingest.report import in_uk
from tests.stewards_data import GIAS_CC_COLUMNS

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

postcodes = None  # set by the module fixture (hypothesis tests can't take function fixtures)


@pytest.fixture(scope="module", autouse=True)
def _postcodes(areas):
    global postcodes
    postcodes = areas.postcodes
    yield


def valid(report) -> None:
    """What every importer promises about what it returns."""
    assert len(report.records) == len(report.record_rows)
    for r in report.records:
        assert r.name and r.name.strip() and r.source_id
        assert r.types and set(r.types) <= set(taxonomy.BY_CODE)
        assert r.places and all(in_uk(p.latitude, p.longitude) for p in r.places)
        if r.min_age_months is not None and r.max_age_months is not None:
            assert r.min_age_months <= r.max_age_months
    for p in report.problems:
        assert p.row >= 0 and p.field and p.message and p.severity in ("error", "warning")


values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "TF1 1AA", "tf11aa", "SW1A 1AA", "TF1", "ZZ9 9ZZ", "52.7", "-2.5", "91", "1e308", "nan",
                     "inf", "-1", "0", "300", "301", "yes", "no", "maybe", "stay_and_play", "Baby massage; antenatal",
                     "2025-01-31", "2999-01-01", "31/01/2025", "self", "both", "a@b.org", "not an email",
                     '"', '""', ",", "\n", "\r\n", "\x00", "<script>alert(1)</script>", "' OR 1=1 --"]),
)


@st.composite
def csv_files(draw) -> bytes:
    header = draw(st.lists(st.one_of(st.sampled_from(TEMPLATE_COLUMNS), st.text(max_size=8)), max_size=12))
    if draw(st.booleans()):
        header = list(dict.fromkeys(["name", "types", "postcode", "latitude", "longitude"] + header))
    rows = draw(st.lists(st.lists(values, max_size=len(header) + 2), max_size=8))
    if draw(st.booleans()):  # well-formed CSV
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(header)
        w.writerows(rows)
        text = out.getvalue()
    else:  # joined by hand: quotes and newlines break the structure
        text = "\n".join(",".join(r) for r in [header] + rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return text.encode(encoding, errors="replace")


@FUZZ
@given(csv_files())
def test_csv_import_never_crashes(data):
    valid(read_services_csv(data, "fuzz", postcodes))


@FUZZ
@given(st.binary(max_size=3000))
def test_csv_and_gias_import_of_any_bytes(data):
    valid(read_services_csv(data, "fuzz", postcodes))
    valid(read_childrens_centres(data, postcodes, "x.csv"))


@FUZZ
@given(st.lists(st.lists(values, min_size=len(GIAS_CC_COLUMNS), max_size=len(GIAS_CC_COLUMNS)), max_size=6))
def test_gias_children_centres_rows(rows):
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(GIAS_CC_COLUMNS)
    w.writerows(rows)
    valid(read_childrens_centres(out.getvalue().encode("cp1252", errors="replace"), postcodes, "x.csv"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["TF1 1AA", "52.7", "-2.5", "2025-01-01", "Breastfeeding support", "virtual", "active"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
SERVICE_KEYS = ["id", "name", "description", "status", "url", "email", "fees", "minimum_age", "maximum_age",
                "assured_date", "organization", "service_at_locations", "attributes", "service_taxonomys",
                "eligibilitys", "schedules", "regular_schedules", "contacts", "phones", "languages", "cost_options",
                "fsm_source", "fsm_source_id", "fsm_capacity", "fsm_referral", "pc_metadata", "locations"]
LOCATION = st.fixed_dictionaries({}, optional={
    "latitude": json_values | st.floats(49, 61), "longitude": json_values | st.floats(-8, 2),
    "location_type": json_values, "name": json_values,
    "addresses": st.lists(st.fixed_dictionaries({}, optional={"postal_code": json_values | st.just("TF1 1AA"),
                                                            "address_1": json_values, "city": json_values}),
                          max_size=2) | json_values,
})
services = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=12), "name": st.text(min_size=1, max_size=30)},
    optional={k: json_values for k in SERVICE_KEYS[2:]} | {
        "service_at_locations": st.lists(st.fixed_dictionaries({"location": LOCATION}), max_size=2),
        "attributes": st.lists(st.fixed_dictionaries({"taxonomy_term": st.fixed_dictionaries(
            {}, optional={"term": json_values, "name": json_values | st.just("Stay and play"),
                          "taxonomy": json_values})}), max_size=3),
    },
)


@FUZZ
@given(st.one_of(json_values, st.lists(services, max_size=5),
                 st.lists(services, max_size=5).map(lambda s: {"total_pages": 2, "contents": s})))
def test_oruk_import_of_any_json_never_crashes(doc):
    valid(read_oruk(json.dumps(doc).encode(), "fuzz", postcodes, taxonomy.TaxonomyMap()))


@FUZZ
@given(st.binary(max_size=2000))
def test_oruk_import_of_any_bytes(data):
    valid(read_oruk(data, "fuzz", postcodes))
