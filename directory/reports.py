""""Is something wrong here?": short messages families and professionals leave on a service's
page for the directory's stewards, stored with the service and listed on the Manage page.

Only the message is kept, cleaned: control characters (NUL, bidi overrides and other invisible
formatting) stripped, whitespace tidied, at most MAX_CHARS characters. Nothing about who sent it.
Shown to stewards as plain text (st.dataframe), never as HTML.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import func, select, update

from .model import Service, ServiceReport, utcnow
from .text import strip_controls
from .store import Directory, NotFound

MAX_CHARS = 500
#: Open reports kept per service: past this the page says the stewards already have many to read
#: (a bound on what an anonymous visitor can write).
MAX_OPEN_PER_SERVICE = 20


class ReportRefused(ValueError):
    """The message can't be recorded (empty, or the service has too many waiting); the text says why."""


def clean_message(text) -> tuple[str, int]:
    """(cleaned message, number of control characters removed). Keeps line breaks (at most one
    blank line in a row), drops every other control or format character (Unicode Cc, Cf), caps
    the length at MAX_CHARS."""
    s, removed = strip_controls(str(text or ""))  # NUL, C0/C1, bidi controls (the importers' rule)
    kept = [ch for ch in s if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")]
    removed += len(s) - len(kept)  # and other invisible formatting (zero-width characters)
    s = "".join(kept).replace("\t", " ")
    s = "\n".join(" ".join(line.split()) for line in s.split("\n"))
    s = re.sub(r"\n{3,}", "\n\n", s).strip()
    return s[:MAX_CHARS].rstrip(), removed


def report_problem(directory: Directory, service_id: str, message, at: datetime | None = None) -> int:
    """Record a message for the stewards of an active service. Returns the report's id."""
    clean, _ = clean_message(message)
    if not clean:
        raise ReportRefused("Please type what is wrong (for example a changed phone number or opening time).")
    with directory.Session.begin() as s:
        status = s.scalar(select(Service.status).where(Service.id == service_id))
        if status is None:
            raise NotFound(service_id)
        waiting = s.scalar(select(func.count()).select_from(ServiceReport)
                           .where(ServiceReport.service_id == service_id, ServiceReport.status == "open"))
        if waiting >= MAX_OPEN_PER_SERVICE:
            raise ReportRefused("The directory's stewards already have several reports about this service to "
                                "check. Thank you: please contact the service directly meanwhile.")
        r = ServiceReport(service_id=service_id, message=clean, at=at or utcnow(), status="open")
        s.add(r)
        s.flush()
        return r.id


def open_reports(directory: Directory, limit: int = 500) -> list[dict]:
    """Open reports, newest first, with their service's name and source (for the Manage page)."""
    q = (select(ServiceReport.id, ServiceReport.at, ServiceReport.service_id, Service.name, Service.source,
                ServiceReport.message)
         .join(Service, Service.id == ServiceReport.service_id)
         .where(ServiceReport.status == "open")
         .order_by(ServiceReport.at.desc(), ServiceReport.id.desc()).limit(limit))
    with directory.engine.connect() as c:
        return [{"report": r.id, "when": f"{r.at:%Y-%m-%d %H:%M}", "service": r.name, "source": r.source,
                 "message": r.message, "service id": r.service_id} for r in c.execute(q)]


def resolve(directory: Directory, report_ids, steward: str) -> int:
    """Mark reports as dealt with by `steward`. Returns how many changed."""
    ids = [int(i) for i in report_ids]
    if not ids:
        return 0
    with directory.Session.begin() as s:
        res = s.execute(update(ServiceReport).where(ServiceReport.id.in_(ids), ServiceReport.status == "open")
                        .values(status="resolved", resolved_by=steward, resolved_at=utcnow()))
        return res.rowcount
