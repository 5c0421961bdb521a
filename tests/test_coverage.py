"""Coverage tables: numbers checked by hand (brute force over real LSOAs and real services),
sums that must agree (LSOAs -> districts -> upper-tier authorities -> regions -> England; sub-ICB
locations -> ICBs -> England), filters of every kind, equity by hand, parameters, metadata.

The national and Telford tables count children 0-15 (demand="children_0_15"), so the by-hand checks
can use the census counts; under-5s, the default, are checked on their own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from directory import coverage as C
from directory.areas import attach_areas

TELFORD = "E06000020"  # Telford and Wrekin: two maintained nursery schools in GIAS
WEST_MIDLANDS = "E12000005"
STAMP = "2025-11-24T12:00:00Z"


@pytest.fixture(scope="module")
def services(seeded, areas):
    return attach_areas(seeded.service_frame(), areas)


@pytest.fixture(scope="module")
def national(areas, services):
    return C.coverage_tables(areas, services, demand="children_0_15", generated_at=STAMP)


@pytest.fixture(scope="module")
def telford(areas, services):
    return C.coverage_tables(areas, services, authority=[TELFORD], demand="children_0_15", generated_at=STAMP)


def brute_within(areas, x, y, radius_km=1.6):
    """LSOAs whose population-weighted centroid is within the radius: plain Pythagoras, no KD-tree."""
    lx, ly = areas.lsoa.x.to_numpy(), areas.lsoa.y.to_numpy()
    d = np.sqrt((lx - x) ** 2 + (ly - y) ** 2)
    return d, d <= radius_km * 1000


# ---------------------------------------------------------------- by hand, on Telford and Wrekin


def test_telford_services_and_children_within_reach_by_hand(areas, services, telford):
    s = telford["service"].frame
    assert s["name"].tolist() == ["Madeley Nursery School", "Oakengates Nursery School"]
    src = services.set_index("name")
    for row in s.itertuples():
        _, within = brute_within(areas, src.loc[row.name, "x"], src.loc[row.name, "y"])
        assert row.lsoas_within_radius == within.sum()
        assert row.children_within_radius == areas.lsoa.children_0_15[within].sum()
        assert row.idaci_within_radius == areas.lsoa.idaci_numerator[within].fillna(0).sum()
        lsoa = areas.lsoa.set_index("lsoa21_code").loc[row.lsoa21_code]
        assert (row.ltla24_name, row.region24_name, row.imd_decile) == ("Telford and Wrekin", "West Midlands",
                                                                         lsoa.imd_decile)
    # the real numbers (checked by the brute force above): the two catchments, 6.3 km apart, do not overlap
    assert s[["lsoas_within_radius", "children_within_radius"]].values.tolist() == [[16, 5342], [12, 3413]]
    d = telford["district"].frame.iloc[0]
    assert (d.lsoas, d.children_0_15, d.children_within, d.services) == (115, 36874, 5342 + 3413, 2)
    assert d.children_within_share == round(8755 / 36874, 6)
    assert d.services_per_1000_children == round(2 / 36874 * 1000, 6)


def test_lsoa_nearest_distance_gap_and_e2sfca_by_hand(areas, services, telford):
    t = telford["lsoa"].frame
    assert len(t) == 115 and set(t.ltla24_code) == {TELFORD}
    pts = services[["x", "y"]].to_numpy()
    lsoa = areas.lsoa.set_index("lsoa21_code")
    for code in t.lsoa21_code:
        row = t.set_index("lsoa21_code").loc[code]
        d = np.sqrt(((pts - lsoa.loc[code, ["x", "y"]].to_numpy(float)) ** 2).sum(axis=1)) / 1000
        assert row.nearest_km == pytest.approx(d.min(), abs=5e-5)
        assert row.n_within == (d <= 1.6).sum()
        assert row.within == (d.min() <= 1.6)
        assert row.gap == (lsoa.loc[code, "imd_decile"] in (1, 2) and d.min() > 1.6)
    # E2SFCA at Oakengates' own LSOA: the only service in reach, in the first zone (weight 1), so
    # A = 1 / sum_i P_i W(d_i) over Oakengates' catchment, per 1,000 children
    oak = services[services.name == "Oakengates Nursery School"].iloc[0]
    d, within = brute_within(areas, oak.x, oak.y)
    w = np.select([d <= 1600 / 3, d <= 3200 / 3, d <= 1600], [1.0, 0.68, 0.22], 0.0)
    expected = 1000 / (areas.lsoa.children_0_15.to_numpy() * w).sum()
    own = t.set_index("lsoa21_code").loc[oak.lsoa21_code]
    assert own.n_within == 1 and own.e2sfca_per_1000 == pytest.approx(expected, abs=1e-6)
    d_table = telford["district"].frame.iloc[0]
    assert d_table.gap_lsoas == t.gap.sum() == 16
    assert d_table.gap_children == t.children_0_15[t.gap].sum() == 5902


def test_an_authority_is_exactly_its_rows_of_the_national_table(national, telford):
    """Computed nationally, then filtered: catchments cross borders, so nothing changes at the edge."""
    nat = national["lsoa"].frame
    mine = nat[nat.ltla24_code == TELFORD].reset_index(drop=True)
    pd.testing.assert_frame_equal(telford["lsoa"].frame, mine)
    nd = national["district"].frame
    pd.testing.assert_frame_equal(telford["district"].frame, nd[nd.ltla24_code == TELFORD].reset_index(drop=True))


# ---------------------------------------------------------------- sums


ADDITIVE = ["lsoas", "children_0_15", "children_within", "idaci_children", "idaci_within", "idaci_suppressed_lsoas",
            "services", "deprived_children", "deprived_within", "gap_lsoas", "gap_children"] + [
    f"{m}_imd{d}" for m in C.DECILE_MEASURES for d in range(1, 11) if not m.startswith("under5")]


def test_districts_add_up_to_regions_and_regions_to_england(national):
    d, r, e = (national[k].frame for k in ("district", "region", "england"))
    assert len(d) == 296 and len(r) == 9 and len(e) == 1
    by_region = d.groupby("region24_code")[ADDITIVE].sum().sort_index()
    pd.testing.assert_frame_equal(by_region, r.set_index("region24_code")[ADDITIVE].sort_index(), check_names=False)
    pd.testing.assert_series_equal(r[ADDITIVE].sum(), e[ADDITIVE].iloc[0], check_names=False)
    # each total is the sum of its ten deciles
    for m in C.DECILE_MEASURES:  # under-5s are estimates with decimals (rounded to 0.01)
        got = d[[f"{m}_imd{k}" for k in range(1, 11)]].sum(axis=1)
        assert (got == d[m]).all() if not m.startswith("under5") else np.allclose(got, d[m], atol=0.06)


def test_lsoas_add_up_to_districts(national, services):
    lsoa, d, e = national["lsoa"].frame, national["district"].frame.set_index("ltla24_code"), \
        national["england"].frame.iloc[0]
    g = lsoa.assign(
        lsoas=1,
        children_within=lsoa.children_0_15.where(lsoa.within, 0),
        idaci_children=lsoa.idaci_numerator.fillna(0),
        idaci_within=lsoa.idaci_numerator.fillna(0).where(lsoa.within, 0),
        idaci_suppressed_lsoas=lsoa.idaci_numerator.isna().astype(int),
        gap_lsoas=lsoa.gap.astype(int),
        gap_children=lsoa.children_0_15.where(lsoa.gap, 0),
        deprived_children=lsoa.children_0_15.where(lsoa.deprived, 0),
    ).groupby("ltla24_code")
    cols = ["lsoas", "children_0_15", "children_within", "idaci_children", "idaci_within", "idaci_suppressed_lsoas",
            "gap_lsoas", "gap_children", "deprived_children"]
    got = g[cols].sum().astype("int64").sort_index()
    pd.testing.assert_frame_equal(got, d[cols].sort_index(), check_names=False)
    # England: every LSOA, the 815 suppressed IDACI numerators counted and never guessed, every service
    assert (e.lsoas, e.idaci_suppressed_lsoas, e.services) == (33_755, 815, len(services))
    assert e.children_0_15 == lsoa.children_0_15.sum()
    assert national["service"].frame.shape[0] == len(services) == d.services.sum()


def test_region_filter_and_whole_areas(areas, services):
    t = C.coverage_tables(areas, services, region=["West Midlands"], demand="children_0_15", generated_at=STAMP)
    assert set(t["lsoa"].frame.region24_code) == {WEST_MIDLANDS}
    assert set(t["district"].frame.region24_code) == {WEST_MIDLANDS} and len(t["district"].frame) == 30
    assert t["region"].frame.region24_code.tolist() == [WEST_MIDLANDS]
    assert t["england"].frame.country_code.tolist() == ["E92000001"]
    assert set(t["service"].frame.region24_code) == {WEST_MIDLANDS}
    # an authority's region row is the whole region, not the authority's part
    tel = C.area_table(areas, services, "region", authority=[TELFORD], demand="children_0_15",
                       generated_at=STAMP).frame
    pd.testing.assert_frame_equal(tel, t["region"].frame)
    assert "whole areas" in " ".join(t["district"].metadata["notes"])


def test_types_without_services_leave_every_lsoa_out_of_reach(areas, services):
    t = C.lsoa_table(areas, services, types=["Stay and play"], generated_at=STAMP)
    f = t.frame
    assert f.nearest_km.isna().all() and (~f.within).all() and (f.n_within == 0).all()
    assert (f.gap == f.imd_decile.isin([1, 2])).all()
    assert t.metadata["parameters"]["service_types"] == ["stay_and_play"]
    assert any(n.startswith("No service location") for n in t.metadata["notes"])


def test_radius_deciles_and_demand_are_parameters(areas, services):
    small = C.area_table(areas, services, "england", radius_km=0.5, generated_at=STAMP).frame.iloc[0]
    large = C.area_table(areas, services, "england", radius_km=5, deciles=[1, 2, 3], demand="idaci_numerator",
                         generated_at=STAMP).frame.iloc[0]
    assert small.children_within < large.children_within
    assert large.deprived_children == large[[f"idaci_children_imd{k}" for k in (1, 2, 3)]].sum()


# ---------------------------------------------------------------- parameters and metadata


@pytest.mark.parametrize("kw, message", [
    ({"radius_km": -1}, "the radius must be more than 0 km (got -1)"),
    ({"radius_km": 0}, "the radius must be more than 0 km"),
    ({"radius_km": 80}, "at most 50 km"),
    ({"types": ["stay_and_ply"]}, "unknown service type 'stay_and_ply'. Known types: childrens_centre"),
    ({"authority": ["E0600002"]}, "unknown authority code 'E0600002'"),
    ({"authority": ["Telford"]}, "Did you mean E06000020 (Telford and Wrekin)?"),
    ({"region": ["North Eats"]}, "Did you mean E12000001 (North East)"),
    ({"authority": [TELFORD], "region": ["London"]}, "E06000020 (Telford and Wrekin) is not in the region"),
    ({"utla": ["Worcestershire"], "icb": ["NHS Cheshire and Merseyside Integrated Care Board"]},
     "upper-tier authority E10000034 (Worcestershire) is not in the ICB chosen (E54000008)"),
    ({"utla": ["Worcester"]}, "unknown upper-tier authority code 'Worcester'"),
    ({"deciles": [0, 11]}, "deprived deciles must be whole numbers 1 to 10"),
    ({"demand": "adults"}, "demand must be one of children_0_15, idaci_numerator, under5"),
])
def test_bad_parameters_are_refused_with_a_clear_message(areas, kw, message):
    with pytest.raises(C.CoverageError) as e:
        C.check_params(areas, **kw)
    assert message in str(e.value)


def test_parameters_are_normalised(areas):
    p = C.check_params(areas, types=["Stay and play", "stay_and_play", "early_education"], radius_km="2",
                       deciles=[2, 1, 2], authority=["telford and wrekin"], region=["E12000005"])
    assert p == C.Params(("stay_and_play", "early_education"), 2.0, (1, 2), "under5",
                         (("district", (TELFORD,)), ("region", (WEST_MIDLANDS,))))
    assert p.authorities == (TELFORD,) and p.regions == (WEST_MIDLANDS,)
    # upper-tier authorities and ICBs by code, short name or official name
    q = C.check_params(areas, utla=["Worcestershire County Council", "e10000034"], icb=["E54000019"])
    assert q.filters == (("utla", ("E10000034",)), ("icb", ("E54000019",)))
    assert C.check_params(areas, utla=["Worcestershire"]).codes("utla") == ("E10000034",)


def test_metadata_states_parameters_vintages_build_and_time(national):
    m = national["district"].metadata
    assert m["generated_at"] == STAMP
    assert m["parameters"]["radius_km"] == 1.6 and m["parameters"]["gap_imd_deciles"] == [1, 2]
    assert m["parameters"]["service_type_labels"] == ["all types"]
    vintages = {s["key"]: s["vintage"] for s in m["sources"]}
    assert vintages["iod_ranks"] == "IoD2025 (Oct 2025)" and vintages["census_children"].startswith("Census 2021")
    assert vintages["gias"] == "24 May 2025"
    assert m["services"]["by_source"] == [{"source": "DfE GIAS", "locations": 378, "last_verified_from": "2025-05-24",
                                           "last_verified_to": "2025-05-24"}]
    assert m["build"]["version"] and m["build"]["inputs_sha256"]["lsoa21_boundaries.gpkg"]
    assert "Open Government Licence" in m["attribution"]
    for name, t in national.items():
        cols = t.metadata["tables"][name]["columns"]
        assert [c["name"] for c in cols] == list(t.frame.columns)
        assert all(c["description"] for c in cols), [c["name"] for c in cols if not c["description"]]
        assert t.metadata["tables"][name]["rows"] == len(t.frame)


def test_merged_metadata_lists_every_table(national):
    m = C.merge_metadata(national.values())
    assert list(m["tables"]) == list(C.LEVELS)
    assert m["tables"]["lsoa"]["rows"] == 33_755


# ---------------------------------------------------------------- upper-tier authorities, ICBs, equity

WORCS = "E10000034"
HW_ICB = "E54000019"


def test_upper_tier_icb_and_sub_icb_rows_add_up_to_england(national):
    e = national["england"].frame.iloc[0]
    e_sums = national["england"].frame[ADDITIVE].iloc[0]
    for level, n in (("utla", 153), ("icb", 42), ("sicbl", 106), ("district", 296), ("region", 9)):
        t = national[level].frame
        assert len(t) == n, level
        pd.testing.assert_series_equal(t[ADDITIVE].sum(), e_sums, check_names=False)
        assert t.under5.sum() == pytest.approx(e.under5, abs=0.01 * n)
    # districts add up to their upper-tier authority, upper-tier authorities to their region,
    # sub-ICB locations to their ICB
    for child, parent, key in (("district", "utla", "utla23_code"), ("utla", "region", "region24_code"),
                               ("sicbl", "icb", "icb24_code")):
        got = national[child].frame.groupby(key)[ADDITIVE].sum().sort_index()
        want = national[parent].frame.set_index(key)[ADDITIVE].sort_index()
        pd.testing.assert_frame_equal(got, want, check_names=False)


def test_worcestershire_by_hand(areas, services, national):
    """Worcestershire County Council: its six districts' rows add up to its row, by hand from the LSOAs."""
    lsoa = national["lsoa"].frame
    mine = lsoa[lsoa.utla23_code == WORCS]
    assert len(mine) == 374 and set(mine.ltla24_name) == {"Bromsgrove", "Malvern Hills", "Redditch", "Worcester",
                                                          "Wychavon", "Wyre Forest"}
    row = national["utla"].frame.set_index("utla23_code").loc[WORCS]
    assert row.utla23_name == "Worcestershire" and row.region24_name == "West Midlands"
    assert row.lsoas == 374
    assert row.children_0_15 == mine.children_0_15.sum()
    assert row.children_within == mine.children_0_15[mine.within].sum()
    assert row.gap_children == mine.children_0_15[mine.gap].sum()
    assert row.services == (services.utla23_code == WORCS).sum()
    districts = national["district"].frame
    six = districts[districts.utla23_code == WORCS]
    assert len(six) == 6 and six.children_0_15.sum() == row.children_0_15


def test_an_area_is_exactly_its_rows_of_the_national_table(areas, services, national):
    t = C.coverage_tables(areas, services, utla=["Worcestershire County Council"], demand="children_0_15",
                          generated_at=STAMP)
    nat = national["lsoa"].frame
    pd.testing.assert_frame_equal(t["lsoa"].frame, nat[nat.utla23_code == WORCS].reset_index(drop=True))
    for level, key in (("utla", "utla23_code"), ("district", "utla23_code"), ("icb", "icb24_code")):
        want = national[level].frame
        want = want[want[key].isin(set(nat.loc[nat.utla23_code == WORCS, key]))].reset_index(drop=True)
        pd.testing.assert_frame_equal(t[level].frame, want)
    assert t["icb"].frame.icb24_code.tolist() == [HW_ICB]  # the whole ICB the county lies in
    assert t["lsoa"].metadata["filters"]["utla"] == [{"code": WORCS, "name": "Worcestershire"}]
    i = C.coverage_tables(areas, services, ["lsoa", "icb"], icb=[HW_ICB], demand="children_0_15",
                          generated_at=STAMP)
    pd.testing.assert_frame_equal(i["lsoa"].frame, nat[nat.icb24_code == HW_ICB].reset_index(drop=True))
    nicb = national["icb"].frame
    pd.testing.assert_frame_equal(i["icb"].frame, nicb[nicb.icb24_code == HW_ICB].reset_index(drop=True))


def test_equity_columns_by_hand(national, areas):
    """Shares in deciles 1-2 and 9-10, their ratio and the concentration index, recomputed with plain
    Python loops over Worcestershire's LSOAs (children 0-15 in these tables)."""
    lsoa = national["lsoa"].frame
    mine = lsoa[lsoa.utla23_code == WORCS].sort_values("imd_rank")
    row = national["utla"].frame.set_index("utla23_code").loc[WORCS]
    w = mine.children_0_15.astype(float).tolist()
    h = [1.0 if x else 0.0 for x in mine.within]
    dec = mine.imd_decile.astype(int).tolist()
    lo = sum(wi * hi for wi, hi, d in zip(w, h, dec) if d <= 2) / sum(wi for wi, d in zip(w, dec) if d <= 2)
    hi_ = sum(wi * hi for wi, hi, d in zip(w, h, dec) if d >= 9) / sum(wi for wi, d in zip(w, dec) if d >= 9)
    assert row.within_share_imd1_2 == pytest.approx(lo, abs=1e-6)
    assert row.within_share_imd9_10 == pytest.approx(hi_, abs=1e-6)
    assert row.within_ratio_imd1_2_to_9_10 == pytest.approx(lo / hi_, abs=1e-6)
    total = sum(w)
    mu = sum(wi * hi for wi, hi in zip(w, h)) / total
    before, acc = 0.0, 0.0
    for wi, hi in zip(w, h):
        r = (before + wi / 2) / total
        acc += wi * (hi - mu) * (r - 0.5)
        before += wi
    assert row.concentration_index == pytest.approx(2 * acc / (total * mu), abs=1e-6)


def test_under5_is_the_default_demand_and_files_say_so(areas, services):
    t = C.area_table(areas, services, "utla", utla=[WORCS], generated_at=STAMP)
    assert t.metadata["parameters"]["demand"] == "under5"
    assert t.metadata["parameters"]["demand_label"].startswith("children under 5")
    assert any(n.startswith("Demand counted: children under 5") for n in t.metadata["notes"])
    lsoa = C.lsoa_table(areas, services, utla=[WORCS], generated_at=STAMP).frame
    row = t.frame.iloc[0]
    assert row.deprived_children == pytest.approx(lsoa.under5[lsoa.deprived].sum(), abs=0.05)
    assert row.under5 == pytest.approx(lsoa.under5.sum(), abs=0.05)
    v = t.metadata["lookup_vintages"]
    assert "(Apr 2023)" in v["utla"] and "(Apr 2024)" in v["icb"] and "(Apr 2024)" in v["sicbl"]
    keys = {s["key"] for s in t.metadata["sources"]}
    assert {"utla_lookup", "icb_lookup", "utla_boundaries", "icb_boundaries", "sicbl_boundaries"} <= keys
