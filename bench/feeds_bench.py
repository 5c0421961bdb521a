"""Feed pull speed: 3,000 services with a detail call each, from the mimic ORUK API on loopback.

    FSM_RAW_DATA=../shared/data .venv/bin/python bench/feeds_bench.py [--services 3000] [--workers 8] [--latency 0.02]

The feed (tests/oruk_mimic.py, on 127.0.0.1, in a process of its own) serves our own ORUK 3.0 export of the seeded national
directory (GIAS children's centres and nursery schools: real services), without our `fsm_*` extension
fields so that it behaves as a council's feed (services stored under the feed's name): 30 pages of 100
in the ORUK 3.0 shape, then /services/{id} for each. Timed, into a fresh SQLite directory:
- pull:     every page and every full record (feed_pull.pull, `--workers` at a time), JSON parsed;
- validate: the ORUK importer on the pulled documents, and the sync review against the directory;
- commit:   the one-transaction write with its import batch;
- again:    a second sync of the unchanged feed (pull, validate, review: nothing to write).
References measured in the same run:
- http:     the same 3,030 GETs one after another with urllib, bytes only (what the HTTP alone costs);
  (--latency: each answer waits that long first, as a server across the internet would)
- file:     the same documents imported from one JSON file (read_oruk, review, commit), as a steward's
            upload would be: the pull adds its HTTP on top of this.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory import feeds  # noqa: E402
from directory.areas import Areas  # noqa: E402
from directory.bootstrap import seed  # noqa: E402
from directory.ingest.feed_pull import Settings, pull  # noqa: E402
from directory.ingest.oruk import export_oruk, read_oruk  # noqa: E402
from directory.ingest.review import commit, review  # noqa: E402
from directory.store import Directory  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.0,
                    help="seconds the mimic waits before each answer (a council's server across the internet)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fsm-feeds-bench-"))
    src = Directory(f"sqlite:///{tmp / 'src.sqlite'}").create()
    seed(src)
    docs = [{k: v for k, v in d.items() if not k.startswith("fsm_")}
            for d in export_oruk(src.stored())["contents"][: args.services]]
    postcodes = Areas.load().postcodes
    # the mimic in a process of its own (as a council's server is): in this one it would share the GIL
    (tmp / "docs.json").write_text(json.dumps(docs), encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "tests.oruk_mimic", str(tmp / "docs.json"),
                               str(args.latency)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    settings = Settings(per_page=100, workers=args.workers)
    print(f"{len(docs):,} services, {-(-len(docs) // 100)} pages of 100, {args.workers} workers, "
          f"{args.latency * 1000:g} ms added per answer; "
          f"load {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}")

    # reference: the HTTP alone, one request after another
    t = time.perf_counter()
    n_bytes = 0
    for page in range(1, -(-len(docs) // 100) + 1):
        with urllib.request.urlopen(f"{url}/services?page={page}&per_page=100") as r:
            n_bytes += len(r.read())
    for d in docs:
        with urllib.request.urlopen(f"{url}/services/{d['id']}") as r:
            n_bytes += len(r.read())
    http = time.perf_counter() - t

    # reference: the same documents from one file
    data = json.dumps(docs).encode()
    one = Directory(f"sqlite:///{tmp / 'file.sqlite'}").create()
    t = time.perf_counter()
    rep = read_oruk(data, "bench feed", postcodes, one.taxonomy_map(), limit_bytes=len(data) + 1, keyed=True)
    rv = review(rep, one, keyed=True)
    commit(rv, one, "bench", source="bench feed")
    from_file = time.perf_counter() - t

    # the feed sync, stage by stage
    d = Directory(f"sqlite:///{tmp / 'feed.sqlite'}").create()
    f = feeds.Feeds(d).add("bench feed", url, actor="bench")
    t = time.perf_counter()
    p = pull(url, settings)
    t_pull = time.perf_counter() - t
    t = time.perf_counter()
    result = feeds.check(d, f, postcodes, settings)
    t_check = time.perf_counter() - t
    t_validate = t_check - result.pull.seconds
    t = time.perf_counter()
    done = feeds.commit_result(d, result, "bench")
    t_commit = time.perf_counter() - t
    assert done.status == "committed" and done.written.new == len(docs) == len(p.documents), done.message
    t = time.perf_counter()
    again = feeds.sync(d, feeds.Feeds(d).get(f.id), postcodes, commit_it=True, actor="bench", settings=settings)
    t_again = time.perf_counter() - t
    assert again.status == "no changes", again.message
    server.terminate()
    server.wait(10)

    total = t_check + t_commit
    rows = [
        ("pull (pages + 3,000 full records)", t_pull, f"{len(docs) / t_pull:,.0f} services/s; "
                                                     f"{p.requests:,} requests, {p.bytes / 1e6:.1f} MB"),
        ("validate + sync review", t_validate, ""),
        ("commit (one transaction)", t_commit, ""),
        ("whole sync (check + commit)", total, f"{total / from_file:.2f}x the file import, "
                                               f"{t_pull / http:.2f}x the sequential HTTP"),
        ("again: unchanged feed, nothing written", t_again, ""),
        ("reference: sequential HTTP, bytes only", http, f"{n_bytes / 1e6:.1f} MB"),
        ("reference: same documents from one file", from_file, ""),
    ]
    for label, secs, note in rows:
        print(f"{label:42} {secs:7.2f} s   {note}")
    print(f"load after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
