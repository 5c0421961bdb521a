"""Walking distances along OpenStreetMap paths (directory/walking.py).

Checked against independent computations: a hand-made graph whose shortest paths are worked out
by hand, and networkx's Dijkstra on the same real Nottingham graph; the walk is never shorter than
the straight line; points outside the extracts fall back to the straight line, said so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from directory import walking
from directory.walking import Network, walkable


@pytest.fixture(scope="session")
def osm_dir(raw) -> Path:
    d = Path(raw) / "osm"
    if not (d / "nottingham-nw-ng86ba-20180521.osm.pbf").exists():
        pytest.fail(f"the OSM extracts are missing from {d} (PROVENANCE.md, osm/ rows)")
    return d


@pytest.fixture(scope="session")
def nottingham(osm_dir) -> Network:
    return walking.build_network([osm_dir / "nottingham-nw-ng86ba-20180521.osm.pbf"])


@pytest.fixture(scope="session")
def notts_points(nottingham, areas, osm_dir):
    """LSOA centroids the Nottingham network covers, and real services in it: the children's
    centres tagged in OSM and the GIAS open establishments (with coordinates) inside it."""
    o = areas.lsoa[["x", "y"]].to_numpy(float)
    o = o[nottingham.snap(o).covered]
    g = pd.read_csv(osm_dir.parent / "gias_open_establishments_20250524.csv.gz", usecols=["easting", "northing"],
                    low_memory=False).apply(pd.to_numeric, errors="coerce")  # a few shifted rows: no coordinates
    g = g[g.easting.gt(0) & g.northing.gt(0)].to_numpy(float)
    cc = walking.tagged_childrens_centres(osm_dir / "nottingham-nw-ng86ba-20180521.osm.pbf")
    s = np.vstack([cc[["x", "y"]].to_numpy(float), g])
    s = s[nottingham.snap(s).covered]
    return o, s, cc


# ---------------------------------------------------------------- rules and a hand-made graph


def test_walkable_ways_follow_the_documented_rules():
    assert walkable({"highway": "footway"}) and walkable({"highway": "residential"})
    assert walkable({"highway": "steps"}) and walkable({"highway": "trunk"})
    assert not walkable({"highway": "motorway"}) and not walkable({"highway": "construction"})
    assert not walkable({"building": "yes"})
    assert not walkable({"highway": "footway", "foot": "no"})
    assert not walkable({"highway": "service", "access": "private"})
    assert walkable({"highway": "service", "access": "private", "foot": "yes"})  # a public footpath through
    assert not walkable({"highway": "primary", "foot": "use_sidepath"})


def square() -> Network:
    """   3 --- 2        a 100 m square 0-1-2-3 with a 120 m node 4 hanging off 1, and a
          |     |        detour: the direct side 0-3 is missing, so 0 -> 3 walks 0-1-2-3 = 300 m
          0 --- 1 --- 4                                              (0 -> 4: 100 + 120 = 220 m)"""
    x = np.array([0.0, 100.0, 100.0, 0.0, 220.0]) + 450_000
    y = np.array([0.0, 0.0, 100.0, 100.0, 0.0]) + 345_000
    u = np.array([0, 1, 2, 1])
    v = np.array([1, 2, 3, 4])
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    box = (x.min() - 500, y.min() - 500, x.max() + 500, y.max() + 500)
    return Network(np.arange(5), x, y, u, v, length, [box], {})


def test_hand_made_graph_gives_the_known_shortest_paths():
    net = square()
    x0, y0 = net.x[0], net.y[0]
    pts = np.column_stack([net.x, net.y])
    d = net.distances([[x0, y0]], pts)[0]
    np.testing.assert_allclose(d, [0, 100, 200, 300, 220])
    # snaps are added at both ends: from 10 m south of node 0 to 5 m north of node 3
    d = net.distances([[x0, y0 - 10]], [[net.x[3], net.y[3] + 5]])[0, 0]
    assert d == pytest.approx(10 + 300 + 5)
    # a limit cuts the search: 3 is beyond 250 m
    d = net.distances([[x0, y0]], pts, limit_m=250)[0]
    assert np.isinf(d[3]) and d[4] == pytest.approx(220)
    # nearest: from node 3, service at node 0 (300 m away) or at node 4 (100 + 100 + 120 = 320 m)
    dist, which = net.nearest([[net.x[3], net.y[3]]], pts[[4, 0]])
    assert which[0] == 1 and dist[0] == pytest.approx(300)


def test_snaps_farther_than_the_limit_or_outside_the_extract_are_refused():
    net = square()
    x0, y0 = net.x[0], net.y[0]
    s = net.snap([[x0, y0 - walking.SNAP_LIMIT_M + 1], [x0, y0 - walking.SNAP_LIMIT_M - 1]])
    assert s.covered.tolist() == [True, False]
    assert s.dist[1] == pytest.approx(walking.SNAP_LIMIT_M + 1)
    assert np.isnan(net.distances([[x0, y0 - 300]], [[x0, y0]])[0, 0])
    net.boxes = [(x0 + 50, y0 - 500, x0 + 1000, y0 + 500)]  # the extract's box leaves node 0 out
    assert not net.snap([[x0, y0]]).covered[0]


# ---------------------------------------------------------------- the real Nottingham extract


def test_nottingham_network_is_the_walkable_part_of_the_extract(nottingham):
    # PROVENANCE.md: walking graph ~27,800 nodes, 30,400 edges, 607 km, 99.4% in one component
    assert 27_000 < nottingham.n_nodes < 28_500 and 30_000 < nottingham.n_edges < 31_000
    assert 600 < nottingham.info["km"] < 615
    assert (nottingham.length > 0).all() and (nottingham.u < nottingham.v).all()


def test_real_distances_equal_networkx_dijkstra_on_the_same_graph(nottingham, notts_points):
    o, s, _ = notts_points
    assert len(o) >= 60 and len(s) >= 40
    o = o[::6]  # a dozen neighbourhoods keep the networkx side quick
    ours = nottingham.distances(o, s)
    G = nx.Graph()
    G.add_weighted_edges_from(zip(nottingham.u.tolist(), nottingham.v.tolist(), nottingham.length.tolist()))
    so, sd = nottingham.snap(o), nottingham.snap(s)
    for i, node in enumerate(so.node):
        lengths = nx.single_source_dijkstra_path_length(G, int(node))
        ref = np.array([lengths.get(int(t), np.inf) for t in sd.node]) + so.dist[i] + sd.dist
        np.testing.assert_allclose(ours[i], ref, atol=1.0)
    assert np.isfinite(ours).mean() > 0.95


def test_walk_is_never_shorter_than_the_straight_line(nottingham, notts_points):
    o, s, _ = notts_points
    d = nottingham.distances(o, s)
    crow = np.hypot(o[:, None, 0] - s[None, :, 0], o[:, None, 1] - s[None, :, 1])
    fin = np.isfinite(d)
    assert (d[fin] >= crow[fin] - 1e-6).all()
    assert np.median(d[fin] / crow[fin]) > 1.1  # streets are not straight lines


def test_lsoa_walks_match_an_independent_brute_force(nottingham, notts_points, areas):
    o, s, _ = notts_points
    lsoa = areas.lsoa
    services = pd.DataFrame({"x": s[:, 0], "y": s[:, 1]})
    w = walking.lsoa_walks(nottingham, lsoa, services, within_min=20)
    assert len(w) == len(lsoa)
    inside = w.walk_basis.eq("paths").to_numpy()
    assert inside.sum() == len(o)
    assert w.loc[~inside, "nearest_walk_km"].isna().all() and w.loc[~inside, "walk_detour"].isna().all()
    xy = lsoa[["x", "y"]].to_numpy(float)[inside]
    full = nottingham.distances(xy, s)  # every pair
    got = w[inside]
    np.testing.assert_allclose(got.nearest_walk_km.to_numpy(float), full.min(axis=1) / 1000, atol=1e-3)
    best = full.argmin(axis=1)
    crow = np.hypot(*(xy - s[best]).T)
    np.testing.assert_allclose(got.walk_detour.to_numpy(float), full.min(axis=1) / crow, rtol=1e-9)
    assert (got.walk_detour >= 1).all()
    limit = 20 / 60 * 4.8 * 1000
    np.testing.assert_array_equal(got.n_walk_within.to_numpy(int), (full <= limit).sum(axis=1))


def test_a_service_outside_the_network_that_could_be_nearer_blanks_nearest_walk(nottingham, areas, notts_points):
    o, s, _ = notts_points
    lsoa = areas.lsoa.iloc[np.flatnonzero(nottingham.snap(areas.lsoa[["x", "y"]].to_numpy()).covered)]
    services = pd.DataFrame({"x": s[:, 0], "y": s[:, 1]})
    base = walking.lsoa_walks(nottingham, lsoa, services)
    # a service just south of the extract's box: the network cannot route to it
    y0 = nottingham.boxes[0][1]
    south = lsoa.y.to_numpy().argmin()
    outside = pd.DataFrame({"x": [lsoa.x.iloc[south]], "y": [y0 - 20.0]})
    assert not nottingham.snap(outside.to_numpy()).covered[0]
    w = walking.lsoa_walks(nottingham, lsoa, pd.concat([services, outside], ignore_index=True))
    crow = np.hypot(lsoa.x.to_numpy() - outside.x[0], lsoa.y.to_numpy() - outside.y[0]) / 1000
    could_be_nearer = crow < base.nearest_walk_km.to_numpy()
    assert could_be_nearer.any() and not could_be_nearer.all()
    assert w.nearest_walk_km[could_be_nearer].isna().all()
    np.testing.assert_allclose(w.nearest_walk_km[~could_be_nearer], base.nearest_walk_km[~could_be_nearer])
    assert w.n_walk_within.notna().all()  # counts of services in reach still stand


def test_family_list_walks_along_paths_inside_and_straight_outside(nottingham, notts_points):
    o, s, cc = notts_points
    table = pd.DataFrame({"name": cc.name, "x": cc.x, "y": cc.y})
    x, y = o[0]
    table["distance_km"] = np.hypot(table.x - x, table.y - y) / 1000
    out = walking.add_walks(nottingham, x, y, table)
    assert out.walk_basis.eq("paths").all()
    assert (out.walk_km >= out.distance_km - 1e-9).all()
    np.testing.assert_allclose(out.walk_min, out.walk_km / 4.8 * 60)
    assert out.walk_km.is_monotonic_increasing
    assert walking.walk_label(out.walk_min.iloc[0], "paths").endswith("min walk along paths")
    slow = walking.add_walks(nottingham, x, y, table, kmh=walking.PRAM_KMH)
    np.testing.assert_allclose(slow.walk_min, out.walk_min * 4.8 / 3.2)
    # Telford (TF1 1AA's neighbourhood) is far outside the extract: straight lines, and said so
    tx, ty = 369_900.0, 310_700.0
    table["distance_km"] = np.hypot(table.x - tx, table.y - ty) / 1000
    out = walking.add_walks(nottingham, tx, ty, table)
    assert out.walk_basis.eq("straight line").all()
    np.testing.assert_allclose(out.walk_km, out.distance_km)
    assert walking.walk_label(30, "straight line") == "about 30 min walk (straight line)"
    assert walking.walk_label(200, "paths") == "too far to walk"
    out = walking.add_walks(None, x, y, table)  # no extract in the raw folder at all
    assert out.walk_basis.eq("straight line").all()


def test_walking_pairs_feed_the_fca_code(nottingham, notts_points):
    from directory import access

    o, s, _ = notts_points
    radius = 1600.0
    pairs, walked = walking.walking_pairs(nottingham, o, s, radius)
    assert walked.all()
    full = nottingham.distances(o, s)
    i, j = np.nonzero(full <= radius)
    assert set(zip(pairs.i.tolist(), pairs.j.tolist())) == set(zip(i.tolist(), j.tolist()))
    np.testing.assert_allclose(np.sort(pairs.d), np.sort(full[i, j]))
    demand = np.ones(len(o))
    a = access.fca(pairs, demand, np.ones(len(s)), radius)
    # by hand: R_j = 1 / #origins within reach of j; A_i = sum over j within reach of i
    reach = full <= radius
    r = np.where(reach.sum(axis=0) > 0, 1 / np.maximum(reach.sum(axis=0), 1), 0)
    np.testing.assert_allclose(a, (reach * r[None, :]).sum(axis=1))


# ---------------------------------------------------------------- built once, reused; two extracts


def test_network_is_built_once_and_rebuilt_when_the_extract_changes(tmp_path, osm_dir):
    raw, out = tmp_path / "raw", tmp_path / "build"
    raw.mkdir()
    shutil.copy(osm_dir / "rutland-latest.osm.pbf", raw)
    assert walking.ensure_network(tmp_path / "empty", out) is None
    assert walking.needs_network(raw, out)
    seen = []
    net = walking.ensure_network(raw, out, progress=lambda f, m: seen.append(m))
    assert net.n_nodes > 40_000 and any("reading rutland" in m for m in seen)
    stamp = (out / "walking" / "network.npz").stat().st_mtime_ns
    assert not walking.needs_network(raw, out)
    again = walking.ensure_network(raw, out)
    assert (out / "walking" / "network.npz").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.length, net.length)
    shutil.copy(osm_dir / "chesterfield-s403df-20180521.osm.pbf", raw)  # a second extract
    assert walking.needs_network(raw, out)
    both = walking.ensure_network(raw, out)
    assert both.n_nodes > net.n_nodes + 29_000


OSMIUM = shutil.which("osmium")


def test_two_overlapping_halves_give_the_same_distances_as_the_whole(tmp_path, osm_dir, nottingham, notts_points):
    """England by region: cut the extract in two overlapping halves with Debian's osmium-tool
    (the 'simple' strategy truncates ways at the cut, the hardest case), build one network from
    both, and compare with the whole extract."""
    if OSMIUM is None:
        pytest.fail("osmium-tool is not installed (scripts/setup.sh --tests installs it)")
    src = osm_dir / "nottingham-nw-ng86ba-20180521.osm.pbf"
    mid, buffer = -1.2133, 0.01  # degrees of longitude; 0.01 is about 670 m
    halves = []
    for name, box in (("west", f"-1.27,52.96,{mid + buffer},53.02"), ("east", f"{mid - buffer},52.96,-1.16,53.02")):
        path = tmp_path / f"{name}.osm.pbf"
        subprocess.run([OSMIUM, "extract", "-b", box, "-s", "simple", "-o", str(path), str(src)], check=True,
                       capture_output=True)
        halves.append(path)
    merged = walking.build_network(halves)
    whole = nottingham
    assert merged.n_nodes == whole.n_nodes and merged.n_edges == whole.n_edges
    np.testing.assert_array_equal(merged.ids, whole.ids)
    # the same edges with the same lengths
    np.testing.assert_array_equal(merged.u, whole.u)
    np.testing.assert_allclose(merged.length, whole.length)
    o, s, _ = notts_points
    np.testing.assert_allclose(merged.distances(o, s), whole.distances(o, s), atol=1e-6)
    # one half alone is not enough: a neighbourhood in the west walks differently to the east's services
    west = walking.build_network(halves[:1])
    assert west.n_nodes < whole.n_nodes


def test_lsoa_measures_switch_to_walking_where_the_network_covers(nottingham, notts_points, areas):
    """The gap list and 2SFCA/E2SFCA with cost=WalkingCost: walked inside the network, unchanged outside."""
    from directory import access

    o, s, cc = notts_points
    services = pd.DataFrame({"x": s[:, 0], "y": s[:, 1]})
    line = access.lsoa_measures(areas.lsoa, services, radius_km=1.0)
    walk = access.lsoa_measures(areas.lsoa, services, radius_km=1.0, cost=walking.WalkingCost(nottingham))
    inside = walk.distance_basis.eq("walk").to_numpy()
    assert inside.sum() == len(o) and line.distance_basis.eq("straight line").all()
    # far from Nottingham nothing changes (no service of this set is near them either way)
    far = ~nottingham.in_boxes(areas.lsoa[["x", "y"]].to_numpy()) & (line.nearest_km.to_numpy() > 30)
    pd.testing.assert_frame_equal(walk[far].drop(columns="distance_basis"), line[far].drop(columns="distance_basis"))
    full = nottingham.distances(o, s)
    np.testing.assert_allclose(walk.nearest_km[inside], full.min(axis=1) / 1000)
    np.testing.assert_array_equal(walk.n_within[inside], (full <= 1000).sum(axis=1))
    assert (walk.nearest_km[inside].to_numpy() >= line.nearest_km[inside].to_numpy() - 1e-9).all()
    assert (walk.n_within[inside].to_numpy() <= line.n_within[inside].to_numpy()).all()
    # 2SFCA by hand over the walking pairs (demand: children 0-15 of the covered LSOAs only reach these services)
    pairs = walking.WalkingCost(nottingham).pairs(areas.lsoa[["x", "y"]].to_numpy(), s, 1000.0)
    P = areas.lsoa.children_0_15.to_numpy(float)
    np.testing.assert_allclose(walk.sfca_per_1000, access.fca(pairs, P, np.ones(len(s)), 1000.0) * 1000)
    gaps_line = access.gap_list(line[inside], radius_km=1.0, deciles=range(1, 11))
    gaps_walk = access.gap_list(walk[inside], radius_km=1.0, deciles=range(1, 11))
    assert set(gaps_line.lsoa21_code) <= set(gaps_walk.lsoa21_code)  # walking never brings a service nearer
