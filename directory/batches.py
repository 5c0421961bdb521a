"""Imports as units: list the committed imports, and undo one in a single step.

Every committed import is an `import_batch` row (when, which steward, which source
and file, how many services it added, updated, closed and left unchanged) and each
audit row it wrote names the batch. `undo_import` puts every service it touched back
as it was just before the import, in one transaction, audited:
- services the import created are removed (with their places);
- services it updated (closures too) get their earlier record back;
- organisations only the import brought in, and that no service uses any more, go.
A service changed again after the import (a steward's edit, a later import) is not
overwritten: the undo is refused and names those services, so nobody's later work is
lost silently. A service already put back by hand (its per-service undo) is skipped.
"""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select

from .model import Audit, ImportBatch, Location, Organization, Service, ServiceAtLocation, utcnow
from .store import Directory, NotFound, ServiceRecord, _json, _NewRows, _stored_records, bump_version, normalised


def _record(js: str | None) -> ServiceRecord | None:
    return normalised(ServiceRecord.from_dict(json.loads(js))) if js else None


def list_imports(directory: Directory, limit: int = 100) -> list[dict]:
    """The newest committed imports: id, at, actor, source, kind, file_name, counts, undone_at, undone_by."""
    q = select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)
    with directory.Session() as s:
        return [{c: getattr(b, c) for c in ("id", "at", "actor", "source", "kind", "file_name", "new", "updated",
                                              "closed", "unchanged", "undone_at", "undone_by")}
                for b in s.scalars(q)]


def records_of_import(directory: Directory, batch_id: int) -> list[ServiceRecord]:
    """Every record an import touched, as it was before and as the import left it (for a scope check)."""
    with directory.Session() as s:
        rows = s.execute(select(Audit.before, Audit.after).where(Audit.batch_id == batch_id,
                                                                 Audit.action != "undo")).all()
    return [r for pair in rows for r in map(_record, pair) if r is not None]


class UndoRefused(ValueError):
    """The import can't be undone as it stands; the message says why and what to do."""


def undo_import(directory: Directory, batch_id: int, actor: str) -> dict[str, int]:
    """Undo every change import `batch_id` made (see the module notes). Returns counts:
    removed (services it created), restored (services it updated), reopened (of the restored:
    ones it had closed), skipped (already put back)."""
    actor = actor.strip()[:200]
    if not actor:
        raise UndoRefused("Say who you are: every change records who made it.")
    with directory.Session.begin() as s:
        batch = s.get(ImportBatch, batch_id)
        if batch is None:
            raise NotFound(f"No import with id {batch_id}.")
        if batch.undone_at is not None:
            raise UndoRefused(f"Import {batch_id} was already undone ({batch.undone_at:%Y-%m-%d %H:%M} by "
                              f"{batch.undone_by}).")
        first: dict[str, Audit] = {}
        last: dict[str, Audit] = {}
        for a in s.scalars(select(Audit).where(Audit.batch_id == batch_id, Audit.action != "undo")
                           .order_by(Audit.id)):
            first.setdefault(a.service_id, a)
            last[a.service_id] = a
        before = {sid: _record(a.before) for sid, a in first.items()}
        after = {sid: _record(last[sid].after) for sid in first}
        sources = {r.source for r in list(before.values()) + list(after.values()) if r is not None}
        current = {sid: rec for sid, rec in _stored_records(s.connection(), sources).values()}
        to_remove, to_restore, skipped, changed = [], [], 0, []
        for sid in first:
            now = current.get(sid)
            if now == after[sid]:
                (to_remove if before[sid] is None else to_restore).append(sid)
            elif now == before[sid]:
                skipped += 1
            else:
                changed.append((after[sid] or before[sid]).name)
        if changed:
            names = ", ".join(f"“{n}”" for n in sorted(changed)[:5]) + (" ..." if len(changed) > 5 else "")
            raise UndoRefused(f"{len(changed)} of the services this import wrote have changed since ({names}). "
                              "Nothing was undone: undo the later changes (or imports) first, or correct those "
                              "services by hand.")
        now = utcnow()
        audits = []
        for sid in to_remove:
            audits.append({"at": now, "actor": actor, "source": after[sid].source, "action": "undo",
                           "service_id": sid, "before": _json(after[sid]), "after": None, "batch_id": batch_id})
        for i in range(0, len(to_remove), 500):
            ids = to_remove[i:i + 500]
            locations = list(s.scalars(select(ServiceAtLocation.location_id)
                                       .where(ServiceAtLocation.service_id.in_(ids))))
            s.execute(delete(Service).where(Service.id.in_(ids)))  # places, contacts, terms...: ON DELETE CASCADE
            s.execute(delete(Location).where(Location.id.in_(locations)))
        reopened = 0
        for sid in to_restore:
            target = before[sid]
            reopened += target.status == "active" and after[sid].status != "active"
            audits.append({"at": now, "actor": actor, "source": target.source, "action": "undo", "service_id": sid,
                           "before": _json(after[sid]), "after": _json(target), "batch_id": batch_id})
        restore = {sid: before[sid] for sid in to_restore}
        rows = _NewRows(s, directory._terms(s), {r.organization for r in restore.values() if r.organization}, actor,
                        batch_id)
        rows.replace(restore)  # in bulk: the rows a steward's save would leave, version-checked
        s.flush()
        if audits:
            s.execute(Audit.__table__.insert(), audits)
        # organisations the import brought in that no service uses now
        brought = ({r.organization for r in after.values() if r and r.organization}
                   - {r.organization for r in before.values() if r and r.organization})
        for name in sorted(brought):
            for org in s.scalars(select(Organization).where(Organization.name == name)):
                used = s.scalar(select(func.count()).select_from(Service).where(Service.organization_id == org.id))
                if not used:
                    s.delete(org)
        batch.undone_at, batch.undone_by = now, actor
        bump_version(s)  # every page in every process sees the change on its next run
        return {"removed": len(to_remove), "restored": len(to_restore), "reopened": int(reopened),
                "skipped": skipped}
