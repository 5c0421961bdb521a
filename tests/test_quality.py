"""Record quality on the real GIAS children's centres extract (2,846 open centres and linked
sites, 21 Aug 2026): imported through the steward's import, then every count the quality
tables give is checked against the same facts computed here from the raw file with the csv
module (phone numbers, websites, addresses), per record, per source and per authority."""

from __future__ import annotations

import csv
import re
from datetime import date

import pytest

from directory import config, quality
from directory.areas import attach_areas
from directory.ingest.review import commit, read_file, review
from directory.store import Directory

GIAS_CC = config.raw_dir() / "edubaseallchildrencentre20260821.csv"
AS_OF = date(2026, 12, 1)  # within 12 months of the file's date


def raw_rows() -> dict[str, dict]:
    with open(GIAS_CC, encoding="utf-8", newline="") as f:
        return {r["URN"]: r for r in csv.DictReader(f)}


def has_phone(v: str) -> bool:
    """A UK number at the start (0 and 9-10 more digits, or +44), separators ignored, nothing glued on."""
    compact = "".join(ch for ch in v if ch not in " -.()")
    m = re.match(r"(\+44|0)(\d+)", compact)
    return bool(m) and len(m[2]) in (9, 10)


def codepoint_postcodes(postcodes: set[str]) -> set[str]:
    """Which of these postcodes OS Code-Point Open places (quality below 90), read from its zip."""
    import io
    import zipfile

    out = set()
    with zipfile.ZipFile(config.raw_dir() / "codepo_gb.zip") as z:
        names = set(z.namelist())
        for area in {p.split()[0].rstrip("0123456789").lower() for p in postcodes if p.strip()}:
            if f"Data/CSV/{area}.csv" in names:
                for row in csv.reader(io.TextIOWrapper(z.open(f"Data/CSV/{area}.csv"), "utf-8")):
                    if row[0] in postcodes and int(row[1]) < 90:
                        out.add(row[0])
    return out


def has_website(v: str) -> bool:
    return bool(re.fullmatch(r"(https?://)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(/.*)?", v.strip()))


@pytest.fixture(scope="module")
def imported(areas, tmp_path_factory):
    d = Directory(f"sqlite:///{tmp_path_factory.mktemp('quality') / 'q.sqlite'}").create()
    data = GIAS_CC.read_bytes()
    rv = review(read_file("gias-cc", data, "", areas.postcodes, d, GIAS_CC.name), d)
    commit(rv, d, "test", skip_rejected=True, kind="gias-cc", file_name=GIAS_CC.name)
    services = attach_areas(d.service_frame(), areas)
    yield d, services
    d.engine.dispose()


def test_quality_of_the_real_extract_equals_counts_from_the_file(imported):
    d, services = imported
    rows = raw_rows()
    records = quality.record_quality(services, AS_OF)
    urns = dict(zip(services.service_id, services.source_id))
    got = records.assign(urn=records.service_id.map(urns)).set_index("urn")
    assert len(got) == services.service_id.nunique() >= 2800  # (a few rows can't be placed: see the importer)
    assert set(got.index) <= set(rows)
    file = {u: rows[u] for u in got.index}
    expected = {
        "phone": {u for u, r in file.items() if has_phone(r["TelephoneNum"])},
        "website": {u for u, r in file.items() if has_website(r["SchoolWebsite"])},
        "address": {u for u, r in file.items() if (r["Street"] or r["Locality"] or r["Address3"]).strip()
                    and r["Postcode"].strip()},
        "email": set(),  # GIAS publishes no email addresses
        "hours": set(),  # nor opening times
        "verified": set(file),  # the file's date, 21 Aug 2026, is within 12 months of AS_OF
    }
    for fact, urns_with in expected.items():
        assert set(got.index[got[fact]]) == urns_with, fact
    # placed at the postcode's centre where Code-Point Open has it, else at its sector (not a location
    # a family can walk to)
    known = codepoint_postcodes({r["Postcode"] for r in file.values()})
    precision = {u: "postcode" if r["Postcode"] in known else "sector" for u, r in file.items()}
    assert got.location_precision.to_dict() == precision
    assert set(got.index[got.location]) == {u for u, p in precision.items() if p == "postcode"}
    assert 2750 < sum(p == "postcode" for p in precision.values()) < len(precision)
    # e.g. 2,792 of the 2,846 have a usable telephone number, 1,077 a website
    assert len(expected["phone"]) > 2700 and 1000 < len(expected["website"]) < 1200
    # missing lists exactly the facts a record lacks, in vocabulary order; score counts the rest
    for u in list(got.index[:50]) + list(got.index[-50:]):
        lacks = [f for f in quality.FACT_NAMES if not got.at[u, f]]
        assert got.at[u, "missing"] == ";".join(lacks) and got.at[u, "score"] == 10 - len(lacks)
    assert list(records.score) == sorted(records.score)  # worst first
    # a year later nothing is verified any more
    later = quality.record_quality(services, date(2027, 9, 1))
    assert not later.verified.any()


def test_per_source_and_per_authority_counts_add_up_to_the_records(imported):
    _, services = imported
    records = quality.record_quality(services, AS_OF)
    by_source = quality.group_quality(records, "source")
    assert list(by_source.source) == ["DfE GIAS children's centres"]
    by_utla = quality.group_quality(records, "utla")
    for fact in quality.FACT_NAMES:
        assert by_source[fact].iloc[0] == records[fact].sum() == by_utla[fact].sum()
    assert by_utla.records.sum() == len(records)
    # shares are counts over records, per authority
    row = by_utla.iloc[0]
    sub = records[records.utla_code == row.utla_code]
    assert row.records == len(sub) and row.phone_share == round(sub.phone.mean(), 4)
    assert (by_utla.mean_score.diff().dropna() >= 0).all()  # worst authority first
    # the authority of each centre is where it stands: GIAS's own upper-tier authority for nearly all
    rows = raw_rows()
    la = services.drop_duplicates("service_id").set_index("source_id")
    agree = sum(norm(rows[u]["LA (name)"]) == norm(la.at[u, "utla23_name"]) for u in la.index)
    assert agree / len(la) > 0.95


def norm(name: str) -> str:
    return re.sub(r"[^a-z]", "", str(name).casefold().replace("&", "and"))


def test_cli_writes_the_tables(imported, tmp_path, monkeypatch):
    import pandas as pd

    from directory.__main__ import main

    d, services = imported
    monkeypatch.setenv("FSM_DATABASE_URL", d.url)
    out = tmp_path / "q.csv"
    cc = "DfE GIAS children's centres"  # the command seeds the nursery schools too: keep the centres
    assert main(["quality", "--by", "record", "--format", "csv", "--out", str(out), "--as-of", "2026-12-01",
                 "--source", cc]) == 0
    table = pd.read_csv(out, dtype={"utla_code": str})
    assert list(table.columns[:7]) == ["service_id", "name", "source", "utla_code", "utla_name", "score", "missing"]
    expected = quality.record_quality(services, AS_OF)
    assert list(table.service_id) == list(expected.service_id)
    assert list(table.score) == list(expected.score)
    assert table.missing.fillna("").tolist() == expected.missing.tolist()
    xlsx = tmp_path / "q.xlsx"
    assert main(["quality", "--by", "utla", "--out", str(xlsx), "--as-of", "2026-12-01", "--source", cc]) == 0
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert set(sheets) == {"quality", "facts"} and list(sheets["facts"].fact) == list(quality.FACT_NAMES)
    assert sheets["quality"].records.sum() == len(expected)
    with pytest.raises(SystemExit) as e:
        main(["quality", "--by", "record", "--format", "pdf", "--out", str(out)])
    assert e.value.code == 2
