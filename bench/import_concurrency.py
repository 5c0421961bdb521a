"""Does a large import freeze other sessions? Family searches timed while a 20,000-row import runs.

    FSM_RAW_DATA=../shared/data .venv/bin/python bench/import_concurrency.py [--rows 20000]

Streamlit runs each browser session's script in its own thread of one process. This bench does the
same in one process: a thread runs a steward's import the way the Manage page does (read and validate
the CSV, review it against the directory, commit in one transaction, to a temporary SQLite file),
while the main thread runs family searches (postcode look-up, KD-tree search with filters, the
results map rendered to HTML, the list text) one after another. It prints the search time alone
(reference, same run) and during the import: searches slow down (they share the CPU and Python's
GIL with the import) but keep finishing; the longest gap between two finished searches shows whether
anyone was frozen. The CSV is bench/import_bench.py's (real GIAS locations, invented labels).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import bench_csv  # noqa: E402

from directory import maps, text  # noqa: E402
from directory.areas import Areas, attach_areas  # noqa: E402
from directory.bootstrap import seed  # noqa: E402
from directory.geocode import locate  # noqa: E402
from directory.ingest.review import commit, read_file, review  # noqa: E402
from directory.nearest import Filters, near  # noqa: E402
from directory.store import Directory  # noqa: E402

POSTCODES = ["TF1 1AA", "TF3 1LY", "TF1 3NT", "TF2 6NE"]


def search(areas, services, q):
    origin = locate(q, areas.postcodes, areas.places)
    found = near(services, origin.x, origin.y, 2.0, Filters((), False, False, None))
    res = found.table.head(50)
    maps.search_map(origin, 2.0, res).get_root().render()
    [text.details_markdown(r) for r in res.to_dict("records")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    args = ap.parse_args()
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    areas = Areas.load()
    with tempfile.TemporaryDirectory() as tmp:
        d = Directory(f"sqlite:///{tmp}/bench.sqlite").create()
        seed(d)
        services = attach_areas(d.service_frame(), areas)
        data = bench_csv(args.rows)
        for q in POSTCODES:
            search(areas, services, q)  # warm
        alone = []
        for i in range(40):
            t = time.perf_counter()
            search(areas, services, POSTCODES[i % 4])
            alone.append(time.perf_counter() - t)

        phases: dict[str, float] = {}

        def steward():
            t = time.perf_counter()
            rep = read_file("csv", data, "Bench council", areas.postcodes, d, "bench.csv", max_rows=args.rows)
            phases["read"] = time.perf_counter() - t
            rv = review(rep, d)
            phases["review"] = time.perf_counter() - t - phases["read"]
            commit(rv, d, "bench@example.org")
            phases["total"] = time.perf_counter() - t

        worker = threading.Thread(target=steward)
        during, finished = [], []
        start = time.perf_counter()
        worker.start()
        i = 0
        while worker.is_alive():
            t = time.perf_counter()
            search(areas, services, POSTCODES[i % 4])
            during.append(time.perf_counter() - t)
            finished.append(time.perf_counter())
            i += 1
        worker.join()
        gaps = [b - a for a, b in zip([start] + finished, finished)]
        print(f"\nimport of {args.rows:,} rows in a thread: {phases['total']:.1f} s (read {phases['read']:.1f} s, "
              f"review {phases['review']:.1f} s, commit {phases['total'] - phases['read'] - phases['review']:.1f} s)")
        print(f"family search alone (reference): median {statistics.median(alone) * 1000:.0f} ms, "
              f"max {max(alone) * 1000:.0f} ms ({len(alone)} searches)")
        print(f"family search during the import: median {statistics.median(during) * 1000:.0f} ms, "
              f"max {max(during) * 1000:.0f} ms ({len(during)} searches finished while it ran); "
              f"ratio {statistics.median(during) / statistics.median(alone):.1f}x")
        print(f"longest wait between two finished searches: {max(gaps) * 1000:.0f} ms")
        d.engine.dispose()


if __name__ == "__main__":
    main()
