"""Family search speed: data build, search latency, app cold start.

    FSM_RAW_DATA=../shared/data .venv/bin/python bench/find_bench.py [--services N] [--no-browser]

Prints, each against a reference measured in the same run:
- build: a full build into a temporary folder (reference: reading the same raw files with pandas only);
- search: locating every live postcode of the loaded NSPL and finding services within 2 km
  (KD-tree, what the app does) vs the same search by brute force (distance to every service);
- cold start: `streamlit run` until the Find support page shows results in Chromium.
--services N places N services at real GIAS establishment locations (open schools etc.; their
names are not used) to show the search at the scale of a national directory.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory import config  # noqa: E402
from directory.areas import Areas  # noqa: E402
from directory.build import build, ensure_built  # noqa: E402
from directory.geocode import locate  # noqa: E402
from directory.nearest import near  # noqa: E402
from directory.store import Directory  # noqa: E402


def timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_build(raw: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t_build, _ = timed(lambda: build(raw, Path(tmp)))

    def read_only():
        for p in raw.iterdir():
            if p.suffix in (".csv", ".gz"):
                pd.read_csv(p, low_memory=False)

    t_read, _ = timed(read_only)
    print(f"build        {t_build:6.2f} s   (reading the raw CSVs alone with pandas: {t_read:.2f} s, "
          f"ratio {t_build / t_read:.1f}x)")


def synthetic_services(raw: Path, n: int) -> pd.DataFrame:
    with gzip.open(raw / "gias_open_establishments_20250524.csv.gz", "rt") as f:
        g = pd.read_csv(f, usecols=["urn", "easting", "northing"])
    for c in ("easting", "northing"):  # a few rows hold codes, not numbers: drop them
        g[c] = pd.to_numeric(g[c], errors="coerce")
    g = g.dropna()
    g = g.sample(n=min(n, len(g)), random_state=1)
    return pd.DataFrame({
        "service_id": g.urn.astype(str), "name": g.urn.astype(str), "x": g.easting.astype(float),
        "y": g.northing.astype(float), "types": [["early_education"]] * len(g), "referral": "self",
        "is_free": None, "pregnancy": False,
        "min_age_months": pd.array([None] * len(g), dtype="Int64"),
        "max_age_months": pd.array([None] * len(g), dtype="Int64"),
    })


def bench_search(areas: Areas, services: pd.DataFrame, label: str) -> None:
    """End to end: what one family search costs (postcode lookup, filters, KD-tree, the result table).
    Core: the radius query itself, KD-tree vs brute force (distance to every service), same answers."""
    from scipy.spatial import cKDTree

    con = sqlite3.connect(areas.postcodes.path)
    codes = [r[0] for r in con.execute("SELECT pcds FROM postcode ORDER BY random() LIMIT 2000")]
    con.close()
    n = len(codes)
    t_loc, origins = timed(lambda: [locate(c, areas.postcodes, areas.places) for c in codes])
    t_near, _ = timed(lambda: [near(services, o.x, o.y, 2.0) for o in origins])

    pts = services[["x", "y"]].to_numpy(float)
    tree = cKDTree(pts)
    xy = [(o.x, o.y) for o in origins]
    t_kd, a = timed(lambda: [sorted(tree.query_ball_point(p, 2000.0)) for p in xy], repeat=3)
    t_bf, b = timed(lambda: [np.flatnonzero(np.hypot(pts[:, 0] - p[0], pts[:, 1] - p[1]) <= 2000.0).tolist()
                             for p in xy], repeat=3)
    assert a == b, "KD-tree and brute force disagree"
    print(f"search {label:>14}: end to end {(t_loc + t_near) / n * 1e3:5.2f} ms per search "
          f"(postcode {t_loc / n * 1e3:4.2f} ms); radius query {t_kd / n * 1e6:6.1f} us with a KD-tree vs "
          f"{t_bf / n * 1e6:7.1f} us brute force: {t_bf / t_kd:5.1f}x; {n} real postcodes")


def bench_cold_start() -> None:
    from playwright.sync_api import sync_playwright

    port = 8765
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
    )
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        t_health = time.perf_counter() - t0
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            pg = b.new_page()
            t1 = time.perf_counter()
            pg.goto(f"http://127.0.0.1:{port}/?q=TF1+1AA&radius=10")
            pg.get_by_text("2 within 10 km of TF1 1AA").wait_for(timeout=60_000)
            t_first = time.perf_counter() - t1
            t2 = time.perf_counter()
            pg.goto(f"http://127.0.0.1:{port}/?q=HG1+1AA&radius=10")
            pg.get_by_text("within 10 km of HG1 1AA").first.wait_for(timeout=60_000)
            t_second = time.perf_counter() - t2
            b.close()
        print(f"cold start   server ready {t_health:.2f} s; first page with results {t_first:.2f} s "
              f"(data loaded and cached); a second search in a new session {t_second:.2f} s")
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, nargs="*", default=[3000, 30000])
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    raw = config.raw_dir()
    bench_build(raw)
    ensure_built(raw)
    areas = Areas.load()
    bench_search(areas, Directory().create().service_frame(), "directory")
    for n in args.services:
        bench_search(areas, synthetic_services(raw, n), f"{n:,} at GIAS")
    if not args.no_browser:
        bench_cold_start()


if __name__ == "__main__":
    main()
