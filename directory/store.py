"""The directory database: records in, flat tables out.

`ServiceRecord` is the plain form of a service that importers produce and
exporters read; `Directory` stores records (SQLite by default, PostgreSQL by
URL) and returns the flat table of service locations the maps and metrics use.
Every write is one transaction with an audit row per changed service.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

import numpy as np
import pandas as pd
from pyproj import Transformer
from sqlalchemy import create_engine, delete, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import config, taxonomy
from .model import (
    Audit,
    Base,
    Contact,
    CostOption,
    Language,
    Location,
    Organization,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
    service_taxonomy,
)

TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


@dataclass
class Place:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    town: str | None = None
    postcode: str | None = None


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

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["last_verified"] = self.last_verified.isoformat() if self.last_verified else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ServiceRecord":
        d = dict(d)
        d["places"] = [Place(**p) for p in d.get("places", [])]
        if d.get("last_verified"):
            d["last_verified"] = date.fromisoformat(d["last_verified"])
        return cls(**d)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)


@dataclass
class WriteSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.new + self.updated


def _blank(v):
    return None if v is None or (isinstance(v, str) and not v.strip()) else v


def record_of(s: Service) -> ServiceRecord:
    """The plain record of a stored service."""
    contact = s.contacts[0] if s.contacts else None
    return ServiceRecord(
        source=s.source,
        source_id=s.source_id,
        name=s.name,
        types=sorted(t.code for t in s.terms),
        places=[
            Place(
                latitude=sal.location.latitude,
                longitude=sal.location.longitude,
                name=sal.location.name,
                address=sal.location.address_1,
                town=sal.location.city,
                postcode=sal.location.postal_code,
            )
            for sal in s.locations
        ],
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
        languages=[lang.name for lang in s.languages],
        last_verified=s.assured_date,
        capacity=s.capacity,
        status=s.status,
    )


def normalised(r: ServiceRecord) -> ServiceRecord:
    """A record as the store would give it back (blank strings as None, types sorted)."""
    d = {k: _blank(v) if isinstance(v, str) else v for k, v in dataclasses.asdict(r).items()}
    d["types"] = sorted(set(r.types))
    d["places"] = [Place(**{k: _blank(v) if isinstance(v, str) else v for k, v in p.items()}) for p in d["places"]]
    d["pregnancy"] = bool(r.pregnancy)
    d["status"] = d["status"] or "active"
    return ServiceRecord(**d)


class Directory:
    """The service directory in a SQL database."""

    def __init__(self, url: str | None = None, engine: Engine | None = None):
        self.url = config.database_url(url)
        self.engine = engine or make_engine(self.url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    # ---------------------------------------------------------- schema

    def create(self) -> "Directory":
        """Create missing tables and our taxonomy terms (idempotent)."""
        Base.metadata.create_all(self.engine)
        with self.Session.begin() as s:
            have = set(s.scalars(select(TaxonomyTerm.code)))
            for t in taxonomy.TERMS:
                if t.code not in have:
                    s.add(TaxonomyTerm(code=t.code, name=t.label, description=t.description,
                                       taxonomy=taxonomy.VOCABULARY))
        return self

    def count(self) -> int:
        with self.Session() as s:
            return s.scalar(select(func.count()).select_from(Service))

    # ---------------------------------------------------------- writes

    def classify(self, records: Iterable[ServiceRecord]) -> dict[tuple[str, str], str]:
        """For each record key: "new", "updated" or "unchanged" against what is stored."""
        records = list(records)
        keys = {r.key for r in records}
        with self.Session() as s:
            stored = {
                (sv.source, sv.source_id): record_of(sv)
                for sv in s.scalars(select(Service).where(Service.source.in_({k[0] for k in keys})))
                if (sv.source, sv.source_id) in keys
            }
        out = {}
        for r in records:
            old = stored.get(r.key)
            out[r.key] = "new" if old is None else ("unchanged" if old == normalised(r) else "updated")
        return out

    def upsert(self, records: Iterable[ServiceRecord], actor: str, fail_after: int | None = None) -> WriteSummary:
        """Insert or update records keyed on (source, source_id), all in one transaction.

        Unchanged records are not touched, so re-importing a file changes nothing.
        `fail_after` is for tests: raise after that many writes to prove the rollback.
        """
        summary = WriteSummary()
        records = list(records)
        with self.Session.begin() as s:
            terms = {t.code: t for t in s.scalars(select(TaxonomyTerm))}
            orgs: dict[str, Organization] = {}
            existing = {
                (sv.source, sv.source_id): sv
                for sv in s.scalars(select(Service).where(Service.source.in_({r.source for r in records})))
            }
            for i, r in enumerate(records):
                if fail_after is not None and i >= fail_after:
                    raise RuntimeError(f"injected failure after {fail_after} records")
                r = normalised(r)
                sv = existing.get(r.key)
                if sv is None:
                    sv = Service(source=r.source, source_id=r.source_id, name=r.name)
                    s.add(sv)
                    before = None
                    summary.new += 1
                else:
                    old = record_of(sv)
                    if old == r:
                        summary.unchanged += 1
                        continue
                    before = json.dumps(old.to_dict())
                    summary.updated += 1
                self._apply(s, sv, r, terms, orgs)
                s.flush()
                s.add(Audit(actor=actor, source=r.source, action="create" if before is None else "update",
                            service_id=sv.id, before=before, after=json.dumps(r.to_dict())))
                existing[r.key] = sv
            # locations no service points at any more (replaced by an update)
            s.execute(delete(Location).where(~Location.id.in_(select(ServiceAtLocation.location_id))))
        return summary

    @staticmethod
    def _apply(s: Session, sv: Service, r: ServiceRecord, terms: dict, orgs: dict) -> None:
        if r.organization:
            org = orgs.get(r.organization) or s.scalar(select(Organization).where(Organization.name == r.organization))
            if org is None:
                org = Organization(name=r.organization)
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
        sv.contacts = [Contact(phone=r.phone)] if r.phone else []
        sv.schedules = [Schedule(description=r.schedule)] if r.schedule else []
        sv.languages = [Language(name=n) for n in r.languages]
        sv.cost_options = [CostOption(option="free" if r.is_free else None, amount_description=r.fees)] if (
            r.fees or r.is_free is not None) else []
        sv.locations = [
            ServiceAtLocation(location=Location(name=p.name, address_1=p.address, city=p.town,
                                                postal_code=p.postcode, latitude=p.latitude,
                                                longitude=p.longitude))
            for p in r.places
        ]

    # ---------------------------------------------------------- reads

    def records(self) -> list[ServiceRecord]:
        with self.Session() as s:
            return [record_of(sv) for sv in s.scalars(select(Service).order_by(Service.source, Service.source_id))]

    def service_frame(self) -> pd.DataFrame:
        """One row per service location, with WGS84 and British National Grid coordinates."""
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
        ]
        q = (
            select(*cols)
            .join(ServiceAtLocation, ServiceAtLocation.service_id == Service.id)
            .join(Location, Location.id == ServiceAtLocation.location_id)
            .outerjoin(Organization, Organization.id == Service.organization_id)
            .where(Service.status == "active")
        )
        with self.engine.connect() as c:
            df = pd.DataFrame(c.execute(q).mappings().all(), columns=[col.key for col in cols])
            types = pd.DataFrame(
                c.execute(select(service_taxonomy.c.service_id, TaxonomyTerm.code)
                          .join(TaxonomyTerm, TaxonomyTerm.id == service_taxonomy.c.taxonomy_term_id)).all(),
                columns=["service_id", "code"],
            )
            phones = pd.DataFrame(c.execute(select(Contact.service_id, Contact.phone)).all(),
                                  columns=["service_id", "phone"])
            sched = pd.DataFrame(c.execute(select(Schedule.service_id, Schedule.description)).all(),
                                 columns=["service_id", "schedule"])
            langs = pd.DataFrame(c.execute(select(Language.service_id, Language.name)).all(),
                                 columns=["service_id", "language"])
        df = df.merge(types.groupby("service_id").code.apply(lambda s: sorted(s)).rename("types"),
                      left_on="service_id", right_index=True, how="left")
        df = df.merge(phones.drop_duplicates("service_id"), on="service_id", how="left")
        df = df.merge(sched.groupby("service_id").schedule.agg("; ".join), on="service_id", how="left")
        df = df.merge(langs.groupby("service_id").language.agg(", ".join).rename("languages"),
                      on="service_id", how="left")
        df["types"] = df["types"].apply(lambda v: v if isinstance(v, list) else [])
        x, y = TO_BNG.transform(df.lon.to_numpy(float), df.lat.to_numpy(float))
        df["x"], df["y"] = np.asarray(x, float), np.asarray(y, float)
        for c in ("min_age_months", "max_age_months"):
            df[c] = df[c].astype("Int64")
        return df.sort_values(["name", "service_id"], ignore_index=True)


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
