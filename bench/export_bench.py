"""Benchmark: the national coverage tables and every export format, against plain pandas/geopandas writers.

    FSM_RAW_DATA=/work/shared/data python bench/export_bench.py [--radius 1.6] [--repeat 3] [--skip-reference-xlsx]

On all 33,755 English LSOAs against every service location in the directory (today the real
DfE GIAS maintained nursery schools), it times, best of --repeat runs:
  * building the tables: the LSOA table alone, and all five tables from one computation;
  * exporting the national LSOA table in each format (our writers: metadata, schema, safe text,
    geometry joined from the build), and Excel/GeoPackage with every table;
and, in the same run, reference writers with no metadata on the same data:
  * DataFrame.to_csv (the reference every ratio below is relative to),
  * DataFrame.to_excel (pandas + openpyxl),
  * GeoDataFrame.to_file for GeoJSON and GeoPackage (geopandas + pyogrio).
Every file written is read back and compared with the table in memory (not timed).
Results are printed and saved to bench/results/export_bench.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory import coverage as C  # noqa: E402
from directory import exports as E  # noqa: E402
from directory.areas import Areas, attach_areas  # noqa: E402
from directory.bootstrap import ensure_ready  # noqa: E402


def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def size(paths) -> int:
    return sum(Path(p).stat().st_size for p in paths)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--radius", type=float, default=1.6)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-reference-xlsx", action="store_true", help="DataFrame.to_excel takes a while")
    args = ap.parse_args()

    directory = ensure_ready()
    areas = Areas.load()
    services = attach_areas(directory.service_frame(), areas)
    _ = areas.lsoa, areas.lsoa_boundaries, areas.district_boundaries  # load once, outside the timings
    E._dissolved(str(areas.folder))

    rows = []
    t_lsoa, lsoa = best(lambda: C.lsoa_table(areas, services, radius_km=args.radius), args.repeat)
    t_all, tables = best(lambda: C.coverage_tables(areas, services, radius_km=args.radius), args.repeat)
    print(f"{len(areas.lsoa):,} LSOAs, {len(services):,} service locations, radius {args.radius:g} km; "
          f"python {platform.python_version()}, pandas {pd.__version__}")
    print(f"build: LSOA table {t_lsoa:.3f} s; all five tables {t_all:.3f} s "
          f"({', '.join(f'{k} {len(v.frame):,}' for k, v in tables.items())} rows)")

    with tempfile.TemporaryDirectory(prefix="fsm-bench-") as d:
        d = Path(d)
        frame = lsoa.frame
        gdf = E.geo_frame(lsoa, areas)

        t_ref, _ = best(lambda: frame.to_csv(d / "ref.csv", index=False), args.repeat)
        ref_size = (d / "ref.csv").stat().st_size

        def ours(name, fmt, what, path, check):
            t, paths = best(lambda: E.export(what, d / path, fmt, areas), args.repeat)
            check(d / path)
            rows.append({"what": name, "seconds": t, "bytes": size(paths), "ratio_to_csv_reference": t / t_ref})

        def same(a, b):
            pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry", errors="ignore")), b)

        ours("ours: LSOA csv + metadata.json", "csv", lsoa, "lsoa.csv",
             lambda p: same(E.read_csv(p).frame, frame))
        ours("ours: LSOA xlsx", "xlsx", lsoa, "lsoa.xlsx", lambda p: None)  # read back below (slow)
        ours("ours: LSOA geojson", "geojson", lsoa, "lsoa.geojson",
             lambda p: same(E.read_geojson(p).frame, frame))
        ours("ours: LSOA gpkg", "gpkg", lsoa, "lsoa.gpkg", lambda p: same(E.read_gpkg(p)["lsoa"].frame, frame))
        ours("ours: all 5 tables xlsx", "xlsx", tables, "all.xlsx", lambda p: None)
        ours("ours: all 5 tables gpkg", "gpkg", tables, "all.gpkg",
             lambda p: [same(E.read_gpkg(p)[k].frame, v.frame) for k, v in tables.items()])
        t_read = time.perf_counter()
        same(E.read_xlsx(d / "lsoa.xlsx")["lsoa"], frame)
        t_read = time.perf_counter() - t_read

        def ref(name, fn, path):
            t, _ = best(fn, args.repeat if "xlsx" not in path else 1)
            rows.append({"what": name, "seconds": t, "bytes": (d / path).stat().st_size,
                         "ratio_to_csv_reference": t / t_ref})

        rows.insert(0, {"what": "reference: DataFrame.to_csv", "seconds": t_ref, "bytes": ref_size,
                        "ratio_to_csv_reference": 1.0})
        if not args.skip_reference_xlsx:
            ref("reference: DataFrame.to_excel (openpyxl)", lambda: frame.to_excel(d / "ref.xlsx", index=False),
                "ref.xlsx")
        ref("reference: GeoDataFrame.to_file GeoJSON", lambda: gdf.to_file(d / "ref.geojson", driver="GeoJSON"),
            "ref.geojson")
        ref("reference: GeoDataFrame.to_file GPKG",
            lambda: (d / "ref.gpkg").unlink(missing_ok=True) or gdf.to_file(d / "ref.gpkg", driver="GPKG"), "ref.gpkg")

    print(f"\nexports of the national LSOA table ({len(frame):,} rows x {len(frame.columns)} columns), best of "
          f"{args.repeat}:")
    print(f"{'':44} {'seconds':>8} {'MB':>7} {'x to_csv':>9}")
    for r in rows:
        print(f"{r['what']:44} {r['seconds']:8.2f} {r['bytes'] / 1e6:7.1f} {r['ratio_to_csv_reference']:9.1f}")
    print(f"(reading the LSOA xlsx back with pandas took {t_read:.1f} s; every file read back equal to the table)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "export_bench.json").write_text(json.dumps(
        {"lsoas": len(areas.lsoa), "services": len(services), "radius_km": args.radius, "build_lsoa_s": t_lsoa,
         "build_all_s": t_all, "exports": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
