"""The directory's tables, aligned with Open Referral UK 3.0 (HSDS UK profile).

organization 1-n service n-n location (through service_at_location); a service
has taxonomy terms (our types), cost options, contacts, schedules and languages.
Field names follow ORUK where one exists; additions are commented.
Coordinates are stored in WGS84 (latitude/longitude); distances are computed
elsewhere in British National Grid metres.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


service_taxonomy = Table(
    "service_taxonomy",
    Base.metadata,
    Column("service_id", ForeignKey("service.id", ondelete="CASCADE"), primary_key=True),
    Column("taxonomy_term_id", ForeignKey("taxonomy_term.id"), primary_key=True),
)


class Organization(Base):
    __tablename__ = "organization"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(300))
    services: Mapped[list["Service"]] = relationship(back_populates="organization")


class TaxonomyTerm(Base):
    __tablename__ = "taxonomy_term"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(100), unique=True)  # ORUK `term`
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    taxonomy: Mapped[str] = mapped_column(String(100))


class Service(Base):
    __tablename__ = "service"
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_service_source"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organization.id"))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(30), default="active")
    fees: Mapped[str | None] = mapped_column(Text)  # ORUK `fees` (fees description)
    is_free: Mapped[bool | None] = mapped_column(Boolean)  # addition: for the "free only" filter
    referral: Mapped[str | None] = mapped_column(String(20))  # addition: "self", "professional" or "both"
    referral_notes: Mapped[str | None] = mapped_column(Text)  # addition: how to get referred
    minimum_age_months: Mapped[int | None] = mapped_column(Integer)  # ORUK minimum_age is in years
    maximum_age_months: Mapped[int | None] = mapped_column(Integer)
    pregnancy: Mapped[bool] = mapped_column(Boolean, default=False)  # addition: for expectant parents
    eligibility_description: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[float | None] = mapped_column(Float)  # addition: places or sessions, for 2SFCA supply
    assured_date: Mapped[date | None] = mapped_column(Date)  # ORUK: when last verified
    source: Mapped[str] = mapped_column(String(100))  # addition: where the record came from
    source_id: Mapped[str] = mapped_column(String(200))  # addition: its id there (URN, ORUK id, ...)
    # addition: a linked site's main service (same source): its id there and its name (GIAS links)
    part_of_id: Mapped[str | None] = mapped_column(String(200))
    part_of_name: Mapped[str | None] = mapped_column(String(300))
    # addition: when the source first listed it as closed, or first no longer listed it (kept, not deleted)
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic locking between stewards
    __mapper_args__ = {"version_id_col": version}

    organization: Mapped[Organization | None] = relationship(back_populates="services")
    terms: Mapped[list[TaxonomyTerm]] = relationship(secondary=service_taxonomy, lazy="selectin")
    locations: Mapped[list["ServiceAtLocation"]] = relationship(
        back_populates="service", cascade="all, delete-orphan", lazy="selectin"
    )
    contacts: Mapped[list["Contact"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    schedules: Mapped[list["Schedule"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    languages: Mapped[list["Language"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    cost_options: Mapped[list["CostOption"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    # addition (0007): where a service without a building is available (see ServiceArea)
    service_areas: Mapped[list["ServiceArea"]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class Location(Base):
    __tablename__ = "location"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(300))
    address_1: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    # addition: what the point is: "building", "postcode" (the postcode's centre) or "sector" (about 1 km)
    precision: Mapped[str] = mapped_column(String(10), default="building", server_default="building")
    __table_args__ = (Index("ix_location_postal_code", "postal_code"),)  # duplicate checks on import


class ServiceAtLocation(Base):
    __tablename__ = "service_at_location"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("location.id"), index=True)
    service: Mapped[Service] = relationship(back_populates="locations")
    location: Mapped[Location] = relationship(lazy="joined")


class Contact(Base):
    __tablename__ = "contact"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(300))


class Schedule(Base):
    __tablename__ = "schedule"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    description: Mapped[str | None] = mapped_column(Text)  # "Tuesdays 10:00-11:30, term time"
    byday: Mapped[str | None] = mapped_column(String(50))
    opens_at: Mapped[str | None] = mapped_column(String(10))
    closes_at: Mapped[str | None] = mapped_column(String(10))


class Language(Base):
    __tablename__ = "language"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))


class CostOption(Base):
    __tablename__ = "cost_option"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    option: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[float | None] = mapped_column(Float)
    amount_description: Mapped[str | None] = mapped_column(Text)


class Audit(Base):
    """Who or what changed which record, when, with the record before and after (JSON)."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_service_id", "service_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))  # create, update, delete, undo
    service_id: Mapped[str] = mapped_column(String(36))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    # addition (0006): the import that made this change (or whose undo this row records)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"), index=True)


class ImportBatch(Base):
    """One committed import: who loaded which file of which source, when, and what it changed.
    Undoing it restores every service it touched (see `Directory.undo_import`)."""

    __tablename__ = "import_batch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(20))  # csv, oruk, gias-cc
    file_name: Mapped[str | None] = mapped_column(String(300))
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)  # of the updated: active services it closed
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[str | None] = mapped_column(String(200))


class ServiceLink(Base):
    """A steward's decision on a pair of services from different sources that look like one place:
    "same" (families see one entry naming both sources) or "different" (kept apart, not asked again).
    The pair is stored in order (service_a < service_b)."""

    __tablename__ = "service_link"
    __table_args__ = (UniqueConstraint("service_a", "service_b", name="uq_service_link_pair"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_a: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    service_b: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(20))  # "same" or "different"
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaxonomyMapping(Base):
    """A steward's mapping of another directory's taxonomy term to one of our codes.

    `vocabulary` "*" matches any vocabulary; `term` matches a feed term's code or name
    (case-insensitive); `code` is one of our taxonomy codes, or "ignore" (known, not ours).
    """

    __tablename__ = "taxonomy_map"
    __table_args__ = (UniqueConstraint("vocabulary", "term", name="uq_taxonomy_map_term"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vocabulary: Mapped[str] = mapped_column(String(200), default="*")
    term: Mapped[str] = mapped_column(String(300))
    code: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Steward(Base):
    """Who may change the directory in the browser: an allow-list of signed-in accounts.

    `email` is the identity provider's email claim, lower-cased. `role` is "steward" (changes
    services in scope) or "admin" (every service, the taxonomy mapping and this list).
    """

    __tablename__ = "steward"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="steward")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # for the idle time-out
    scopes: Mapped[list["StewardScope"]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class StewardScope(Base):
    """One thing a steward may change: an upper-tier authority (kind "authority", value its
    utla23 code) or a source (kind "source", value the source name)."""

    __tablename__ = "steward_scope"
    email: Mapped[str] = mapped_column(ForeignKey("steward.email", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


class DirectoryVersion(Base):
    """One row: a counter every write to the directory bumps in its own transaction, so every
    app process can tell (with one cheap read) whether its cached services are current."""

    __tablename__ = "directory_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class ServiceReport(Base):
    """"Is something wrong here?": a short message for a service's stewards, typed on its public page.

    Only what the person typed is kept (cleaned and capped, see directory/reports.py), with when,
    never who sent it or from where. Deleted with its service.
    """

    __tablename__ = "service_report"
    __table_args__ = (Index("ix_service_report_service_id", "service_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, resolved
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# ---------------------------------------------------------------- 0007: services without a building, feeds


class ServiceArea(Base):
    """ORUK `service_area`: where a service is available. Ours is a GSS code: an upper-tier
    authority (utla23) or England (E92000001); a service without a building (a helpline, an
    online group, home visiting) has one or more instead of a location (directory/service_areas.py)."""

    __tablename__ = "service_area"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(9))


class Feed(Base):
    """An Open Referral UK API a steward registered: pulled on demand or nightly (directory/feeds.py).
    `name` is the source its services are stored under. The last pull's health is kept here:
    when, what it found or why it failed; a failed pull writes nothing else."""

    __tablename__ = "feed"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    area: Mapped[str | None] = mapped_column(String(9))  # service area of its services without a building
    modified_after: Mapped[bool] = mapped_column(Boolean, default=False)  # it honours ?modified_after=
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_pull_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # when the last pull began
    last_status: Mapped[str | None] = mapped_column(String(20))  # committed, unchanged, reviewed, failed
    last_message: Mapped[str | None] = mapped_column(Text)  # the health line
    last_counts: Mapped[str | None] = mapped_column(Text)  # JSON: listed, new, changed, unchanged, gone...
    shape: Mapped[str | None] = mapped_column(String(20))  # paging it answered with: list, oruk3, v1
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failed pulls in a row
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last pull that worked
    # the start of the last committed pull, full or incremental (the next modified_after), and of the last full one
    committed_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    full_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
