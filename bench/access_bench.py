"""Benchmark: our KD-tree access measures against PySAL `access` (the reference 2SFCA/E2SFCA).

    FSM_RAW_DATA=/work/shared/data python bench/access_bench.py [--radius 1.6] [--sizes 3000 30000]

For all 33,755 English LSOAs (demand: Census 2021 children 0-15 at the ONS
population-weighted centroids) against
  * every service location in the directory (today: the real GIAS maintained nursery schools), and
  * synthetic service sets of --sizes services, each placed at a REAL open establishment location
    from DfE Get Information About Schools (gias_open_establishments_20250524.csv.gz, English
    establishments with an easting/northing). When more services are asked for than there are
    locations, every location is used once and the rest are drawn again without replacement
    (so some locations hold two services, as co-located services do). Seeded, reproducible.
it computes, with directory.access (scipy cKDTree + numpy bincount):
    nearest service distance, services within the radius, 2SFCA and E2SFCA,
and the same measures with the reference tools on the same inputs:
    * cost table: every (LSOA, service) pair within the radius, found by geopandas' spatial join
      (predicate "dwithin", shapely STRtree) with its geometric distance. `access`'s own
      Access.create_euclidean_distance forms the full cross product of points (33,755 x 30,000 =
      10^9 rows) before filtering, which does not fit in memory for the larger sets; it is run
      as well ("access end to end") when the cross product has at most --native-max rows
      (default 2e7: the directory's 378 services, 12.8M rows, ~3 s and ~1 GB).
    * counts within the radius: access.Access.weighted_catchment with a supply of 1 per service;
    * 2SFCA: access.Access.two_stage_fca; E2SFCA: access.Access.enhanced_two_stage_fca with
      access.weights.step_fn at the same zone edges (d0/3, 2d0/3, d0; weights 1, 0.68, 0.22;
      both implementations put a distance exactly on an edge in the nearer zone);
    * nearest distance: `access` has no nearest-facility measure, so the reference is
      geopandas.sjoin_nearest (shapely STRtree).
Results must agree to 1e-9 relative (`access` leaves LSOAs with no service in reach as NaN;
ours gives 0 there: NaN is compared as 0). Times are the best of --repeat runs for ours and the
best of 2 runs for the reference (the first warms up caches). Supply: 1 per service (the
directory has no capacities yet). Ratios are reference time / our time.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory import access as A  # noqa: E402
from directory import config  # noqa: E402
from directory.areas import Areas  # noqa: E402

GIAS_FILE = "gias_open_establishments_20250524.csv.gz"


def gias_locations() -> np.ndarray:
    g = pd.read_csv(config.raw_dir() / GIAS_FILE, usecols=["urn", "easting", "northing", "lsoa_code"],
                    low_memory=False)
    for c in ("easting", "northing"):
        g[c] = pd.to_numeric(g[c], errors="coerce")
    g = g[g.lsoa_code.astype(str).str.startswith("E") & g.easting.gt(0) & g.northing.gt(0)]
    return g[["easting", "northing"]].to_numpy(float)


def synthetic_services(locations: np.ndarray, n: int, seed: int = 2025) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = []
    remaining = n
    while remaining > 0:
        take = min(remaining, len(locations))
        idx.append(rng.choice(len(locations), size=take, replace=False))
        remaining -= take
    xy = locations[np.concatenate(idx)]
    return pd.DataFrame({"service_id": np.arange(n), "x": xy[:, 0], "y": xy[:, 1]})


def ours(lsoa: pd.DataFrame, services: pd.DataFrame, radius_km: float, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = A.lsoa_access(lsoa, services, radius_km=radius_km, demand="children_0_15")
        best = min(best, time.perf_counter() - t)
    return out, best


def reference(lsoa: pd.DataFrame, services: pd.DataFrame, radius_km: float):
    import geopandas as gpd
    from access import Access, weights

    logging.getLogger("access").setLevel(logging.WARNING)
    radius_m = radius_km * 1000.0
    times = {}
    t0 = time.perf_counter()
    demand = gpd.GeoDataFrame(
        {"geoid": lsoa.lsoa21_code.to_numpy(), "children": lsoa.children_0_15.to_numpy(float)},
        geometry=gpd.points_from_xy(lsoa.x, lsoa.y), crs=27700)
    supply = gpd.GeoDataFrame(
        {"sid": services.index.to_numpy(), "supply": 1.0, "one": 1.0},
        geometry=gpd.points_from_xy(services.x, services.y), crs=27700)
    j = gpd.sjoin(demand, supply, predicate="dwithin", distance=radius_m, how="inner")
    cost = pd.DataFrame({
        "origin": j["geoid"].to_numpy(),
        "dest": j["sid"].to_numpy(),
        "cost": j.geometry.distance(supply.geometry.iloc[j["index_right"].to_numpy()], align=False).to_numpy(),
    })
    times["cost table (geopandas dwithin)"] = time.perf_counter() - t0

    acc = Access(demand_df=pd.DataFrame(demand.drop(columns="geometry")), demand_index="geoid",
                 demand_value="children", supply_df=pd.DataFrame(supply.drop(columns="geometry")),
                 supply_index="sid", supply_value=["supply", "one"], cost_df=cost, cost_origin="origin",
                 cost_dest="dest", cost_name="cost")
    t = time.perf_counter()
    counts = acc.weighted_catchment(name="count", supply_values="one", max_cost=radius_m)["count_one"]
    times["count (access.weighted_catchment)"] = time.perf_counter() - t
    t = time.perf_counter()
    sfca = acc.two_stage_fca(name="sfca", max_cost=radius_m, supply_values="supply")["sfca_supply"]
    times["2SFCA (access)"] = time.perf_counter() - t
    edges = np.asarray(A.LUO_QI.edges) * radius_m  # the same floats our StepDecay compares with
    fn = weights.step_fn(dict(zip(edges.tolist(), A.LUO_QI.weights)))
    t = time.perf_counter()
    e2sfca = acc.enhanced_two_stage_fca(name="e2sfca", max_cost=radius_m, supply_values="supply",
                                        weight_fn=fn)["e2sfca_supply"]
    times["E2SFCA (access)"] = time.perf_counter() - t
    t = time.perf_counter()
    near = gpd.sjoin_nearest(demand[["geoid", "geometry"]], supply[["geometry"]], distance_col="d")
    nearest = near.groupby("geoid")["d"].min()
    times["nearest (geopandas sjoin_nearest)"] = time.perf_counter() - t

    codes = lsoa.lsoa21_code.to_numpy()
    out = pd.DataFrame({
        "lsoa21_code": codes,
        "nearest_km": nearest.reindex(codes).to_numpy(float) / 1000.0,
        "n_within": counts.reindex(codes).fillna(0).to_numpy(float),
        "sfca_per_1000": sfca.reindex(codes).fillna(0).to_numpy(float) * 1000.0,
        "e2sfca_per_1000": e2sfca.reindex(codes).fillna(0).to_numpy(float) * 1000.0,
    })
    return out, times, len(cost)


def access_native(lsoa: pd.DataFrame, services: pd.DataFrame, radius_km: float):
    """`access` end to end, as its documentation shows: Euclidean costs from its own
    create_euclidean_distance, then the same count, 2SFCA and E2SFCA calls."""
    import geopandas as gpd
    from access import Access, weights

    radius_m = radius_km * 1000.0
    t0 = time.perf_counter()
    demand = gpd.GeoDataFrame(
        {"geoid": lsoa.lsoa21_code.to_numpy(), "children": lsoa.children_0_15.to_numpy(float)},
        geometry=gpd.points_from_xy(lsoa.x, lsoa.y), crs=27700)
    supply = gpd.GeoDataFrame({"sid": services.index.to_numpy(), "supply": 1.0, "one": 1.0},
                              geometry=gpd.points_from_xy(services.x, services.y), crs=27700)
    acc = Access(demand_df=demand, demand_index="geoid", demand_value="children", supply_df=supply,
                 supply_index="sid", supply_value=["supply", "one"])
    # its threshold keeps cost < threshold; nudge it so a pair at exactly d0 is kept, as max_cost does
    acc.create_euclidean_distance(threshold=np.nextafter(radius_m, np.inf))
    counts = acc.weighted_catchment(name="count", supply_values="one", max_cost=radius_m)["count_one"]
    sfca = acc.two_stage_fca(name="sfca", max_cost=radius_m, supply_values="supply")["sfca_supply"]
    edges = np.asarray(A.LUO_QI.edges) * radius_m
    fn = weights.step_fn(dict(zip(edges.tolist(), A.LUO_QI.weights)))
    e2sfca = acc.enhanced_two_stage_fca(name="e2sfca", max_cost=radius_m, supply_values="supply",
                                        weight_fn=fn)["e2sfca_supply"]
    secs = time.perf_counter() - t0
    codes = lsoa.lsoa21_code.to_numpy()
    out = pd.DataFrame({
        "n_within": counts.reindex(codes).fillna(0).to_numpy(float),
        "sfca_per_1000": sfca.reindex(codes).fillna(0).to_numpy(float) * 1000.0,
        "e2sfca_per_1000": e2sfca.reindex(codes).fillna(0).to_numpy(float) * 1000.0,
    })
    return out, secs


def max_rel_diff(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(scale > 0, np.abs(a - b) / scale, 0.0)
    return float(rel.max()) if len(rel) else 0.0


def run_case(name, lsoa, services, radius_km, repeat, native_max):
    ours_out, ours_t = ours(lsoa, services, radius_km, repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [reference(lsoa, services, radius_km) for _ in range(2)]
    ref_out, _, n_pairs = runs[-1]
    ref_times = {k: min(r[1][k] for r in runs) for k in runs[0][1]}
    ref_fca = ref_times["2SFCA (access)"] + ref_times["E2SFCA (access)"]
    # our FCA alone, given the pairs (the part `access` computes once it has a cost table)
    radius_m = radius_km * 1000
    pairs = A.pairs_within(lsoa[["x", "y"]].to_numpy(float), services[["x", "y"]].to_numpy(float), radius_m)
    P = lsoa.children_0_15.to_numpy(float)
    S = np.ones(len(services))
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        A.fca(pairs, P, S, radius_m)
        A.fca(pairs, P, S, radius_m, A.LUO_QI)
        best = min(best, time.perf_counter() - t)
    cols = ("nearest_km", "n_within", "sfca_per_1000", "e2sfca_per_1000")
    diffs = {c: max_rel_diff(ours_out[c], ref_out[c]) for c in cols}
    native_s, native_diff = None, None
    if len(lsoa) * len(services) <= native_max:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            native_out, native_s = access_native(lsoa, services, radius_km)
        native_diff = max(max_rel_diff(ours_out[c], native_out[c]) for c in cols[1:])
    return {
        "case": name, "services": len(services), "pairs": n_pairs, "ours_s": ours_t, "ref_s": sum(ref_times.values()),
        "ours_fca_s": best, "ref_fca_s": ref_fca, "ref_times": ref_times, "diffs": diffs,
        "native_s": native_s, "native_diff": native_diff,
        "agree": all(v <= 1e-9 for v in diffs.values()) and (native_diff is None or native_diff <= 1e-9),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--radius", type=float, default=A.DEFAULT_RADIUS_KM, help="catchment radius, km")
    ap.add_argument("--sizes", type=int, nargs="*", default=[3000, 30000],
                    help="synthetic service counts at real GIAS locations")
    ap.add_argument("--repeat", type=int, default=5, help="runs of ours (best time kept)")
    ap.add_argument("--native-max", type=float, default=2e7,
                    help="run access's own Euclidean cost step when LSOAs x services is at most this")
    args = ap.parse_args(argv)

    areas = Areas.load()
    lsoa = areas.lsoa
    from directory.store import Directory

    cases = [("directory (GIAS nursery schools)", Directory().service_frame()[["service_id", "x", "y"]])]
    if args.sizes:
        locs = gias_locations()
        print(f"GIAS: {len(locs):,} open English establishment locations with coordinates")
        cases += [("synthetic at real GIAS locations", synthetic_services(locs, n)) for n in args.sizes]

    import access as access_pkg

    print(f"{len(lsoa):,} LSOAs (England), radius {args.radius:g} km, demand children 0-15; "
          f"{platform.processor() or platform.machine()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"access {getattr(access_pkg, '__version__', '1.1.10.post3')}")
    rows = []
    for name, services in cases:
        r = run_case(name, lsoa, services.reset_index(drop=True), args.radius, args.repeat, args.native_max)
        rows.append(r)
        print(f"\n{r['case']}: {r['services']:,} services, {r['pairs']:,} LSOA-service pairs within "
              f"{args.radius:g} km")
        for step, secs in r["ref_times"].items():
            print(f"    reference {step:<38} {secs:8.3f} s")
        print("    max relative difference: " + ", ".join(f"{k} {v:.1e}" for k, v in r["diffs"].items()))
        if r["native_s"] is not None:
            print(f"    access end to end (its create_euclidean_distance + count + 2SFCA + E2SFCA): "
                  f"{r['native_s']:.2f} s, max relative difference {r['native_diff']:.1e}")

    print("\nAll England LSOAs; ours = directory.access (cKDTree + numpy); times are best of runs.")
    print("A: nearest + count + 2SFCA + E2SFCA from coordinates, ours vs geopandas STRtree cost table + access "
          "(+ sjoin_nearest)")
    print("B: 2SFCA + E2SFCA given the same pairs, ours (fca) vs access (two_stage_fca, enhanced_two_stage_fca)")
    print("C: count + 2SFCA + E2SFCA from coordinates, ours (all 4 measures) vs access end to end with its own "
          "Euclidean costs (only where the cross product fits)")
    print("\n| services | pairs within radius | ours, all 4 | A: reference | A: ratio | B: ours | B: access "
          "| B: ratio | C: access | C: ratio | max rel. diff | agree (1e-9) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for r in rows:
        native = (f"{r['native_s']:.2f} s | {r['native_s'] / r['ours_s']:.0f}x" if r["native_s"] is not None
                  else "not run (cross product too large) | -")
        diff = max(list(r["diffs"].values()) + ([r["native_diff"]] if r["native_diff"] is not None else []))
        print(f"| {r['services']:,} | {r['pairs']:,} | {r['ours_s'] * 1000:.1f} ms | {r['ref_s'] * 1000:.0f} ms "
              f"| {r['ref_s'] / r['ours_s']:.0f}x | {r['ours_fca_s'] * 1000:.2f} ms | {r['ref_fca_s'] * 1000:.0f} ms "
              f"| {r['ref_fca_s'] / r['ours_fca_s']:.0f}x | {native} | {diff:.1e} | {'yes' if r['agree'] else 'NO'} |")
    ok = all(r["agree"] for r in rows)
    under_1s = all(r["ours_s"] < 1.0 for r in rows)
    fca_20x = all(r["ref_fca_s"] / r["ours_fca_s"] >= 20 for r in rows)
    native_20x = all(r["native_s"] / r["ours_s"] >= 20 for r in rows if r["native_s"] is not None)
    end_20x = all(r["ref_s"] / r["ours_s"] >= 20 for r in rows)
    print(f"\nagreement: {'all measures agree to 1e-9' if ok else 'DISAGREEMENT'}")
    print(f"targets: England under 1 s: {'met' if under_1s else 'NOT met'}; >=20x faster than access "
          f"(B, same pairs): {'met' if fca_20x else 'NOT met'}; (C, access end to end): "
          f"{'met' if native_20x else 'NOT met'}; (A, vs geopandas STRtree + access): "
          f"{'met' if end_20x else 'not met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
