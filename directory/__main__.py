"""Command line: python -m directory --help"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import config

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_DATA = 0, 1, 2, 3


def progress_line(fraction: float, message: str) -> None:
    """One updating progress line on stderr."""
    bar = "#" * int(fraction * 20)
    end = "\n" if fraction >= 1 else ""
    sys.stderr.write(f"\r[{bar:<20}] {fraction:4.0%} {message:<60}{end}")
    sys.stderr.flush()


def cmd_data(args) -> int:
    from .build import build, needs_build
    from .sources import catalogue, download, find_files

    raw = config.raw_dir(args.raw)
    if args.action == "download":
        download(args.only or None, raw)
        return EXIT_OK
    if args.action == "status":
        cat = catalogue()
        for key, s in cat.sources.items():
            files = find_files(s, raw)
            state = ", ".join(p.name for p in files) if files else ("MISSING" if s.required else "absent (optional)")
            print(f"{key:20} {state}")
        print(f"\nraw folder:   {raw}\nbuild folder: {config.build_dir(args.out)}")
        print("build is", "out of date" if needs_build(raw, args.out) else "up to date")
        return EXIT_OK
    if args.force or needs_build(raw, args.out):
        t = time.perf_counter()
        build(raw, args.out, progress_line)
        print(f"built {config.build_dir(args.out)} in {time.perf_counter() - t:.1f} s")
    else:
        print(f"{config.build_dir(args.out)} is up to date (inputs unchanged)")
    return EXIT_OK


def cmd_seed(args) -> int:
    from .bootstrap import ensure_ready, seed

    directory = ensure_ready(args.raw, progress=progress_line)
    added = seed(directory, args.raw)
    print(f"directory {directory.url}: {directory.count()} services ({added} added now)")
    return EXIT_OK


def cmd_import_csv(args) -> int:
    from .areas import Areas
    from .bootstrap import ensure_ready
    from .ingest.csv_import import read_services_csv

    directory = ensure_ready(args.raw, progress=progress_line)
    data = Path(args.file).read_bytes()
    report = read_services_csv(data, args.source, Areas.load().postcodes)
    for p in report.problems:
        print(f"row {p.row}\t{p.field}\t{p.message}")
    states = directory.classify(report.records)
    counts = {k: sum(1 for v in states.values() if v == k) for k in ("new", "updated", "unchanged")}
    print(f"{report.rows} rows: {counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged, "
          f"{len(report.rejected_rows)} rejected")
    if report.problems:
        print("nothing written: fix the rows above (an import is all or nothing)")
        return EXIT_PROBLEMS
    if args.commit:
        s = directory.upsert(report.records, actor=f"csv import: {Path(args.file).name}")
        print(f"written: {s.new} new, {s.updated} updated")
    else:
        print("dry run: add --commit to write")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m directory", description="Family Support Map: data and directory tools")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--raw", help="folder of official raw files (default: $FSM_RAW_DATA or data/raw/)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", parents=[common], help="download official files, build derived data")
    d.add_argument("action", choices=["download", "build", "status"])
    d.add_argument("--out", help="build folder (default: $FSM_BUILD_DIR or data/build/)")
    d.add_argument("--force", action="store_true", help="rebuild even if inputs are unchanged")
    d.add_argument("--only", nargs="*", help="download only these sources (keys in data/sources.toml)")
    d.set_defaults(func=cmd_data)

    s = sub.add_parser("seed", parents=[common], help="create the directory and load the DfE GIAS maintained nursery schools")
    s.set_defaults(func=cmd_seed)

    c = sub.add_parser("import-csv", parents=[common], help="validate (and with --commit, write) a CSV of services")
    c.add_argument("file")
    c.add_argument("--source", required=True, help="who published the list, e.g. 'Telford & Wrekin Council 2025-11'")
    c.add_argument("--commit", action="store_true", help="write the records if there are no problems")
    c.set_defaults(func=cmd_import_csv)
    return p


def main(argv: list[str] | None = None) -> int:
    from .sources import DataError

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_DATA


if __name__ == "__main__":
    sys.exit(main())
