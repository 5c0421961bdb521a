"""Server-side load on the Find support page without a browser, speaking Streamlit's websocket protocol.

For N = 1, 5, 10, 20 concurrent family sessions (each a new websocket, each searching a different real
postcode from the built postcode table), measures the time from the rerun request to `script_finished`,
counts errors (exception elements, or no finish), and reads the server processes' CPU time and RSS
from /proc. Two layouts, each brought up by scripts/deploy-local.sh (PostgreSQL, nginx with sticky
sessions, production Streamlit settings): one Streamlit process behind nginx, and two.

    .venv/bin/python bench/load_bench.py [--n 1 5 10 20] [--rounds 3] [--layouts 1 2]

Targets on a 2-core machine: one search <= 0.1 s of server CPU; 20 concurrent through nginx with two
processes at p95 <= 2 s with no errors. The machine load (`uptime`) is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from directory import config  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def real_postcodes(n: int, seed: int = 10) -> list[str]:
    """n different real postcodes from the built postcode table (a fixed random sample)."""
    con = sqlite3.connect(config.build_dir() / "postcodes.sqlite")
    try:
        rows = [r[0] for r in con.execute("SELECT pcds FROM postcode ORDER BY pcd")]
    finally:
        con.close()
    return random.Random(seed).sample(rows, n)


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLK  # utime + stime
    return total


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        total += int(m[1]) if m else 0
    return total / 1024


async def one_search(ws_url: str, postcode: str, timeout: float = 120) -> tuple[float, bool]:
    """(seconds from the rerun request to script_finished, error?) for one new session; an empty postcode
    opens the page without a search."""
    msg = BackMsg()
    msg.rerun_script.query_string = f"q={postcode.replace(' ', '+')}" if postcode else ""
    msg.rerun_script.page_script_hash = ""
    msg.rerun_script.page_name = ""
    error = False
    async with websockets.connect(ws_url, max_size=None, ping_interval=None, open_timeout=timeout) as ws:
        t0 = time.perf_counter()
        await ws.send(msg.SerializeToString())
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout)
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element" \
                    and fm.delta.new_element.WhichOneof("type") == "exception":
                error = True
            elif kind == "script_finished":
                if fm.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                return time.perf_counter() - t0, error or fm.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY


async def burst(ws_url: str, postcodes: list[str]) -> list[tuple[float, bool]]:
    async def guarded(pc):
        try:
            return await one_search(ws_url, pc)
        except Exception:  # a refused or dropped connection is an error of the run
            return float("nan"), True

    return await asyncio.gather(*(guarded(pc) for pc in postcodes))


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(0.95 * len(xs) + 0.5) - 1))]


class Deployment:
    """scripts/deploy-local.sh with `processes` Streamlit processes behind nginx (stopped at the end)."""

    def __init__(self, processes: int, port: int):
        self.processes, self.port = processes, port

    def __enter__(self):
        self.proc = subprocess.Popen([str(ROOT / "scripts" / "deploy-local.sh"), "--port", str(self.port),
                                      "--processes", str(self.processes)], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.pids, lines = [], []
        for line in self.proc.stdout:
            lines.append(line)
            m = re.match(r"streamlit process \d+: pid (\d+)", line)
            if m:
                self.pids.append(int(m[1]))
            if line.startswith("ready:"):
                break
        else:
            raise SystemExit("deploy-local.sh failed:\n" + "".join(lines))
        self.ws = f"ws://127.0.0.1:{self.port}/_stcore/stream"
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def sequential_cpu(dep: "Deployment", postcodes: list[str]) -> float:
    """Server CPU seconds per session, one session after another."""
    c0 = cpu_seconds(dep.pids)
    for pc in postcodes:
        asyncio.run(burst(dep.ws, [pc]))
    return (cpu_seconds(dep.pids) - c0) / len(postcodes)


def run_layout(processes: int, ns: list[int], rounds: int, port: int) -> list[dict]:
    out = []
    with Deployment(processes, port) as dep:
        used = 4 * processes + 20
        codes = real_postcodes(used + sum(ns) * rounds)  # every search of the run a different postcode
        asyncio.run(burst(dep.ws, codes[:4 * processes]))  # warm every process (first run builds caches)
        # CPU per search: sequential searches, server CPU time over them; the reference, measured the same
        # way: the same page opened with no postcode (Streamlit's cost of a new session and the page's frame)
        cpu_per_search = sequential_cpu(dep, codes[4 * processes: used])
        cpu_reference = sequential_cpu(dep, [""] * 20)
        for n in ns:
            times, errors = [], 0
            c0 = cpu_seconds(dep.pids)
            for _ in range(rounds):
                res = asyncio.run(burst(dep.ws, codes[used:used + n]))
                used += n
                times += [t for t, e in res if t == t]
                errors += sum(e for _, e in res)
            searches = n * rounds
            out.append({"processes": processes, "n": n, "median": statistics.median(times) if times else float("nan"),
                        "p95": p95(times) if times else float("nan"), "errors": errors,
                        "cpu_per_search": (cpu_seconds(dep.pids) - c0) / searches,
                        "seq_cpu_per_search": cpu_per_search, "seq_cpu_reference": cpu_reference,
                        "rss_mb": rss_mb(dep.pids)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[1, 5, 10, 20])
    ap.add_argument("--rounds", type=int, default=3, help="bursts per N (each with new postcodes)")
    ap.add_argument("--layouts", type=int, nargs="+", default=[1, 2], help="Streamlit processes behind nginx")
    ap.add_argument("--port", type=int, default=18090)
    args = ap.parse_args()
    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    rows = []
    for processes in args.layouts:
        rows += run_layout(processes, args.n, args.rounds, args.port)
    print("load after: ", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"\nFind support, one new session per search, {args.rounds} bursts per N, each search a different real "
          "postcode; seconds from rerun to script_finished")
    print(f"{'processes':>9} {'N':>3} {'median s':>9} {'p95 s':>7} {'errors':>6} {'CPU s/search':>12} "
          f"{'RSS MB':>7}")
    for r in rows:
        print(f"{r['processes']:>9} {r['n']:>3} {r['median']:>9.2f} {r['p95']:>7.2f} {r['errors']:>6} "
              f"{r['cpu_per_search']:>12.3f} {r['rss_mb']:>7.0f}")
    for processes in args.layouts:
        row = next(r for r in rows if r["processes"] == processes)
        seq, ref = row["seq_cpu_per_search"], row["seq_cpu_reference"]
        print(f"{processes} process(es): one search alone costs {seq:.3f} s of server CPU (target <= 0.1 s); "
              f"reference, the page with no postcode: {ref:.3f} s ({seq / ref:.1f}x)")
    two = [r for r in rows if r["processes"] == 2 and r["n"] == 20]
    if two:
        print(f"20 concurrent through nginx, 2 processes: p95 {two[0]['p95']:.2f} s (target <= 2 s), "
              f"{two[0]['errors']} errors (target 0)")


if __name__ == "__main__":
    main()
