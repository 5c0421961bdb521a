"""Nearest services: the KD-tree search equals a brute-force computation on the real directory."""

import numpy as np
import pandas as pd
import pytest

from directory.nearest import Filters, ServiceIndex, filter_services, near


@pytest.fixture(scope="module")
def services(seeded):
    return seeded.service_frame()


def brute_force(services, x, y, radius_km):
    d = np.sqrt((services.x - x) ** 2 + (services.y - y) ** 2) / 1000
    return services.assign(distance_km=d)[d <= radius_km].sort_values(["distance_km", "name"])


# City of London, Telford, Middlesbrough, Birmingham, rural Cornwall
@pytest.mark.parametrize("lsoa", ["E01000001", "E01014145", "E01012049", "E01008881", "E01018750"])
@pytest.mark.parametrize("radius", [2.0, 10.0, 25.0])
def test_within_radius_equals_brute_force(areas, services, lsoa, radius):
    r = areas.lsoa.set_index("lsoa21_code").loc[lsoa]
    found = near(services, r.x, r.y, radius)
    expected = brute_force(services, r.x, r.y, radius)
    if expected.empty:
        assert not found.within_radius
    else:
        assert found.within_radius
        # centres GIAS lists twice at one postcode under one name tie exactly: same set, same (distance, name) order
        assert set(found.table.service_id) == set(expected.service_id)
        assert found.table.name.tolist() == expected.name.tolist()
        assert np.allclose(found.table.distance_km, expected.distance_km)
    assert found.n_matching == len(services)


def test_nothing_within_radius_gives_the_nearest_three(areas, services):
    # Telford TF1 1AA (NSPL 364968, 311472): the nearest maintained nursery school is Oakengates
    # (GIAS URN 123348, easting 369372, northing 310871): hypot(4404, 601) = 4444.8 m
    nurseries = Filters(types=("early_education",))
    found = near(services, 364968.0, 311472.0, 1.0, nurseries)
    assert not found.within_radius and len(found.table) == 3
    expected = brute_force(filter_services(services, nurseries), 364968.0, 311472.0, 1e9).head(3)
    assert found.table.service_id.tolist() == expected.service_id.tolist()
    assert found.table.name.iloc[0] == "Oakengates Nursery School"
    assert found.table.distance_km.iloc[0] == pytest.approx(4.4448, abs=0.001)
    # walking time at 4.8 km/h
    assert found.table.walk_min.iloc[0] == pytest.approx(found.table.distance_km.iloc[0] / 4.8 * 60)


def test_one_index_many_searches_equals_brute_force(areas, services):
    """The app keeps one ServiceIndex per directory version: searched again and again with changing
    filters (cached per filter set), each answer equals brute force over the filtered services."""
    ix = ServiceIndex(services)
    lsoa = areas.lsoa.set_index("lsoa21_code")
    points = [lsoa.loc[c, ["x", "y"]].to_numpy(float) for c in ("E01000001", "E01014145", "E01018750")]
    filter_sets = [Filters(), Filters(types=("early_education",)), Filters(stage="pregnancy"),
                   Filters(types=("childrens_centre", "early_education"), stage="baby"), Filters(free_only=True),
                   Filters(types=("early_education",))]  # the first filter set again: from the cache
    for f in filter_sets * 2:
        pool = filter_services(services, f)
        for x, y in points:
            for radius in (1.0, 5.0):
                found = near(ix, x, y, radius, f)
                assert found.n_matching == len(pool)
                if pool.empty:
                    assert found.table.empty and not found.within_radius
                    continue
                expected = brute_force(pool, x, y, radius)
                if expected.empty:  # the nearest three matching, whatever their distance
                    expected = brute_force(pool, x, y, 1e9).head(3)
                assert found.within_radius == (len(expected) > 0 and expected.distance_km.max() <= radius)
                assert np.allclose(found.table.distance_km, expected.distance_km)
                assert found.table.name.tolist() == expected.name.tolist()
                assert set(found.table.service_id) == set(expected.service_id)
                assert found.table.columns.tolist() == services.columns.tolist() + ["distance_km", "walk_min"]


def _frame(**cols):
    """Service rows in the shape of Directory.service_frame (a real-layout stand-in for imported services)."""
    n = len(next(iter(cols.values())))
    base = dict(service_id=[f"s{i}" for i in range(n)], name=[f"S{i}" for i in range(n)], x=[0.0] * n, y=[0.0] * n,
                types=[["stay_and_play"]] * n, referral=[None] * n, is_free=[None] * n, pregnancy=[False] * n,
                min_age_months=pd.array([None] * n, dtype="Int64"), max_age_months=pd.array([None] * n, dtype="Int64"))
    base.update(cols)
    return pd.DataFrame(base)


def test_filters():
    s = _frame(
        types=[["stay_and_play"], ["baby_massage"], ["antenatal"], ["perinatal_peer_support"], ["early_education"]],
        referral=["self", "professional", "both", None, "self"],
        is_free=[True, False, True, None, None],
        pregnancy=[False, False, True, False, False],
        min_age_months=pd.array([0, 0, None, None, 24], dtype="Int64"),
        max_age_months=pd.array([59, 11, None, None, 59], dtype="Int64"),
    )
    ids = lambda f: filter_services(s, f).service_id.tolist()  # noqa: E731
    assert ids(Filters(types=("baby_massage", "antenatal"))) == ["s1", "s2"]
    assert ids(Filters(self_referral=True)) == ["s0", "s2", "s4"]
    assert ids(Filters(free_only=True)) == ["s0", "s2"]
    assert ids(Filters(stage="pregnancy")) == ["s2", "s3"]
    assert ids(Filters(stage="baby")) == ["s0", "s1", "s3"]  # perinatal with no ages: the first year
    assert ids(Filters(stage="preschool")) == ["s0", "s4"]
    assert ids(Filters(stage="toddler", free_only=True)) == ["s0"]
