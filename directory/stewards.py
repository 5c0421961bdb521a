"""Who may change the directory: the stewards allow-list, their scopes, and the one decision
"may this account change this service" (a pure function).

Sign-in (OpenID Connect, in the app) only says *who* someone is: an email. This module says
what that email may do. An account is on the list with a role ("steward" or "admin") and a
scope: the upper-tier authorities (utla23 codes: the councils that commission children's
centres and family hubs) and/or the sources (publishers' lists) whose services it may change.
A steward may change a service when the service's source is one of theirs, or when every
place of the service lies in one of their authorities. An admin may change every service,
the taxonomy mapping and the list itself. A disabled or unlisted account may change nothing.

`Guard` does a signed-in steward's writes: every one is checked (before and after the
change: a steward can neither take a service out of their scope nor bring one in), and
the audit trail records the signed-in email. The command line (operators with shell
access) writes directly through `Directory`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from sqlalchemy import select

from .model import Steward, StewardScope, utcnow
from .store import TO_BNG, Directory, NotFound, ServiceRecord, StoredService, _stored_records

ROLES = ("steward", "admin")
AUTHORITY, SOURCE = "authority", "source"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: How long a signed-in steward may be idle before signing in again (FSM_SESSION_IDLE_MINUTES).
DEFAULT_IDLE_MINUTES = 30


class OutOfScope(PermissionError):
    """The account may not make this change: the message says why (shown to the steward)."""


def normalise_email(email: str) -> str:
    e = (email or "").strip().lower()
    if not EMAIL.match(e) or len(e) > 320:
        raise ValueError(f"“{email}” is not an email address.")
    return e


@dataclass(frozen=True)
class Account:
    email: str
    name: str
    role: str = "steward"
    authorities: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    enabled: bool = True
    last_seen_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.enabled and self.role == "admin"

    def scope_text(self, names: Mapping[str, str] | None = None) -> str:
        """'Telford and Wrekin (E06000020); source “Telford & Wrekin Council”', or 'every service'."""
        if self.role == "admin":
            return "every service (admin)"
        names = names or {}
        bits = [f"{names.get(c, c)} ({c})" if names.get(c) else c for c in sorted(self.authorities)]
        bits += [f"source “{s}”" for s in sorted(self.sources)]
        return "; ".join(bits) or "nothing yet (ask an admin to set your scope)"


# ---------------------------------------------------------------- the decision


def may_change(account: Account | None, source: str, authorities: Iterable[str | None],
               names: Mapping[str, str] | None = None, what: str = "This service") -> str | None:
    """None if `account` may change a service of `source` whose places lie in `authorities`
    (upper-tier authority codes, None for a place in no known authority); else why not."""
    if account is None or not account.enabled:
        return "Only signed-in directory stewards can change the directory."
    if account.role == "admin" or source in account.sources:
        return None
    places = set(authorities)
    if places and None not in places and places <= account.authorities:
        return None
    names = names or {}
    outside = sorted({a for a in places if a not in account.authorities}, key=lambda a: (a is None, a or ""))
    where = ", ".join(f"{names.get(a, a)} ({a})" if a else "outside England's authorities" for a in outside)
    return (f"{what} is outside your scope: it is in {where or 'no known place'}, source “{source}”. "
            f"You may change services in {account.scope_text(names)}; ask an admin to widen your scope if you "
            "should look after it.")


def authorities_of(records: list[ServiceRecord], areas) -> list[set[str | None]]:
    """The upper-tier authority (utla23 code) of every place of each record, by the place's
    nearest LSOA (as families' services are placed: `areas.attach_areas`); a service without a
    building: its service areas."""
    lats = [p.latitude for r in records for p in r.places]
    lons = [p.longitude for r in records for p in r.places]
    codes: list[str | None] = []
    if lats and "utla23_code" in areas.lsoa:
        x, y = TO_BNG.transform(np.asarray(lons, float), np.asarray(lats, float))
        lsoa_codes = areas.lsoa_of_points(np.asarray(x), np.asarray(y))
        at = pd.Index(areas.lsoa.lsoa21_code).get_indexer(lsoa_codes)
        codes = [None if pd.isna(v) else str(v) for v in areas.lsoa.utla23_code.to_numpy()[at]]
    elif lats:
        codes = [None] * len(lats)
    out, i = [], 0
    for r in records:
        out.append(set(codes[i:i + len(r.places)]) if r.places else _area_scope(r))
        i += len(r.places)
    return out


def _area_scope(r: ServiceRecord) -> set[str | None]:
    """A service without a building lies in its service areas (England-wide: in no one authority)."""
    from .service_areas import ENGLAND

    return set(r.service_areas) if r.service_areas and ENGLAND not in r.service_areas else {None}


def authority_names(areas) -> dict[str, str]:
    lsoa = areas.lsoa
    if "utla23_code" not in lsoa:
        return {}
    pairs = lsoa[["utla23_code", "utla23_name"]].drop_duplicates()
    return dict(zip(pairs.utla23_code, pairs.utla23_name))


# ---------------------------------------------------------------- the list


def _account(row: Steward) -> Account:
    return Account(email=row.email, name=row.display_name, role=row.role,
                   authorities=frozenset(s.value for s in row.scopes if s.kind == AUTHORITY),
                   sources=frozenset(s.value for s in row.scopes if s.kind == SOURCE),
                   enabled=bool(row.enabled), last_seen_at=_aware(row.last_seen_at))


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


class Stewards:
    """The allow-list in the directory database."""

    def __init__(self, directory: Directory):
        self.directory = directory

    def get(self, email: str | None) -> Account | None:
        if not email:
            return None
        with self.directory.Session() as s:
            row = s.get(Steward, email.strip().lower())
            return _account(row) if row else None

    def active(self, email: str | None) -> Account | None:
        """The account if it is listed and enabled, else None."""
        a = self.get(email)
        return a if a is not None and a.enabled else None

    def all(self) -> list[Account]:
        with self.directory.Session() as s:
            return [_account(r) for r in s.scalars(select(Steward).order_by(Steward.email))]

    def add(self, email: str, name: str, role: str = "steward", authorities: Iterable[str] = (),
            sources: Iterable[str] = (), actor: str = "command line", known_authorities: Iterable[str] | None = None
            ) -> Account:
        email = normalise_email(email)
        name = " ".join((name or "").split())
        if not name:
            raise ValueError("Give the steward's display name.")
        if role not in ROLES:
            raise ValueError(f"The role must be one of: {', '.join(ROLES)} (got “{role}”).")
        with self.directory.Session.begin() as s:
            if s.get(Steward, email) is not None:
                raise ValueError(f"{email} is already on the list: change it with `stewards scope` or enable it.")
            row = Steward(email=email, display_name=name[:200], role=role, enabled=True, updated_by=actor[:320])
            s.add(row)
            row.scopes = self._scopes(email, authorities, sources, known_authorities)
        return self.get(email)

    @staticmethod
    def _scopes(email, authorities, sources, known) -> list[StewardScope]:
        auth = sorted({a.strip().upper() for a in authorities if a and a.strip()})
        if known is not None:
            known = set(known)
            bad = [a for a in auth if a not in known]
            if bad:
                raise ValueError(f"Not an upper-tier authority code: {', '.join(bad)} (codes look like "
                                 "E06000020, E10000028).")
        src = sorted({" ".join(x.split()) for x in sources if x and x.strip()})
        for v in src:
            if len(v) > 200:
                raise ValueError("A source name is at most 200 characters.")
        return ([StewardScope(email=email, kind=AUTHORITY, value=a) for a in auth]
                + [StewardScope(email=email, kind=SOURCE, value=v) for v in src])

    def _change(self, email: str, actor: str, fn) -> Account:
        email = (email or "").strip().lower()
        with self.directory.Session.begin() as s:
            row = s.get(Steward, email)
            if row is None:
                raise NotFound(f"{email} is not on the stewards list.")
            fn(row)
            row.updated_by = actor[:320]
            row.updated_at = utcnow()
        return self.get(email)

    def set_enabled(self, email: str, enabled: bool, actor: str = "command line") -> Account:
        return self._change(email, actor, lambda row: setattr(row, "enabled", enabled))

    def disable(self, email: str, actor: str = "command line") -> Account:
        return self.set_enabled(email, False, actor)

    def set_role(self, email: str, role: str, actor: str = "command line") -> Account:
        if role not in ROLES:
            raise ValueError(f"The role must be one of: {', '.join(ROLES)} (got “{role}”).")
        return self._change(email, actor, lambda row: setattr(row, "role", role))

    def set_scope(self, email: str, authorities: Iterable[str] = (), sources: Iterable[str] = (),
                  actor: str = "command line", known_authorities: Iterable[str] | None = None,
                  add: bool = False) -> Account:
        """Replace the account's scope (or, with add=True, add to it)."""
        current = self.get(email)
        if current is None:
            raise NotFound(f"{email} is not on the stewards list.")
        authorities, sources = list(authorities), list(sources)
        if add:
            authorities += sorted(current.authorities)
            sources += sorted(current.sources)
        scopes = self._scopes(current.email, authorities, sources, known_authorities)

        def apply(row):
            row.scopes = scopes

        return self._change(email, actor, apply)

    # ---------------------------------------------------------- idle sessions

    def touch(self, email: str, now: datetime | None = None, every: timedelta = timedelta(minutes=1)) -> None:
        """Record activity (at most once a minute per account: a steward's reruns don't all write)."""
        now = now or utcnow()
        with self.directory.Session.begin() as s:
            row = s.get(Steward, email)
            if row is not None and (row.last_seen_at is None or now - _aware(row.last_seen_at) >= every):
                row.last_seen_at = now


def idle_expired(account: Account, signed_in_at: datetime | None, idle_minutes: float,
                 now: datetime | None = None) -> bool:
    """True when the account was idle longer than `idle_minutes` since its last activity or its
    sign-in (whichever is later): the steward signs in again."""
    now = now or datetime.now(timezone.utc)
    marks = [t for t in (account.last_seen_at, signed_in_at) if t is not None]
    return bool(marks) and now - max(marks) > timedelta(minutes=idle_minutes)


# ---------------------------------------------------------------- guarded writes


@dataclass
class Guard:
    """A signed-in steward's changes: each is checked against their scope before it is made,
    and recorded under their email."""

    account: Account
    directory: Directory
    areas: object
    names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not self.names:
            self.names = authority_names(self.areas)

    @property
    def actor(self) -> str:
        return self.account.email

    def refusal(self, record: ServiceRecord | None, what: str = "This service") -> str | None:
        if record is None:
            return None
        return may_change(self.account, record.source, authorities_of([record], self.areas)[0], self.names, what)

    def refusal_for(self, service_id: str) -> str | None:
        """Why this account may not change the stored service, or None."""
        try:
            stored = self.directory.get(service_id)
        except NotFound:
            return None
        return self.refusal(stored.record, f"“{stored.record.name}”")

    def _check(self, *records: ServiceRecord | None) -> None:
        for r in records:
            reason = self.refusal(r, f"“{r.name}”" if r is not None else "This service")
            if reason:
                raise OutOfScope(f"Nothing was changed. {reason}")

    def save(self, record: ServiceRecord, service_id: str | None = None,
             expected_version: int | None = None) -> StoredService:
        before = self.directory.get(service_id).record if service_id else None
        self._check(before, record)
        return self.directory.save(record, self.actor, service_id, expected_version)

    def delete(self, service_id: str, expected_version: int | None = None) -> None:
        self._check(self.directory.get(service_id).record)
        self.directory.delete(service_id, self.actor, expected_version)

    def undo(self, service_id: str) -> str:
        current = None
        try:
            current = self.directory.get(service_id).record
        except NotFound:
            pass
        self._check(current, self.directory.undo_target(service_id))
        return self.directory.undo(service_id, self.actor)

    def mark_verified(self, service_ids: Iterable[str]) -> int:
        ids = list(service_ids)
        for sid in ids:
            self._check(self.directory.get(sid).record)
        return self.directory.mark_verified(ids, self.actor)

    def save_mappings(self, rows: Iterable[dict]) -> int:
        if not self.account.is_admin:
            raise OutOfScope("Only admins change the taxonomy mapping.")
        return self.directory.save_mappings(rows, self.actor)

    # ---------------------------------------------------------- imports

    def refusals(self, records: list[ServiceRecord]) -> list[str | None]:
        """For each record of an import: why this account may not write it (as the file has it or
        as it is stored now), or None. One look-up of the stored records and the areas for all."""
        if self.account.is_admin or not records:
            return [None] * len(records)
        with self.directory.engine.connect() as c:
            stored = _stored_records(c, {r.source for r in records})
        olds = [stored.get(r.key, (None, None))[1] for r in records]
        new_auth = authorities_of(records, self.areas)
        old_auth = iter(authorities_of([o for o in olds if o is not None], self.areas))
        out = []
        for r, old, auth in zip(records, olds, new_auth):
            reason = may_change(self.account, r.source, auth, self.names, f"“{r.name}”")
            if old is not None:
                reason = reason or may_change(self.account, old.source, next(old_auth), self.names,
                                              f"“{old.name}” as stored")
            out.append(reason)
        return out

    def restrict(self, rv) -> int:
        """Reject (as report errors naming the row) every record of a reviewed import that this
        account may not write. Returns how many."""
        from .ingest.report import ERROR, Problem

        rep = rv.report
        keep, rows, refused = [], [], 0
        for r, n, reason in zip(rep.records, rep.record_rows, self.refusals(rep.records)):
            if reason and rv.states.get(r.key) != "unchanged":
                rep.problems.append(Problem(n, "scope", reason, ERROR))
                refused += 1
                continue
            keep.append(r)
            rows.append(n)
        rep.records, rep.record_rows = keep, rows
        rep.problems.sort(key=lambda p: (p.row, p.severity != ERROR))
        return refused

    def commit(self, rv, kind: str, filename: str | None, skip_rejected: bool = False, progress=None):
        """Write a reviewed import, checked again at the moment of writing (the directory or the
        account's scope may have changed since the review)."""
        from .ingest.review import actor_for, commit

        changing = [r for r in rv.records if rv.states.get(r.key) != "unchanged"]
        for reason in self.refusals(changing):
            if reason:
                raise OutOfScope(f"Nothing was written. {reason}")
        return commit(rv, self.directory, actor_for(self.actor, kind, filename), skip_rejected=skip_rejected,
                      progress=progress, kind=kind, file_name=filename, steward=self.actor)
