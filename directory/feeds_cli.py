"""`python -m directory feeds add|list|sync|enable|disable|remove`: stewards' Open Referral UK feeds.

`feeds sync --all --commit` is what the nightly timer runs (README, Deploy): each enabled feed is
pulled, validated, reviewed and committed; a feed that fails writes nothing and keeps the failure
as its health line. Exit code 1 when any feed failed (or was held), so a cron mail says so.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _settings(args):
    from .ingest.feed_pull import Settings

    return Settings(timeout=args.timeout, retries=args.retries, max_pages=args.max_pages, per_page=args.per_page,
                    workers=args.workers)


def cmd_feeds(args) -> int:
    from .feeds import Feeds
    from .store import Directory, NotFound

    directory = Directory().create()
    book = Feeds(directory)
    try:
        if args.action == "add":
            if not args.name or not args.url:
                print("error: feeds add NAME URL [--area CODE] [--modified-after]", file=sys.stderr)
                return EXIT_USAGE
            f = book.add(args.name, args.url, args.area, args.modified_after, actor=args.steward)
            area = f" (services without a building: {f.area})" if f.area else ""
            print(f"registered feed {f.id}: {f.name} at {f.base_url}{area}; pull it with "
                  f"`python -m directory feeds sync {f.id}`")
            return EXIT_OK
        if args.action == "list":
            for f in book.all():
                flags = ", ".join(x for x in ("disabled" if not f.enabled else "", "modified_after" if
                                                                                    f.modified_after else "",
                                              f"area {f.area}" if f.area else "") if x)
                print(f"{f.id}\t{f.name}\t{f.base_url}" + (f"\t({flags})" if flags else ""))
                print(f"\t{f.health}")
            return EXIT_OK
        if args.action in ("enable", "disable", "remove"):
            if not args.name:
                print(f"error: feeds {args.action} FEED (its id or name)", file=sys.stderr)
                return EXIT_USAGE
            if args.action == "remove":
                f = book.remove(args.name)
                print(f"forgot feed {f.name} (its services stay in the directory)")
            else:
                f = book.set_enabled(args.name, args.action == "enable")
                print(f"feed {f.name} is now {'enabled' if f.enabled else 'disabled'}")
            return EXIT_OK
    except (ValueError, NotFound) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    return _sync(args, directory, book)


def _sync(args, directory, book) -> int:
    from .areas import Areas
    from .bootstrap import ensure_ready
    from .feeds import sync
    from .ingest.sync import summary_lines
    from .store import NotFound

    keys = [k for k in [args.name, args.url, *(args.more or [])] if k]
    if bool(keys) == bool(args.all):
        print("error: name the feed(s) to sync, or give --all (every enabled feed)", file=sys.stderr)
        return EXIT_USAGE
    try:
        feeds = [f for f in book.all() if f.enabled] if args.all else [book.get(k) for k in keys]
    except NotFound as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    if not feeds:
        print("no enabled feeds (register one: python -m directory feeds add NAME URL)")
        return EXIT_OK
    ensure_ready(args.raw)
    postcodes = Areas.load().postcodes
    bad = 0
    for f in feeds:
        r = sync(directory, f, postcodes, commit_it=args.commit, actor=args.steward, settings=_settings(args),
                 full=args.full, force=args.force)
        print(f"{f.name}: {r.message}")
        if r.review is not None and r.review.sync is not None and (args.verbose or not args.all):
            for line in summary_lines(r.review.sync)[1:]:
                print(f"  {line}")
            for p in r.review.report.problems:
                print(f"  {r.where(p.row)}\t{p.severity}\t{p.field}\t{p.message}")
            for note in r.review.report.notes:
                print(f"  note: {note}")
        if r.status == "reviewed":
            print("  dry run: add --commit to write")
        bad += r.status in ("failed", "held")
    return EXIT_PROBLEMS if bad else EXIT_OK


def register(sub) -> None:
    f = sub.add_parser(
        "feeds", help="Open Referral UK feeds: register an API, pull it, review and commit (add|list|sync|...)",
        description="Stewards' Open Referral UK APIs (HSDS-UK 1.0 and ORUK 3.0). `sync` pages /services, fetches "
                    "/services/{id}, validates every service as an ORUK import, and prints the sync review (new, "
                    "changed, unchanged, gone); --commit writes it in one transaction. A feed that fails writes "
                    "nothing and keeps the failure as its health line (`feeds list`).")
    f.add_argument("action", choices=["add", "list", "sync", "enable", "disable", "remove"])
    f.add_argument("name", nargs="?", help="add: the feed's name (the source its services are stored under); "
                                           "sync/enable/disable/remove: a feed's id or name")
    f.add_argument("url", nargs="?", help="add: the API's base URL (its /services lists the services); sync: "
                                          "another feed")
    f.add_argument("more", nargs="*", help=argparse.SUPPRESS)
    f.add_argument("--raw", help="folder of official raw files (default: $FSM_RAW_DATA or data/raw/)")
    f.add_argument("--area", help="add: the upper-tier authority (code or name) or England its services without "
                                  "a building serve, when they don't say")
    f.add_argument("--modified-after", action="store_true",
                   help="add: the API honours ?modified_after= (pull only what changed; a full pull weekly)")
    f.add_argument("--all", action="store_true", help="sync: every enabled feed")
    f.add_argument("--commit", action="store_true", help="sync: write what the review found (one transaction)")
    f.add_argument("--full", action="store_true", help="sync: a full pull even when modified_after would do")
    f.add_argument("--force", action="store_true",
                   help="sync: commit even when the pull would close more than half of the feed's services")
    f.add_argument("--verbose", action="store_true", help="sync --all: print every problem too")
    f.add_argument("--steward", default="command line", help="who is doing it (recorded in the audit trail)")
    f.add_argument("--timeout", type=float, default=20.0, help="seconds per request (default 20)")
    f.add_argument("--retries", type=int, default=3, help="tries per request (default 3, with backoff)")
    f.add_argument("--max-pages", type=int, default=500, help="page cap (default 500)")
    f.add_argument("--per-page", type=int, default=100, help="services per page asked for (default 100)")
    f.add_argument("--workers", type=int, default=8, help="/services/{id} requests at once (default 8)")
    f.set_defaults(func=cmd_feeds)
