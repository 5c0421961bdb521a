"""What changed since 2016: counts checked against an independent set difference by URN on two real
GIAS versions, distances by brute force, area rows adding up to England, the centre-history CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from directory import history as H
from directory.__main__ import EXIT_OK, main

FIRST = "gias_childrens_centres_history/edubaseallchildrencentre20160804.csv.gz"
NEWEST = "edubaseallchildrencentre20260821.csv"


@pytest.fixture(scope="module")
def hist(raw, areas):
    return H.load(raw, areas)


def open_urns(path, encoding) -> set[str]:
    """Open children's centres and linked sites (types 47, 48), read with plain pandas."""
    df = pd.read_csv(path, encoding=encoding, dtype=str, usecols=["URN", "TypeOfEstablishment (code)",
                                                                  "EstablishmentStatus (name)"])
    ok = df["TypeOfEstablishment (code)"].isin(["47", "48"]) & df["EstablishmentStatus (name)"].str.startswith("Open")
    return set(df.URN[ok])


def test_counts_equal_a_set_difference_by_urn(raw, hist):
    then = open_urns(raw / FIRST, "cp1252")  # 2016: Windows-1252
    now = open_urns(raw / NEWEST, "utf-8")
    assert (len(then), len(now)) == (3272, 2846)  # PROVENANCE.md
    e = hist.table("england").iloc[0]
    assert (e.listed_then, e.listed_now) == (len(then), len(now))
    assert e.no_longer_listed == len(then - now)
    assert e.newly_listed == len(now - then)
    assert (e.first_version, e.last_version) == ("2016-08-04", "2026-08-21")
    spans = hist.placed.set_index("urn")
    assert set(spans.index[spans.listed_then & ~spans.listed_now]) == then - now
    assert set(spans.index[~spans.listed_then & spans.listed_now]) == now - then


def test_first_and_last_version_of_each_centre(raw, hist):
    files = H.version_files(raw)
    assert len(files) == 11
    listed = {d: open_urns(p, "cp1252" if d.year <= 2017 else "utf-8") for d, p in files.items()}
    spans = hist.placed.set_index("urn")
    dates = list(files)
    for urn in sorted(spans.index)[::97]:  # a spread of centres
        seen = [d for d in dates if urn in listed[d]]
        assert spans.at[urn, "first_version"] == seen[0] and spans.at[urn, "last_version"] == seen[-1]
        after = [d for d in dates if d > seen[-1]]
        assert spans.at[urn, "first_missing"] == (after[0] if after else None)


def test_area_rows_add_up_to_england_with_the_unplaced(hist):
    e = hist.table("england").iloc[0]
    un = hist.placed[~hist.placed.placed]
    assert len(un) > 0  # retired postcodes: counted in England, listed in the notes
    for level, n in (("utla", 153), ("icb", 42), ("district", 296), ("region", 9)):
        t = hist.table(level)
        assert len(t) == n
        unplaced = {"listed_then": int(un.listed_then.sum()), "listed_now": int(un.listed_now.sum()),
                    "no_longer_listed": int((un.listed_then & ~un.listed_now).sum()),
                    "newly_listed": int((~un.listed_then & un.listed_now).sum())}
        for col in unplaced:
            assert t[col].sum() + unplaced[col] == e[col], (level, col)
        assert t.under5_within_now.sum() == pytest.approx(e.under5_within_now, abs=0.01 * n)
    notes = " ".join(hist.notes())
    assert "floor, not a census" in notes and f"{len(un)} centres could not be placed" in notes
    assert f"URN {un.urn.iloc[0]}" in notes


def test_distances_then_and_now_by_brute_force(areas, hist):
    ok = hist.placed[hist.placed.placed]
    then = ok[ok.listed_then][["x", "y"]].to_numpy(float)
    now = ok[ok.listed_now][["x", "y"]].to_numpy(float)
    r = hist.reach
    for i in np.linspace(0, len(r) - 1, 25).astype(int):
        p = r[["x", "y"]].iloc[i].to_numpy(float)
        assert r.nearest_then_km.iloc[i] == pytest.approx(np.sqrt(((then - p) ** 2).sum(1)).min() / 1000, abs=1e-9)
        assert r.nearest_now_km.iloc[i] == pytest.approx(np.sqrt(((now - p) ** 2).sum(1)).min() / 1000, abs=1e-9)
    # under-5s within reach, recomputed from the LSOA rows
    e = hist.table("england").iloc[0]
    assert e.under5_within_then == pytest.approx(r.under5[r.nearest_then_km <= 1.6].sum(), abs=0.01)
    assert e.under5_imd1_2_within_now == pytest.approx(
        r.under5[(r.nearest_now_km <= 1.6) & r.imd_decile.isin([1, 2])].sum(), abs=0.01)


def test_versions_indexed_and_lost_reach(hist):
    by = H.listed_by_version(hist.versions, hist.placed, "england", "E92000001")
    assert by.england.tolist()[0] == 3272 and by.england_index.iloc[0] == 100
    assert by.england.tolist() == [3272, 3251, 3123, 3015, 2994, 2993, 2890, 2887, 2874, 2851, 2846]
    lost = H.lost_reach(hist.reach, "utla", "E08000025")  # Birmingham: 38 centres no longer listed
    assert len(lost) > 0 and (lost.nearest_then_km <= 1.6).all() and (lost.nearest_now_km > 1.6).all()
    assert lost.deprived_under5.is_monotonic_decreasing
    assert lost["rank"].tolist() == list(range(1, len(lost) + 1))


def test_centre_history_cli_csv_and_xlsx(tmp_path, hist, capsys):
    out = tmp_path / "utla.csv"
    assert main(["centre-history", "--level", "utla", "--out", str(out)]) == EXIT_OK
    got = pd.read_csv(out)
    assert list(got.columns) == ["utla_code", "utla_name", "listed_then", "listed_now", "no_longer_listed",
                                 "newly_listed", "under5_within_then", "under5_within_now", "under5_imd1_2",
                                 "under5_imd1_2_within_then", "under5_imd1_2_within_now", "first_version",
                                 "last_version"]
    assert len(got) == 153
    notes = (tmp_path / "utla.notes.txt").read_text()
    assert "floor, not a census" in notes
    assert str(hist.unplaced.urn.iloc[0]) in notes
    err = capsys.readouterr().err
    assert "could not be placed" in err
    x = tmp_path / "icb.xlsx"
    assert main(["centre-history", "--level", "icb", "--format", "xlsx", "--out", str(x)]) == EXIT_OK
    sheets = pd.read_excel(x, sheet_name=None)
    assert list(sheets) == ["icb", "notes", "unplaced"] and len(sheets["icb"]) == 42
    assert len(sheets["unplaced"]) == len(hist.unplaced)
