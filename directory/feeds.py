"""Stewards' Open Referral UK feeds: the register, a sync (pull, validate, review, commit), each feed's health.

An admin registers a council's (or a charity's, or our own) ORUK API by its base URL, under a
name: the source its services are stored under. A sync:
1. pulls it (`ingest/feed_pull.py`: every page of /services, then /services/{id} for each);
2. validates every service with the Open Referral UK importer (`ingest/oruk.py`, the stewards'
   taxonomy mapping included), exactly as an uploaded file; a service without a building
   that states no service area is given the feed's area (`Feed.area`), with a warning;
3. reviews it against the directory as a GIAS re-import is (`ingest/sync.py`): new, changed
   (with the fields that differ), unchanged, reappeared and gone (stored, active, and no longer
   listed: marked closed, kept, never deleted), with every problem by service;
4. commits it in one transaction (`ingest/review.commit`, one import batch, undoable), skipping
   the services the importer rejected (they stay as stored and are listed in the health line).

`modified_after`: a feed registered as honouring it is asked only for services changed since
its last committed pull (less `OVERLAP`); such a pull can't see services that went, so at least
every `FULL_EVERY` a full pull runs. If the answer holds services older than the date asked
for, the feed ignores the parameter and the pull is taken as a full one.

A pull that fails (time-out, HTTP error, not JSON, looping pages, page cap: see feed_pull) or
that lists no services at all while some are stored writes nothing to the services; the
failure is kept as the feed's health. A commit that would close more than `HOLD_SHARE` of a
feed's stored services is held for a steward unless forced.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from . import service_areas
from .ingest.feed_pull import FeedError, Pull, Settings, check_base_url, item_id, pull
from .ingest.report import ERROR, WARNING, Problem, Report
from .ingest.review import Review, commit, review
from .ingest.sync import SyncReview, retire_unlisted, sync_review
from .model import Feed, Service, utcnow
from .store import Directory, NotFound, WriteSummary

FULL_EVERY = timedelta(days=7)
OVERLAP = timedelta(minutes=10)
HOLD_SHARE = 0.5
KIND = "oruk-feed"  # the import batches a feed's commits make
STATUS_TEXT = {"reviewed": "checked, not committed", "committed": "committed", "no changes": "nothing to write",
               "held": "held for a steward", "failed": "FAILED"}


@dataclass(frozen=True)
class FeedInfo:
    id: int
    name: str
    base_url: str
    area: str | None = None
    modified_after: bool = False
    enabled: bool = True
    created_by: str = ""
    last_pull_at: datetime | None = None
    last_status: str | None = None
    last_message: str | None = None
    counts: dict = field(default_factory=dict)
    shape: str | None = None
    failures: int = 0
    last_ok_at: datetime | None = None
    committed_from: datetime | None = None
    full_from: datetime | None = None

    @property
    def health(self) -> str:
        """One line: the last pull, what it found, or why it failed."""
        return self.last_message or "never pulled"


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def _info(f: Feed) -> FeedInfo:
    return FeedInfo(id=f.id, name=f.name, base_url=f.base_url, area=f.area, modified_after=bool(f.modified_after),
                    enabled=bool(f.enabled), created_by=f.created_by, last_pull_at=_aware(f.last_pull_at),
                    last_status=f.last_status, last_message=f.last_message,
                    counts=json.loads(f.last_counts) if f.last_counts else {}, shape=f.shape,
                    failures=f.failures or 0, last_ok_at=_aware(f.last_ok_at),
                    committed_from=_aware(f.committed_from), full_from=_aware(f.full_from))


class Feeds:
    """The register of feeds in the directory database."""

    def __init__(self, directory: Directory):
        self.directory = directory

    def all(self) -> list[FeedInfo]:
        with self.directory.Session() as s:
            return [_info(f) for f in s.scalars(select(Feed).order_by(Feed.name))]

    def get(self, key: str | int) -> FeedInfo:
        """A feed by its id or name."""
        with self.directory.Session() as s:
            f = self._row(s, key)
            return _info(f)

    @staticmethod
    def _row(s, key) -> Feed:
        f = None
        if isinstance(key, int) or str(key).isdigit():
            f = s.get(Feed, int(key))
        if f is None:
            f = s.scalar(select(Feed).where(Feed.name == str(key).strip()))
        if f is None:
            raise NotFound(f"No feed called {str(key)[:100]!r}: see `python -m directory feeds list`.")
        return f

    def add(self, name: str, base_url: str, area: str | None = None, modified_after: bool = False,
            actor: str = "command line") -> FeedInfo:
        name = " ".join((name or "").split())
        if not name:
            raise ValueError("Give the feed a name: the source its services are stored under (e.g. “Bristol City "
                             "Council ORUK feed”).")
        if len(name) > 100:
            raise ValueError("A feed's name is at most 100 characters (it is the services' source).")
        url = check_base_url(base_url)
        code = None
        if area and area.strip():
            code = service_areas.resolve(area)
            if code is None:
                raise ValueError(f"“{area}” is not an upper-tier authority (a code like E06000023, or its name) "
                                 "or England.")
        with self.directory.Session.begin() as s:
            if s.scalar(select(Feed.id).where(Feed.name == name)) is not None:
                raise ValueError(f"A feed called “{name}” is already registered.")
            f = Feed(name=name, base_url=url, area=code, modified_after=bool(modified_after), enabled=True,
                     created_by=(actor or "command line")[:320], failures=0)
            s.add(f)
            s.flush()
            fid = f.id
        return self.get(fid)

    def set_enabled(self, key, enabled: bool) -> FeedInfo:
        with self.directory.Session.begin() as s:
            f = self._row(s, key)
            f.enabled = enabled
            fid = f.id
        return self.get(fid)

    def remove(self, key) -> FeedInfo:
        """Forget a feed (its services stay in the directory, under its name)."""
        with self.directory.Session.begin() as s:
            f = self._row(s, key)
            info = _info(f)
            s.delete(f)
        return info

    def record(self, feed_id: int, **cols) -> None:
        with self.directory.Session.begin() as s:
            f = s.get(Feed, feed_id)
            if f is None:
                return
            for k, v in cols.items():
                setattr(f, k, json.dumps(v) if k == "last_counts" else v)


# ---------------------------------------------------------------- one sync


@dataclass
class SyncResult:
    feed: FeedInfo
    started: datetime
    status: str = "failed"  # failed, reviewed, held, committed, no changes
    message: str = ""  # the health line
    error: str | None = None
    pull: Pull | None = None
    review: Review | None = None
    ids: list[str] = field(default_factory=list)  # the feed id of each report row (row n: ids[n - 1])
    incremental: bool = False
    written: WriteSummary | None = None
    note: str = ""  # why a reviewed pull was not committed (held)

    @property
    def counts(self) -> dict:
        c: dict = {}
        if self.pull is not None:
            p = self.pull
            c |= {"listed": len(p.items), "pages": p.pages, "shape": p.shape, "requests": p.requests,
                  "seconds": round(p.seconds, 2), "missing": len(p.missing), "incremental": self.incremental}
        if self.review is not None:
            rep, sr = self.review.report, self.review.sync
            c |= {"rejected": len(rep.rejected_rows), "warnings": len(rep.warnings)}
            if sr is not None:
                c |= {"new": len(sr.new), "changed": len(sr.changed), "unchanged": len(sr.unchanged),
                      "reappeared": len(sr.reappeared), "gone": len(sr.no_longer_listed)}
        if self.written is not None:
            c |= {"written_new": self.written.new, "written_updated": self.written.updated,
                  "batch": self.written.batch_id}
        return c

    def where(self, row: int) -> str:
        """Where a report row is in the feed: the service's id."""
        return f"service {self.ids[row - 1]}" if 0 < row <= len(self.ids) and self.ids[row - 1] else \
            ("feed" if row <= 0 else f"service {row}")

    def problem_rows(self) -> list[dict]:
        rep = self.review.report if self.review else None
        return [{"where": self.where(p.row), "field": p.field, "problem": p.message, "severity": p.severity}
                for p in (rep.problems if rep else [])]


def _when(t: datetime | None) -> str:
    return f"{t.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC" if t else "never"


def health_line(result: SyncResult, last_ok: datetime | None = None, failures: int = 0) -> str:
    if result.status == "failed":
        line = f"{_when(result.started)}: FAILED: {result.error}. Nothing was written"
        line += f"; last good pull {_when(last_ok)}" if last_ok else "; no pull has worked yet"
        return line + (f" ({failures} failed pulls in a row)." if failures > 1 else ".")
    c = result.counts
    how = f"{c.get('shape', '?')}, {c.get('pages', 0)} page{'s' if c.get('pages') != 1 else ''}, " \
          f"{c.get('seconds', 0):.1f} s"
    since = (f", changed since {_when(result.pull.modified_after)}" if result.incremental and result.pull
             and result.pull.modified_after else "")
    line = (f"{_when(result.started)}: {STATUS_TEXT.get(result.status, result.status)}: {c.get('listed', 0):,} "
            f"listed ({how}{since}): {c.get('new', 0):,} new, {c.get('changed', 0):,} changed, "
            f"{c.get('unchanged', 0):,} unchanged, {c.get('gone', 0):,} gone, {c.get('rejected', 0):,} rejected")
    if result.written is not None:
        line += f"; written {result.written.new:,} new, {result.written.updated:,} updated " \
                f"(import {result.written.batch_id})"
    return line + "." + (f" {result.note}" if result.note else "")


def _no_building(doc: dict) -> bool:
    """The service says it has no building: only virtual locations, or (HSDS-UK 1.0) an attending type
    of phone, online or home visits. A list summary with no locations at all says nothing."""
    from .ingest.oruk import NO_BUILDING

    locs = [sal.get("location") for sal in doc.get("service_at_locations") or [] if isinstance(sal, dict)]
    locs = [loc for loc in locs + list(doc.get("locations") or []) if isinstance(loc, dict)]
    physical = [loc for loc in locs if str(loc.get("location_type") or "").lower() != "virtual"]
    hint = str(doc.get("attending_type") or "").strip().lower() in NO_BUILDING
    return not physical and (bool(locs) or hint)


def _key(doc: dict, source: str) -> tuple[str, str]:
    """(source, id) a service of the feed is stored under (our own export keeps its own: see oruk)."""
    own_source, own_id = (str(doc.get(k) or "").strip() if isinstance(doc.get(k), str) else ""
                          for k in ("fsm_source", "fsm_source_id"))
    return (own_source, own_id) if own_source and own_id else (source, item_id(doc))


def validate(p: Pull, feed: FeedInfo, directory: Directory, postcodes) -> tuple[Report, list[str]]:
    """The importer's report of the pulled services (rows in the feed's order), and each row's id."""
    from .ingest.oruk import read_oruk

    docs, assumed = [], []
    for n, doc in enumerate(p.documents, start=1):
        if feed.area and not doc.get("service_areas") and _no_building(doc):
            doc = dict(doc, service_areas=[{"name": service_areas.label(feed.area), "uri": service_areas.uri(feed.area)}])
            assumed.append(n)
        docs.append(doc)
    if docs:
        data = json.dumps(docs, ensure_ascii=False).encode()
        report = read_oruk(data, feed.name, postcodes, directory.taxonomy_map(), limit_bytes=len(data) + 1,
                           keyed=True)
    else:
        report = Report(unit="service")
    for n in assumed:
        report.problems.append(Problem(n, "service_areas", "No building and no service area stated: listed for the "
                                                           f"feed's area, {service_areas.label(feed.area)}.", WARNING))
    ids = [item_id(d) for d in docs]
    for sid, why in p.missing:
        report.rows += 1
        ids.append(sid)
        report.problems.append(Problem(len(ids), "id", why, ERROR))
    report.notes.extend(p.notes)
    return report, ids


def review_pull(report: Report, directory: Directory, listed: dict[str, set[str]], full: bool,
                own_source: str | None = None) -> Review:
    """The importer's report reviewed against the directory as a register's re-import is: per source the
    feed writes, new / changed / unchanged / reappeared, and (a full pull only) gone: stored under
    `own_source` (the feed's name), active and no longer listed, added to the report as closed copies.
    Services a feed carries under their own source (our own export's `fsm_source`) are updated, never
    closed by it: other imports may hold that source too. Nothing is written."""
    rv = review(report, directory, keyed=True)  # duplicates of stored services, field lengths (no sync here)
    today = utcnow().date()
    merged = SyncReview(source=", ".join(sorted(listed)) or "the feed", version_date=today)
    closed = []
    for src in sorted(set(listed) | {r.source for r in report.records}):
        sub = Report(unit=report.unit, version_date=today)
        for r, n in zip(report.records, report.record_rows):
            if r.source == src:
                sub.add(r, n)
        sub.listed = set(listed.get(src, ()))
        if not full or (own_source is not None and src != own_source):  # can't tell what went: all count as listed
            sub.listed |= set(directory.source_records(src))
        before = len(sub.records)
        stored = retire_unlisted(sub, directory, src)
        closed += list(zip(sub.records[before:], sub.record_rows[before:]))
        part = sync_review(sub, stored, src)
        for k in ("new", "changed", "unchanged", "reappeared", "no_longer_listed", "closed", "unplaceable"):
            getattr(merged, k).extend(getattr(part, k))
        report.notes.extend(n for n in sub.notes if n not in report.notes)
    for r, n in closed:
        report.add(r, n)
    rv.states = directory.classify(report.records)
    rv.sync = merged
    return rv


def _stored_active(directory: Directory, sources) -> int:
    with directory.Session() as s:
        return s.scalar(select(func.count()).select_from(Service).where(Service.source.in_(sorted(sources)),
                                                                        Service.status == "active")) or 0


def check(directory: Directory, feed: FeedInfo | str | int, postcodes, settings: Settings = Settings(),
          full: bool = False, opener=None, sleep=None, now: datetime | None = None) -> SyncResult:
    """Pull a feed, validate and review it (nothing written to the services); its health recorded."""
    feeds = Feeds(directory)
    if not isinstance(feed, FeedInfo):
        feed = feeds.get(feed)
    started = now or utcnow()
    result = SyncResult(feed=feed, started=started)
    since = None
    if (feed.modified_after and not full and feed.committed_from and feed.full_from
            and started - feed.full_from < FULL_EVERY):
        since = feed.committed_from - OVERLAP
    try:
        kw = {"sleep": sleep} if sleep is not None else {}
        p = pull(feed.base_url, settings, since, opener=opener, **kw)
        result.pull = p
        if since is not None and not _honours(p, since):
            p.notes.append(f"The feed ignores modified_after (it answered services older than {_when(since)}): "
                           "taken as a full pull.")
            since = None
        result.incremental = since is not None
        if not p.items and not result.incremental and _stored_active(directory, {feed.name}):
            raise FeedError("the feed lists no services at all, while the directory holds some of it: not taken "
                            "as every service gone")
        report, result.ids = validate(p, feed, directory, postcodes)
        listed: dict[str, set[str]] = {}
        for doc in p.documents:
            src, sid = _key(doc, feed.name)
            listed.setdefault(src, set()).add(sid)
        for sid, _ in p.missing:
            listed.setdefault(feed.name, set()).add(sid)
        result.review = review_pull(report, directory, listed, full=not result.incremental, own_source=feed.name)
        result.status = "reviewed"
    except FeedError as e:
        result.status, result.error = "failed", str(e)
    _record(feeds, result)
    return result


def _honours(p: Pull, since: datetime) -> bool:
    """False when the answer holds a service last modified before `since` (the parameter was ignored)."""
    for doc in p.items + p.documents:
        v = doc.get("last_modified") if isinstance(doc, dict) else None
        if isinstance(v, str) and v.strip():
            try:
                t = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
            except ValueError:
                continue
            t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
            if t < since - OVERLAP:
                return False
    return True


def _record(feeds: Feeds, result: SyncResult) -> None:
    f = result.feed
    ok = result.status != "failed"
    failures = 0 if ok else f.failures + 1
    last_ok = result.started if ok else f.last_ok_at
    result.message = health_line(result, last_ok, failures)
    cols = {"last_pull_at": result.started, "last_status": result.status, "last_message": result.message,
            "last_counts": result.counts | ({"error": result.error} if result.error else {}), "failures": failures,
            "last_ok_at": last_ok}
    if result.pull is not None and result.pull.shape:
        cols["shape"] = result.pull.shape
    if result.status in ("committed", "no changes"):
        cols["committed_from"] = result.started
        if not result.incremental:
            cols["full_from"] = result.started
    feeds.record(f.id, **cols)


def commit_result(directory: Directory, result: SyncResult, actor: str, force: bool = False) -> SyncResult:
    """Write a reviewed pull (the services the importer rejected are skipped: they stay as stored), in one
    transaction recorded as one import batch. A pull that would close more than HOLD_SHARE of the
    feed's stored services is held unless `force`."""
    if result.status not in ("reviewed", "held") or result.review is None:
        return result
    rv, feed = result.review, result.feed
    gone = len(rv.sync.no_longer_listed) if rv.sync else 0
    stored = _stored_active(directory, {r.source for r in rv.records} | {feed.name})
    if gone and not force and gone > max(5, HOLD_SHARE * stored):
        result.status = "held"
        result.note = (f"Not committed: it would close {gone:,} of the {stored:,} services stored. Check the "
                       "review, then commit it from the Manage page (or with --force).")
        _record(Feeds(directory), result)
        return result
    if not rv.to_write:
        result.status = "no changes"
    else:
        host = urllib.parse.urlsplit(feed.base_url).netloc or feed.base_url
        who = (actor or "feeds").strip()
        result.written = commit(rv, directory, f"{who} (feed {feed.name})"[:200], skip_rejected=True,
                                source=feed.name, kind=KIND, file_name=host, steward=who)
        result.status = "committed"
    _record(Feeds(directory), result)
    return result


def sync(directory: Directory, feed, postcodes, commit_it: bool = False, actor: str = "feeds",
         settings: Settings = Settings(), full: bool = False, force: bool = False, **kw) -> SyncResult:
    """`check`, then (with `commit_it`) `commit_result`."""
    result = check(directory, feed, postcodes, settings, full=full, **kw)
    if commit_it:
        result = commit_result(directory, result, actor, force=force)
    return result
