"""The GIAS children's centres reader on every real version since 2016 (the files as GIAS shipped them)."""

from __future__ import annotations

import gzip
import re
from datetime import date

import pandas as pd
import pytest

from directory.ingest.gias_cc import LAYOUTS, LayoutError, open_rows, read_version, read_version_bytes

HISTORY = "gias_childrens_centres_history"
#: file -> (layout, encoding GIAS used)
VERSIONS = {
    f"{HISTORY}/edubaseallchildrencentre20160804.csv.gz": ("2016-2017", "cp1252"),
    f"{HISTORY}/edubaseallchildrencentre20161215.csv.gz": ("2016-2017", "cp1252"),
    f"{HISTORY}/edubaseallchildrencentre20171109.csv.gz": ("2016-2017", "cp1252"),
    f"{HISTORY}/edubaseallchildrencentre20191206.csv.gz": ("2019", "utf-8"),
    f"{HISTORY}/edubaseallchildrencentre20201106.csv.gz": ("2020 on", "utf-8"),
    f"{HISTORY}/edubaseallchildrencentre20211221.csv.gz": ("2020 on", "utf-8"),
    f"{HISTORY}/edubaseallchildrencentre20221215.csv.gz": ("2020 on", "utf-8"),
    f"{HISTORY}/edubaseallchildrencentre20231228.csv.gz": ("2020 on", "utf-8"),
    f"{HISTORY}/edubaseallchildrencentre20241225.csv.gz": ("2020 on", "utf-8"),
    f"{HISTORY}/edubaseallchildrencentre20251216.csv.gz": ("2020 on", "utf-8"),
    "edubaseallchildrencentre20260821.csv": ("2020 on", "utf-8"),
}


@pytest.mark.parametrize("name", list(VERSIONS))
def test_every_real_version_reads_to_the_canonical_frame(raw, name):
    path = raw / name
    layout, encoding = VERSIONS[name]
    df = read_version(path)
    # independently: pandas with the encoding PROVENANCE.md documents for that year
    ref = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
    assert df.attrs["layout"] == layout and df.attrs["encoding"] == encoding
    stamp = re.search(r"(\d{4})(\d{2})(\d{2})", name).groups()
    assert df.attrs["extract_date"] == date(*map(int, stamp))
    assert len(ref.columns) == (22 if layout == "2020 on" else 21)
    assert len(df) == len(ref) and list(df.urn) == list(ref.URN)
    assert list(df.name) == [v.strip() for v in ref.EstablishmentName]
    assert list(df.postcode.fillna("")) == [v.strip() for v in ref.Postcode]
    assert list(df.phone.fillna("")) == [v.strip() for v in ref.TelephoneNum]
    # the two type names of each layout map to the two kinds, and nothing else is in the extracts
    lay = next(x for x in LAYOUTS if x.name == layout and x.encoding == encoding)
    assert tuple(ref.columns) == lay.columns
    kinds = ref["TypeOfEstablishment (name)"].map(dict(lay.types))
    assert kinds.notna().all() and list(df.kind) == list(kinds)
    assert len(open_rows(df)) == (ref["EstablishmentStatus (name)"].str.startswith("Open")).sum()
    # the managers' names are not in the frame at all
    assert not {"HeadFirstName", "HeadLastName", "head_first_name", "head_last_name"} & set(df.columns)
    heads = set(ref.HeadFirstName) | set(ref.HeadLastName)
    text_cols = [c for c in df.columns if df[c].dtype == "string"]
    assert df.attrs.keys() == {"layout", "encoding", "extract_date"}
    assert (df.last_changed.notna().all() if layout == "2020 on" else df.last_changed.isna().all())
    assert df.open_date.notna().sum() == (ref.OpenDate != "").sum() and df.easting.isna().all()
    assert list(df.open_date.dropna().dt.strftime("%d-%m-%Y")) == [v for v in ref.OpenDate if v]
    assert len(heads) > 100 and text_cols


def test_windows_1252_names_decode_to_their_real_characters(raw):
    df = read_version(raw / HISTORY / "edubaseallchildrencentre20160804.csv.gz")
    with gzip.open(raw / HISTORY / "edubaseallchildrencentre20160804.csv.gz") as f:
        n_curly = f.read().count(b"\x92")  # Windows-1252's right single quotation mark
    assert n_curly > 0
    got = sum(s.count("\u2019") for c in ("name", "street", "locality", "address3", "town", "la_name")
              for s in df[c].dropna())
    assert got == n_curly and not df.name.str.contains("\ufffd").any()


def test_plain_and_gzip_bytes_read_the_same(raw):
    path = raw / HISTORY / "edubaseallchildrencentre20241225.csv.gz"
    packed = path.read_bytes()
    a = read_version_bytes(packed, path.name)
    b = read_version_bytes(gzip.decompress(packed), "edubaseallchildrencentre20241225.csv")
    pd.testing.assert_frame_equal(a, b)


def test_a_file_that_is_not_a_centres_file_is_refused_by_name():
    with pytest.raises(LayoutError, match="missing column.*URN"):
        read_version_bytes(b"urn,name\n1,x\n", "x.csv")
