"""Benchmark: walking distances along OpenStreetMap paths, scipy's compiled Dijkstra vs networkx.

    FSM_RAW_DATA=/work/shared/data python bench/walk_bench.py [--repeat 3]

1. Build: for each OSM extract in the raw folder's osm/ (north-west Nottingham, Chesterfield,
   Rutland), directory.walking.build_network in a fresh Python process: seconds and peak
   resident memory above the process's baseline (ru_maxrss after the imports), and both per
   10,000 network nodes (for extrapolating to a region or England).
2. Routing, on the Nottingham network: every LSOA whose population-weighted centroid the
   network covers, to every service inside the extract: the real open establishments of DfE
   GIAS (gias_open_establishments_20250524.csv.gz, easting/northing) and the children's centres
   tagged in the OSM extract itself. Walking metres (snap + network + snap) by
     * ours: Network.distances (scipy.sparse.csgraph.dijkstra from each origin node, C), and
     * reference: networkx.single_source_dijkstra_path_length on the same graph (the same nodes
       and edge lengths), per origin node, the same snaps added;
   the distances must agree to 1 m (they agree to float rounding); the speed ratio is
   reference time / ours (best of --repeat for ours, one run of the reference). Also timed:
   the multi-source "nearest service" run (Network.nearest) for the same LSOAs.
Prints the machine load (uptime) first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory import config, walking  # noqa: E402

GIAS_FILE = "gias_open_establishments_20250524.csv.gz"
NOTTINGHAM = "nottingham-nw-ng86ba-20180521.osm.pbf"


def build_one(path: str) -> None:
    """Child process: build one network, print JSON figures."""
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    net = walking.build_network([path])
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    arrays = sum(a.nbytes for a in (net.ids, net.x, net.y, net.u, net.v, net.length, net.graph.data,
                                    net.graph.indices, net.graph.indptr, net.snappable))
    print(json.dumps({"nodes": net.n_nodes, "edges": net.n_edges, "km": net.info["km"], "seconds": secs,
                      "mb": (peak - base) / 1024, "net_mb": arrays / 2**20}))


def services_in(net: walking.Network, osm_path: Path) -> pd.DataFrame:
    g = pd.read_csv(config.raw_dir() / GIAS_FILE, usecols=["urn", "easting", "northing"], low_memory=False)
    for c in ("easting", "northing"):
        g[c] = pd.to_numeric(g[c], errors="coerce")  # a few rows of the file are shifted: no coordinates
    g = g[g.easting.gt(0) & g.northing.gt(0)]
    g = pd.DataFrame({"name": "GIAS " + g.urn.astype(str), "x": g.easting.to_numpy(float),
                      "y": g.northing.to_numpy(float)})
    cc = walking.tagged_childrens_centres(osm_path)[["name", "x", "y"]]
    s = pd.concat([g, cc], ignore_index=True)
    return s[net.snap(s[["x", "y"]].to_numpy()).covered].reset_index(drop=True), len(cc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--build-one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_one:
        build_one(args.build_one)
        return 0
    import networkx as nx

    from directory.areas import Areas
    from directory.build import ensure_built

    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, networkx {nx.__version__}")
    files = sorted(p for p in walking.osm_files() if p.parent.name == "osm")
    print("\n1. Build (fresh process per extract)")
    print("   MB: peak resident memory added by the build (osmium's node-location index, the Python lists of\n"
          "   way nodes, numpy); net MB: the network kept in memory (nodes, edges, CSR matrix)")
    print(f"{'extract':42} {'nodes':>8} {'edges':>8} {'km':>7} {'s':>6} {'MB':>6} {'net MB':>6} {'s/10k':>6} "
          f"{'MB/10k':>7}")
    per = []
    for p in files:
        out = subprocess.run([sys.executable, __file__, "--build-one", str(p)], capture_output=True, text=True,
                             check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        k = r["nodes"] / 10_000
        per.append((r["seconds"] / k, max(r["mb"], r["net_mb"]) / k))
        print(f"{p.name:42} {r['nodes']:>8,} {r['edges']:>8,} {r['km']:>7.0f} {r['seconds']:>6.2f} {r['mb']:>6.0f} {r['net_mb']:>6.1f} "
              f"{r['seconds'] / k:>6.2f} {max(r['mb'], r['net_mb']) / k:>7.1f}")
    if per:
        s10, m10 = np.mean([a for a, _ in per]), np.mean([b for _, b in per])
        print(f"mean per 10,000 nodes: {s10:.2f} s, {m10:.1f} MB. England at these extracts' densities (750 nodes/km2\n"
              f"urban, ~110 rural, 130,000 km2) is of the order of 20 million walkable nodes: about {s10 * 2000 / 60:.0f} min "
              f"and {m10 * 2000 / 1024:.1f} GB for the network alone, plus osmium's location index for every node\n"
              f"of the file: hence by region with an overlap buffer (README, 'Walking along real paths')")

    osm = next((p for p in files if p.name == NOTTINGHAM), None)
    if osm is None:
        print(f"\n{NOTTINGHAM} not in the raw folder: routing part skipped")
        return 0
    ensure_built()
    net = walking.build_network([osm])
    lsoa = Areas.load(config.build_dir()).lsoa
    o = lsoa[["x", "y"]].to_numpy(float)
    o = o[net.snap(o).covered]
    services, n_cc = services_in(net, osm)
    s = services[["x", "y"]].to_numpy(float)
    print(f"\n2. Routing on {osm.name}: {net.n_nodes:,} nodes, {net.n_edges:,} edges")
    print(f"   {len(o)} LSOA centroids covered x {len(s)} services ({len(s) - n_cc} GIAS establishments, "
          f"{n_cc} children's centres tagged in OSM) = {len(o) * len(s):,} walking distances")

    best = np.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = net.distances(o, s)
        best = min(best, time.perf_counter() - t0)

    # reference: networkx on the same graph
    G = nx.Graph()
    G.add_nodes_from(range(net.n_nodes))
    G.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist()))
    so, sd = net.snap(o), net.snap(s)
    # the same work as ours: one Dijkstra per distinct node of the smaller side
    t0 = time.perf_counter()
    flip = len(np.unique(sd.node)) < len(np.unique(so.node))
    a, b = (sd, so) if flip else (so, sd)
    net_m = np.empty((len(a.node), len(b.node)))
    cache = {}
    for i, node in enumerate(a.node):
        if node not in cache:
            lengths = nx.single_source_dijkstra_path_length(G, int(node), weight="weight")
            cache[node] = np.array([lengths.get(int(t), np.inf) for t in b.node])
        net_m[i] = cache[node]
    ref = (net_m.T if flip else net_m) + so.dist[:, None] + sd.dist[None, :]
    t_ref = time.perf_counter() - t0
    print(f"   both search from the {'services' if flip else 'LSOAs'} ({len(cache)} Dijkstra runs each)")

    fin = np.isfinite(ref)
    same_reach = bool((np.isfinite(ours) == fin).all())
    diff = float(np.abs(ours[fin] - ref[fin]).max()) if fin.any() else 0.0
    crow = np.hypot(o[:, None, 0] - s[None, :, 0], o[:, None, 1] - s[None, :, 1])
    print(f"   ours (scipy csgraph Dijkstra): {best * 1000:8.1f} ms (best of {args.repeat})")
    print(f"   networkx Dijkstra:             {t_ref * 1000:8.1f} ms")
    print(f"   speed ratio: {t_ref / best:.1f}x   max |difference|: {diff:.2e} m   same pairs reachable: {same_reach}")
    print(f"   walk >= straight line for every pair: {bool((ours[fin] >= crow[fin] - 1e-6).all())}; "
          f"detour walk/straight: median {np.median(ours[fin] / crow[fin]):.2f}")
    t0 = time.perf_counter()
    near_m, _ = net.nearest(o, s)
    t_near = time.perf_counter() - t0
    print(f"   nearest service for all {len(o)} LSOAs (one multi-source run): {t_near * 1000:.1f} ms; "
          f"matches the row minimum: {bool(np.allclose(near_m, ours.min(axis=1)))}")
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
