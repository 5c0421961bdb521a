"""Review an import against the directory, then commit it in one transaction (or cancel).

`read_file` runs the right importer; `review` adds the checks that need the
directory (duplicates of stored services) and says what each record would do
(new / updated / unchanged); `commit` writes it all or nothing. The Manage page
and `python -m directory import` both go through here.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..geocode import PostcodeIndex
from ..store import Directory, ServiceRecord, WriteSummary, too_long
from .report import ERROR, WARNING, Problem, Report
from .sync import SyncReview, register_source, retire_unlisted, sync_review

KINDS = {
    "csv": "Our CSV template",
    "oruk": "Open Referral UK JSON",
    "gias-cc": "DfE GIAS children's centres CSV",
    "family-hubs": "DfE list of family hub sites CSV",
}


class ImportRefused(Exception):
    """Commit refused: the message says why (file problems, rejected rows, nothing to write)."""


def read_file(kind: str, data: bytes, source: str, postcodes: PostcodeIndex | None, directory: Directory | None,
              filename: str | None = None, limit_bytes: int | None = None, links: bytes | None = None,
              max_rows: int | None = None) -> Report:
    """The importer's report for an uploaded file of `kind` (a key of KINDS); `links`: GIAS's
    links file beside a children's centres extract. With `max_rows` (browser uploads), a file
    holding more records is refused before it is validated."""
    if max_rows is not None and kind in KINDS:
        from .report import too_big, too_many_rows

        refused = too_big(data, limit_bytes) or too_many_rows(kind, data, max_rows)
        if refused:
            return Report(problems=[refused], unit="service" if kind == "oruk" else "row")
    if kind == "csv":
        from .csv_import import read_services_csv

        return read_services_csv(data, source, postcodes, limit_bytes)
    if kind == "oruk":
        from .oruk import read_oruk

        terms = directory.taxonomy_map() if directory is not None else None
        return read_oruk(data, source, postcodes, terms, limit_bytes)
    if kind == "gias-cc":
        from .gias import CHILDRENS_CENTRES_SOURCE, read_childrens_centres

        return read_childrens_centres(data, postcodes, filename, limit_bytes, source or CHILDRENS_CENTRES_SOURCE,
                                      links)
    if kind == "family-hubs":
        from .family_hubs import SOURCE, read_family_hubs

        return read_family_hubs(data, postcodes, filename, limit_bytes, source or SOURCE)
    raise ValueError(f"unknown import kind {kind!r}: use one of {', '.join(KINDS)}")


def default_source(kind: str, filename: str | None = None) -> str:
    if kind == "gias-cc":
        from .gias import CHILDRENS_CENTRES_SOURCE

        return CHILDRENS_CENTRES_SOURCE
    if kind == "family-hubs":
        from .family_hubs import SOURCE

        return SOURCE
    return ""


@dataclass
class Review:
    report: Report
    states: dict[tuple[str, str], str] = field(default_factory=dict)
    sync: "SyncReview | None" = None  # a register's re-import (GIAS): new, changed, no longer listed...

    @property
    def records(self) -> list[ServiceRecord]:
        return self.report.records

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(self.states.get(r.key, "new") for r in self.records)
        return {"new": c["new"], "updated": c["updated"], "unchanged": c["unchanged"],
                "rejected": len(self.report.rejected_rows), "warnings": len(self.report.warnings),
                "skipped": self.report.skipped}

    @property
    def to_write(self) -> int:
        return self.counts["new"] + self.counts["updated"]

    @property
    def sources(self) -> Counter:
        """How many records of each source the commit would touch (an own export may name several)."""
        return Counter(r.source for r in self.records if self.states.get(r.key) != "unchanged")

    def refusal(self, skip_rejected: bool = False) -> str | None:
        """Why a commit would be refused now, or None."""
        rep = self.report
        if rep.file_error or (not rep.records and rep.errors and all(p.row == 0 for p in rep.errors)):
            return "The file can't be imported: " + " ".join(p.message for p in rep.errors if p.row <= 1)
        if rep.errors and not rep.records:
            n = len(rep.rejected_rows)
            every = f"the {rep.unit}" if n == 1 else f"all {n} {rep.unit}s"
            return (f"Nothing to write: {every} {'was' if n == 1 else 'were'} rejected (see the problems). Fix "
                    "them and upload again.")
        if rep.errors and not skip_rejected:
            n = len(rep.rejected_rows)
            return (f"{n} {rep.unit}{'s have' if n != 1 else ' has'} problems. Fix {'them' if n != 1 else 'it'} and "
                    f"upload again, or choose to skip the rejected {rep.unit}{'s' if n != 1 else ''} and import the "
                    "rest.")
        if not self.to_write:
            return "Nothing to write: every record is already in the directory as it is."
        return None


def review(report: Report, directory: Directory, keyed: bool = False) -> Review:
    """Check the report's records against the directory and classify them (nothing is written).
    `keyed`: records keyed by their source's ids (a feed): the same name and postcode as another stored
    service of the source is a warning, as in a register."""
    register = report.listed is not None  # a full register (GIAS): a re-import is a sync
    dups = directory.find_duplicates(report.records, same_source_warns=register or keyed,
                                     other_sources_warn=report.pairs_offered)
    for i, rec in enumerate(report.records):
        for fieldname, message in too_long(rec):
            dups.setdefault(i, []).append((fieldname, message, ERROR))
    if dups:
        keep, rows = [], []
        for i, (rec, n) in enumerate(zip(report.records, report.record_rows)):
            found = dups.get(i, [])
            for fieldname, message, severity in found:
                report.problems.append(Problem(n, fieldname, message, severity))
            if any(sev == ERROR for _, _, sev in found):
                continue
            keep.append(rec)
            rows.append(n)
        report.records, report.record_rows = keep, rows
    _retire_closed(report, directory)
    source = register_source(report) if register else None
    stored = retire_unlisted(report, directory, source) if source else {}
    report.problems.sort(key=lambda p: (p.row, p.severity != ERROR))
    return Review(report, directory.classify(report.records),
                  sync_review(report, stored, source) if source else None)


def _retire_closed(report: Report, directory: Directory) -> None:
    """Services the file now lists as closed, stored and still active: marked defunct (an update)."""
    for source, source_id, n, status in report.closed:
        stored = directory.find(source, source_id)
        if stored is not None and stored.record.status == "active":
            report.add(dataclasses.replace(stored.record, status="defunct", closed_on=report.version_date), n)
            report.problems.append(Problem(n, "EstablishmentStatus (name)", f"“{stored.record.name}” is now "
                                           f"“{status}”: it will be marked defunct (hidden from families).",
                                           WARNING))


def commit(rv: Review, directory: Directory, actor: str, skip_rejected: bool = False,
           fail_after: int | None = None, progress=None, *, source: str | None = None, kind: str | None = None,
           file_name: str | None = None, steward: str | None = None) -> WriteSummary:
    """Write the reviewed records in one transaction: all of them or, on any failure, none.
    The write is recorded as one import batch (source, kind, file name, steward), which
    `batches.undo_import` can undo in one step."""
    if not actor or not actor.strip():
        raise ImportRefused("Say who you are: every change records who made it.")
    reason = rv.refusal(skip_rejected)
    if reason:
        raise ImportRefused(reason)
    if source is None:
        common = rv.sources.most_common(1)
        source = common[0][0] if common else None
    batch = {"source": source, "kind": kind, "file_name": Path(file_name).name if file_name else None,
             "steward": (steward or actor).strip()}
    return directory.upsert(rv.records, actor=actor.strip(), fail_after=fail_after, progress=progress, batch=batch)


def actor_for(steward: str, kind: str, filename: str | None) -> str:
    """What the audit trail records as 'who': the steward and the file they loaded."""
    where = f" ({KINDS.get(kind, kind)}: {Path(filename).name})" if filename else ""
    return f"{steward.strip()}{where}"
