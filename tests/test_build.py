"""The build turns the official files into the tables the app uses; checked against the files themselves."""

import gzip
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from directory.build import build, iod_column, needs_build, postcode_points, share_counts
from directory.sources import DataError, catalogue, read_csv


def test_every_english_lsoa_and_district_is_built(areas):
    assert len(areas.lsoa) == 33_755
    assert areas.lsoa.lsoa21_code.is_unique
    assert areas.lsoa.lsoa21_code.str.startswith("E01").all()
    assert len(areas.districts) == 296
    assert len(areas.regions) == 9
    assert len(areas.lsoa_boundaries) == 33_755
    assert len(areas.district_boundaries) == 296
    assert areas.district_boundaries.geometry.is_valid.all()  # 3 invalid rings in the source, repaired


def test_imd_equals_the_published_file(areas, raw):
    published = pd.read_csv(raw / "iod2025_lsoa21_ranks_scores_deciles.csv").set_index("lsoa21_code")
    built = areas.lsoa.set_index("lsoa21_code")
    # City of London 001A, a Telford LSOA, one in Middlesbrough and the most deprived LSOA in England
    most_deprived = published.IMD_rank.idxmin()
    for code in ["E01000001", "E01014145", "E01012049", most_deprived]:
        assert built.at[code, "imd_decile"] == published.at[code, "IMD_decile"]
        assert built.at[code, "imd_score"] == published.at[code, "IMD_score"]
        assert built.at[code, "imd_rank"] == published.at[code, "IMD_rank"]
        assert built.at[code, "income_decile"] == published.at[code, "Income_decile"]
    assert built.at[most_deprived, "imd_rank"] == 1
    # the whole column, not just samples
    assert (built.imd_decile.astype(int) == published.loc[built.index, "IMD_decile"].astype(int)).all()


def test_population_columns(areas, raw):
    census = pd.read_csv(raw / "census21_lsoa21_population_age6.csv.gz")
    kids = census[(census.age_group == "Aged 15 years and under") & census.lsoa21_code.str.startswith("E")]
    assert areas.lsoa.children_0_15.sum() == kids.usual_residents.sum()
    # ONS mid-2020 under-5s (2011 LSOAs) carried to 2021 LSOAs keep England's published total
    assert areas.lsoa.under5.sum() == pytest.approx(3_239_447, abs=1e-6)
    ind = pd.read_csv(raw / "iod2025_lsoa21_underlying_indicators.csv")
    col = "income_deprivation_affecting_children_index_idaci_numerator"
    assert areas.lsoa.idaci_numerator.isna().sum() == ind[col].isna().sum() == 815  # suppressed, kept blank
    assert areas.lsoa.idaci_numerator.sum() == ind[col].sum()


def test_under5_sharing_rule_by_hand():
    # One 2011 LSOA split into two 2021 LSOAs with 30 and 10 children 0-15: 100 under-5s share 75/25.
    # Two 2011 LSOAs merged into one: 40 + 60 = 100. A split with no children shares equally.
    counts = pd.DataFrame({"lsoa11_code": ["S", "M1", "M2", "Z"], "aged_0_4": [100.0, 40.0, 60.0, 9.0]})
    lookup = pd.DataFrame({"lsoa11_code": ["S", "S", "M1", "M2", "Z", "Z", "Z"],
                           "lsoa21_code": ["a", "b", "m", "m", "z1", "z2", "z3"]})
    weights = pd.DataFrame({"lsoa21_code": ["a", "b", "m", "z1", "z2", "z3"], "children_0_15": [30, 10, 5, 0, 0, 0]})
    out = share_counts(counts, lookup, weights, "aged_0_4", "under5").set_index("lsoa21_code").under5
    assert out.to_dict() == {"a": 75.0, "b": 25.0, "m": 100.0, "z1": 3.0, "z2": 3.0, "z3": 3.0}


def test_lsoa_points_are_the_ons_population_weighted_centroids(areas, raw):
    pwc = pd.read_csv(raw / "lsoa21_population_weighted_centroids_england.csv").set_index("LSOA21CD")
    built = areas.lsoa.set_index("lsoa21_code")
    assert np.allclose(built.x, pwc.loc[built.index, "BNG_E"]) and np.allclose(built.y, pwc.loc[built.index, "BNG_N"])
    # WGS84 from BNG agrees with the ONS longitude/latitude to ~2 m (no OSTN15 grid offline)
    assert np.abs(built.lat - pwc.loc[built.index, "LAT"]).max() < 5e-5
    assert np.abs(built.lon - pwc.loc[built.index, "LONG"]).max() < 5e-5


def test_postcode_point_equals_its_newest_row(areas, raw):
    with gzip.open(raw / "nspl_nov2021_subset_9_areas.csv.gz", "rt") as f:
        nspl = pd.read_csv(f, dtype=str)
    con = sqlite3.connect(areas.postcodes.path)
    # TF1 1AA: in both files; Code-Point Open (Oct 2025) is newer than the NSPL (Nov 2021) and wins
    with zipfile.ZipFile(raw / "codepo_gb.zip") as zf:
        cp = next(r for r in zf.read("Data/CSV/tf.csv").decode().splitlines() if r.startswith('"TF1 1AA"'))
    _, _, e, n = cp.split(",")[:4]
    got = con.execute("SELECT pcds, x, y, lsoa11 FROM postcode WHERE pcd = 'TF11AA'").fetchone()
    assert got == ("TF1 1AA", float(e), float(n), nspl[nspl.pcds == "TF1 1AA"].lsoa11.iloc[0])
    # a live NSPL postcode that Code-Point no longer has keeps its NSPL row
    pcd, pcds, x, y, lat, lon = con.execute(
        "SELECT pcd, pcds, x, y, lat, lon FROM postcode WHERE src = 0 ORDER BY pcd LIMIT 1").fetchone()
    row = nspl[nspl.pcds == pcds].iloc[0]
    assert (x, y, lat, lon) == (float(row.oseast1m), float(row.osnrth1m), float(row.lat), float(row.long))
    # terminated NSPL postcodes are left out unless the newer Code-Point lists them again
    dead = nspl[nspl.doterm.notna()].pcds.str.replace(" ", "")
    back = con.execute(f"SELECT count(*) FROM postcode WHERE pcd IN ({','.join('?' * len(dead))}) AND src = 0",
                       list(dead)).fetchone()[0]
    assert back == 0


def test_iod_official_headers_map_to_canonical_names():
    # MHCLG File 7 spells its headers in full; the re-encoded file uses short ones: both must work.
    assert iod_column("index_of_multiple_deprivation_imd_score") == "imd_score"
    assert iod_column("index_of_multiple_deprivation_imd_decile_where_1_is_most_deprived_10_of_lsoas") == "imd_decile"
    assert iod_column("income_rank_where_1_is_most_deprived") == "income_rank"
    assert iod_column("income_deprivation_affecting_children_index_idaci_score_rate") == "idaci_score"
    assert iod_column("barriers_to_housing_and_services_decile_where_1_is_most_deprived_10_of_lsoas") == \
        "housing_and_services_decile"
    assert iod_column("children_and_young_people_sub_domain_score") == "children_and_young_people_score"
    assert iod_column("income_deprivation_affecting_children_index_idaci_numerator") is None


def test_full_nspl_layout_from_a_zip_is_read(tmp_path):
    # The official NSPL zip holds Data/NSPL_<MON>_<YYYY>_UK.csv with ~40 columns; a tiny file in that
    # layout (real rows for TF1 1AA and a terminated DT postcode) stands in for the 2.7M-row national file.
    header = ("pcd,pcd2,pcds,dointr,doterm,usertype,oseast1m,osnrth1m,osgrdind,oa21,cty,ced,laua,ward,nhser,ctry,"
              "rgn,pcon,ttwa,itl,park,lsoa21,msoa21,wz11,sicbl,bua24,ruc21ind,oac11,lat,long,lep1,lep2,pfa,imd,icb")
    rows = [
        "TF1 1AA,TF1  1AA,TF1 1AA,198001,,1,364968,311472,1,E00000000,E99999999,E99999999,E06000020,E05000000,"
        "E40000000,E92000001,E12000005,E14000000,E30000000,E06000020,E99999999,E01014145,E02000000,E33000000,"
        "E38000000,E63000000,C1,1A1,52.699797,-2.519838,E37000000,,E23000000,1,E54000000",
        "DT1 1AB,DT1  1AB,DT1 1AB,200409,202001,0,369874,90687,1,E00000000,E99999999,E99999999,E06000059,E05000000,"
        "E40000000,E92000001,E12000009,E14000000,E30000000,E06000059,E99999999,E01020518,E02000000,E33000000,"
        "E38000000,E63000000,C1,1A1,50.715026,-2.428075,E37000000,,E23000000,1,E54000000",
    ]
    z = tmp_path / "NSPL_MAY_2025.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Documents/readme.csv", "a,b\n1,2\n")
        zf.writestr("Data/NSPL_MAY_2025_UK.csv", header + "\n" + "\n".join(rows) + "\n")
    pcs = postcode_points(tmp_path, catalogue())
    assert pcs.pcd.tolist() == ["TF11AA"]  # the terminated DT1 1AB is dropped
    assert pcs.iloc[0].lsoa21 == "E01014145" and pcs.iloc[0].x == 364968


def test_wrong_columns_name_the_file(tmp_path):
    bad = tmp_path / "lookup_ltla24_region24.csv"
    bad.write_text("district,region\nE06000001,North East\n")
    with pytest.raises(DataError, match="lookup_ltla24_region24.csv: missing column"):
        read_csv(catalogue()["region_lookup"], bad)


def link_raw(raw, folder):
    """`folder` mirrors the raw folder with symlinks to its files (sub-folders are real, e.g. boundaries_2023)."""
    for p in raw.rglob("*"):
        if p.is_file():
            (folder / p.relative_to(raw)).parent.mkdir(parents=True, exist_ok=True)
            (folder / p.relative_to(raw)).symlink_to(p)


def test_wrong_row_count_names_the_file(tmp_path, raw):
    # a truncated IoD file: the build refuses it and says which file and how many rows it expected
    link_raw(raw, tmp_path)
    (tmp_path / "iod2025_lsoa21_ranks_scores_deciles.csv").unlink()
    lines = (raw / "iod2025_lsoa21_ranks_scores_deciles.csv").read_text().splitlines()
    (tmp_path / "iod2025_lsoa21_ranks_scores_deciles.csv").write_text("\n".join(lines[:1000]) + "\n")
    with pytest.raises(DataError, match=r"iod2025_lsoa21_ranks_scores_deciles.csv: expected 33,755 .* found 999"):
        build(tmp_path, tmp_path / "out")


def test_rebuilds_only_when_an_input_changes(tmp_path, raw, areas):
    out = tmp_path / "build"
    shutil.copytree(areas.folder, out)
    assert not needs_build(raw, out)
    # a copy of the raw folder with one file's content changed
    copy = tmp_path / "raw"
    copy.mkdir()
    link_raw(raw, copy)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["inputs"] = {k.replace(str(raw), str(copy)): v for k, v in manifest["inputs"].items()}
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert not needs_build(copy, out)  # same bytes under another folder
    region = copy / "lookup_ltla24_region24.csv"
    text = region.read_text()
    region.unlink()
    region.write_text(text.replace("North East", "North  East", 1))
    assert needs_build(copy, out)


def test_same_bytes_with_new_dates_are_hashed_once(tmp_path, raw, areas, monkeypatch):
    # a raw folder copied or re-laid keeps its bytes but gets new modification times: the check hashes
    # the files once, remembers their new dates in the manifest, and the next check (every page run) hashes nothing
    import directory.manifest as manifest_module

    out = tmp_path / "build"
    shutil.copytree(areas.folder, out)
    copy = tmp_path / "raw"
    copy.mkdir()
    for p in raw.rglob("*"):
        if p.is_file():
            (copy / p.relative_to(raw)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, copy / p.relative_to(raw))  # new dates, same bytes
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["inputs"] = {k.replace(str(raw), str(copy)): v for k, v in manifest["inputs"].items()}
    (out / "manifest.json").write_text(json.dumps(manifest))
    hashed = []
    real_digest = manifest_module.file_digest
    monkeypatch.setattr(manifest_module, "file_digest", lambda p: hashed.append(p) or real_digest(p))
    assert not needs_build(copy, out)
    assert len(hashed) == len(manifest["inputs"])  # every file's dates differ from the manifest's
    restamped = json.loads((out / "manifest.json").read_text())["inputs"]
    for name, rec in restamped.items():
        assert (rec["size"], rec["mtime_ns"]) == (Path(name).stat().st_size, Path(name).stat().st_mtime_ns)
        assert rec["sha256"] == manifest["inputs"][name]["sha256"]
    hashed.clear()
    assert not needs_build(copy, out)
    assert hashed == []
    region = copy / "lookup_ltla24_region24.csv"  # a real change is still seen
    region.write_text(region.read_text().replace("North East", "North  East", 1))
    assert needs_build(copy, out)
