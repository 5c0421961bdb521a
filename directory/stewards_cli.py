"""`python -m directory stewards add|list|disable|enable|scope|role`: the allow-list of who may
sign in and change the directory in the browser (operators with shell access manage it here)."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_PROBLEMS = 0, 1


def _known_authorities() -> dict[str, str] | None:
    """Upper-tier authority codes and names from the built data (None if not built: not checked)."""
    from . import config
    from .areas import Areas
    from .stewards import authority_names

    if not (config.build_dir() / "lsoa.parquet").exists():
        return None
    return authority_names(Areas.load()) or None


def cmd_stewards(args) -> int:
    from .store import Directory, NotFound
    from .stewards import Stewards

    book = Stewards(Directory().create())
    names = _known_authorities() if args.action in ("add", "scope", "list") else None
    try:
        if args.action == "add":
            a = book.add(args.email, args.name or args.email.split("@")[0], args.role, args.authority or (),
                         args.source or (), actor=args.by, known_authorities=names)
            print(f"added {a.email} ({a.role}): may change {a.scope_text(names)}")
        elif args.action == "list":
            for a in book.all():
                print(f"{a.email}\t{a.name}\t{a.role}\t{'enabled' if a.enabled else 'disabled'}\t"
                      f"{a.scope_text(names)}")
        elif args.action in ("disable", "enable"):
            a = book.set_enabled(args.email, args.action == "enable", actor=args.by)
            print(f"{a.email} is now {'enabled' if a.enabled else 'disabled'}")
        elif args.action == "scope":
            a = book.set_scope(args.email, args.authority or (), args.source or (), actor=args.by,
                               known_authorities=names, add=args.add)
            print(f"{a.email} may change {a.scope_text(names)}")
        elif args.action == "role":
            a = book.set_role(args.email, args.role, actor=args.by)
            print(f"{a.email} is now {a.role}")
    except (ValueError, NotFound) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def register(sub) -> None:
    from .stewards import ROLES

    p = sub.add_parser("stewards", help="who may sign in and change the directory: add, list, disable, enable, "
                                        "scope, role",
                       description="The stewards allow-list. Examples:\n"
                                   "  stewards add sam@telford.gov.uk --name 'Sam Patel' --authority E06000020\n"
                                   "  stewards add ana@example.org --role admin\n"
                                   "  stewards scope sam@telford.gov.uk --authority E06000020 --source 'Telford "
                                   "& Wrekin Council'\n"
                                   "  stewards disable sam@telford.gov.uk",
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["add", "list", "disable", "enable", "scope", "role"])
    p.add_argument("email", nargs="?", help="the account's email (as the identity provider gives it)")
    p.add_argument("--name", help="display name (add)")
    p.add_argument("--role", choices=ROLES, default="steward", help="steward (default) or admin")
    p.add_argument("--authority", action="append", metavar="CODE",
                   help="an upper-tier authority (utla23 code, e.g. E06000020) they may change; repeatable")
    p.add_argument("--source", action="append", metavar="NAME", help="a source they may change; repeatable")
    p.add_argument("--add", action="store_true", help="scope: add to the current scope instead of replacing it")
    p.add_argument("--by", default="command line", help="who makes this change (recorded)")
    p.set_defaults(func=_checked)


def _checked(args) -> int:
    if args.action != "list" and not args.email:
        print(f"error: stewards {args.action} needs an email", file=sys.stderr)
        return 2
    return cmd_stewards(args)
