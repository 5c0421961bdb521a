"""Under-5s: Census 2021 TS007A when its file is present, else the mid-2020 estimate bridged from 2011 LSOAs.

The real TS007A file (Nomis census2021-ts007a.zip) is NOT in the shared data folder. Its reader is tested on
a file in the layout Nomis publishes (member census2021-ts007a-lsoa.csv; columns "date", "geography",
"geography code", "Age: Total", "Age: Aged 4 years and under", ... "Age: Aged 85 years and over", as public
code reading the real file spells them) with the real LSOA codes and names and the real Census 2021 total of
usual residents, but STAND-IN numbers in the age bands: "Aged 4 years and under" holds the bridged mid-2020
estimate rounded to whole children (England) and 0 (Wales); the other bands hold 0. These are not Census
figures and never leave the test's temporary folder.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from directory import under5
from directory.build import bridge_under5, census_children, district_table
from directory.build import lsoa_table as build_lsoa_table
from directory.sources import DataError, catalogue
from tests.conftest import RAW

BANDS = ["Aged 4 years and under"] + [f"Aged {a} to {a + 4} years" for a in range(5, 85, 5)] + [
    "Aged 85 years and over"]


def ts007a_zip(path: Path, areas) -> pd.DataFrame:
    """A TS007A zip in Nomis's layout (stand-in band counts: see the module docstring)."""
    census = pd.read_csv(RAW / "census21_lsoa21_population_age6.csv.gz")
    total = census.groupby(["lsoa21_code", "lsoa21_name"], as_index=False).usual_residents.sum()
    stand_in = areas.lsoa.set_index("lsoa21_code").under5.round().astype(int)
    df = pd.DataFrame({"date": 2021, "geography": total.lsoa21_name, "geography code": total.lsoa21_code,
                       "Age: Total": total.usual_residents})
    for band in BANDS:
        df[f"Age: {band}"] = 0
    df["Age: Aged 4 years and under"] = total.lsoa21_code.map(stand_in).fillna(0).astype(int)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("census2021-ts007a-ctry.csv", df.head(0).to_csv(index=False))
        z.writestr("census2021-ts007a-lsoa.csv", df.to_csv(index=False))
    return df


def raw_with(tmp_path: Path, extra: dict[str, Path] | None = None, without: tuple[str, ...] = ()) -> Path:
    """A raw folder linking every shared file (but `without`), plus `extra`."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in RAW.rglob("*"):  # real folders, linked files (a folder link is not searched)
        if p.is_file() and p.name not in without:
            (raw / p.relative_to(RAW)).parent.mkdir(parents=True, exist_ok=True)
            (raw / p.relative_to(RAW)).symlink_to(p)
    for name, p in (extra or {}).items():
        (raw / name).symlink_to(p)
    return raw


def test_bridged_mid2020_estimate_is_the_default_without_ts007a(areas):
    assert under5.census_file(RAW, catalogue()) is None  # the shared folder has no TS007A
    assert set(areas.lsoa.under5_source) == {"mid2020_bridged"}
    assert round(areas.lsoa.under5.sum()) == 3_239_447  # ONS mid-2020 England 0-4 (PROVENANCE.md), kept whole
    manifest = json.loads((areas.folder / "manifest.json").read_text())
    assert manifest["under5"] == {"england_total_mid2020_bridged": 3_239_447, "source": "mid2020_bridged",
                                  "file": None, "england_total_census2021": None,
                                  "label": under5.label("mid2020_bridged")}
    assert "mid-2020" in under5.label(under5.source_of(areas.lsoa))


def test_ts007a_reader_on_the_published_layout(tmp_path, areas):
    zpath = tmp_path / "census2021-ts007a.zip"
    fixture = ts007a_zip(zpath, areas)
    got = under5.read_ts007a(zpath, catalogue())
    england = fixture[fixture["geography code"].str.startswith("E")]
    assert len(got) == 33_755 and got.lsoa21_code.tolist() == england["geography code"].tolist()
    assert got.under5.tolist() == england["Age: Aged 4 years and under"].tolist()
    # the unzipped member reads the same
    (tmp_path / "census2021-ts007a-lsoa.csv").write_bytes(zipfile.ZipFile(zpath).read("census2021-ts007a-lsoa.csv"))
    pd.testing.assert_frame_equal(under5.read_ts007a(tmp_path / "census2021-ts007a-lsoa.csv", catalogue()), got)


def test_ts007a_without_its_lsoa_member_or_column_is_refused(tmp_path, areas):
    z = tmp_path / "census2021-ts007a.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("census2021-ts007a-ltla.csv", "date,geography,geography code,Age: Total\n")
    with pytest.raises(DataError, match=r"no census2021-ts007a-lsoa.csv inside .*nomisweb"):
        under5.read_ts007a(z, catalogue())
    csv = tmp_path / "census2021-ts007a-lsoa.csv"
    csv.write_text("date,geography,geography code,Age: Total,Age: Aged 0 to 4 years\n")
    with pytest.raises(DataError, match=r"missing column\(s\) under5 \(as 'Age: Aged 4 years and under'\)"):
        under5.read_ts007a(csv, catalogue())


def test_build_uses_ts007a_when_present_and_reports_both_totals(tmp_path, areas):
    zpath = tmp_path / "census2021-ts007a.zip"
    fixture = ts007a_zip(zpath, areas)
    raw = raw_with(tmp_path, {"census2021-ts007a.zip": zpath})
    # the build's first two steps (what build() writes to lsoa.parquet and districts.parquet, and the manifest's
    # "under5" record); its boundaries and postcodes steps do not read the under-5s
    cat = catalogue()
    lsoa = build_lsoa_table(raw, cat)
    info = lsoa.attrs["under5"]
    england = fixture[fixture["geography code"].str.startswith("E")].set_index("geography code")
    assert set(lsoa.under5_source) == {"census2021"}
    assert (lsoa.set_index("lsoa21_code").under5 == england["Age: Aged 4 years and under"]).all()
    assert info["source"] == "census2021" and info["file"] == "census2021-ts007a.zip"
    assert info["england_total_census2021"] == int(england["Age: Aged 4 years and under"].sum())
    assert info["england_total_mid2020_bridged"] == 3_239_447
    districts = district_table(lsoa, raw, cat)
    assert districts.under5.sum() == lsoa.under5.sum()
    # everything else is as in the default build
    pd.testing.assert_frame_equal(lsoa.drop(columns=["under5", "under5_source"]),
                                  areas.lsoa.drop(columns=["under5", "under5_source"]))


def test_with_ts007a_the_mid2020_files_are_not_required(tmp_path, areas):
    zpath = tmp_path / "census2021-ts007a.zip"
    ts007a_zip(zpath, areas)
    raw = raw_with(tmp_path, {"census2021-ts007a.zip": zpath},
                   without=("ons_mid2020_lsoa11_population_under5_england.csv",))
    cat = catalogue()
    children = census_children(raw, cat)
    counts, info = under5.under5_counts(raw, cat, children, bridge_under5)
    assert info["source"] == "census2021" and info["england_total_mid2020_bridged"] is None
    assert len(counts) == 33_755
    from directory.sources import is_missing

    assert not is_missing(cat["under5"], raw, cat)
    (raw / "census2021-ts007a.zip").unlink()
    assert is_missing(cat["under5"], raw, cat)


def test_coverage_metadata_says_which_under5s(areas, seeded):
    from directory.areas import attach_areas
    from directory.coverage import lsoa_table

    services = attach_areas(seeded.service_frame(), areas)
    meta = lsoa_table(areas, services, demand="under5").metadata
    assert meta["parameters"]["under5_source"] == "mid2020_bridged"
    assert "mid-2020" in meta["parameters"]["demand_label"]
    keys = [s["key"] for s in meta["sources"]]
    assert "under5" in keys and "census_under5" not in keys
    docs = {c["name"]: c["description"] for c in meta["tables"]["lsoa"]["columns"]}
    assert docs["under5"] == "children under 5: " + under5.label("mid2020_bridged")


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption) + " " + " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize("page, setup", [
    ("../views/provision_gaps.py", lambda at: at.query_params.update({"area": "E06000020", "demand": "under5"})),
    ("../views/coverage_tables.py", lambda at: at.session_state.__setitem__("ct_demand", "under5")),
    ("../views/about.py", lambda at: None),
])
def test_pages_say_which_under5s(seeded, page, setup):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(page, default_timeout=120)
    setup(at)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert under5.label("mid2020_bridged") in _captions(at)


def test_mid2020_workbook_reader_on_the_published_layout(tmp_path):
    """SAPE23DT2 as ONS publishes it: sheet "Mid-2020 Persons", four title rows, header on row 5, then
    LSOA code and name, LA codes and names, "All Ages" and one column per age 0..89 and "90+". The rows are
    the first 1,500 of the shared re-encoding (real values for ages 0-4; the other ages are left empty)."""
    from openpyxl import Workbook

    shared = pd.read_csv(RAW / "ons_mid2020_lsoa11_population_under5_england.csv").head(1500)
    wb = Workbook()
    wb.active.title = "Contents"
    ws = wb.create_sheet("Mid-2020 Persons")
    for line in ["Mid-2020 Population Estimates for Lower Layer Super Output Areas in England and Wales by "
                 "Single Year of Age and Sex", "National Statistics", "", "All persons"]:
        ws.append([line])
    ws.append(["LSOA Code", "LSOA Name", "LA Code (2018 boundaries)", "LA name (2018 boundaries)",
               "LA Code (2021 boundaries)", "LA name (2021 boundaries)", "All Ages"]
              + list(range(90)) + ["90+"])
    for r in shared.itertuples(index=False):
        ws.append([r.lsoa11_code, r.lsoa11_name, None, None, None, None, r.total_population,
                   r.age_0, r.age_1, r.age_2, r.age_3, r.age_4])
    path = tmp_path / "sape23dt2mid2020lsoasyoaestimatesunformatted.xlsx"
    wb.save(path)
    got = under5.read_sape_workbook(path)
    assert got.lsoa11_code.tolist() == shared.lsoa11_code.tolist()
    assert got.aged_0_4.tolist() == shared.aged_0_4.tolist()  # ONS's own 0-4 total equals the ages summed
    assert [f for f in catalogue()["under5"].files if __import__("fnmatch").fnmatch(path.name, f)]
    wb.remove(wb["Mid-2020 Persons"])
    wb.save(path)
    with pytest.raises(DataError, match="no sheet 'Mid-2020 Persons'"):
        under5.read_sape_workbook(path)
