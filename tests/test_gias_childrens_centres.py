"""DfE GIAS children's centres, on the real extracts: every layout imports, each centre is placed at
its postcode (precision stated), linked sites say their centre, and a newer extract is a sync review.

Expected numbers are computed here from the files themselves (pandas, the postcode index and set
differences by URN), never copied from the importer.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from datetime import date

import pandas as pd
import pytest

from directory.geocode import LocateError, parse_full_postcode
from directory.ingest.csv_import import export_csv
from directory.ingest.gias_cc import CHILDRENS_CENTRES_SOURCE, read_childrens_centres
from directory.ingest.oruk import export_json
from directory.ingest.review import ImportRefused, commit, review
from directory.text import details, details_markdown

HISTORY = "gias_childrens_centres_history"
NEWEST = "edubaseallchildrencentre20260821.csv"
LINKS = "links_edubaseallchildrencentre20260821.csv"
ENCODING = {"2016": "cp1252", "2017": "cp1252"}


def raw_frame(path) -> pd.DataFrame:
    """The file as pandas reads it with the encoding PROVENANCE.md gives for its year."""
    year = re.search(r"(20\d\d)\d{4}", path.name)[1]
    return pd.read_csv(path, encoding=ENCODING.get(year, "utf-8"), dtype=str, keep_default_na=False)


def where(postcodes, text: str):
    """Independently: ('postcode', lat, lon), ('sector', lat, lon) or ('none',) for a file's postcode."""
    try:
        pc = parse_full_postcode(text)
    except LocateError:
        return ("none",)
    hit = postcodes.postcode(pc)
    if hit:
        return ("postcode", hit[4], hit[3])
    sec = postcodes.sector(pc.sector)
    return ("sector", sec[4], sec[3]) if sec else ("none",)


def expected(path, postcodes) -> tuple[set[str], set[str], dict]:
    """(open URNs, unplaceable URNs, URN -> where) from the raw file."""
    df = raw_frame(path)
    open_ = df[df["EstablishmentStatus (name)"].str.startswith("Open")]
    places = {u: where(postcodes, p.strip()) if p.strip() else ("none",) for u, p in zip(open_.URN, open_.Postcode)}
    return set(open_.URN), {u for u, w in places.items() if w[0] == "none"}, places


@pytest.fixture(scope="module")
def postcodes(areas):
    return areas.postcodes


@pytest.fixture(scope="module")
def newest(raw, postcodes):
    return read_childrens_centres((raw / NEWEST).read_bytes(), postcodes, NEWEST,
                                  links=(raw / LINKS).read_bytes())


VERSIONS = [f"{HISTORY}/edubaseallchildrencentre{d}.csv.gz" for d in
            ("20160804", "20161215", "20171109", "20191206", "20201106", "20211221", "20221215", "20231228",
             "20241225", "20251216")] + [NEWEST]


@pytest.mark.parametrize("name", VERSIONS)
def test_every_real_version_reads_with_the_unplaceable_listed(raw, postcodes, name):
    path = raw / name
    rep = read_childrens_centres(path.read_bytes(), postcodes, path.name)
    open_urns, unplaceable, places = expected(path, postcodes)
    assert not rep.errors, rep.errors[:3]
    assert {u for _, u, _, _ in rep.unplaceable} == unplaceable
    assert {r.source_id for r in rep.records} == open_urns - unplaceable
    assert len(rep.records) == len(open_urns) - len(unplaceable)
    # every centre placed where the postcode index puts it, and says how precisely
    for r in rep.records:
        kind, lat, lon = places[r.source_id]
        p = r.places[0]
        assert (p.precision, p.latitude, p.longitude) == (kind, round(lat, 6), round(lon, 6))
    sector_urns = {u for u, w in places.items() if w[0] == "sector"}
    assert {rep.records[rep.record_rows.index(p.row)].source_id for p in rep.warnings if p.field == "Postcode"} \
        == sector_urns
    # the unplaceable are listed by URN and name in the report's notes, not dropped silently
    names = dict(zip(raw_frame(path).URN, raw_frame(path).EstablishmentName.str.strip()))
    for u in unplaceable:
        assert f"URN {u} {names[u]}" in " ".join(rep.notes)


@pytest.mark.parametrize("name", [VERSIONS[0], VERSIONS[3], NEWEST])  # one version of each layout
def test_each_layout_commits_every_placeable_open_centre(raw, postcodes, empty_directory, name):
    path = raw / name
    rv = review(read_childrens_centres(path.read_bytes(), postcodes, path.name), empty_directory)
    open_urns, unplaceable, _ = expected(path, postcodes)
    done = commit(rv, empty_directory, "test")
    assert done.new == len(open_urns) - len(unplaceable)
    frame = empty_directory.service_frame()
    assert set(frame.source_id) == open_urns - unplaceable and (frame.source == CHILDRENS_CENTRES_SOURCE).all()
    stamp = date(int(path.name[24:28]), int(path.name[28:30]), int(path.name[30:32]))
    assert (frame.last_verified == stamp).all()


def test_records_carry_the_address_phone_website_and_ages(raw, newest):
    df = raw_frame(raw / NEWEST).set_index("URN")
    assert newest.notes[0].startswith("GIAS children's centres extract of 21 August 2026: 2020 on layout (UTF-8)")
    for r in newest.records:
        row = df.loc[r.source_id]
        p = r.places[0]
        assert r.name == row.EstablishmentName.strip() and r.organization == row["LA (name)"]
        parts = [row[c].strip() for c in ("Street", "Locality", "Address3") if row[c].strip()]
        assert p.address == (", ".join(parts) or None) and p.town == (row.Town.strip() or None)
        assert re.sub(r"\s", "", p.postcode) == re.sub(r"\s", "", row.Postcode.upper())
        assert r.phone == (row.TelephoneNum.strip() or None)
        site = row.SchoolWebsite.strip()
        if r.url:  # http(s) only: a bare domain gets https://, anything else is left out with a warning
            assert r.url.startswith(("http://", "https://")) and site.lower() in r.url.lower()
        assert r.types == ["childrens_centre"] and r.pregnancy is True
        assert (r.min_age_months, r.max_age_months) == (0, 59)
        kind = "Linked site" if row["TypeOfEstablishment (name)"].endswith("linked site") else "Children's centre"
        assert r.description.startswith(kind)
    left_out = {newest.records[newest.record_rows.index(p.row)].source_id for p in newest.warnings
                if p.field == "SchoolWebsite"}
    assert left_out and all(not df.loc[u].SchoolWebsite.lower().startswith("http") for u in left_out)
    assert all(r.url is None for r in newest.records if r.source_id in left_out)


def test_linked_sites_say_which_centre_they_belong_to(raw, newest):
    df = raw_frame(raw / NEWEST).set_index("URN")
    links = pd.read_csv(raw / LINKS, dtype=str, keep_default_na=False)
    kind = df["TypeOfEstablishment (name)"]
    # a linked site's own row names its centre: one in the extract, or (3 today) one GIAS no longer lists,
    # named by the links file
    own = links[links.URN.map(kind).eq("Children's centre linked site")
                & ~links.LinkURN.map(kind).eq("Children's centre linked site")]
    parent = dict(zip(own.URN, own.LinkURN))
    link_name = dict(zip(own.URN, own.LinkName))
    by_urn = {r.source_id: r for r in newest.records}
    linked = {u: r for u, r in by_urn.items() if kind[u] == "Children's centre linked site"}
    assert {u: r.part_of_id for u, r in linked.items() if r.part_of_id} == {u: c for u, c in parent.items()
                                                                         if u in linked}
    for u, c in parent.items():
        if u in by_urn:
            name = df.loc[c].EstablishmentName.strip() if c in df.index else link_name[u]
            assert by_urn[u].part_of_name == name
    assert sum(c not in df.index for c in parent.values()) == 3
    assert all(r.part_of_id is None for u, r in by_urn.items() if kind[u] == "Children's centre")
    assert len(parent) > 600


def test_families_see_the_precision_and_the_centre_of_a_linked_site(raw, newest, empty_directory):
    commit(review(newest, empty_directory), empty_directory, "test")
    frame = empty_directory.service_frame().set_index("source_id")
    site = next(r for r in newest.records if r.part_of_name and r.places[0].precision == "postcode")
    row = frame.loc[site.source_id].to_dict()
    assert row["precision"] == "postcode" and row["part_of"] == site.part_of_name
    shown = dict((label, text) for label, text, _ in details(row))
    assert shown["Location"] == "postcode centre (not the exact building)"
    assert shown["Linked site of"] == site.part_of_name
    assert "**Location:** postcode centre \\(not the exact building\\)" in details_markdown(row)
    sector = frame[frame.precision == "sector"]
    if len(sector):
        assert dict((lb, t) for lb, t, _ in details(sector.iloc[0].to_dict()))["Location"].startswith(
            "postcode sector, about 1 km")


def test_sync_review_between_two_real_versions_equals_the_set_difference(raw, postcodes, empty_directory):
    a_path, b_path = raw / HISTORY / "edubaseallchildrencentre20241225.csv.gz", \
        raw / HISTORY / "edubaseallchildrencentre20251216.csv.gz"
    commit(review(read_childrens_centres(a_path.read_bytes(), postcodes, a_path.name), empty_directory),
           empty_directory, "first")
    a, b = raw_frame(a_path).set_index("URN"), raw_frame(b_path).set_index("URN")
    _, a_unplaceable, _ = expected(a_path, postcodes)
    _, b_unplaceable, _ = expected(b_path, postcodes)
    stored = set(a.index) - a_unplaceable
    cols = ["EstablishmentName", "TypeOfEstablishment (name)", "LA (name)", "Street", "Locality", "Address3", "Town",
            "Postcode", "SchoolWebsite", "TelephoneNum"]
    both = sorted((stored & set(b.index)) - b_unplaceable)
    diff = a.loc[both, cols].apply(lambda s: s.str.strip()) != b.loc[both, cols].apply(lambda s: s.str.strip())

    rv = review(read_childrens_centres(b_path.read_bytes(), postcodes, b_path.name), empty_directory)
    sr = rv.sync
    assert {u for u, _ in sr.new} == set(b.index) - set(a.index) - b_unplaceable
    assert {u for u, _ in sr.no_longer_listed} == stored - set(b.index)
    assert {u for u, _, _ in sr.changed} == set(diff.index[diff.any(axis=1)])
    assert {u for u, _ in sr.unchanged} == set(diff.index[~diff.any(axis=1)])
    assert sr.reappeared == [] and {u for u, _, _ in sr.unplaceable} == b_unplaceable
    assert len(sr.no_longer_listed) == 23 and len(sr.changed) > 10  # the real change over 2025
    gone = sorted(u for u, _ in sr.no_longer_listed)
    before = empty_directory.count()
    commit(rv, empty_directory, "second")
    # kept (never deleted), closed with the date of the first version without them, hidden, audited
    assert empty_directory.count() == before
    for u in gone:
        st = empty_directory.find(CHILDRENS_CENTRES_SOURCE, u)
        assert st.record.status == "defunct" and st.record.closed_on == date(2025, 12, 16)
        assert [h["actor"] for h in empty_directory.history(st.id)] == ["second", "first"]
    assert not set(gone) & set(empty_directory.service_frame().source_id)
    # the older version again: those centres reappear
    rv = review(read_childrens_centres(a_path.read_bytes(), postcodes, a_path.name), empty_directory)
    assert sorted(u for u, _ in rv.sync.reappeared) == gone
    assert any("older than the one the directory holds" in n for n in rv.report.notes)


def test_a_centre_listed_as_closed_is_kept_and_marked_closed(raw, postcodes, empty_directory):
    path = raw / HISTORY / "edubaseallchildrencentre20251216.csv.gz"
    commit(review(read_childrens_centres(path.read_bytes(), postcodes, path.name), empty_directory),
           empty_directory, "first")
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    urn = df.URN[0]
    df.loc[0, "EstablishmentStatus (name)"] = "Closed"
    later = df.to_csv(index=False).encode("utf-8")
    rv = review(read_childrens_centres(later, postcodes, "edubaseallchildrencentre20260101.csv"), empty_directory)
    assert [u for u, _ in rv.sync.closed] == [urn] and rv.report.skipped == 1
    commit(rv, empty_directory, "second")
    st = empty_directory.find(CHILDRENS_CENTRES_SOURCE, urn)
    assert st.record.status == "defunct" and st.record.closed_on == date(2026, 1, 1)


def test_managers_names_are_never_stored_or_exported(raw, newest, empty_directory, tmp_path):
    commit(review(newest, empty_directory), empty_directory, "test")
    df = raw_frame(raw / NEWEST)
    kept = " ".join(df.drop(columns=["HeadFirstName", "HeadLastName"]).astype(str).agg(" ".join, axis=1))
    names = {v.strip() for v in pd.concat([df.HeadFirstName, df.HeadLastName]) if len(v.strip()) > 2}
    # a name that is also a word elsewhere in the file (a street, a centre's name) can't be told apart
    private = {n for n in names if n not in kept}
    full = {f"{a.strip()} {b.strip()}" for a, b in zip(df.HeadFirstName, df.HeadLastName) if a.strip()}
    assert len(private) > 900
    db = bytes(empty_directory.engine.url.database and open(empty_directory.engine.url.database, "rb").read())
    oruk = export_json(empty_directory.stored())
    csv_text = export_csv(empty_directory.records())
    audit = json.dumps(empty_directory.history(limit=10_000), default=str)
    # as whole words (a database page's binary floats can spell a few letters next to a word): every run of
    # one to six words in each blob, against every name
    wanted = {tuple(re.findall(r"[^\W\d_]+", n)) for n in private | full} - {()}
    assert max(map(len, wanted)) <= 6
    for blob in (db.decode("utf-8", errors="replace"), oruk, csv_text, audit):
        tokens = re.findall(r"[^\W\d_]+", blob)
        present = set(tokens)
        words = f" {' '.join(tokens)} "  # a run of words in the blob is " a b " in this string
        found = [n for n in wanted if present.issuperset(n) and f" {' '.join(n)} " in words]
        assert not found, sorted(found)[:5]


def test_an_unreadable_file_is_refused_with_the_missing_columns(postcodes, empty_directory):
    rep = read_childrens_centres(b"urn,name\n1,x\n", postcodes, "x.csv")
    assert rep.file_error and "missing column(s)" in rep.errors[0].message
    assert "TypeOfEstablishment (name)" in rep.errors[0].message
    with pytest.raises(ImportRefused):
        commit(review(rep, empty_directory), empty_directory, "test")
