"""Children under 5 per LSOA 2021: Census 2021 counts when present, else the bridged mid-2020 estimate.

Two sources, and the build says which it used (column `under5_source` of lsoa.parquet,
`under5` in the build manifest, and every caption and export that shows under-5s):

- ``census2021``: Census 2021 TS007A (age by five-year bands, LSOA 2021), column
  "Age: Aged 4 years and under" of `census2021-ts007a-lsoa.csv` (Nomis bulk zip
  `census2021-ts007a.zip`). Counted on 2021 LSOAs directly; used whenever the file is in
  the raw folder (source key `census_under5`).
- ``mid2020_bridged``: ONS mid-2020 estimates on 2011 LSOAs carried to 2021 LSOAs
  (`build.bridge_under5`): the default when TS007A is absent.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from .sources import Catalogue, DataError, check_england_rows, column_map, find_files, read_csv

CENSUS = "census2021"
BRIDGED = "mid2020_bridged"
MEMBER = "census2021-ts007a-lsoa.csv"

LABELS = {
    CENSUS: "Census 2021 usual residents aged 4 and under (ONS TS007A), on 2021 LSOAs",
    BRIDGED: "ONS mid-2020 estimates on 2011 LSOAs, carried to 2021 LSOAs in proportion to Census 2021 "
             "children aged 0-15",
}


def label(source: str | None) -> str:
    """What the under-5 counts are, in words for captions and metadata."""
    return LABELS.get(source or BRIDGED, LABELS[BRIDGED])


def source_of(lsoa: pd.DataFrame) -> str:
    """`census2021` or `mid2020_bridged`, from a built LSOA table (older builds: bridged)."""
    if "under5_source" in lsoa and len(lsoa):
        return str(lsoa["under5_source"].iloc[0])
    return BRIDGED


def read_ts007a(path: Path, cat: Catalogue) -> pd.DataFrame:
    """Under-5s per English LSOA 2021 from TS007A as Nomis publishes it (the zip, or its LSOA CSV)."""
    source = cat["census_under5"]
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            members = {Path(m).name.lower(): m for m in zf.namelist()}
            if MEMBER not in members:
                raise DataError(f"{path}: no {MEMBER} inside (members: {', '.join(list(members)[:8])}); "
                                f"is this Nomis's census2021-ts007a.zip? See {source.page}")
            data = zf.read(members[MEMBER])
        text = io.StringIO(data.decode("utf-8-sig"))
        header = pd.read_csv(text, nrows=0).columns.tolist()
        mapping = column_map(source, header, path)
        text.seek(0)
        df = pd.read_csv(text, usecols=list(mapping), dtype=str).rename(columns=mapping)
    else:
        df = read_csv(source, path)
    df = check_england_rows(df, "lsoa21_code", source, path)
    counts = pd.to_numeric(df.under5, errors="coerce")
    if counts.isna().any():
        bad = df.lsoa21_code[counts.isna()].head(3).tolist()
        raise DataError(f"{path}: 'Age: Aged 4 years and under' is not a number for {', '.join(bad)}")
    return pd.DataFrame({"lsoa21_code": df.lsoa21_code.to_numpy(), "under5": counts.astype("int64").to_numpy()})


SAPE_SHEET = "Mid-2020 Persons"
SAPE_HEADER_ROW = 4  # four title rows above the header (0-based row 4 = the sheet's row 5)


def read_sape_workbook(path: Path) -> pd.DataFrame:
    """ONS SAPE23DT2 as published (sape23dt2mid2020lsoasyoaestimatesunformatted.xlsx): the "Mid-2020
    Persons" sheet, header on row 5 ("LSOA Code", "LSOA Name", LA codes and names, "All Ages", then one
    column per single year of age 0..89 and "90+"). Returns lsoa11_code and aged_0_4 (ages 0 to 4 summed)."""
    try:
        sheet = pd.read_excel(path, sheet_name=SAPE_SHEET, header=SAPE_HEADER_ROW, dtype=str)
    except ValueError as e:
        raise DataError(f"{path}: no sheet '{SAPE_SHEET}' with a header on row {SAPE_HEADER_ROW + 1} ({e}); "
                        "is this ONS's SAPE23DT2 workbook?") from e
    by_name = {str(c).strip().lower(): c for c in sheet.columns}
    ages = [by_name.get(str(a)) for a in range(5)]
    code = by_name.get("lsoa code")
    if code is None or any(a is None for a in ages):
        raise DataError(f"{path}: sheet '{SAPE_SHEET}' lacks 'LSOA Code' or the ages 0-4 (header: "
                        f"{', '.join(map(str, list(sheet.columns)[:12]))}...)")
    sheet = sheet[sheet[code].notna()]
    counts = sheet[ages].apply(pd.to_numeric, errors="coerce")
    if counts.isna().any().any():
        raise DataError(f"{path}: ages 0-4 are not all numbers in sheet '{SAPE_SHEET}'")
    return pd.DataFrame({"lsoa11_code": sheet[code].str.strip().to_numpy(),
                         "aged_0_4": counts.sum(axis=1).to_numpy()})


def census_file(raw: Path, cat: Catalogue, every: list[Path] | None = None) -> Path | None:
    source = cat.sources.get("census_under5")
    paths = find_files(source, raw, every) if source else []
    return paths[0] if paths else None


def under5_counts(raw: Path, cat: Catalogue, children: pd.DataFrame, bridge) -> tuple[pd.DataFrame, dict]:
    """(lsoa21_code, under5, under5_source) per LSOA and a summary with both England totals where known.

    `bridge(raw, cat, children)` computes the mid-2020 bridged estimate; it is also run
    beside the Census counts when its files are there, so that both totals are reported.
    """
    path = census_file(raw, cat)
    bridged = None
    if path is None or all(find_files(cat[k], raw) for k in ("under5", "lsoa11_lsoa21") if k in cat.sources):
        bridged = bridge(raw, cat, children)
    info = {"england_total_mid2020_bridged": round(float(bridged.under5.sum())) if bridged is not None else None}
    if path is None:
        out = bridged.assign(under5_source=BRIDGED)
        info.update(source=BRIDGED, file=None, england_total_census2021=None)
    else:
        census = read_ts007a(path, cat)
        out = census.assign(under5_source=CENSUS)
        info.update(source=CENSUS, file=path.name, england_total_census2021=int(census.under5.sum()))
    info["label"] = label(info["source"])
    return out, info
