"""Duplicates across sources on a small real case: two Bristol children's centres as the real
GIAS children's centres extract lists them (placed at their postcodes' Code-Point Open
points), and two records shaped as Bristol City Council's Open Referral UK feed publishes
them (names, ids, emails and websites from the real feed): the centre itself, and a session
held at the other centre. Only the real pair is offered; a steward's decision is stored, and
families then see one entry naming both sources."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date

import pytest
from pyproj import Transformer

from directory import config, duplicates
from directory.areas import attach_areas
from directory.ingest.oruk import read_oruk
from directory.store import Place, ServiceRecord
from tests.stewards_data import BRISTOL, oruk_page

GIAS_CC = config.raw_dir() / "edubaseallchildrencentre20260821.csv"
GIAS_SOURCE = "DfE GIAS children's centres"
COUNCIL = "Bristol City Council"
TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)


def codepoint(postcodes: set[str]) -> dict[str, tuple[float, float]]:
    """(lat, lon) of postcodes from OS Code-Point Open (no header; postcode, quality, easting, northing...)."""
    out = {}
    with zipfile.ZipFile(config.raw_dir() / "codepo_gb.zip") as z:
        for area in {p.split()[0].rstrip("0123456789").lower() for p in postcodes}:
            for row in csv.reader(io.TextIOWrapper(z.open(f"Data/CSV/{area}.csv"), "utf-8")):
                if row[0] in postcodes:
                    lon, lat = TO_WGS84.transform(float(row[2]), float(row[3]))
                    out[row[0]] = (round(lat, 6), round(lon, 6))
    return out


def gias_rows(urns: set[str]) -> list[dict]:
    with open(GIAS_CC, encoding="utf-8", newline="") as f:
        return [r for r in csv.DictReader(f) if r["URN"] in urns]


def feed_service(name: str, lat: float, lon: float, postcode: str) -> dict:
    """The real Bristol feed summary of `name`, with the location and taxonomy a full record carries."""
    s = next(x for x in json.loads(BRISTOL.read_text(encoding="utf-8")) if x["name"] == name)
    return {"id": s["id"], "name": s["name"], "description": s["description"], "url": s["url"] or None,
            "email": s["email"] or None, "status": s["status"], "assured_date": s["assured_date"],
            "organization": {"id": s["organization"]["id"], "name": s["organization"]["name"], "description": ""},
            "service_at_locations": [{"id": f"{s['id'][:-4]}0001", "location": {
                "id": f"{s['id'][:-4]}0002", "name": s["name"], "latitude": lat, "longitude": lon,
                "addresses": [{"id": f"{s['id'][:-4]}0003", "address_1": "", "city": "Bristol",
                               "postal_code": postcode, "country": "GB", "address_type": "physical"}]}}],
            "attributes": [{"id": f"{s['id'][:-4]}0004", "link_type": "service", "taxonomy_term": {
                "id": f"{s['id'][:-4]}0005", "name": "Children's centre", "taxonomy": "bristol",
                "term": "childrens-centre", "description": ""}}]}


def bristol_records(store, areas) -> list[ServiceRecord]:
    """The two GIAS centres and the two council-feed records (read by the ORUK importer)."""
    centres = gias_rows({"20146", "20324"})  # Avonmouth, Bishopsworth
    assert [r["EstablishmentName"] for r in centres] == ["Avonmouth Children's Centre",
                                                         "Bishopsworth Children's Centre"]
    points = codepoint({r["Postcode"] for r in centres})
    gias = [ServiceRecord(source=GIAS_SOURCE, source_id=r["URN"], name=r["EstablishmentName"],
                          types=["childrens_centre"],
                          places=[Place(*points[r["Postcode"]], name=r["EstablishmentName"],
                                        address=", ".join(p for p in (r["Street"], r["Locality"], r["Address3"]) if p),
                                        town=r["Town"], postcode=r["Postcode"])],
                          phone=r["TelephoneNum"] or None, url=r["SchoolWebsite"] or None, pregnancy=True,
                          min_age_months=0, max_age_months=59, last_verified=date(2026, 8, 21))
            for r in centres]
    feed = oruk_page([
        feed_service("Avonmouth Children’s Centre", *points["BS11 9LG"], "BS11 9LG"),
        feed_service("Cost of living service- Welcoming Space-Bishopsworth Children's Centre",
                     *points["BS13 8EA"], "BS13 8EA"),
    ])
    report = read_oruk(feed, COUNCIL, areas.postcodes, store.taxonomy_map())
    assert len(report.records) == 2 and not report.errors
    return gias + report.records


@pytest.fixture()
def bristol(store, areas):
    store.upsert(bristol_records(store, areas), "test")
    return store


def frame(store, areas):
    return attach_areas(store.service_frame(), areas)


def test_the_same_centre_from_gias_and_a_council_feed_is_one_pair(bristol, areas):
    pairs = duplicates.pairs_for_review(frame(bristol, areas), bristol)
    assert len(pairs) == 1  # the session at Bishopsworth's centre is not the centre
    p = pairs.iloc[0]
    assert {p.name_a, p.name_b} == {"Avonmouth Children's Centre", "Avonmouth Children’s Centre"}
    assert {p.source_a, p.source_b} == {GIAS_SOURCE, COUNCIL}
    assert p.reason == "same postcode" and p.similarity == 1.0 and p.distance_m == 0.0


def test_a_steward_links_the_pair_and_families_see_one_entry_naming_both(bristol, areas):
    p = duplicates.pairs_for_review(frame(bristol, areas), bristol).iloc[0]
    duplicates.decide(bristol, p.service_a, p.service_b, "same", "Sam")
    assert duplicates.pairs_for_review(frame(bristol, areas), bristol).empty  # decided: not asked again
    decided = duplicates.pairs_for_review(frame(bristol, areas), bristol, include_decided=True)
    assert list(decided.decision) == ["same"]
    shown = duplicates.merge_linked(frame(bristol, areas), duplicates.same_links(bristol))
    assert len(shown) == 3
    avonmouth = shown[shown.name.str.startswith("Avonmouth")]
    assert len(avonmouth) == 1
    row = avonmouth.iloc[0]
    assert set(row.source.split("; ")) == {GIAS_SOURCE, COUNCIL}
    # the entry has the best of both: the register's phone and website, the council's email
    gias = next(r for r in gias_rows({"20146"}))
    assert row.phone == gias["TelephoneNum"] and row.email == "avonmouth.cc@bristol-schools.uk"
    assert row.url.rstrip("/") == "http://www.avonmouthcc.co.uk"
    # the family list and details name both sources
    from directory import text

    assert ("Source", row.source, None) in text.details(row.to_dict())


def test_kept_apart_pairs_stay_two_entries_and_are_not_asked_again(bristol, areas):
    p = duplicates.pairs_for_review(frame(bristol, areas), bristol).iloc[0]
    duplicates.decide(bristol, p.service_b, p.service_a, "different", "Sam")  # either order
    assert duplicates.pairs_for_review(frame(bristol, areas), bristol).empty
    assert duplicates.merge_linked(frame(bristol, areas), duplicates.same_links(bristol)).shape[0] == 4
    duplicates.decide(bristol, p.service_a, p.service_b, "same", "Alex")  # a decision can be changed
    assert duplicates.same_links(bristol) == [(p.service_a, p.service_b)]
    with pytest.raises(ValueError):
        duplicates.decide(bristol, p.service_a, p.service_b, "maybe", "Sam")
