"""The directory database: records in, flat tables out.

`ServiceRecord` is the plain form of a service that importers produce and
exporters read; `Directory` stores records (SQLite by default, PostgreSQL by
URL) and returns the flat table of service locations the maps and metrics use.
Every write is one transaction with an audit row per changed service.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, create_engine, event, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from . import config, taxonomy
from .crs import TO_BNG
from .model import (
    Audit,
    Base,
    Contact,
    CostOption,
    DirectoryVersion,
    ImportBatch,
    Language,
    Location,
    Organization,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyMapping,
    TaxonomyTerm,
    new_id,
    service_taxonomy,
    utcnow,
)



@dataclass
class Place:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    town: str | None = None
    postcode: str | None = None
    precision: str = "building"  # what the point is: "building", "postcode" (its centre) or "sector"


#: Location precisions, best first (families see "building", "postcode centre", "postcode sector").
PRECISIONS = ("building", "postcode", "sector")


@dataclass
class ServiceRecord:
    source: str
    source_id: str
    name: str
    types: list[str] = field(default_factory=list)  # taxonomy codes
    places: list[Place] = field(default_factory=list)
    organization: str | None = None
    description: str | None = None
    url: str | None = None
    email: str | None = None
    phone: str | None = None
    fees: str | None = None
    is_free: bool | None = None
    referral: str | None = None  # "self", "professional", "both"
    referral_notes: str | None = None
    min_age_months: int | None = None
    max_age_months: int | None = None
    pregnancy: bool = False
    eligibility: str | None = None
    schedule: str | None = None
    languages: list[str] = field(default_factory=list)
    last_verified: date | None = None
    capacity: float | None = None
    status: str = "active"
    part_of_id: str | None = None  # a linked site's main service: its source id (same source) ...
    part_of_name: str | None = None  # ... and its name
    closed_on: date | None = None  # when the source first listed it closed or no longer listed it
    # where it is available (GSS codes: upper-tier authorities or England, service_areas.py): what a
    # service without a building (helpline, online group, home visits) has instead of a place
    service_areas: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in _RECORD_FIELDS}  # what dataclasses.asdict gives, without deep copies
        d["places"] = [{k: getattr(p, k) for k in _PLACE_FIELDS} for p in self.places]
        d["types"], d["languages"] = list(self.types), list(self.languages)
        d["service_areas"] = list(self.service_areas)
        d["last_verified"] = self.last_verified.isoformat() if self.last_verified else None
        d["closed_on"] = self.closed_on.isoformat() if self.closed_on else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ServiceRecord":
        d = dict(d)
        d["places"] = [Place(**p) for p in d.get("places", [])]
        for k in ("last_verified", "closed_on"):
            if d.get(k):
                d[k] = date.fromisoformat(d[k])
        return cls(**d)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)


@dataclass
class WriteSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    closed: int = 0  # of the updated: active services the import closed (status no longer active)
    batch_id: int | None = None  # the import batch, when the write was recorded as one

    @property
    def changed(self) -> int:
        return self.new + self.updated


#: Coordinates are kept to 6 decimal places (about 0.1 m), as every importer gives them.
COORD_DECIMALS = 6


def _blank(v):
    return None if v is None or (isinstance(v, str) and not v.strip()) else v


def _place_key(p: Place) -> tuple:
    return (p.latitude, p.longitude, p.name or "", p.address or "", p.town or "", p.postcode or "",
            p.precision or "building")


def _places_of(s: Service) -> list[tuple[Place, str]]:
    """(place, location id) of a stored service, in the canonical order (by coordinates)."""
    pairs = [
        (Place(latitude=sal.location.latitude, longitude=sal.location.longitude, name=sal.location.name,
               address=sal.location.address_1, town=sal.location.city, postcode=sal.location.postal_code,
               precision=sal.location.precision or "building"),
         sal.location.id)
        for sal in s.locations
    ]
    return sorted(pairs, key=lambda pair: _place_key(pair[0]))


def record_of(s: Service) -> ServiceRecord:
    """The plain record of a stored service (places by coordinates, languages sorted)."""
    contact = s.contacts[0] if s.contacts else None
    return ServiceRecord(
        source=s.source,
        source_id=s.source_id,
        name=s.name,
        types=sorted(t.code for t in s.terms),
        places=[p for p, _ in _places_of(s)],
        organization=s.organization.name if s.organization else None,
        description=s.description,
        url=s.url,
        email=s.email,
        phone=contact.phone if contact else None,
        fees=s.fees,
        is_free=s.is_free,
        referral=s.referral,
        referral_notes=s.referral_notes,
        min_age_months=s.minimum_age_months,
        max_age_months=s.maximum_age_months,
        pregnancy=bool(s.pregnancy),
        eligibility=s.eligibility_description,
        schedule=s.schedules[0].description if s.schedules else None,
        languages=sorted({lang.name for lang in s.languages}),
        last_verified=s.assured_date,
        capacity=s.capacity,
        status=s.status,
        part_of_id=s.part_of_id,
        part_of_name=s.part_of_name,
        closed_on=s.closed_on,
        service_areas=sorted({a.code for a in s.service_areas}),
    )


def _normal_place(p: dict) -> Place:
    q = {k: _blank(v) if isinstance(v, str) else round(v, COORD_DECIMALS) if k in ("latitude", "longitude") else v
         for k, v in p.items()}
    q["precision"] = q.get("precision") or "building"
    return Place(**q)


_RECORD_FIELDS = [f.name for f in dataclasses.fields(ServiceRecord)]
_PLACE_FIELDS = [f.name for f in dataclasses.fields(Place)]


def normalised(r: ServiceRecord) -> ServiceRecord:
    """A record as the store would give it back (blank strings as None, types sorted)."""
    d = {k: _blank(v) if isinstance(v, str) else v for k, v in ((k, getattr(r, k)) for k in _RECORD_FIELDS)}
    d["types"] = sorted(set(r.types))
    d["places"] = sorted((_normal_place({k: getattr(p, k) for k in _PLACE_FIELDS}) for p in r.places),
                         key=_place_key)
    d["languages"] = sorted({lang.strip() for lang in r.languages if lang and lang.strip()})
    d["service_areas"] = sorted({c.strip().upper() for c in r.service_areas if c and c.strip()})
    d["pregnancy"] = bool(r.pregnancy)
    d["status"] = d["status"] or "active"
    return ServiceRecord(**d)


@dataclass
class StoredService:
    """A service as stored: its record plus the ids and version an editor or exporter needs."""

    id: str
    version: int
    record: ServiceRecord
    last_modified: datetime | None = None
    organization_id: str | None = None
    location_ids: list[str] = field(default_factory=list)  # parallel to record.places


class StaleEdit(Exception):
    """The service changed after the steward opened it: their save would overwrite someone's change."""

    def __init__(self, service_id: str, message: str | None = None):
        super().__init__(message or "Someone else changed this service after you opened it. Nothing was saved: "
                                    "reload it to see their change, then make yours again.")
        self.service_id = service_id


class NotFound(LookupError):
    """No such service (or nothing to undo)."""


def stored_of(sv: Service) -> StoredService:
    pairs = _places_of(sv)
    record = record_of(sv)
    return StoredService(id=sv.id, version=sv.version, record=record, last_modified=sv.last_modified,
                         organization_id=sv.organization_id, location_ids=[i for _, i in pairs])


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _name_key(name: str | None) -> str:
    return " ".join((name or "").casefold().split())


def _postcode_key(postcode: str | None) -> str:
    return re.sub(r"\s+", "", (postcode or "").upper())


def _limit(column) -> int | None:
    return getattr(column.type, "length", None)


#: record field -> the column length it must fit (PostgreSQL enforces them; SQLite would not)
FIELD_LIMITS = {
    "source": _limit(Service.source), "source_id": _limit(Service.source_id), "name": _limit(Service.name),
    "url": _limit(Service.url), "email": _limit(Service.email), "referral": _limit(Service.referral),
    "organization": _limit(Organization.name), "phone": _limit(Contact.phone), "status": _limit(Service.status),
    "part_of_id": _limit(Service.part_of_id), "part_of_name": _limit(Service.part_of_name),
}
LANGUAGE_LIMIT = _limit(Language.name)
AREA_LIMIT = _limit(ServiceArea.code)
PLACE_LIMITS = {"name": _limit(Location.name), "address": _limit(Location.address_1),
                "town": _limit(Location.city), "postcode": _limit(Location.postal_code)}


def too_long(r: ServiceRecord) -> list[tuple[str, str]]:
    """(field, message) for each value longer than its column allows."""
    out = []
    for name, limit in FIELD_LIMITS.items():
        v = getattr(r, name)
        if isinstance(v, str) and limit and len(v) > limit:
            out.append((name, f"{name} is {len(v)} characters long; the most is {limit}."))
    for lang in r.languages:
        if len(lang) > LANGUAGE_LIMIT:
            out.append(("languages", f"A language name is {len(lang)} characters long; the most is {LANGUAGE_LIMIT}."))
    for code in r.service_areas:
        if len(code) > AREA_LIMIT:
            out.append(("service_area", f"A service area code is {len(code)} characters long; the most is {AREA_LIMIT}."))
    for p in r.places:
        for name, limit in PLACE_LIMITS.items():
            v = getattr(p, name)
            if isinstance(v, str) and len(v) > limit:
                out.append((name if name != "name" else "location_name",
                            f"{name} of a place is {len(v)} characters long; the most is {limit}."))
    return out


def bump_version(s) -> None:
    """Count one more write, in the writer's own transaction (see `Directory.version`)."""
    s.execute(update(DirectoryVersion).where(DirectoryVersion.id == 1)
              .values(version=DirectoryVersion.version + 1))


def _json(r: ServiceRecord | None) -> str | None:
    return json.dumps(r.to_dict(), ensure_ascii=False) if r is not None else None


class Directory:
    """The service directory in a SQL database."""

    def __init__(self, url: str | None = None, engine: Engine | None = None):
        self.url = config.database_url(url)
        self.engine = engine or make_engine(self.url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    # ---------------------------------------------------------- schema

    def create(self) -> "Directory":
        """Bring the schema to the newest migration and add our taxonomy terms (idempotent)."""
        from .migrate import ensure_migrated

        ensure_migrated(self.engine)
        with self.Session.begin() as s:
            have = set(s.scalars(select(TaxonomyTerm.code)))
            for t in taxonomy.TERMS:
                if t.code not in have:
                    s.add(TaxonomyTerm(code=t.code, name=t.label, description=t.description,
                                       taxonomy=taxonomy.VOCABULARY))
        return self

    def version(self) -> int:
        """The directory's version: a counter every write (app, command line, any process) bumps in
        the same transaction. Caches of the services are keyed on it, so they are never stale."""
        with self.engine.connect() as c:
            return c.scalar(select(DirectoryVersion.version).where(DirectoryVersion.id == 1)) or 0

    def count(self) -> int:
        with self.Session() as s:
            return s.scalar(select(func.count()).select_from(Service))

    # ---------------------------------------------------------- imports

    def classify(self, records: Iterable[ServiceRecord]) -> dict[tuple[str, str], str]:
        """For each record key: "new", "updated" or "unchanged" against what is stored."""
        records = list(records)
        with self.engine.connect() as c:
            stored = _stored_records(c, {r.source for r in records})
        out = {}
        for r in records:
            old = stored.get(r.key)
            out[r.key] = "new" if old is None else ("unchanged" if old[1] == normalised(r) else "updated")
        return out

    def find_duplicates(self, records: list[ServiceRecord], same_source_warns: bool = False,
                        other_sources_warn: bool = False) -> dict[int, list[tuple[str, str, str]]]:
        """Records that look like a service already stored under another key.

        Returns {index in records: [(field, message, severity)]}: same name and
        postcode as a stored service (an error), or the same source id under another
        source (an error for globally unique ids such as ORUK UUIDs, else a warning).
        `same_source_warns`: the same name and postcode within the record's own source is
        only a warning (a register keyed by its own ids, such as GIAS URNs); `other_sources_warn`: so is
        the same name and postcode in another source (DfE's family hubs beside GIAS centres: offered to
        stewards as a duplicate pair, `duplicates.py`).
        """
        out: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        if not records:
            return out
        ids = sorted({r.source_id for r in records})
        by_np: dict[tuple[str, str], list[tuple]] = defaultdict(list)
        by_id: dict[str, list[tuple]] = defaultdict(list)
        with self.engine.connect() as c:
            q = (select(Service.source, Service.source_id, Service.name, Location.postal_code)
                 .join(ServiceAtLocation, ServiceAtLocation.service_id == Service.id)
                 .join(Location, Location.id == ServiceAtLocation.location_id)
                 .where(Location.postal_code.is_not(None)))
            for src, sid, name, pc in c.execute(q):
                by_np[(_name_key(name), _postcode_key(pc))].append((src, sid, name, pc))
            for i in range(0, len(ids), 500):
                q = select(Service.source, Service.source_id, Service.name).where(Service.source_id.in_(ids[i:i + 500]))
                for src, sid, name in c.execute(q):
                    by_id[sid].append((src, sid, name))
        for i, r in enumerate(records):
            seen = set()
            for p in r.places:
                if not p.postcode:
                    continue
                for src, sid, name, pc in by_np.get((_name_key(r.name), _postcode_key(p.postcode)), []):
                    if (src, sid) != r.key and (src, sid) not in seen:
                        seen.add((src, sid))
                        warn = (same_source_warns and src == r.source) or (other_sources_warn and src != r.source)
                        out[i].append(("name", f"Duplicate of an existing service: “{name}” at {pc} "
                                               f"(source {src}, id {sid})."
                                       + (" Offered as a pair under Duplicates." if warn and src != r.source
                                          else ""), "warning" if warn else "error"))
            for src, sid, name in by_id.get(r.source_id, []):
                if src != r.source and (src, sid) not in seen:
                    unique = bool(_UUID.match(sid))
                    out[i].append(("source_id", f"The same source id {sid} is already stored for “{name}” from "
                                                f"source {src}" + (": this looks like the same service." if unique
                                                                   else ": check this is not the same service."),
                                   "error" if unique else "warning"))
        return out

    def source_records(self, source: str) -> dict[str, ServiceRecord]:
        """source_id -> stored record, for every service of one source (any status)."""
        with self.engine.connect() as c:
            return {k[1]: rec for k, (_, rec) in _stored_records(c, {source}).items()}

    def upsert(self, records: Iterable[ServiceRecord], actor: str, fail_after: int | None = None,
               progress=None, batch: dict | None = None) -> WriteSummary:
        """Insert or update records keyed on (source, source_id), all in one transaction.

        Unchanged records are not touched, so re-importing a file changes nothing.
        New services are written with plain INSERTs (executemany), updates in bulk too (child rows
        replaced, each row's version checked and bumped as the ORM does); both with an audit row each.
        `fail_after` is for tests: raise after that many records, once the writes so far have
        been sent to the database, to prove the rollback. `progress(fraction)` is called every
        1,000 records.
        `batch` ({"source", "kind", "file_name", "steward"}) records the write as one import
        (an `import_batch` row with its counts; every audit row names it), so that
        `undo_import` can undo all of it in one step.
        """
        summary = WriteSummary()
        records = list(records)
        actor = actor[:200]
        with self.Session.begin() as s:
            terms = {t.code: t for t in s.scalars(select(TaxonomyTerm))}
            stored = _stored_records(s.connection(), {r.source for r in records})  # key -> (id, record)
            created: dict[tuple[str, str], str] = {}  # key -> id of services created by this call
            reverified: list[tuple[str, ServiceRecord, ServiceRecord]] = []  # (id, old, new): only the date moved
            ib = None
            if batch is not None:
                ib = ImportBatch(actor=(batch.get("steward") or actor)[:200], source=(batch.get("source") or None),
                                 kind=batch.get("kind"), file_name=(batch.get("file_name") or None),
                                 new=0, updated=0, closed=0, unchanged=0)
                if ib.source:
                    ib.source = ib.source[:100]
                if ib.file_name:
                    ib.file_name = ib.file_name[:300]
                s.add(ib)
                s.flush()
                summary.batch_id = ib.id
            new_rows = _NewRows(s, terms, {r.organization for r in records if r.organization}, actor,
                                summary.batch_id)
            updates: dict[str, ServiceRecord] = {}  # service id -> its new record, written in bulk
            update_audits: list[dict] = []

            def write_updates():
                new_rows.replace(updates)  # after the new rows so far: an update may be of one of them
                if update_audits:
                    s.execute(Audit.__table__.insert(), update_audits)
                updates.clear()
                update_audits.clear()

            for i, r in enumerate(records):
                if progress is not None and i % 1000 == 0:
                    progress(i / max(len(records), 1))
                if fail_after is not None and i >= fail_after:
                    write_updates()
                    s.flush()
                    raise RuntimeError(f"injected failure after {fail_after} records")
                r = normalised(r)
                if r.key not in stored and r.key not in created:
                    created[r.key] = new_rows.add(r)
                    stored[r.key] = (created[r.key], r)  # a later record with this key updates it
                    summary.new += 1
                    if len(new_rows) >= 1000:
                        new_rows.write()
                    continue
                sid, old = stored[r.key]
                if old == r:
                    summary.unchanged += 1
                    continue
                if dataclasses.replace(old, last_verified=r.last_verified) == r:
                    reverified.append((sid, old, r))  # a newer register, same details
                    stored[r.key] = (sid, r)
                    summary.updated += 1
                    continue
                stored[r.key] = (sid, r)
                summary.updated += 1
                if old.status == "active" and r.status != "active":
                    summary.closed += 1
                updates[sid] = r
                update_audits.append({"at": utcnow(), "actor": actor, "source": r.source, "action": "update",
                                      "service_id": sid, "before": _json(old), "after": _json(r),
                                      "batch_id": summary.batch_id})
                if len(updates) >= 1000:
                    write_updates()
            write_updates()
            s.flush()
            _write_reverified(s, reverified, actor, summary.batch_id)
            if summary.changed or reverified:
                bump_version(s)
            if ib is not None:
                ib.new, ib.updated, ib.closed, ib.unchanged = (summary.new, summary.updated, summary.closed,
                                                               summary.unchanged)
        return summary

    @classmethod
    def _apply(cls, s: Session, sv: Service, r: ServiceRecord, terms: dict, orgs: dict) -> None:
        with s.no_autoflush:  # one INSERT or UPDATE of the row per write: the version goes up by one
            cls._apply_fields(s, sv, r, terms, orgs)

    @staticmethod
    def _apply_fields(s: Session, sv: Service, r: ServiceRecord, terms: dict, orgs: dict) -> None:
        if r.organization:
            org = orgs.get(r.organization) or s.scalar(select(Organization).where(Organization.name == r.organization))
            if org is None:
                org = Organization(id=new_id(), name=r.organization)
                s.add(org)
            orgs[r.organization] = org
            sv.organization = org
        else:
            sv.organization = None
        unknown = [t for t in r.types if t not in terms]
        if unknown:
            raise ValueError(f"unknown service type(s) {unknown} for {r.name!r}")
        sv.name = r.name
        sv.terms = [terms[t] for t in r.types]
        sv.description, sv.url, sv.email, sv.status = r.description, r.url, r.email, r.status
        sv.fees, sv.is_free, sv.referral, sv.referral_notes = r.fees, r.is_free, r.referral, r.referral_notes
        sv.minimum_age_months, sv.maximum_age_months = r.min_age_months, r.max_age_months
        sv.pregnancy, sv.eligibility_description = r.pregnancy, r.eligibility
        sv.assured_date, sv.capacity = r.last_verified, r.capacity
        sv.part_of_id, sv.part_of_name, sv.closed_on = r.part_of_id, r.part_of_name, r.closed_on
        sv.contacts = [Contact(phone=r.phone)] if r.phone else []
        sv.schedules = [Schedule(description=r.schedule)] if r.schedule else []
        sv.languages = [Language(name=n) for n in r.languages]
        sv.service_areas = [ServiceArea(code=c) for c in r.service_areas]
        sv.cost_options = [CostOption(option="free" if r.is_free else None, amount_description=r.fees)] if (
            r.fees or r.is_free is not None) else []
        old_locations = [sal.location for sal in sv.locations]
        sv.locations = [
            ServiceAtLocation(location=Location(id=new_id(), name=p.name, address_1=p.address, city=p.town,
                                                postal_code=p.postcode, latitude=p.latitude,
                                                longitude=p.longitude, precision=p.precision or "building"))
            for p in r.places
        ]
        for loc in old_locations:  # each place has its own location row: replaced ones go
            s.delete(loc)
        # a change to the row itself, so the version goes up even when only child rows changed
        sv.last_modified = utcnow()

    # ---------------------------------------------------------- stewards' edits

    def _terms(self, s: Session) -> dict[str, TaxonomyTerm]:
        return {t.code: t for t in s.scalars(select(TaxonomyTerm))}

    def get(self, service_id: str) -> StoredService:
        with self.Session() as s:
            sv = s.get(Service, service_id)
            if sv is None:
                raise NotFound(f"No service with id {service_id}.")
            return stored_of(sv)

    def find(self, source: str, source_id: str) -> StoredService | None:
        with self.Session() as s:
            sv = s.scalar(select(Service).where(Service.source == source, Service.source_id == source_id))
            return stored_of(sv) if sv else None

    def save(self, record: ServiceRecord, actor: str, service_id: str | None = None,
             expected_version: int | None = None) -> StoredService:
        """Create a service (no `service_id`) or replace one's details, with an audit row.

        An update must say which version the steward started from: if the stored
        version moved on (someone else saved), StaleEdit is raised and nothing is
        written. The database checks the version too (UPDATE ... WHERE version = ?),
        so two saves racing each other can't both win.
        """
        r = normalised(record)
        long = too_long(r)
        if long:
            raise ValueError(" ".join(m for _, m in long))
        try:
            with self.Session.begin() as s:
                terms = self._terms(s)  # before anything is added: a query would flush a half-made row
                if service_id is None:
                    if s.scalar(select(Service.id).where(Service.source == r.source, Service.source_id == r.source_id)):
                        raise ValueError(f"A service with source {r.source!r} and id {r.source_id!r} already exists.")
                    sv = Service(id=new_id(), source=r.source, source_id=r.source_id, name=r.name)
                    s.add(sv)
                    before = None
                else:
                    sv = s.get(Service, service_id, populate_existing=True)
                    if sv is None:
                        raise NotFound(f"No service with id {service_id}: it may have been removed.")
                    if expected_version is not None and sv.version != expected_version:
                        raise StaleEdit(service_id, f"Someone else saved this service after you opened it (you "
                                                    f"started from version {expected_version}, it is now version "
                                                    f"{sv.version}). Nothing was saved: reload it to see their "
                                                    "change, then make yours again.")
                    if r.key != (sv.source, sv.source_id):
                        raise ValueError("An edit can't change a service's source or source id.")
                    old = record_of(sv)
                    if old == r:
                        return stored_of(sv)
                    before = _json(old)
                self._apply(s, sv, r, terms, {})
                s.add(Audit(actor=actor[:200], source=r.source, action="create" if before is None else "update",
                            service_id=sv.id, before=before, after=_json(r)))
                s.flush()
                bump_version(s)
                return stored_of(sv)
        except StaleDataError as e:
            raise StaleEdit(service_id or "") from e

    def delete(self, service_id: str, actor: str, expected_version: int | None = None) -> None:
        try:
            with self.Session.begin() as s:
                sv = s.get(Service, service_id, populate_existing=True)
                if sv is None:
                    raise NotFound(f"No service with id {service_id}.")
                if expected_version is not None and sv.version != expected_version:
                    raise StaleEdit(service_id)
                s.add(Audit(actor=actor[:200], source=sv.source, action="delete", service_id=sv.id,
                            before=_json(record_of(sv)), after=None))
                self._remove(s, sv)
                bump_version(s)
        except StaleDataError as e:
            raise StaleEdit(service_id) from e

    @staticmethod
    def _remove(s: Session, sv: Service) -> None:
        locations = [sal.location for sal in sv.locations]
        s.delete(sv)
        s.flush()
        for loc in locations:
            s.delete(loc)

    @staticmethod
    def _undoable(s: Session, service_id: str) -> Audit:
        """The newest change of a service that no undo has cancelled yet."""
        pending = 0
        for a in s.scalars(select(Audit).where(Audit.service_id == service_id).order_by(Audit.id.desc())):
            if a.action == "undo":
                pending += 1  # each undo cancels the newest change before it not yet cancelled
            elif pending:
                pending -= 1
            else:
                return a
        raise NotFound("No recorded change of this service left to undo.")

    def undo_target(self, service_id: str) -> ServiceRecord | None:
        """What `undo` would restore (None: the undo removes the service)."""
        with self.Session() as s:
            last = self._undoable(s, service_id)
            return normalised(ServiceRecord.from_dict(json.loads(last.before))) if last.before else None

    def undo(self, service_id: str, actor: str) -> str:
        """Undo the last change of a service not undone yet: restore the record as it was before
        that change (or remove a service it created, or bring back one it deleted). The undo is
        itself recorded; undoing again steps further back. Returns what was undone."""
        try:
            with self.Session.begin() as s:
                last = self._undoable(s, service_id)
                terms = self._terms(s)
                target = normalised(ServiceRecord.from_dict(json.loads(last.before))) if last.before else None
                sv = s.get(Service, service_id, populate_existing=True)
                current = record_of(sv) if sv is not None else None
                if target is None:
                    if sv is not None:
                        self._remove(s, sv)
                else:
                    clash = s.scalar(select(Service.id).where(Service.source == target.source,
                                                              Service.source_id == target.source_id,
                                                              Service.id != service_id))
                    if clash:
                        raise ValueError(f"Can't undo: another service now has source {target.source!r} and id "
                                         f"{target.source_id!r}.")
                    if sv is None:
                        sv = Service(id=service_id, source=target.source, source_id=target.source_id,
                                     name=target.name)
                        s.add(sv)
                    sv.source, sv.source_id = target.source, target.source_id
                    self._apply(s, sv, target, terms, {})
                s.add(Audit(actor=actor[:200], source=(target or current).source if (target or current) else None,
                            action="undo", service_id=service_id, before=_json(current), after=_json(target)))
                bump_version(s)
                return last.action
        except StaleDataError as e:
            raise StaleEdit(service_id) from e

    def mark_verified(self, service_ids: Iterable[str], actor: str, on: date | None = None) -> int:
        """Set the last-verified date of these services (today by default), audited. Returns how many changed."""
        on = on or date.today()
        n = 0
        for sid in service_ids:
            st = self.get(sid)
            if st.record.last_verified != on:
                self.save(dataclasses.replace(st.record, last_verified=on), actor, sid, st.version)
                n += 1
        return n

    def history(self, service_id: str | None = None, limit: int = 100) -> list[dict]:
        """The newest audit rows (of one service, or all): when, who, source, what, and the service's name."""
        q = select(Audit).order_by(Audit.id.desc()).limit(limit)
        if service_id:
            q = q.where(Audit.service_id == service_id)
        with self.Session() as s:
            rows = []
            for a in s.scalars(q):
                rec = json.loads(a.after or a.before or "{}")
                rows.append({"id": a.id, "at": a.at, "actor": a.actor, "source": a.source, "action": a.action,
                             "service_id": a.service_id, "name": rec.get("name")})
            return rows

    def summaries(self, search: str | None = None, limit: int = 200) -> list[dict]:
        """Services for a steward to pick from: id, name, source, postcode, status, last verified, version."""
        q = (select(Service.id, Service.name, Service.source, Service.source_id, Service.status,
                    Service.assured_date, Service.version, func.min(Location.postal_code).label("postcode"))
             .outerjoin(ServiceAtLocation, ServiceAtLocation.service_id == Service.id)
             .outerjoin(Location, Location.id == ServiceAtLocation.location_id)
             .group_by(Service.id, Service.name, Service.source, Service.source_id, Service.status,
                       Service.assured_date, Service.version)
             .order_by(Service.name, Service.id).limit(limit))
        if search and search.strip():
            term = search.strip()
            q = q.where(or_(Service.name.icontains(term, autoescape=True),
                            Service.source_id == term, Location.postal_code.icontains(term, autoescape=True)))
        with self.engine.connect() as c:
            return [dict(row._mapping) for row in c.execute(q)]

    def not_verified_since(self, cutoff: date | None = None) -> list[dict]:
        """Active services whose last-verified date is before `cutoff` (default: a year ago) or unknown."""
        cutoff = cutoff or date.today() - timedelta(days=365)
        q = (select(Service.id, Service.name, Service.source, Service.assured_date.label("last_verified"))
             .where(Service.status == "active", or_(Service.assured_date.is_(None), Service.assured_date < cutoff))
             .order_by(Service.assured_date.asc().nulls_first(), Service.name))
        with self.engine.connect() as c:
            return [dict(row._mapping) for row in c.execute(q)]

    def stored(self) -> list[StoredService]:
        """Every service as stored, for export (ordered by source and source id)."""
        with self.Session() as s:
            return [stored_of(sv) for sv in s.scalars(select(Service).order_by(Service.source, Service.source_id))]

    # ---------------------------------------------------------- taxonomy mapping

    def taxonomy_map(self) -> taxonomy.TaxonomyMap:
        with self.engine.connect() as c:
            return taxonomy.TaxonomyMap(c.execute(select(TaxonomyMapping.vocabulary, TaxonomyMapping.term,
                                                         TaxonomyMapping.code)).all())

    def mapping_rows(self) -> list[dict]:
        q = select(TaxonomyMapping.vocabulary, TaxonomyMapping.term, TaxonomyMapping.code, TaxonomyMapping.note,
                   TaxonomyMapping.updated_by).order_by(TaxonomyMapping.code, TaxonomyMapping.vocabulary,
                                                        TaxonomyMapping.term)
        with self.engine.connect() as c:
            return [dict(row._mapping) for row in c.execute(q)]

    def save_mappings(self, rows: Iterable[dict], actor: str) -> int:
        """Replace the mapping table by `rows` (vocabulary, term, code, note), in one transaction.
        Rows already there keep their history. Returns how many rows were added or changed."""
        wanted: dict[tuple[str, str], dict] = {}
        for n, row in enumerate(rows, start=1):
            term = " ".join(str(row.get("term") or "").split())
            vocabulary = " ".join(str(row.get("vocabulary") or "").split()) or taxonomy.ANY_VOCABULARY
            code = str(row.get("code") or "").strip()
            if not code:  # a term nobody has mapped yet (e.g. listed by an import): left unmapped
                continue
            if not term:
                raise ValueError(f"Mapping row {n}: the term is missing.")
            if len(term) > 300 or len(vocabulary) > 200:
                raise ValueError(f"Mapping row {n}: the term (300) or vocabulary (200 characters) is too long.")
            if code not in taxonomy.BY_CODE and code != taxonomy.IGNORE:
                raise ValueError(f"Mapping row {n} ({term}): “{code}” is not one of our codes "
                                 f"({', '.join(taxonomy.BY_CODE)}) or “{taxonomy.IGNORE}”.")
            key = (taxonomy.term_key(vocabulary), taxonomy.term_key(term))
            if key in wanted:
                raise ValueError(f"Mapping row {n}: {term!r} ({vocabulary}) is listed twice.")
            wanted[key] = {"vocabulary": vocabulary, "term": term, "code": code, "note": row.get("note") or None}
        changed = 0
        with self.Session.begin() as s:
            have = {(taxonomy.term_key(m.vocabulary), taxonomy.term_key(m.term)): m
                    for m in s.scalars(select(TaxonomyMapping))}
            for key, m in have.items():
                if key not in wanted:
                    s.delete(m)
                    changed += 1
            s.flush()
            for key, w in wanted.items():
                m = have.get(key)
                if m is None:
                    s.add(TaxonomyMapping(**w, updated_by=actor[:200]))
                    changed += 1
                elif (m.code, m.note) != (w["code"], w["note"]):
                    m.code, m.note, m.updated_by = w["code"], w["note"], actor[:200]
                    changed += 1
            if changed:
                bump_version(s)
        return changed

    # ---------------------------------------------------------- reads

    def records(self) -> list[ServiceRecord]:
        with self.Session() as s:
            return [record_of(sv) for sv in s.scalars(select(Service).order_by(Service.source, Service.source_id))]

    def area_service_frame(self) -> pd.DataFrame:
        """One row per active service without a building (no location): the columns of `service_frame`
        (location ones blank, `precision` "area") and `service_areas`, its sorted area codes."""
        return self.service_frame(located=False)

    def service_frame(self, located: bool = True) -> pd.DataFrame:
        """One row per service location, with WGS84 and British National Grid coordinates
        (`located=False`: the services with no location instead, see `area_service_frame`)."""
        cols = [
            Service.id.label("service_id"), Service.name, Service.description, Service.url, Service.email,
            Service.fees, Service.is_free, Service.referral, Service.referral_notes,
            Service.minimum_age_months.label("min_age_months"), Service.maximum_age_months.label("max_age_months"),
            Service.pregnancy, Service.eligibility_description.label("eligibility"), Service.capacity,
            Service.assured_date.label("last_verified"), Service.source, Service.source_id, Service.status,
            Organization.name.label("organization"),
            Location.id.label("location_id"), Location.name.label("location_name"),
            Location.address_1.label("address"), Location.city.label("town"),
            Location.postal_code.label("postcode"), Location.latitude.label("lat"), Location.longitude.label("lon"),
            Location.precision, Service.part_of_name.label("part_of"),
        ]
        q = select(*cols)
        if located:
            q = (q.join(ServiceAtLocation, ServiceAtLocation.service_id == Service.id)
                 .join(Location, Location.id == ServiceAtLocation.location_id))
        else:
            q = (q.outerjoin(ServiceAtLocation, ServiceAtLocation.service_id == Service.id)
                 .outerjoin(Location, Location.id == ServiceAtLocation.location_id)
                 .where(ServiceAtLocation.id.is_(None)))
        q = q.outerjoin(Organization, Organization.id == Service.organization_id).where(Service.status == "active")
        with self.engine.connect() as c:
            df = pd.DataFrame(list(map(tuple, c.execute(q))), columns=[col.key for col in cols])
            types = defaultdict(list)
            for sid, code in c.execute(select(service_taxonomy.c.service_id, TaxonomyTerm.code)
                                       .join(TaxonomyTerm, TaxonomyTerm.id == service_taxonomy.c.taxonomy_term_id)):
                types[sid].append(code)
            phones = pd.DataFrame(list(map(tuple, c.execute(select(Contact.service_id, Contact.phone)))),
                                  columns=["service_id", "phone"])
            sched = pd.DataFrame(list(map(tuple, c.execute(select(Schedule.service_id, Schedule.description)))),
                                 columns=["service_id", "schedule"])
            langs = pd.DataFrame(list(map(tuple, c.execute(select(Language.service_id, Language.name)))),
                                 columns=["service_id", "language"])
            areas = defaultdict(set)
            if not located:
                for sid, code in c.execute(select(ServiceArea.service_id, ServiceArea.code)):
                    areas[sid].add(code)
        df["types"] = [sorted(types.get(sid, ())) for sid in df["service_id"]]
        df = df.merge(phones.drop_duplicates("service_id"), on="service_id", how="left")
        df = df.merge(sched.groupby("service_id").schedule.agg("; ".join), on="service_id", how="left")
        df = df.merge(langs.groupby("service_id").language.agg(", ".join).rename("languages"),
                      on="service_id", how="left")
        if located:
            x, y = TO_BNG.transform(df.lon.to_numpy(float), df.lat.to_numpy(float))
            df["x"], df["y"] = np.asarray(x, float), np.asarray(y, float)
        else:
            df["x"] = df["y"] = np.nan
            df["precision"] = "area"
            df["service_areas"] = [sorted(areas.get(sid, ())) for sid in df["service_id"]]
        for c in ("min_age_months", "max_age_months"):
            df[c] = df[c].astype("Int64")
        return df.sort_values(["name", "service_id"], ignore_index=True)


def _stored_records(conn, sources: set[str]) -> dict[tuple[str, str], tuple[str, ServiceRecord]]:
    """(source, source_id) -> (service id, record) for every service of these sources, read with
    plain queries (what `record_of` gives, without building ORM objects: fast for big imports)."""
    if not sources:
        return {}
    src = sorted(sources)
    of = Service.source.in_(src)
    places, phones, schedules = defaultdict(list), {}, {}
    languages, types, service_areas = defaultdict(set), defaultdict(list), defaultdict(set)
    for row in conn.execute(select(ServiceAtLocation.service_id, Location.latitude, Location.longitude,
                                   Location.name, Location.address_1, Location.city, Location.postal_code,
                                   Location.precision)
                            .join(Location, Location.id == ServiceAtLocation.location_id)
                            .join(Service, Service.id == ServiceAtLocation.service_id).where(of)):
        places[row[0]].append(Place(latitude=row[1], longitude=row[2], name=row[3], address=row[4], town=row[5],
                                    postcode=row[6], precision=row[7] or "building"))
    for sid, phone in conn.execute(select(Contact.service_id, Contact.phone)
                                   .join(Service, Service.id == Contact.service_id).where(of)):
        phones.setdefault(sid, phone)
    for sid, text in conn.execute(select(Schedule.service_id, Schedule.description)
                                  .join(Service, Service.id == Schedule.service_id).where(of)):
        schedules.setdefault(sid, text)
    for sid, name in conn.execute(select(Language.service_id, Language.name)
                                  .join(Service, Service.id == Language.service_id).where(of)):
        languages[sid].add(name)
    for sid, code in conn.execute(select(service_taxonomy.c.service_id, TaxonomyTerm.code)
                                  .join(TaxonomyTerm, TaxonomyTerm.id == service_taxonomy.c.taxonomy_term_id)
                                  .join(Service, Service.id == service_taxonomy.c.service_id).where(of)):
        types[sid].append(code)
    for sid, code in conn.execute(select(ServiceArea.service_id, ServiceArea.code)
                                  .join(Service, Service.id == ServiceArea.service_id).where(of)):
        service_areas[sid].add(code)
    out = {}
    t = Service.__table__
    q = (select(t, Organization.name.label("org_name"))
         .outerjoin(Organization, Organization.id == t.c.organization_id).where(t.c.source.in_(src)))
    for row in conn.execute(q):
        m = row._mapping
        sid = m["id"]
        out[(m["source"], m["source_id"])] = (sid, ServiceRecord(
            source=m["source"], source_id=m["source_id"], name=m["name"], types=sorted(types[sid]),
            places=sorted(places[sid], key=_place_key), organization=m["org_name"], description=m["description"],
            url=m["url"], email=m["email"], phone=phones.get(sid), fees=m["fees"], is_free=m["is_free"],
            referral=m["referral"], referral_notes=m["referral_notes"], min_age_months=m["minimum_age_months"],
            max_age_months=m["maximum_age_months"], pregnancy=bool(m["pregnancy"]),
            eligibility=m["eligibility_description"], schedule=schedules.get(sid), languages=sorted(languages[sid]),
            last_verified=m["assured_date"], capacity=m["capacity"], status=m["status"],
            part_of_id=m["part_of_id"], part_of_name=m["part_of_name"], closed_on=m["closed_on"],
            service_areas=sorted(service_areas[sid])))
    return out


def _write_reverified(s: Session, rows: list[tuple[str, ServiceRecord, ServiceRecord]], actor: str,
                      batch_id: int | None = None) -> None:
    """Services whose only change is the last-verified date: one UPDATE per row by executemany
    (version up by one, as an ORM update would), with their audit rows."""
    if not rows:
        return
    t, now = Service.__table__, utcnow()
    s.execute(update(t).where(t.c.id == bindparam("sid")).values(
        assured_date=bindparam("d"), last_modified=bindparam("now"), version=t.c.version + 1),
        [{"sid": sid, "d": new.last_verified, "now": now} for sid, _, new in rows])
    s.execute(Audit.__table__.insert(), [
        {"at": now, "actor": actor, "source": new.source, "action": "update", "service_id": sid,
         "before": _json(old), "after": _json(new), "batch_id": batch_id} for sid, old, new in rows])


class _NewRows:
    """Rows of new services for each table, written with one executemany per table (much
    faster than the ORM's unit of work for a large import; same rows as `_apply` makes)."""

    def __init__(self, s: Session, terms: dict[str, TaxonomyTerm], org_names: set[str], actor: str,
                 batch_id: int | None = None):
        self.s, self.terms, self.actor, self.batch_id = s, terms, actor, batch_id
        self.org_ids: dict[str, str] = {}
        names = sorted(org_names)
        for i in range(0, len(names), 500):
            for oid, name in s.execute(select(Organization.id, Organization.name)
                                       .where(Organization.name.in_(names[i:i + 500]))):
                self.org_ids.setdefault(name, oid)
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def add(self, r: ServiceRecord) -> str:
        sid, now = new_id(), utcnow()
        self.rows["service"].append({
            "id": sid, **self.fields(r), "source": r.source, "source_id": r.source_id, "created_at": now,
            "last_modified": now, "version": 1,
        })
        self.children(r, sid)
        self.rows["audit"].append({"at": now, "actor": self.actor, "source": r.source, "action": "create",
                                   "service_id": sid, "before": None, "after": _json(r),
                                   "batch_id": self.batch_id})
        self.n += 1
        return sid

    def fields(self, r: ServiceRecord) -> dict:
        """The service row's own columns for `r` (its organisation's row queued when new)."""
        unknown = [t for t in r.types if t not in self.terms]
        if unknown:
            raise ValueError(f"unknown service type(s) {unknown} for {r.name!r}")
        org_id = None
        if r.organization:
            org_id = self.org_ids.get(r.organization)
            if org_id is None:
                org_id = self.org_ids[r.organization] = new_id()
                self.rows["organization"].append({"id": org_id, "name": r.organization, "description": None,
                                                  "website": None, "email": None})
        return {
            "organization_id": org_id, "name": r.name, "description": r.description, "url": r.url,
            "email": r.email, "status": r.status, "fees": r.fees, "is_free": r.is_free, "referral": r.referral,
            "referral_notes": r.referral_notes, "minimum_age_months": r.min_age_months,
            "maximum_age_months": r.max_age_months, "pregnancy": r.pregnancy,
            "eligibility_description": r.eligibility, "capacity": r.capacity, "assured_date": r.last_verified,
            "part_of_id": r.part_of_id, "part_of_name": r.part_of_name, "closed_on": r.closed_on,
        }

    def children(self, r: ServiceRecord, sid: str) -> None:
        """Queue the rows of service `sid`'s places, contact, schedule, languages, cost and types."""
        rows = self.rows
        for p in r.places:
            lid = new_id()
            rows["location"].append({"id": lid, "name": p.name, "address_1": p.address, "city": p.town,
                                     "postal_code": p.postcode, "latitude": p.latitude, "longitude": p.longitude,
                                     "precision": p.precision or "building"})
            rows["service_at_location"].append({"id": new_id(), "service_id": sid, "location_id": lid})
        if r.phone:
            rows["contact"].append({"id": new_id(), "service_id": sid, "name": None, "phone": r.phone, "email": None})
        if r.schedule:
            rows["schedule"].append({"id": new_id(), "service_id": sid, "description": r.schedule, "byday": None,
                                     "opens_at": None, "closes_at": None})
        for name in r.languages:
            rows["language"].append({"id": new_id(), "service_id": sid, "name": name})
        if r.fees or r.is_free is not None:
            rows["cost_option"].append({"id": new_id(), "service_id": sid, "option": "free" if r.is_free else None,
                                        "amount": None, "amount_description": r.fees})
        for code in r.types:
            rows["service_taxonomy"].append({"service_id": sid, "taxonomy_term_id": self.terms[code].id})
        for code in r.service_areas:
            rows["service_area"].append({"id": new_id(), "service_id": sid, "code": code})

    def replace(self, records: dict[str, ServiceRecord]) -> None:
        """Give stored services (id -> record) the records' details, in bulk: the rows `_apply` would leave
        (child rows and places replaced, the row's version checked and bumped as the ORM does; StaleDataError
        when another transaction changed one meanwhile). Writes the rows queued so far first."""
        self.write()
        if not records:
            return
        ids, versions, old_places = list(records), {}, []
        sat = Base.metadata.tables["service_at_location"]
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            versions.update(self.s.execute(select(Service.id, Service.version).where(Service.id.in_(part))).all())
            old_places += self.s.scalars(select(sat.c.location_id).where(sat.c.service_id.in_(part))).all()
            for table in ("service_at_location", "contact", "schedule", "language", "cost_option",
                          "service_taxonomy", "service_area"):
                t = Base.metadata.tables[table]
                self.s.execute(t.delete().where(t.c.service_id.in_(part)))
        loc = Base.metadata.tables["location"]
        for i in range(0, len(old_places), 500):
            self.s.execute(loc.delete().where(loc.c.id.in_(old_places[i:i + 500])))
        missing = [sid for sid in ids if sid not in versions]
        if missing:
            raise StaleDataError(f"{len(missing)} service(s) to update no longer exist, e.g. {missing[0]}")
        now = utcnow()
        params = []
        for sid, r in records.items():
            params.append({"b_id": sid, "b_version": versions[sid], **self.fields(r), "last_modified": now,
                           "version": versions[sid] + 1})
            self.children(r, sid)
        orgs = self.rows.pop("organization", None)  # new organisations first: the rows refer to them
        if orgs:
            self.s.execute(Base.metadata.tables["organization"].insert(), orgs)
        t = Service.__table__
        stmt = update(t).where(t.c.id == bindparam("b_id"), t.c.version == bindparam("b_version"))
        if self.s.get_bind().dialect.supports_sane_multi_rowcount:
            changed = self.s.execute(stmt, params).rowcount
        else:
            changed = sum(self.s.execute(stmt, p).rowcount for p in params)
        if changed != len(params):
            raise StaleDataError(f"{len(params) - changed} of {len(params)} services changed while being updated")
        self.write()

    def write(self) -> None:
        """Send the rows so far to the database (in the caller's transaction), parents first."""
        for table in ("organization", "service", "location", "service_at_location", "contact", "schedule",
                      "language", "cost_option", "service_taxonomy", "service_area", "audit"):
            if self.rows.get(table):
                self.s.execute(Base.metadata.tables[table].insert(), self.rows[table])
        self.rows.clear()
        self.n = 0


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_con, _):
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
