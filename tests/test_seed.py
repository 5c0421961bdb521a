"""The directory starts with real services only: DfE GIAS maintained nursery schools and every open
children's centre and linked site in the newest GIAS children's centres extract in the raw folder."""

import gzip
import re

import pandas as pd
import pytest

from directory.bootstrap import newest_centres_file, seed
from directory.geocode import LocateError, parse_full_postcode
from directory.ingest.gias import nursery_school_records

CC_SOURCE = "DfE GIAS children's centres"


def test_seed_has_the_378_maintained_nursery_schools(seeded, raw):
    frame = seeded.service_frame()
    frame = frame[frame.source == "DfE GIAS"]
    assert len(frame) == 378 and frame.service_id.is_unique
    assert frame.types.apply(lambda t: t == ["early_education"]).all()
    assert (frame.last_verified.astype(str) == "2025-05-24").all() and (frame.precision == "building").all()
    with gzip.open(raw / "gias_open_establishments_20250524.csv.gz", "rt") as f:
        gias = pd.read_csv(f, low_memory=False)
    nurseries = gias[gias.establishment_type == "Local authority nursery school"]
    nurseries = nurseries.set_index(nurseries.urn.astype(str))
    assert set(frame.source_id) == set(nurseries.index)
    got = frame.set_index("source_id").loc[nurseries.index]
    # coordinates from the OS grid reference agree with GIAS's own WGS84 to ~2 m
    assert (got.lat - nurseries.latitude).abs().max() < 3e-5
    assert (got.lon - nurseries.longitude).abs().max() < 3e-5
    assert (got.name == nurseries.establishment_name.str.strip()).all()


def test_seed_has_every_open_childrens_centre_of_the_newest_extract(seeded, raw, areas):
    path = newest_centres_file(raw)
    # the newest by the date in its name, wherever it sits (the history sub-folder holds older ones)
    names = sorted(p.name for p in raw.rglob("edubaseallchildrencentre*.csv*"))
    assert len(names) == 11 and path.name == max(names, key=lambda n: re.search(r"\d{8}", n)[0])
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    open_ = df[df["EstablishmentStatus (name)"].str.startswith("Open")]

    def placeable(pc: str) -> bool:
        try:
            p = parse_full_postcode(pc)
        except LocateError:
            return False
        return bool(areas.postcodes.postcode(p) or areas.postcodes.sector(p.sector))

    expected = {u for u, pc in zip(open_.URN, open_.Postcode) if placeable(pc.strip())}
    frame = seeded.service_frame()
    cc = frame[frame.source == CC_SOURCE]
    assert set(cc.source_id) == expected and cc.source_id.is_unique
    assert len(open_) - len(expected) == 6  # 1 blank postcode, 5 retired postcodes in sectors Code-Point lacks
    assert set(cc.precision) == {"postcode", "sector"} and (cc.precision == "sector").sum() == 33
    assert cc.types.apply(lambda t: t == ["childrens_centre"]).all() and cc.pregnancy.all()
    assert (cc.min_age_months == 0).all() and (cc.max_age_months == 59).all()
    assert (cc.last_verified.astype(str) == "2026-08-21").all()
    linked = set(open_.URN[open_["TypeOfEstablishment (name)"] == "Children's centre linked site"])
    assert cc.part_of.notna().sum() > 600 and set(cc.source_id[cc.part_of.notna()]) <= linked
    assert len(frame) == 378 + len(expected)


def test_seeding_again_adds_nothing(seeded):
    before = seeded.count()
    assert seed(seeded) == 0
    assert seeded.count() == before


def test_official_gias_layout_in_windows_1252(tmp_path):
    # The official edubasealldataYYYYMMDD.csv is Windows-1252 with headers like "TypeOfEstablishment (name)";
    # three rows in that layout (one closed) stand in for the 50,000-row national file.
    header = ('"URN","LA (code)","LA (name)","EstablishmentName","TypeOfEstablishment (name)",'
              '"EstablishmentStatus (name)","PhaseOfEducation (name)","StatutoryLowAge","StatutoryHighAge",'
              '"Street","Locality","Address3","Town","Postcode","TelephoneNum","SchoolWebsite","Easting","Northing"')
    rows = [
        '100005,"202","Camden","Thomas Coram Centre","Local authority nursery school","Open","Nursery",2,5,'
        '"49 Mecklenburgh Square","","","London","WC1N 2NY","02075200385","www.thomascoram.camden.sch.uk",530464,182403',
        '999001,"202","Camden","Crèche Closed Nursery School","Local authority nursery school","Closed","Nursery",2,5,'
        '"","","","London","","","",530000,182000',
        '100006,"202","Camden","A primary school","Community school","Open","Primary",4,11,'
        '"","","","London","","","",530100,182100',
    ]
    path = tmp_path / "edubasealldata20250524.csv"
    path.write_bytes(("\r\n".join([header] + rows) + "\r\n").encode("cp1252"))
    records = nursery_school_records(tmp_path)
    assert [r.source_id for r in records] == ["100005"]
    r = records[0]
    assert (r.min_age_months, r.max_age_months) == (24, 59)  # statutory ages 2 to 5
    assert r.places[0].postcode == "WC1N 2NY" and r.places[0].address == "49 Mecklenburgh Square"
    assert r.url == "www.thomascoram.camden.sch.uk" and r.phone == "02075200385"
    assert r.last_verified.isoformat() == "2025-05-24"
    assert r.places[0].latitude == pytest.approx(51.52548, abs=5e-5)
