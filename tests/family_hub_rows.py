"""Rows in the exact layout of DfE's "List of family hub sites" (GOV.UK CSV: Region, Local_Authority,
Family_Hub, Postcode), for tests: the real file is not in ../shared/data (no internet here).

No hub is made up: the rows are real open GIAS children's centres and linked sites whose names say
"Family Hub" (../shared/data/edubaseallchildrencentre20260821.csv, 137 of them), with their real
postcodes, authorities (LA (name)) and regions (GOR (name)), written in the published column layout.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from directory.ingest.gias_cc import open_rows, read_version
from tests.conftest import RAW

HEADER = ["Region", "Local_Authority", "Family_Hub", "Postcode"]


def gias_family_hubs() -> pd.DataFrame:
    """The open GIAS centres and linked sites named "... Family Hub ...": urn, region, la_name, name, postcode."""
    df = open_rows(read_version(RAW / "edubaseallchildrencentre20260821.csv"))
    hubs = df[df.name.str.contains("family hub", case=False, na=False)]
    return hubs[["urn", "region", "la_name", "name", "postcode"]].reset_index(drop=True)


def published_csv(rows: pd.DataFrame | None = None, encoding: str = "utf-8") -> bytes:
    rows = gias_family_hubs() if rows is None else rows
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADER)
    for r in rows.itertuples(index=False):
        w.writerow(["" if pd.isna(v) else str(v) for v in (r.region, r.la_name, r.name, r.postcode)])
    return out.getvalue().encode(encoding)
