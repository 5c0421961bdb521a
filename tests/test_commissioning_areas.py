"""Upper-tier authorities, sub-ICB locations and ICBs of every LSOA, checked against the official lookups."""

import geopandas as gpd
import pandas as pd

from directory.areas import attach_areas


def test_every_lsoa_has_one_upper_tier_sub_icb_and_icb(areas):
    lsoa = areas.lsoa
    for col in ("utla23_code", "utla23_name", "sicbl24_code", "sicbl24_name", "icb24_code", "icb24_name"):
        assert lsoa[col].notna().all(), col
    assert lsoa.utla23_code.nunique() == 153
    assert lsoa.sicbl24_code.nunique() == 106
    assert lsoa.icb24_code.nunique() == 42
    # each sub-ICB location lies in one ICB
    assert (lsoa.groupby("sicbl24_code").icb24_code.nunique() == 1).all()


def test_lookups_agree_with_the_raw_files(areas, raw):
    ut = pd.read_csv(raw / "lookup_ltla23_utla23.csv")
    ut = ut[ut.ltla23_code.str.startswith("E")].set_index("ltla23_code")
    built = areas.lsoa
    expect = ut.loc[built.ltla24_code, "utla23_code"].to_numpy()
    assert (built.utla23_code.to_numpy() == expect).all()
    ic = pd.read_csv(raw / "lookup_lsoa21_sicbl24_icb24.csv.gz").set_index("lsoa21_code")
    assert (built.icb24_code.to_numpy() == ic.loc[built.lsoa21_code, "icb24_code"].to_numpy()).all()
    assert (built.sicbl24_code.to_numpy() == ic.loc[built.lsoa21_code, "sicbl24_code"].to_numpy()).all()
    # Worcestershire County Council commissions for its six districts
    worcs = built[built.utla23_name == "Worcestershire"]
    assert worcs.ltla24_name.nunique() == 6
    assert set(worcs.ltla24_name) == {"Bromsgrove", "Malvern Hills", "Redditch", "Worcester", "Wychavon",
                                      "Wyre Forest"}


def test_boundaries_are_englands_valid_areas(areas, raw):
    for gdf, code, n in ((areas.utla_boundaries, "utla23_code", 153), (areas.icb_boundaries, "icb24_code", 42),
                         (areas.sicbl_boundaries, "sicbl24_code", 106)):
        assert len(gdf) == n
        assert set(gdf[code]) == set(areas.lsoa[code])
        assert gdf.geometry.is_valid.all()
        assert gdf.crs.to_epsg() == 4326
    # the UK file also holds Wales, Scotland and Northern Ireland: only England is kept
    uk = gpd.read_file(raw / "boundaries_2023" / "ctyua23_boundaries_uk_bsc.geojson")
    assert len(uk) == 218 and (~uk.CTYUA23CD.str.startswith("E")).sum() == 218 - 153


def test_official_council_names(areas):
    assert areas.official_names["E10000034"] == "Worcestershire County Council"
    assert areas.official_names["E06000020"] == "Telford & Wrekin Council"


def test_attach_areas_adds_upper_tier_and_icb(areas):
    # two real LSOA centroids: Worcester and Telford
    lsoa = areas.lsoa.set_index("lsoa21_code")
    worc = lsoa[lsoa.ltla24_name == "Worcester"].index[0]
    telf = lsoa[lsoa.ltla24_name == "Telford and Wrekin"].index[0]
    services = pd.DataFrame({"x": lsoa.loc[[worc, telf], "x"].to_numpy(), "y": lsoa.loc[[worc, telf], "y"].to_numpy()})
    out = attach_areas(services, areas)
    assert list(out.utla23_name) == ["Worcestershire", "Telford and Wrekin"]
    assert list(out.icb24_name) == ["NHS Herefordshire and Worcestershire Integrated Care Board",
                                    "NHS Shropshire, Telford and Wrekin Integrated Care Board"]
    assert list(out.utla23_code) == ["E10000034", "E06000020"]
    empty = attach_areas(services.iloc[:0], areas)
    assert {"utla23_code", "utla23_name", "icb24_code", "icb24_name"} <= set(empty.columns)
