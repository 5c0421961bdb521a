"""Families outside the old 9 postcode areas: the nearest children's centres from the national directory,
with distances and walking times equal to a brute-force computation on Code-Point Open's own coordinates."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from directory.config import WALKING_KMH
from directory.text import walk_text

PAGE = "../views/find_support.py"
CC_SOURCE = "DfE GIAS children's centres"


def codepoint(raw, areas: set[str]) -> dict[str, tuple[float, float]]:
    """Postcode (no spaces) -> (easting, northing), read straight from OS's zip for these postcode areas."""
    out = {}
    with zipfile.ZipFile(raw / "codepo_gb.zip") as z:
        for name in z.namelist():
            m = re.match(r".*Data/CSV/([a-z]+)\.csv$", name)
            if m and m[1].upper() in areas:
                for row in csv.reader(io.TextIOWrapper(z.open(name), encoding="utf-8")):
                    if row[1] != "90":
                        out[row[0].replace(" ", "")] = (float(row[2]), float(row[3]))
    return out


@pytest.mark.parametrize("postcode", ["WR1 1AA", "NG8 6BA", "PL4 8AA"])  # Worcester, Nottingham, Plymouth
def test_nearest_childrens_centres_equal_brute_force_on_codepoint(seeded, raw, postcode):
    frame = seeded.service_frame()
    cc = frame[frame.types.apply(lambda t: "childrens_centre" in t)].copy()
    area = re.match(r"[A-Z]+", postcode)[0]
    # every centre within reach of this town has its postcode in the same or a neighbouring area: read them all
    areas = {re.match(r"[A-Z]+", p)[0] for p in cc.postcode.dropna()}
    grid = codepoint(raw, areas)
    ox, oy = grid[postcode.replace(" ", "")]
    pts = np.array([grid.get(str(p).replace(" ", ""), (x, y)) if prec == "postcode" else (x, y)
                    for p, prec, x, y in zip(cc.postcode, cc.precision, cc.x, cc.y)])
    cc["brute_km"] = np.hypot(pts[:, 0] - ox, pts[:, 1] - oy) / 1000
    cc = cc.sort_values(["brute_km", "name"], kind="stable").reset_index(drop=True)
    within = cc[cc.brute_km <= 5]
    assert len(within) >= 3, f"{postcode}: fewer than 3 children's centres within 5 km"

    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in {"q": postcode, "radius": "5", "types": "childrens_centre"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value.startswith(f"{len(within)} within 5 km of {postcode}")
    labels = [e.label for e in at.expander if e.label not in ("Filters", "Share this search")]
    assert len(labels) == min(len(within), 50)
    from directory.text import md
    along = [" along paths (" in lb for lb in labels]
    if any(along):  # an OpenStreetMap extract covers the town (NG8 6BA: north-west Nottingham; issue 15)
        # centres beyond the extract's edge keep the straight line (said so); the rest walk along paths
        assert all(a or lb.endswith(("(straight line)", "too far to walk")) for a, lb in zip(along, labels))
        walks = [float(re.search(r"along paths \(([\d.]+) km\)$", lb)[1]) if a else
                 float(re.match(r"\d+\\\. \*\*.*\*\* · ([\d.]+) km", lb)[1]) for a, lb in zip(along, labels)]
        assert walks == sorted(walks)  # nearest on foot first
        by_name = {md(n): km for n, km in zip(within.name, within.brute_km)}
        for lb, walk in zip(labels, walks):
            name, km = re.match(r"\d+\\\. \*\*(.*)\*\* · ([\d.]+) km", lb).groups()
            assert abs(float(km) - by_name[name]) <= 0.05 + 0.01, (lb, by_name[name])
            assert walk >= float(km) - 0.05  # a walk is never shorter than the straight line
        assert sorted(md(n) for n in within.name) == sorted(re.match(r"\d+\\\. \*\*(.*)\*\* ·", lb)[1] for lb in labels) \
            or len(within) > 50
    else:
        for i, (label, row) in enumerate(zip(labels, within.itertuples()), start=1):
            m = re.match(r"(\d+)\\\. \*\*(.*)\*\* · ([\d.]+) km · (.*)$", label)
            assert m and int(m[1]) == i
            km = float(m[3])
            # Code-Point's metre grid against our stored WGS84 (6 decimals): the same to well under 10 m
            assert abs(km - row.brute_km) <= 0.05 + 0.01, (label, row.brute_km)
            walk = m[4].removesuffix(" (straight line)")  # no OpenStreetMap extract here: said so (issue 15)
            assert walk in {walk_text(row.brute_km / WALKING_KMH * 60), walk_text(km / WALKING_KMH * 60)}
        # the same centres, in the same order where their distances differ by more than 10 m
        shown = [re.match(r"\d+\\\. \*\*(.*)\*\* ·", lb)[1] for lb in labels]
        brute = [n for n in within.name.head(len(labels))]
        for i, name in enumerate(brute):
            if all(abs(within.brute_km[i] - within.brute_km[j]) > 0.01 for j in range(len(brute)) if j != i):
                assert shown[i] == md(name), (i, shown[i], name)
        assert sorted(shown) == sorted(md(n) for n in brute) or len(within) > 50
    # the details say the point is the postcode's centre, not the building
    body = at.expander[1].markdown[0].value
    assert "**Location:** postcode" in body and area in body.replace("\\", "")
