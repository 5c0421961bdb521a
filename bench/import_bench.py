"""Import speed: a 10,000-row CSV of services through the steward's import, end to end.

    FSM_RAW_DATA=../shared/data .venv/bin/python bench/import_bench.py [--rows N]

The CSV is our template, generated for the bench: each row is a service placed at a real
GIAS establishment location (its latitude/longitude, from the shared GIAS file; no
postcodes, so no postcode look-ups), with invented labels ("Bench service 123") and
types, ages, costs and languages cycling through our values. It only ever goes into a
temporary database.

Timed, on a fresh SQLite file (and on PostgreSQL when FSM_TEST_DATABASE_URL is set, in
a throwaway schema):
- read:   parse and validate the CSV (read_services_csv);
- review: duplicate checks against the directory and new/updated/unchanged (review);
- commit: the one-transaction write of every service with its audit row (commit);
- again:  importing the same file a second time (read + review: all unchanged, nothing written).
Rows per second are for read + review + commit.

Second case: the real DfE GIAS children's centres extract (edubaseallchildrencentre20260821.csv,
2,846 rows, no coordinates: every centre placed at its postcode), with its links file:
- import into a fresh directory: read (layout, validation, postcode look-ups), review, commit;
- the sync review of the same extract again (read + review: all unchanged), and of the
  2025-12-16 version against it (new, changed, no longer listed, reappeared) with its commit.
The reference is a plain pandas read of the same file (`pd.read_csv`), measured in the same run. The reference, measured in the same run
on the same database, is a plain executemany of the same rows into one flat table (what
a bare INSERT costs, with no validation, no related tables and no audit); the ratio says
how many times longer the full import takes.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import bench_databases  # noqa: E402

from directory import config, taxonomy  # noqa: E402
from directory.ingest.csv_import import TEMPLATE_COLUMNS, read_services_csv  # noqa: E402
from directory.ingest.review import commit, review  # noqa: E402
from directory.store import Directory  # noqa: E402


def bench_csv(n: int) -> bytes:
    gias = pd.read_csv(config.raw_dir() / "gias_open_establishments_20250524.csv.gz",
                       usecols=["urn", "latitude", "longitude"])
    for c in ("latitude", "longitude"):
        gias[c] = pd.to_numeric(gias[c], errors="coerce")
    gias = gias.dropna()
    gias = gias[gias.latitude.between(49.9, 55.9)].reset_index(drop=True)  # England
    codes = [t.code for t in taxonomy.TERMS]
    out = io.StringIO()
    w = csv.DictWriter(out, TEMPLATE_COLUMNS, lineterminator="\r\n")
    w.writeheader()
    for i in range(n):
        p = gias.iloc[i % len(gias)]
        w.writerow({
            "source_id": f"bench-{i}", "name": f"Bench service {i}", "organization": f"Bench organisation {i % 150}",
            "types": "; ".join(sorted({codes[i % len(codes)], codes[(i * 7) % len(codes)]})),
            "description": "Generated for the import bench.", "latitude": f"{p.latitude:.6f}",
            "longitude": f"{p.longitude:.6f}", "min_age_months": str(i % 12), "max_age_months": str(12 + i % 48),
            "pregnancy": "yes" if i % 5 == 0 else "no", "free": "yes" if i % 2 else "no",
            "cost": "" if i % 2 else "£2 a session", "referral": ("self", "professional", "both")[i % 3],
            "phone": f"01952 {i:06d}", "email": f"bench{i}@example.org", "website": f"https://example.org/{i}",
            "schedule": "Tuesdays 10:00-11:30", "languages": "English; Polish" if i % 4 == 0 else "English",
            "last_verified": "2025-03-31", "capacity": str(10 + i % 20), "location_name": f"Site {p.urn}",
        })
    return out.getvalue().encode("utf-8")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def reference(url: str, rows: list[dict]) -> float:
    """A plain executemany of the same rows into one flat table, on the same database."""
    engine = create_engine(url)
    meta = MetaData()
    cols = [Column("id", Integer, primary_key=True)] + [
        Column(c, Float if c in ("latitude", "longitude", "capacity") else
               Integer if c.endswith("_months") else Text if c == "description" else String(300))
        for c in TEMPLATE_COLUMNS]
    flat = Table(f"bench_flat_{uuid.uuid4().hex[:8]}", meta, *cols)
    meta.create_all(engine)

    def value(c, v):
        if v == "":
            return None
        return float(v) if c in ("latitude", "longitude", "capacity") else int(v) if c.endswith("_months") else v

    params = [{c: value(c, r.get(c, "")) for c in TEMPLATE_COLUMNS} for r in rows]
    with engine.begin() as conn:
        t, _ = timed(lambda: conn.execute(flat.insert(), params))
    meta.drop_all(engine)
    engine.dispose()
    return t


def run(label: str, url: str, data: bytes, rows: list[dict], postcodes) -> None:
    d = Directory(url).create()
    t_read, report = timed(lambda: read_services_csv(data, "Bench council", postcodes))
    assert not report.problems and len(report.records) == len(rows), report.problems[:3]
    t_review, rv = timed(lambda: review(report, d))
    t_commit, done = timed(lambda: commit(rv, d, "bench"))
    assert done.new == len(rows)
    t_again, rv2 = timed(lambda: review(read_services_csv(data, "Bench council", postcodes), d))
    assert rv2.counts["unchanged"] == len(rows) and rv2.to_write == 0
    total = t_read + t_review + t_commit
    t_ref = reference(url, rows)
    d.engine.dispose()
    n = len(rows)
    print(f"{label:10} import {n:,} rows: {total:6.2f} s = {n / total:7,.0f} rows/s "
          f"(read {t_read:.2f} s, review {t_review:.2f} s, commit {t_commit:.2f} s); "
          f"re-import of the same file {t_again:.2f} s, nothing written")
    print(f"{'':10} reference: plain executemany of the same {n:,} rows into one table {t_ref:.3f} s "
          f"= {n / t_ref:,.0f} rows/s; the full import takes {total / t_ref:.0f}x as long")


def bench_gias_cc(postcodes) -> None:
    raw = config.raw_dir()
    path, links = raw / "edubaseallchildrencentre20260821.csv", raw / "links_edubaseallchildrencentre20260821.csv"
    older = raw / "gias_childrens_centres_history" / "edubaseallchildrencentre20251216.csv.gz"
    if not path.is_file():
        print(f"GIAS children's centres: {path} not found, skipped")
        return
    data, link_data = path.read_bytes(), links.read_bytes()
    t_ref = min(timed(lambda: pd.read_csv(path, dtype=str))[0] for _ in range(3))
    print(f"GIAS CC    reference: pandas read of {path.name} {t_ref:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for label, url in bench_databases(tmp, "gias.sqlite"):
            gias_cc_on(label, url, postcodes, (path.name, data, link_data), older, t_ref)


def gias_cc_on(label: str, url: str, postcodes, newest: tuple[str, bytes, bytes], older: Path, t_ref: float) -> None:
    """The newest extract into a fresh directory at `url`, its sync review again, then the older version's."""
    from directory.ingest.gias_cc import read_childrens_centres

    name, data, link_data = newest
    d = Directory(url).create()
    t_read, rep = timed(lambda: read_childrens_centres(data, postcodes, name, links=link_data))
    t_review, rv = timed(lambda: review(rep, d))
    t_commit, done = timed(lambda: commit(rv, d, "bench", skip_rejected=True))
    total = t_read + t_review + t_commit
    t_again, rv2 = timed(lambda: review(read_childrens_centres(data, postcodes, name, links=link_data), d))
    assert rv2.sync.counts["unchanged"] == done.new
    t_sync, rv3 = timed(lambda: review(read_childrens_centres(older.read_bytes(), postcodes, older.name), d))
    t_sync_commit, _ = timed(lambda: commit(rv3, d, "bench", skip_rejected=True))
    d.engine.dispose()
    c = rv3.sync.counts
    print(f"GIAS CC    {label}: import {rep.rows:,} rows ({done.new:,} placed, {len(rep.unplaceable)} unplaceable) "
          f"{total:6.2f} s (read {t_read:.2f} s, review {t_review:.2f} s, commit {t_commit:.2f} s; target <= 10 s), "
          f"{total / t_ref:.0f}x the pandas read")
    print(f"{'':10} sync review of the same extract again {t_again:.2f} s (all unchanged); of the 2025-12-16 version "
          f"{t_sync:.2f} s ({c['new']} new, {c['changed']} changed, {c['no_longer_listed']} no longer listed, "
          f"{c['reappeared']} reappeared) + commit {t_sync_commit:.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--gias-cc-only", action="store_true", help="only the GIAS children's centres case")
    args = ap.parse_args()
    from directory.areas import Areas
    from directory.build import ensure_built

    ensure_built()
    postcodes = Areas.load().postcodes
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    bench_gias_cc(postcodes)
    if args.gias_cc_only:
        return 0
    data = bench_csv(args.rows)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    print(f"bench CSV: {len(rows):,} rows, {len(data) / 1e6:.1f} MB, services at real GIAS establishment "
          "locations (latitude/longitude, no postcodes)")
    with tempfile.TemporaryDirectory() as tmp:
        for label, url in bench_databases(tmp):
            run(label, url, data, rows, postcodes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
