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
    from .sources import catalogue, find_files

    raw = config.raw_dir(args.raw)
    if args.action == "download":
        return cmd_download(args, raw)
    if args.action == "status":
        from .sources import is_missing

        cat = catalogue()
        for key, s in cat.sources.items():
            files = find_files(s, raw)
            state = (", ".join(p.name for p in files) if files else "MISSING" if is_missing(s, raw, cat)
                     else f"not needed ({s.required_unless} is present)" if s.required else "absent (optional)")
            print(f"{key:20} {state}")
        print(f"\nraw folder:   {raw}\nbuild folder: {config.build_dir(args.out)}")
        print("build is", "out of date" if needs_build(raw, args.out) else "up to date")
        from .walking import needs_network, osm_files

        if osm_files(raw):
            print("walking network is", "out of date" if needs_network(raw, args.out) else "up to date")
        return EXIT_OK
    if args.force or needs_build(raw, args.out):
        t = time.perf_counter()
        build(raw, args.out, progress_line)
        print(f"built {config.build_dir(args.out)} in {time.perf_counter() - t:.1f} s")
    else:
        print(f"{config.build_dir(args.out)} is up to date (inputs unchanged)")
    from .walking import ensure_network, needs_network  # walking network: its own manifest (issue 15)

    fresh = needs_network(raw, args.out)
    net = ensure_network(raw, args.out, progress_line)
    if net is not None:
        print(f"walking network: {net.n_nodes:,} nodes, {net.info['km']:,} km of paths "
              f"({'built' if fresh else 'up to date'}; © OpenStreetMap contributors)")
    return EXIT_OK


def download_progress(key: str, done: int, total: int | None, unit: str) -> None:
    """One updating line per file on stderr: bytes, or rows for paged services."""
    of = f" of {total:,}" if total else ""
    pct = f" ({done / total:.0%})" if total else ""
    end = "\n" if total and done >= total else ""
    sys.stderr.write(f"\r  {key}: {done:,}{of} {unit}{pct}   {end}")
    sys.stderr.flush()


def cmd_download(args, raw: Path) -> int:
    from .download import Fetcher, download, listing
    from .sources import catalogue, is_missing

    if args.list:
        for line in listing():
            print(line)
        return EXIT_OK
    cat = catalogue()
    from .download import load_specs

    unknown = [k for k in args.only or () if k not in load_specs(cat=cat)]
    if unknown:
        print(f"error: no source called {', '.join(unknown)} (see: python -m directory data download --list)",
              file=sys.stderr)
        return EXIT_USAGE
    if args.if_missing:
        missing = [s.key for s in cat.sources.values() if is_missing(s, raw, cat)]
        if not missing:
            return EXIT_OK
        print(f"the raw folder {raw} lacks {', '.join(missing)}: downloading the official files")
    t = time.perf_counter()
    got = download(args.only or None, raw, fetcher=Fetcher(log=print, progress=download_progress))
    saved = [k for k, p in got.items() if p is not None]
    print(f"{len(saved)} source(s) in {raw} ({time.perf_counter() - t:.0f} s)")
    return EXIT_OK


def cmd_seed(args) -> int:
    from .bootstrap import prepare

    directory, added = prepare(args.raw, progress=progress_line)
    print(f"directory {directory.url}: {directory.count()} services ({added} added now)")
    return EXIT_OK


def cmd_import(args) -> int:
    """Validate a file (our CSV, ORUK JSON or GIAS children's centres), report, and with --commit write it."""
    from .areas import Areas
    from .bootstrap import ensure_ready
    from .ingest.review import ImportRefused, actor_for, commit, default_source, read_file, review

    kind = getattr(args, "kind", "csv")
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file {path}", file=sys.stderr)
        return EXIT_DATA
    source = args.source or default_source(kind)
    if not source:
        print("error: --source is required: who published the list, e.g. 'Telford & Wrekin Council'. Use the "
              "same name each time, so that re-importing updates instead of duplicating.", file=sys.stderr)
        return EXIT_USAGE
    directory = ensure_ready(args.raw, progress=progress_line)
    links = None
    if kind == "gias-cc":
        from .ingest.gias_cc import links_beside

        links_path = Path(args.links) if getattr(args, "links", None) else links_beside(path)
        if links_path is not None and not links_path.is_file():
            print(f"error: no file {links_path}", file=sys.stderr)
            return EXIT_DATA
        links = links_path.read_bytes() if links_path else None
        if links_path:
            print(f"links: {links_path}")
    report = read_file(kind, path.read_bytes(), source, Areas.load().postcodes, directory, path.name, links=links)
    rv = review(report, directory)
    for p in report.problems:
        print(f"{report.unit} {p.row}\t{p.severity}\t{p.field}\t{p.message}")
    for note in report.notes:
        print(f"note: {note}")
    for (vocabulary, term, name), n in report.unmapped_terms.most_common():
        print(f"unmapped term\t{vocabulary or '-'}\t{term}\t{name}\t{n} service(s)")
    if rv.sync is not None:
        from .ingest.sync import summary_lines

        for line in summary_lines(rv.sync):
            print(line)
    c = rv.counts
    print(f"{report.rows} {report.unit}s: {c['new']} new, {c['updated']} updated, {c['unchanged']} unchanged, "
          f"{c['rejected']} rejected, {c['skipped']} skipped, {c['warnings']} warnings")
    if len(rv.sources) > 1 or (rv.sources and source not in rv.sources):
        print("sources written: " + ", ".join(f"{k} ({v})" for k, v in rv.sources.items()))
    if report.errors and not args.skip_rejected:
        print(f"nothing written: fix the {report.unit}s above, or add --skip-rejected to import the rest "
              "(an import is all or nothing)")
        return EXIT_PROBLEMS
    if not args.commit:
        print("dry run: add --commit to write")
        return EXIT_OK
    try:
        s = commit(rv, directory, actor_for(args.steward, kind, path.name), skip_rejected=args.skip_rejected,
                   source=source, kind=kind, file_name=path.name, steward=args.steward)
    except ImportRefused as e:
        print(f"nothing written: {e}")
        return EXIT_PROBLEMS if report.errors else EXIT_OK
    print(f"written: {s.new} new, {s.updated} updated, {s.unchanged} unchanged (import {s.batch_id}: undo it "
          f"with `python -m directory undo-import {s.batch_id} --steward NAME`)")
    return EXIT_OK


def cmd_import_csv(args) -> int:
    args.kind = "csv"
    return cmd_import(args)


def cmd_export(args) -> int:
    from .ingest.csv_import import export_csv
    from .ingest.oruk import export_json
    from .store import Directory

    directory = Directory().create()
    if args.format == "oruk":
        text = export_json(directory.stored())
    else:
        text = export_csv([s.record for s in directory.stored()])
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8", newline="")
        print(f"wrote {directory.count()} services to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_db(args) -> int:
    from .migrate import current, head
    from .store import Directory

    directory = Directory(args.url)
    if args.action == "upgrade":
        directory.create()
    print(f"{directory.url}: revision {current(directory.engine) or 'none'} (newest {head()})")
    return EXIT_OK


def cmd_undo(args) -> int:
    from .store import Directory, NotFound, StaleEdit

    directory = Directory().create()
    try:
        what = directory.undo(args.service_id, actor=args.steward)
    except (NotFound, StaleEdit, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"undid the last change ({what}) of service {args.service_id}")
    return EXIT_OK


def cmd_not_verified(args) -> int:
    from datetime import date, timedelta

    from .store import Directory

    rows = Directory().create().not_verified_since(date.today() - timedelta(days=args.days))
    for r in rows:
        print(f"{r['last_verified'] or 'never':10}\t{r['source']}\t{r['name']}\t{r['id']}")
    print(f"{len(rows)} active services not verified in the last {args.days} days", file=sys.stderr)
    return EXIT_OK


COVERAGE_LEVELS = ("lsoa", "district", "utla", "sicbl", "icb", "region", "england", "service")  # coverage.LEVELS
COVERAGE_FORMATS = ("csv", "xlsx", "geojson", "gpkg")
COVERAGE_EPILOG = """\
levels:
  lsoa      one row per LSOA 2021: codes and names, IMD and domain deciles, children 0-15,
            income-deprived children, nearest service, services within the radius,
            2SFCA/E2SFCA per 1,000 children, gap flag
  district, utla, sicbl, icb, region, england
            one row per local authority district, upper-tier authority (county or
            unitary council: they commission children's centres), NHS sub-ICB location,
            Integrated Care Board, region or England: children 0-15, under 5 and
            income-deprived within reach (in total and per IMD decile), services, services
            per 1,000 children, gap LSOAs and their children, and equity (share within
            reach in IMD deciles 1-2 against 9-10, their ratio, concentration index)
  service   one row per service location: its LSOA, district, region, IMD decile, and the
            children within the radius
  all       every table (xlsx and gpkg hold several; csv and geojson hold one)

Demand (2SFCA/E2SFCA, gap children, equity) is children under 5 unless --demand says otherwise.
Every file states its parameters, demand, lookup and data vintages and when it was made: a "metadata" sheet
(xlsx), a top-level "metadata" member (geojson), layer metadata and a "metadata" table
(gpkg), or NAME.metadata.json beside the CSV.

examples:
  python -m directory coverage --level district --radius-km 1.6 --format xlsx --out districts.xlsx
  python -m directory coverage --level lsoa --authority E06000020 --out telford.gpkg
  python -m directory coverage --level district utla --utla "Worcestershire" --out worcs.xlsx
  python -m directory coverage --level icb --demand children_0_15 --out icbs.csv
  python -m directory coverage --level all --region "North East" --types early_education --out ne.xlsx

exit codes: 0 written; 1 the file could not be written; 2 bad arguments (unknown authority,
region or type, radius not above 0, ...); 3 the official data files are missing or wrong
"""


def cmd_coverage(args) -> int:
    from .areas import Areas, attach_areas
    from .bootstrap import ensure_ready
    from .coverage import CoverageError, check_params, coverage_tables
    from .exports import SINGLE_TABLE, ExportError, export, format_of
    from .sources import DataError

    t0 = time.perf_counter()

    def usage(e) -> int:
        print(f"error: {e}\n(see: python -m directory coverage --help)", file=sys.stderr)
        return EXIT_USAGE

    levels = list(COVERAGE_LEVELS) if "all" in args.level else list(dict.fromkeys(args.level))
    types = [t.strip() for v in args.types or () for t in v.split(",") if t.strip()]
    out = Path(args.out)
    try:
        fmt = format_of(out, args.format)
        if fmt in SINGLE_TABLE and len(levels) > 1:
            raise ExportError(f"a {fmt} file holds one table, and {len(levels)} levels were asked for: choose one "
                              "--level, or write xlsx or gpkg (one sheet or layer per table)")
        check_params(None, types=types, radius_km=args.radius_km, deciles=args.gap_deciles, demand=args.demand)
        if "all" in args.level and len(args.level) > 1:
            raise ExportError("--level all already holds every table: give it alone")
    except (CoverageError, ExportError) as e:
        return usage(e)
    if not out.parent.resolve().is_dir():
        return usage(f"the folder {out.parent} does not exist")

    progress_line(0.0, "loading areas and services")
    try:
        directory = ensure_ready(args.raw, progress=progress_line)
    except DataError:
        sys.stderr.write("\n")  # end the progress line before main() prints the error
        raise
    areas = Areas.load()
    services = attach_areas(directory.service_frame(), areas)
    from .walking import ensure_network

    net = ensure_network(args.raw) if "lsoa" in levels else None  # nearest_walk_km, walk_detour (issue 15)
    progress_line(0.3, f"computing access for {len(areas.lsoa):,} LSOAs and {len(services):,} services")
    try:
        tables = coverage_tables(areas, services, levels, types, args.radius_km, deciles=args.gap_deciles,
                                 demand=args.demand, authority=args.authority or (), region=args.region or (),
                                 utla=args.utla or (), icb=args.icb or (), sicbl=args.sicbl or (),
                                 walking_network=net)
    except CoverageError as e:
        sys.stderr.write("\n")
        return usage(e)
    progress_line(0.6, f"writing {fmt}")
    try:
        paths = export(tables, out, fmt, areas)
    except OSError as e:
        sys.stderr.write("\n")
        print(f"error: could not write {out}: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    progress_line(1.0, f"done in {time.perf_counter() - t0:.1f} s")
    for note in dict.fromkeys(n for t in tables.values() for n in t.metadata["notes"]):
        if note.startswith("No service"):
            print(f"note: {note}", file=sys.stderr)
    for name, t in tables.items():
        print(f"{name}: {len(t.frame):,} rows")
    for p in paths:
        print(f"wrote {p} ({p.stat().st_size:,} bytes)")
    return EXIT_OK


def table_target(args, default: str | None = None) -> tuple[Path, str | None]:
    """(--out, csv or xlsx) of a table-writing command: --format, else the --out extension (else `default`).
    The format is None, with the error printed, when it is neither or --out's folder does not exist."""
    out = Path(args.out)
    fmt = (args.format or out.suffix.lstrip(".") or default or "").lower()
    if fmt not in ("csv", "xlsx"):
        print(f"error: --format must be csv or xlsx, or give --out a .csv or .xlsx name (got {fmt or 'none'!r})",
              file=sys.stderr)
        return out, None
    if not out.parent.resolve().is_dir():
        print(f"error: the folder {out.parent} does not exist", file=sys.stderr)
        return out, None
    return out, fmt


def cmd_centre_history(args) -> int:
    """What changed since 2016 in the GIAS children's centres register, per area."""
    from . import history
    from .areas import Areas
    from .build import ensure_built

    out, fmt = table_target(args)
    if fmt is None:
        return EXIT_USAGE
    raw = config.raw_dir(args.raw)
    ensure_built(raw, progress=progress_line)
    try:
        h = history.load(raw, Areas.load(), args.radius_km)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_DATA
    try:
        paths = history.write(h, args.level, out, fmt)
    except OSError as e:
        print(f"error: could not write {out}: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    e = h.table("england").iloc[0]
    print(f"{len(h.dates)} versions {h.dates[0]} to {h.dates[-1]}: {e.listed_then:,} centres listed then, "
          f"{e.listed_now:,} now, {e.no_longer_listed:,} no longer listed, {e.newly_listed:,} newly listed")
    if len(h.unplaced):
        print(f"note: {len(h.unplaced)} centres could not be placed by postcode; they count in England's row and "
              "are listed in the file's notes", file=sys.stderr)
    print(f"note: {history.FLOOR_NOTE}", file=sys.stderr)
    for p in paths:
        print(f"wrote {p} ({p.stat().st_size:,} bytes)")
    return EXIT_OK


def cmd_quality(args) -> int:
    """Record quality per record (worst first), per source or per upper-tier authority, as CSV or Excel."""
    from datetime import date

    import pandas as pd

    from . import quality
    from .areas import Areas, attach_areas
    from .bootstrap import ensure_ready

    out, fmt = table_target(args, default="csv")
    if fmt is None:
        return EXIT_USAGE
    try:
        today = date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        print(f"error: --as-of must be a date YYYY-MM-DD (got {args.as_of!r})", file=sys.stderr)
        return EXIT_USAGE
    directory = ensure_ready(args.raw, progress=progress_line)
    services = attach_areas(directory.service_frame(), Areas.load())
    no_building = directory.area_service_frame()  # phone, online, home visits: their service areas
    if len(no_building):
        from .service_areas import with_areas

        services = pd.concat([services, with_areas(no_building)], ignore_index=True)
    if args.source:
        services = services[services.source.isin(args.source)]
    if args.utla:
        services = services[services["utla23_code"].isin(args.utla)] if "utla23_code" in services else services[:0]
    table = quality.quality_table(services, args.by, today)
    try:
        quality.write_table(table, out, fmt)
    except OSError as e:
        print(f"error: could not write {out}: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"wrote {out}: {len(table):,} rows ({args.by})")
    return EXIT_OK


def cmd_imports(args) -> int:
    from .batches import list_imports
    from .store import Directory

    rows = list_imports(Directory().create(), limit=args.limit)
    for b in rows:
        undone = f"\tundone {b['undone_at']:%Y-%m-%d %H:%M} by {b['undone_by']}" if b["undone_at"] else ""
        print(f"{b['id']}\t{b['at']:%Y-%m-%d %H:%M}\t{b['actor']}\t{b['source'] or ''}\t{b['file_name'] or ''}\t"
              f"{b['new']} new, {b['updated']} updated ({b['closed']} closed), {b['unchanged']} unchanged{undone}")
    print(f"{len(rows)} imports", file=sys.stderr)
    return EXIT_OK


def cmd_undo_import(args) -> int:
    from .batches import UndoRefused, undo_import
    from .store import Directory, NotFound

    try:
        r = undo_import(Directory().create(), args.batch_id, args.steward)
    except (NotFound, UndoRefused) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"undid import {args.batch_id}: {r['removed']} services removed, {r['restored']} restored "
          f"({r['reopened']} reopened), {r['skipped']} already as before")
    return EXIT_OK


def quality_epilog() -> str:
    from .quality import FACTS

    facts = "\n".join(f"  {f.name:9} {f.rule}" for f in FACTS)
    return "facts (a record has each or misses it; the score counts the facts it has, 0-10):\n" + facts + QUALITY_EPILOG


QUALITY_EPILOG = """

--by record   one row per service, worst first: service_id, name, source, utla_code, utla_name,
              score, missing (the facts' names joined by ";"), location_precision, one column per fact
--by source   per source: records, mean_score, and for each fact its count and share (0-1)
--by utla     the same per upper-tier authority (county or unitary council)

examples:
  python -m directory quality --by record --format csv --out quality.csv
  python -m directory quality --by utla --format xlsx --out quality-by-council.xlsx
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m directory", description="Family Support Map: data and directory tools")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--raw", help="folder of official raw files (default: $FSM_RAW_DATA or data/raw/)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", parents=[common], help="download official files, build derived data")
    d.add_argument("action", choices=["download", "build", "status"])
    d.add_argument("--out", help="build folder (default: $FSM_BUILD_DIR or data/build/)")
    d.add_argument("--force", action="store_true", help="rebuild even if inputs are unchanged")
    d.add_argument("--only", nargs="*", metavar="NAME",
                   help="download only these sources (keys of data/sources.toml; see --list)")
    d.add_argument("--list", action="store_true", help="download: list every source (name, method, URL)")
    d.add_argument("--if-missing", action="store_true",
                   help="download: do nothing unless a required source is missing from the raw folder")
    d.set_defaults(func=cmd_data)

    s = sub.add_parser("seed", parents=[common], help="create the directory and load the DfE GIAS maintained nursery schools and children's centres")
    s.set_defaults(func=cmd_seed)

    c = sub.add_parser("import-csv", parents=[common], help="validate (and with --commit, write) a CSV of services")
    c.add_argument("file")
    c.add_argument("--source", required=True, help="who published the list, e.g. 'Telford & Wrekin Council 2025-11'")
    c.add_argument("--commit", action="store_true", help="write the records if there are no problems")
    c.add_argument("--skip-rejected", action="store_true", help="write the good records even if some are rejected")
    c.add_argument("--steward", default="command line", help="who is importing (recorded in the audit trail)")
    c.set_defaults(func=cmd_import_csv)

    i = sub.add_parser("import", parents=[common],
                       help="validate (and with --commit, write) our CSV, an Open Referral UK JSON file, a DfE "
                            "GIAS children's centres CSV or DfE's list of family hub sites")
    i.add_argument("kind", choices=["csv", "oruk", "gias-cc", "family-hubs"])
    i.add_argument("file")
    i.add_argument("--source", help="who published the list (same name each time: re-imports update, not "
                                    "duplicate); default for gias-cc: DfE GIAS children's centres, for "
                                    "family-hubs: DfE family hub sites")
    i.add_argument("--commit", action="store_true", help="write the records (one transaction)")
    i.add_argument("--skip-rejected", action="store_true", help="write the good records even if some are rejected")
    i.add_argument("--steward", default="command line", help="who is importing (recorded in the audit trail)")
    i.add_argument("--links", help="gias-cc: GIAS's links file (default: links_<file name> beside the file)")
    i.set_defaults(func=cmd_import)

    e = sub.add_parser("export-directory", help="write every service as Open Referral UK JSON or our CSV template")
    e.add_argument("--format", choices=["oruk", "csv"], default="oruk")
    e.add_argument("-o", "--output", help="file to write (default: standard output)")
    e.set_defaults(func=cmd_export)

    b = sub.add_parser("db", help="database schema: upgrade to the newest migration, or show the current one")
    b.add_argument("action", choices=["upgrade", "current"])
    b.add_argument("--url", help="SQLAlchemy URL (default: $FSM_DATABASE_URL or data/directory.sqlite)")
    b.set_defaults(func=cmd_db)

    u = sub.add_parser("undo", help="undo the last change of a service (itself recorded)")
    u.add_argument("service_id")
    u.add_argument("--steward", required=True, help="who is undoing (recorded in the audit trail)")
    u.set_defaults(func=cmd_undo)

    v = sub.add_parser("not-verified", help="list active services not verified recently")
    v.add_argument("--days", type=int, default=365)
    v.set_defaults(func=cmd_not_verified)
    q = sub.add_parser("quality", parents=[common], help="record quality: what each record lacks for families",
                       description="Which family-critical facts each active service has, per record, source or "
                                   "upper-tier authority.", epilog=quality_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("--by", choices=["record", "source", "utla"], default="record")
    q.add_argument("--format", choices=["csv", "xlsx"], help="file format (default: from the --out extension)")
    q.add_argument("--out", required=True, metavar="FILE")
    q.add_argument("--source", action="append", help="keep one source (exact name); repeatable")
    q.add_argument("--utla", action="append", metavar="CODE", help="keep one upper-tier authority (e.g. E10000003)")
    q.add_argument("--as-of", metavar="DATE", help="the date 'verified within 12 months' counts from (default today)")
    q.set_defaults(func=cmd_quality)

    im = sub.add_parser("imports", help="list committed imports (id, when, steward, source, file, counts)")
    im.add_argument("--limit", type=int, default=50)
    im.set_defaults(func=cmd_imports)

    ui_ = sub.add_parser("undo-import", help="undo every change one import made (itself recorded)")
    ui_.add_argument("batch_id", type=int)
    ui_.add_argument("--steward", required=True, help="who is undoing (recorded in the audit trail)")
    ui_.set_defaults(func=cmd_undo_import)


    from .stewards_cli import register as register_stewards

    register_stewards(sub)
    from .feeds_cli import register as register_feeds

    register_feeds(sub)
    from .taxonomy import TERMS

    cov = sub.add_parser(
        "coverage", parents=[common], help="coverage tables for analysts: CSV, Excel, GeoJSON, GeoPackage",
        description="Coverage tables (per LSOA, district, region, England or service) for the chosen service "
                    "types and radius, computed for all of England and filtered to an authority or region.",
        epilog=COVERAGE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cov.add_argument("--level", nargs="+", required=True, choices=COVERAGE_LEVELS + ("all",), metavar="LEVEL",
                     help=f"table(s): {', '.join(COVERAGE_LEVELS)} or all")
    cov.add_argument("--types", nargs="+", metavar="TYPE",
                     help="service types (codes or labels, space- or comma-separated; default: every type): "
                          + ", ".join(t.code for t in TERMS))
    cov.add_argument("--radius-km", type=float, default=1.6, metavar="KM",
                     help="catchment radius in km, straight line (default 1.6, about 20 minutes' walk with a pram)")
    cov.add_argument("--gap-deciles", type=int, nargs="+", default=[1, 2], metavar="D",
                     help="IMD deciles counted as deprived for the gap flag (default: 1 2)")
    cov.add_argument("--demand", default="under5", metavar="COLUMN",
                     help="demand for 2SFCA/E2SFCA, gap children and equity: under5 (default), children_0_15 or "
                          "idaci_numerator")
    cov.add_argument("--authority", action="append", metavar="CODE",
                     help="keep one local authority district (2024 code, e.g. E06000020, or exact name); repeatable")
    cov.add_argument("--region", action="append", metavar="CODE",
                     help="keep one region (code, e.g. E12000001, or exact name); repeatable")
    cov.add_argument("--utla", action="append", metavar="CODE",
                     help="keep one upper-tier authority (2023 code, e.g. E10000034, or name: Worcestershire, "
                          "Worcestershire County Council); repeatable")
    cov.add_argument("--icb", action="append", metavar="CODE",
                     help="keep one Integrated Care Board (code, e.g. E54000019, or exact name); repeatable")
    cov.add_argument("--sicbl", action="append", metavar="CODE",
                     help="keep one sub-ICB location (code, e.g. E38000236, or exact name); repeatable")
    cov.add_argument("--format", choices=COVERAGE_FORMATS, help="file format (default: from the --out extension)")
    cov.add_argument("--out", required=True, metavar="FILE", help="file to write (a CSV also gets FILE.metadata.json)")
    cov.set_defaults(func=cmd_coverage)

    ch = sub.add_parser(
        "centre-history", parents=[common], help="children's centres listed since 2016, per area (CSV or Excel)",
        description="From every GIAS children's centres extract in the raw folder (matched by URN): per area, "
                    "centres listed in the earliest version and now, no longer listed, newly listed, and under-5s "
                    "with a listed centre within reach then and now (overall and in IMD deciles 1-2). GIAS lags "
                    "local closures, so 'no longer listed' is a floor, not a census.")
    ch.add_argument("--level", required=True, choices=("utla", "district", "icb", "region", "england"))
    ch.add_argument("--format", choices=("csv", "xlsx"), help="default: from the --out extension")
    ch.add_argument("--radius-km", type=float, default=1.6, metavar="KM", help="within reach (default 1.6)")
    ch.add_argument("--out", required=True, metavar="FILE",
                    help="file to write (a CSV gets FILE.notes.txt beside it, with the centres not placed)")
    ch.set_defaults(func=cmd_centre_history)
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
