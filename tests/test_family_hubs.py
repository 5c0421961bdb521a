"""DfE's "List of family hub sites" (GOV.UK CSV: Region, Local_Authority, Family_Hub, Postcode). The real
file is not in ../shared/data (no internet here), so these tests check the published layout with rows
that are real GIAS children's centres and linked sites named "... Family Hub ..." (137 in the 21 Aug 2026
extract), with their real postcodes, authorities and regions (tests/family_hub_rows.py): no hub is made
up. The duplicates they are offered against are GIAS's own records of the same buildings, today's and
(for the renamed ones) those of the 2016 extract."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from directory import duplicates
from directory.areas import attach_areas
from directory.geocode import parse_full_postcode
from directory.ingest.family_hubs import SOURCE, read_family_hubs
from directory.ingest.gias_cc import CHILDRENS_CENTRES_SOURCE, read_childrens_centres
from directory.ingest.review import commit, review
from directory.store import Directory
from tests.conftest import RAW, copy_of
from tests.family_hub_rows import HEADER, gias_family_hubs, published_csv


def compact(pc) -> str:
    return re.sub(r"\s+", "", str(pc or "")).upper()


@pytest.fixture(scope="module")
def hubs() -> pd.DataFrame:
    return gias_family_hubs()


def test_the_published_layout_is_read_and_placed_by_postcode(hubs, areas):
    rep = read_family_hubs(published_csv(hubs), areas.postcodes, "List_of_family_hub_sites.csv")
    assert rep.rows == len(hubs) == 137 and not rep.errors
    assert [(r.name, r.organization, r.places[0].postcode) for r in rep.records] == list(
        zip(hubs.name, hubs.la_name, hubs.postcode))
    assert {tuple(r.types) for r in rep.records} == {("childrens_centre",)}
    assert {r.source for r in rep.records} == {SOURCE} and rep.listed == {r.source_id for r in rep.records}
    # each at its postcode's centre, exactly where the postcode table puts it (brute force: one lookup each)
    # (a retired postcode: the middle of its postcode sector, with a warning naming the row)
    for r, n in zip(rep.records, rep.record_rows):
        pc = parse_full_postcode(r.places[0].postcode)
        hit, why = areas.postcodes.postcode(pc), "postcode"
        if hit is None:
            hit, why = areas.postcodes.sector(pc.sector), "sector"
            assert any(p.row == n and p.field == "Postcode" for p in rep.warnings)
        assert (r.places[0].precision, r.places[0].latitude, r.places[0].longitude) == (
            why, round(hit[4], 6), round(hit[3], 6))
    assert sum(r.places[0].precision == "postcode" for r in rep.records) >= 130
    assert rep.records[0].pregnancy and rep.records[0].max_age_months == 228  # 0 to 19


def test_headers_in_other_spellings_and_windows_1252_and_a_wrong_file(hubs, areas):
    data = published_csv(hubs.head(5), encoding="cp1252").replace(b"Local_Authority", b"local authority", 1)
    rep = read_family_hubs(data, areas.postcodes)
    assert len(rep.records) == 5 and not rep.errors
    gias = (RAW / "edubaseallchildrencentre20260821.csv").read_bytes()
    bad = read_family_hubs(gias, areas.postcodes)
    assert bad.file_error and "missing column(s) Local_Authority, Family_Hub" in bad.errors[0].message
    blank = read_family_hubs((",".join(HEADER) + "\r\nNorth West,Bolton,,BL3 4BL\r\n").encode(), areas.postcodes)
    assert [(p.row, p.field) for p in blank.errors] == [(2, "Family_Hub")]


def test_hubs_are_offered_as_duplicates_of_the_gias_centres_at_their_postcode(hubs, areas, seeded, tmp_path):
    d = Directory(copy_of(seeded, tmp_path / "hubs.sqlite"))
    rv = review(read_family_hubs(published_csv(hubs), areas.postcodes), d)
    # each hub has the name and postcode of its GIAS record: a warning, never a refusal
    assert rv.counts["new"] == 137 and rv.counts["rejected"] == 0
    assert sum("Offered as a pair under Duplicates" in p.message for p in rv.report.warnings) == 137
    assert rv.sync is not None and len(rv.sync.new) == 137
    commit(rv, d, "test", source=SOURCE, kind="family-hubs")
    frame = attach_areas(d.service_frame(), areas)
    pairs = duplicates.candidate_pairs(frame)
    got = {frozenset((a, b)) for a, b, sa, sb in zip(pairs.service_a, pairs.service_b, pairs.source_a,
                                                     pairs.source_b) if {sa, sb} == {SOURCE, CHILDRENS_CENTRES_SOURCE}}
    # expected, independently: every GIAS children's centre stored at a hub's postcode
    hub_rows = frame[frame.source == SOURCE]
    cc = frame[frame.source == CHILDRENS_CENTRES_SOURCE]
    want = {frozenset((h.service_id, c.service_id)) for h in hub_rows.itertuples() for c in cc.itertuples()
            if compact(h.postcode) == compact(c.postcode)}
    assert got == want and len(want) >= 137


def test_renamed_centres_are_offered_whatever_their_names(hubs, areas, tmp_path):
    """GIAS's 2016 extract names some of these buildings "... Children's Centre": the hub at the same postcode
    is offered as the same place even when the names have nothing distinctive in common."""
    d = Directory(f"sqlite:///{tmp_path / 'y2016.sqlite'}").create()
    old = RAW / "gias_childrens_centres_history" / "edubaseallchildrencentre20160804.csv.gz"
    rep = read_childrens_centres(old.read_bytes(), areas.postcodes, old.name.removesuffix(".gz"))
    commit(review(rep, d), d, "test", skip_rejected=True, source=CHILDRENS_CENTRES_SOURCE)
    commit(review(read_family_hubs(published_csv(hubs), areas.postcodes), d), d, "test", skip_rejected=True,
           source=SOURCE)
    frame = attach_areas(d.service_frame(), areas)
    pairs = duplicates.candidate_pairs(frame)
    mixed = pairs[[{a, b} == {SOURCE, CHILDRENS_CENTRES_SOURCE} for a, b in zip(pairs.source_a, pairs.source_b)]]
    renamed = mixed[mixed.reason == "same postcode (a family hub at a children's centre)"]
    hub_rows, cc = frame[frame.source == SOURCE], frame[frame.source == CHILDRENS_CENTRES_SOURCE]
    want = {(h.name, c.name) for h in hub_rows.itertuples() for c in cc.itertuples()
            if compact(h.postcode) == compact(c.postcode)
            and duplicates.name_similarity(h.name, c.name) < duplicates.SAME_POSTCODE_SIMILARITY}
    assert want  # e.g. a 2016 "Roman Way Children's Centre" that is a "... Family Hub" now
    got = {tuple(sorted((a, b), key=lambda n: n not in set(hub_rows.name)))
           for a, b in zip(renamed.name_a, renamed.name_b)}
    assert got == want
    # two GIAS centres at one postcode with unlike names are still not offered (the rule is for hubs only)
    assert not ((pairs.source_a == pairs.source_b) | (pairs.reason.str.contains("family hub") & (
        pairs.similarity >= duplicates.SAME_POSTCODE_SIMILARITY))).any()


def test_a_newer_list_is_a_sync_review(hubs, areas, tmp_path):
    d = Directory(f"sqlite:///{tmp_path / 'sync.sqlite'}").create()
    commit(review(read_family_hubs(published_csv(hubs), areas.postcodes, "List_of_family_hub_sites_2025-03.csv"),
                  d), d, "test", source=SOURCE)
    same = review(read_family_hubs(published_csv(hubs), areas.postcodes, "List_of_family_hub_sites_2025-03.csv"), d)
    assert same.to_write == 0 and len(same.sync.unchanged) == 137
    later = review(read_family_hubs(published_csv(hubs.iloc[5:]), areas.postcodes,
                                    "List_of_family_hub_sites_2025-09.csv"), d)
    gone = {n for _, n in later.sync.no_longer_listed}
    assert gone == set(hubs.name[:5])
    commit(later, d, "test", source=SOURCE)
    closed = [r for r in d.records() if r.status == "defunct"]
    assert {r.name for r in closed} == gone and {r.closed_on.isoformat() for r in closed} == {"2025-09-01"}


def test_the_import_command(hubs, tmp_path, monkeypatch, capsys, seeded):
    from directory.__main__ import main

    monkeypatch.setenv("FSM_DATABASE_URL", copy_of(seeded, tmp_path / "cli.sqlite"))
    path = tmp_path / "List_of_family_hub_sites.csv"
    path.write_bytes(published_csv(hubs))
    assert main(["import", "family-hubs", str(path)]) == 0
    out = capsys.readouterr().out
    assert "137 rows: 137 new, 0 updated, 0 unchanged, 0 rejected" in out and "dry run" in out
    assert "sync review against the stored DfE family hub sites" in out
    assert main(["import", "family-hubs", str(path), "--commit", "--steward", "Sam"]) == 0
    assert "written: 137 new" in capsys.readouterr().out
