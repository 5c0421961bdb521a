"""Re-importing a register (the GIAS children's centres extract) is a sync, reviewed before commit.

A register file lists every open centre it knows. Against what the directory stores for
that source, each centre is:
    new               in the file, not stored
    changed           stored, and some detail differs (which ones are listed)
    unchanged         stored with the same details (only its last-verified date moves on)
    reappeared        stored as closed or no longer listed, and listed again
    no longer listed  stored and active, absent from the file: marked closed ("defunct", hidden
                      from families) with the date of this version, kept and audited, never deleted
    closed            the file lists it with a closed status (marked the same way)
    unplaceable       in the file, but no point can be found for it (not imported; listed)
`review` (review.py) calls `retire_unlisted` and `sync_review`; the commit writes it all in
one transaction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date

from ..store import Directory, ServiceRecord, normalised
from .report import Report

#: record fields a steward reads in "what changed" (last_verified moves with every version)
COMPARED = [f.name for f in dataclasses.fields(ServiceRecord) if f.name not in ("last_verified", "source",
                                                                                 "source_id")]


@dataclass
class SyncReview:
    source: str
    version_date: date | None
    new: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    changed: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (id, name, fields that differ)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    reappeared: list[tuple[str, str]] = field(default_factory=list)
    no_longer_listed: list[tuple[str, str]] = field(default_factory=list)
    closed: list[tuple[str, str]] = field(default_factory=list)
    unplaceable: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, why)

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("new", "changed", "unchanged", "reappeared", "no_longer_listed",
                                                   "closed", "unplaceable")}

    def rows(self) -> list[dict]:
        """One row per centre that is not unchanged: what the steward checks before committing."""
        out = [{"change": "new", "id": i, "name": n, "details": ""} for i, n in self.new]
        out += [{"change": "changed", "id": i, "name": n, "details": ", ".join(f)} for i, n, f in self.changed]
        out += [{"change": "reappeared", "id": i, "name": n, "details": "listed again: shown to families"}
                for i, n in self.reappeared]
        when = f" since {self.version_date:%d %b %Y}" if self.version_date else ""
        out += [{"change": "no longer listed", "id": i, "name": n, "details": f"marked closed{when}; kept"}
                for i, n in self.no_longer_listed]
        out += [{"change": "closed", "id": i, "name": n, "details": f"listed as closed: marked closed{when}; kept"}
                for i, n in self.closed]
        out += [{"change": "unplaceable", "id": i, "name": n, "details": why} for i, n, why in self.unplaceable]
        return out


def register_source(report: Report) -> str | None:
    if report.records:
        return report.records[0].source
    return report.closed[0][0] if report.closed else None


def retire_unlisted(report: Report, directory: Directory, source: str) -> dict[str, ServiceRecord]:
    """Add to the report a closed copy of every active stored service of `source` the file no
    longer lists. Returns what was stored for the source before (id -> record)."""
    stored = directory.source_records(source)
    when = report.version_date or date.today()
    newest = max((r.last_verified for r in stored.values() if r.last_verified), default=None)
    if report.version_date and newest and report.version_date < newest:
        report.notes.append(f"This version ({report.version_date:%d %B %Y}) is older than the one the directory "
                            f"holds ({newest:%d %B %Y}): committing would take the directory back to it.")
    if not report.links_known:  # no links file: keep what the stored records say each site is part of
        for i, r in enumerate(report.records):
            old = stored.get(r.source_id)
            if old is not None and r.part_of_id is None:
                report.records[i] = dataclasses.replace(r, part_of_id=old.part_of_id, part_of_name=old.part_of_name)
    for sid, rec in sorted(stored.items()):
        if sid in report.listed or rec.status != "active":
            continue
        report.add(dataclasses.replace(rec, status="defunct", closed_on=when), 0)
    return stored


def sync_review(report: Report, stored: dict[str, ServiceRecord], source: str) -> SyncReview:
    sr = SyncReview(source, report.version_date)
    closed_ids = {sid for _, sid, _, _ in report.closed}
    for r in report.records:
        old = stored.get(r.source_id)
        if r.source_id not in report.listed:
            sr.no_longer_listed.append((r.source_id, r.name))
        elif r.source_id in closed_ids:
            sr.closed.append((r.source_id, r.name))
        elif old is None:
            sr.new.append((r.source_id, r.name))
        elif old.status != "active" and r.status == "active":
            sr.reappeared.append((r.source_id, r.name))
        else:
            new = normalised(r)
            diff = [f for f in COMPARED if getattr(old, f) != getattr(new, f)]
            (sr.changed.append((r.source_id, r.name, diff)) if diff else sr.unchanged.append((r.source_id, r.name)))
    sr.unplaceable = [(sid, name, why) for _, sid, name, why in report.unplaceable]
    return sr


def summary_lines(sr: SyncReview) -> list[str]:
    """The sync review as text lines (the command line prints them before committing)."""
    c = sr.counts
    when = f" {sr.version_date:%d %b %Y}" if sr.version_date else ""
    out = [f"sync review against the stored {sr.source}{when}: {c['new']} new, {c['changed']} changed, "
           f"{c['unchanged']} unchanged, {c['reappeared']} reappeared, {c['no_longer_listed']} no longer listed, "
           f"{c['closed']} listed as closed, {c['unplaceable']} can't be placed"]
    out += [f"{r['change']}\t{r['id']}\t{r['name']}\t{r['details']}" for r in sr.rows()]
    return out
