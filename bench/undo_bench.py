"""Undoing an import, and record quality, at the size of a national list.

    FSM_RAW_DATA=../shared/data .venv/bin/python bench/undo_bench.py [--rows N]

Uses import_bench's CSV (services at real GIAS establishment locations, invented labels;
only ever in a temporary database). On a fresh SQLite file (and on PostgreSQL when
FSM_TEST_DATABASE_URL is set, in a throwaway schema):
- import A: N new services (the reference: the import's own commit, measured in the same run);
- import B: the same file with every second service renamed and every tenth closed;
- undo B:   every updated service restored (the ORM path), checked equal to the state after A;
- undo A:   every service removed (bulk deletes), checked empty;
- quality:  record_quality over the N services' flat table, against DataFrame.describe()
            of the same table as a reference.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import bench_databases  # noqa: E402
from import_bench import bench_csv, timed  # noqa: E402

from directory import quality  # noqa: E402
from directory.batches import undo_import  # noqa: E402
from directory.ingest.csv_import import read_services_csv  # noqa: E402
from directory.ingest.review import commit, review  # noqa: E402
from directory.store import Directory  # noqa: E402


def changed_file(data: bytes) -> bytes:
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    for i, r in enumerate(rows):
        if i % 2 == 0:
            r["name"] += " (renamed)"
        if i % 10 == 0:
            r["status"] = "defunct"
    out = io.StringIO()
    w = csv.DictWriter(out, list(rows[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def run(label: str, url: str, data: bytes, data_b: bytes, postcodes) -> None:
    d = Directory(url).create()
    t_a, a = timed(lambda: commit(review(read_services_csv(data, "Bench council", postcodes), d), d, "bench",
                                  kind="csv", file_name="a.csv"))
    after_a = d.records()
    t_b, b = timed(lambda: commit(review(read_services_csv(data_b, "Bench council", postcodes), d), d, "bench",
                                  kind="csv", file_name="b.csv"))
    t_ub, ub = timed(lambda: undo_import(d, b.batch_id, "bench"))
    assert d.records() == after_a, "undo B did not restore the state after A"
    t_ua, ua = timed(lambda: undo_import(d, a.batch_id, "bench"))
    assert d.count() == 0
    d.upsert(read_services_csv(data, "Bench council", postcodes).records, "bench")
    frame = d.service_frame()
    t_q, q = timed(lambda: quality.record_quality(frame))
    t_ref, _ = timed(lambda: frame.describe(include="all"))
    d.engine.dispose()
    print(f"{label:10} import A {a.new:,} new in {t_a:.2f} s; import B {b.updated:,} updated ({b.closed:,} closed) "
          f"in {t_b:.2f} s")
    print(f"{'':10} undo B: {ub['restored']:,} restored ({ub['reopened']:,} reopened) in {t_ub:.2f} s "
          f"= {t_ub / t_b:.2f}x import B; undo A: {ua['removed']:,} removed in {t_ua:.2f} s = {t_ua / t_a:.2f}x "
          "import A")
    print(f"{'':10} record quality of {len(q):,} services {t_q:.3f} s; reference DataFrame.describe() "
          f"{t_ref:.3f} s ({t_q / t_ref:.1f}x)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5_000)
    args = ap.parse_args()
    from directory.areas import Areas
    from directory.build import ensure_built

    ensure_built()
    postcodes = Areas.load().postcodes
    data = bench_csv(args.rows)
    data_b = changed_file(data)
    print(f"bench CSV: {args.rows:,} services at real GIAS establishment locations; load: "
          f"{os.getloadavg()[0]:.1f} (1-minute average, {os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as tmp:
        for label, url in bench_databases(tmp):
            run(label, url, data, data_b, postcodes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
