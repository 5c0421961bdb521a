"""Family search speed: data build, search latency, app cold start.

    FSM_RAW_DATA=../shared/data .venv/bin/python bench/find_bench.py [--services N] [--no-browser] [--cold-runs N]

Prints, each against a reference measured in the same run:
- build: a full build into a temporary folder (reference: reading the same raw files with pandas only);
- national postcodes: the postcode table from codepo_gb.zip (+ the NSPL subset) with LSOA 2021 by point in
  polygon (reference: pandas reading every area CSV of the zip), and the check that skips an unchanged build;
  the LSOA agreement rate with ONS;
- postcode lookup latency, p50/p99 over 20,000 real postcodes (reference: a Python dict lookup), and the
  memory the postcode table adds to a fresh process (RSS), against a dict of every postcode;
- search: locating every live postcode of the loaded NSPL and finding services within 2 km
  (KD-tree, what the app does) vs the same search by brute force (distance to every service);
- cold start: `streamlit run serve.py` (and, as the reference, `streamlit run dashboard.py`) until the
  Find support page shows results in Chromium, on a seeded and on an empty database.
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
from directory.nearest import ServiceIndex, near  # noqa: E402
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
        import zipfile

        for p in raw.iterdir():
            if p.suffix in (".csv", ".gz"):
                pd.read_csv(p, low_memory=False, encoding_errors="replace")
            elif p.name == "codepo_gb.zip":
                with zipfile.ZipFile(p) as zf:
                    for m in zf.namelist():
                        if m.startswith("Data/CSV/") and m.endswith(".csv"):
                            pd.read_csv(zf.open(m), header=None)

    t_read, _ = timed(read_only)
    print(f"build        {t_build:6.2f} s   (reading the raw CSVs alone with pandas: {t_read:.2f} s, "
          f"ratio {t_build / t_read:.1f}x)")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def bench_postcodes(raw: Path) -> None:
    import zipfile

    from directory.postcodes import agreement_line, build_postcodes
    from directory.sources import catalogue

    zpath = raw / "codepo_gb.zip"

    def pandas_read():
        with zipfile.ZipFile(zpath) as zf:
            return sum(len(pd.read_csv(zf.open(m), header=None)) for m in zf.namelist()
                       if m.startswith("Data/CSV/") and m.endswith(".csv"))

    t_ref, n_rows = timed(pandas_read)
    with tempfile.TemporaryDirectory() as tmp:
        cpu = time.process_time()
        t_pc, meta = timed(lambda: build_postcodes(raw, catalogue(), Path(tmp) / "postcodes.sqlite"))
        cpu = time.process_time() - cpu
    print(f"postcodes    national table {t_pc:6.2f} s ({cpu:.1f} s of CPU) for {meta['n_english']:,} English postcodes "
          f"(target <= 60 s); pandas reading the {n_rows:,} rows of the zip's area CSVs alone: {t_ref:.2f} s, "
          f"ratio {t_pc / t_ref:.1f}x")
    print(f"             {agreement_line(meta['agreement'])}; LSOA found by {meta['lsoa21_from']}")
    ensure_built(raw)
    from directory.manifest import needs_build

    t_skip, again = timed(lambda: needs_build(raw), repeat=5)
    print(f"             unchanged inputs: the build is skipped (needs_build {t_skip * 1e3:.1f} ms, "
          f"rebuild={again})")


def bench_lookup(areas: Areas, n: int = 20_000) -> None:
    """Per-call latency of PostcodeIndex.postcode and the memory it adds, each against a dict."""
    from directory.geocode import PostcodeIndex, parse_postcode

    con = sqlite3.connect(areas.postcodes.path)
    codes = [r[0] for r in con.execute(f"SELECT pcds FROM postcode ORDER BY random() LIMIT {n}")]
    con.close()
    pcs = [parse_postcode(c) for c in codes]
    # memory: a fresh process, before and after opening the index and looking up every postcode
    probe = (
        "import sys; sys.path.insert(0, %r)\n"
        "from bench.find_bench import rss_mb\n"
        "from directory.geocode import PostcodeIndex, parse_postcode\n"
        "import sqlite3, json\n"
        "codes = json.loads(sys.stdin.read())\n"
        "pcs = [parse_postcode(c) for c in codes]\n"
        "before = rss_mb()\n"
        "if sys.argv[1] == 'index':\n"
        "    ix = PostcodeIndex(%r)\n"
        "    hits = [ix.postcode(p) for p in pcs]\n"
        "else:\n"
        "    con = sqlite3.connect(%r)\n"
        "    d = {r[0]: r[1:] for r in con.execute('SELECT pcd, pcds, x, y, lon, lat, lsoa11, lsoa21 FROM postcode')}\n"
        "    hits = [d.get(p.compact) for p in pcs]\n"
        "print(rss_mb() - before, sum(h is not None for h in hits))\n"
    ) % (str(ROOT), str(areas.postcodes.path), str(areas.postcodes.path))
    import json

    mem = {}
    for kind in ("index", "dict"):
        out = subprocess.run([sys.executable, "-c", probe, kind], input=json.dumps(codes), capture_output=True,
                             text=True, check=True).stdout.split()
        mem[kind] = float(out[0])
    ix = PostcodeIndex(areas.postcodes.path)
    lat = np.empty(n)
    for i, p in enumerate(pcs):
        t = time.perf_counter()
        ix.postcode(p)
        lat[i] = time.perf_counter() - t
    con = sqlite3.connect(areas.postcodes.path)
    d = {r[0]: r[1:] for r in con.execute("SELECT pcd, pcds, x, y, lon, lat, lsoa11, lsoa21 FROM postcode")}
    con.close()
    ref = np.empty(n)
    for i, p in enumerate(pcs):
        t = time.perf_counter()
        d.get(p.compact)
        ref[i] = time.perf_counter() - t
    print(f"lookup       PostcodeIndex.postcode p50 {np.percentile(lat, 50) * 1e3:.3f} ms, p99 "
          f"{np.percentile(lat, 99) * 1e3:.3f} ms (target <= 1 ms); dict lookup p50 "
          f"{np.percentile(ref, 50) * 1e6:.2f} us, p99 {np.percentile(ref, 99) * 1e6:.2f} us; {n:,} real postcodes")
    print(f"memory       the postcode table adds {mem['index']:.1f} MB RSS to a fresh process (target <= 150 MB); "
          f"a dict of all {ix.n_postcodes:,} postcodes would add {mem['dict']:.0f} MB")


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
    """End to end: what one family search costs (postcode lookup, filters, KD-tree, the result table),
    with the ServiceIndex the app builds once per directory version (its build time printed).
    Core: the radius query itself, KD-tree vs brute force (distance to every service), same answers."""
    from scipy.spatial import cKDTree

    con = sqlite3.connect(areas.postcodes.path)
    codes = [r[0] for r in con.execute("SELECT pcds FROM postcode ORDER BY random() LIMIT 2000")]
    con.close()
    n = len(codes)
    t_index, index = timed(lambda: ServiceIndex(services))
    t_loc, origins = timed(lambda: [locate(c, areas.postcodes, areas.places) for c in codes])
    t_near, _ = timed(lambda: [near(index, o.x, o.y, 2.0) for o in origins])

    pts = services[["x", "y"]].to_numpy(float)
    tree = cKDTree(pts)
    xy = [(o.x, o.y) for o in origins]
    t_kd, a = timed(lambda: [sorted(tree.query_ball_point(p, 2000.0)) for p in xy], repeat=3)
    t_bf, b = timed(lambda: [np.flatnonzero(np.hypot(pts[:, 0] - p[0], pts[:, 1] - p[1]) <= 2000.0).tolist()
                             for p in xy], repeat=3)
    assert a == b, "KD-tree and brute force disagree"
    per = []
    for c in codes[:500]:
        t = time.perf_counter()
        o = locate(c, areas.postcodes, areas.places)
        near(index, o.x, o.y, 2.0)
        per.append(time.perf_counter() - t)
    print(f"search {label:>14}: end to end {(t_loc + t_near) / n * 1e3:5.2f} ms per search "
          f"(p50 {np.percentile(per, 50) * 1e3:.2f}, p99 {np.percentile(per, 99) * 1e3:.2f} ms; {len(services):,} "
          f"services; target <= 10 ms) (postcode {t_loc / n * 1e3:4.2f} ms; index built once {t_index * 1e3:.1f} ms); "
          f"radius query {t_kd / n * 1e6:6.1f} us with a KD-tree vs {t_bf / n * 1e6:7.1f} us brute force: "
          f"{t_bf / t_kd:5.1f}x; {n} real postcodes")


def bench_seed(raw: Path, areas: Areas) -> pd.DataFrame:
    """Seeding a fresh SQLite directory as a first start does (nursery schools and every children's
    centre), then the services frame the app searches (with their areas)."""
    from directory.areas import attach_areas
    from directory.bootstrap import seed

    with tempfile.TemporaryDirectory() as tmp:
        d = Directory(f"sqlite:///{Path(tmp) / 'seed.sqlite'}")
        t_seed, added = timed(lambda: seed(d.create(), raw, areas.postcodes))
        t_frame, frame = timed(lambda: attach_areas(d.service_frame(), areas))
        d.engine.dispose()
    print(f"seed         a fresh directory: {added:,} services in {t_seed:.2f} s; reading them for the app "
          f"{t_frame:.2f} s")
    return frame


def _pin_browser(cpus: set[int]) -> None:
    """Every Chromium process and thread to `cpus` (renderers started later inherit it)."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"chromium" in (proc / "cmdline").read_bytes():
                for task in (proc / "task").iterdir():
                    os.sched_setaffinity(int(task.name), cpus)
        except OSError:
            pass


def _cold_start(browser, entry: str, db_url: str, pinned: bool) -> tuple[float, float, float]:
    """`streamlit run <entry>` until the Find support page shows results in a new browser context, from
    the moment the server process starts: (server ready, first results, a second search in a new
    session) in seconds. `pinned`: the server on CPU 0 and the browser on CPU 1, as if the browser
    were on the family's own device; else both share every CPU."""
    import re

    port = 8765
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / entry), "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, FSM_DATABASE_URL=db_url),
        preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pinned else None,
    )
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.02)
        t_health = time.perf_counter() - t0
        first = browser.new_context()
        first.new_page().goto(f"http://127.0.0.1:{port}/?q=TF1+1AA&radius=10")
        first.pages[0].get_by_text(re.compile(r"^\d+ within 10 km of TF1 1AA")).wait_for(timeout=120_000)
        t_first = time.perf_counter() - t0
        second = browser.new_context()
        t2 = time.perf_counter()
        second.new_page().goto(f"http://127.0.0.1:{port}/?q=HG1+1AA&radius=10")
        second.pages[0].get_by_text(re.compile(r"within 10 km of HG1 1AA")).first.wait_for(timeout=60_000)
        t_second = time.perf_counter() - t2
        first.close()
        second.close()
    finally:
        proc.terminate()
        proc.wait()
    return t_health, t_first, t_second


def bench_cold_start(runs: int) -> None:
    """Cold starts of both entries, alternated `runs` times, with Chromium launched beforehand:
    serve.py (what scripts/run-dashboard.sh starts: imports and tables loaded while the browser loads
    the frontend) against plain `streamlit run dashboard.py` as the reference. A restart on a seeded
    database is the usual case after the build; a first start on an empty database also seeds it
    (2,846 children's centres and the nursery schools). Twice: with the browser on a CPU of its own
    (a family's browser is on their own device) and with browser and server sharing both CPUs."""
    from statistics import median

    from playwright.sync_api import sync_playwright

    def show(label, results):
        h, f, s2 = (median(r[i] for r in results) for i in range(3))
        spread = ", ".join(f"{r[1]:.2f}" for r in results)
        print(f"cold start   {label}: server ready {h:.2f} s; first results {f:.2f} s (median of {len(results)}: "
              f"{spread}; target <= 3 s); a second search in a new session {s2:.2f} s")
        return f

    entries = ["serve.py", "dashboard.py"]
    layouts = [True, False] if len(os.sched_getaffinity(0)) >= 2 else [False]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        seeded_url = f"sqlite:///{Path(tmp) / 'seeded.sqlite'}"
        _cold_start(browser, "dashboard.py", seeded_url, False)  # seeds it (not counted)
        for pinned in layouts:
            _pin_browser({1} if pinned else os.sched_getaffinity(0))
            where = "browser on CPU 1, server on CPU 0" if pinned else "browser and server sharing the CPUs"
            print(f"cold start   {where}:")
            restarts = {e: [] for e in entries}
            firsts = {e: [] for e in entries}
            for i in range(runs):
                for e in entries:
                    fresh = f"sqlite:///{Path(tmp) / f'fresh-{e}-{pinned}-{i}.sqlite'}"
                    firsts[e].append(_cold_start(browser, e, fresh, pinned))
                    restarts[e].append(_cold_start(browser, e, seeded_url, pinned))
            ratio = {}
            for e in entries:
                ratio[e] = show(f"  {e:12} restart (seeded database)", restarts[e])
                show(f"  {e:12} first start (empty database, seeded on the way)", firsts[e])
            print(f"               serve.py's first results come {ratio['dashboard.py'] / ratio['serve.py']:.2f}x "
                  f"sooner than dashboard.py's on a restart")
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, nargs="*", default=[3200, 30000])
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--cold-runs", type=int, default=5, help="cold starts of each entry (default 5)")
    ap.add_argument("--no-full-build", action="store_true", help="skip the full build into a temporary folder")
    ap.add_argument("--no-postcode-build", action="store_true", help="skip rebuilding the national postcode table")
    args = ap.parse_args()
    raw = config.raw_dir()
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    if not args.no_full_build:
        bench_build(raw)
    if not args.no_postcode_build:
        bench_postcodes(raw)
    ensure_built(raw)
    areas = Areas.load()
    bench_lookup(areas)
    bench_search(areas, bench_seed(raw, areas), "directory")
    for n in args.services:
        bench_search(areas, synthetic_services(raw, n), f"{n:,} at GIAS")
    if not args.no_browser:
        bench_cold_start(args.cold_runs)
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")


if __name__ == "__main__":
    main()
