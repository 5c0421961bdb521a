"""What the "Manage directory" page shows, as plain data: the page only lays it out.

Tables here hold text that came from uploads and the directory; the page shows
them with st.dataframe (text, never HTML). The preview map escapes every label.
"""

from __future__ import annotations

import math
import uuid
from datetime import date, timedelta

import folium

from . import maps, service_areas, taxonomy, text
from .ingest.csv_import import TEMPLATE_COLUMNS, fields_of
from .ingest.report import Report
from .ingest.review import Review
from .store import Directory, StoredService

#: The source of services stewards add by hand (each gets a new id).
MANUAL_SOURCE = "Directory stewards"
STALE_AFTER_DAYS = 365


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def new_source_id() -> str:
    return str(uuid.uuid4())


def blank_fields() -> dict[str, str]:
    return {c: "" for c in TEMPLATE_COLUMNS} | {"status": "active", "source": MANUAL_SOURCE}


def form_fields(stored: StoredService | None) -> dict[str, str]:
    """The edit form's values for a stored service (its first place), or a blank form."""
    return fields_of(stored.record) if stored is not None else blank_fields()


def problem_rows(report: Report) -> list[dict]:
    unit = report.unit
    return [
        {"where": f"{unit} {p.row}" if p.row > 0 else "file", "field": p.field, "problem": p.message,
         "severity": p.severity}
        for p in report.problems
    ]


def preview_rows(rv: Review) -> list[dict]:
    """What the commit would write, one row per record."""
    out = []
    for r, n in zip(rv.records, rv.report.record_rows):
        place = r.places[0] if r.places else None
        where = ((place.postcode or f"{place.latitude:.5f}, {place.longitude:.5f}") if place
                 else service_areas.labels(r.service_areas))
        out.append({
            rv.report.unit: n, "change": rv.states.get(r.key, "new"), "name": r.name,
            "types": ", ".join(taxonomy.label(t) for t in r.types), "where": where,
            "places": len(r.places), "organization": r.organization or "", "source": r.source,
            "last verified": r.last_verified.isoformat() if r.last_verified else "",
        })
    return out


def unmapped_rows(report: Report) -> list[dict]:
    """Taxonomy terms no mapping covers, ready to be filled in and added to the mapping table."""
    return [
        {"vocabulary": vocabulary or taxonomy.ANY_VOCABULARY, "term": term or name, "name": name, "services": n,
         "code": ""}
        for (vocabulary, term, name), n in report.unmapped_terms.most_common()
    ]


def stale_rows(directory: Directory, days: int = STALE_AFTER_DAYS) -> list[dict]:
    rows = directory.not_verified_since(date.today() - timedelta(days=days))
    return [{"name": r["name"], "source": r["source"],
             "last verified": r["last_verified"].isoformat() if r["last_verified"] else "never", "id": r["id"]}
            for r in rows]


def history_rows(directory: Directory, service_id: str | None = None, limit: int = 100) -> list[dict]:
    return [{"when": f"{r['at']:%Y-%m-%d %H:%M}" if r["at"] else "", "who": r["actor"], "source": r["source"] or "",
             "change": r["action"], "service": r["name"] or "", "service id": r["service_id"]}
            for r in directory.history(service_id, limit)]


def choice_label(s: dict) -> str:
    """How a service appears in the steward's picker."""
    bits = [s["name"], s.get("postcode") or "", s["source"]]
    if s.get("status") and s["status"] != "active":
        bits.append(s["status"])
    return " · ".join(b for b in bits if b)


def coordinates(fields: dict[str, str]) -> tuple[float, float] | None:
    try:
        lat, lon = float(fields.get("latitude") or ""), float(fields.get("longitude") or "")
    except ValueError:
        return None
    return (lat, lon) if math.isfinite(lat) and math.isfinite(lon) else None


def preview_map(lat: float, lon: float, name: str | None) -> folium.Map:
    """Where a service will appear on the family map, before it is saved."""
    m = maps.base_map(lat, lon, zoom=15)
    folium.CircleMarker(
        [lat, lon], radius=10, color="#fff", weight=2, fill=True, fill_color="#1d6f5f", fill_opacity=0.95,
        tooltip=text.esc(name or "New service"),
        popup=folium.Popup(f"<b>{text.esc(name or 'New service')}</b><br>{lat:.5f}, {lon:.5f}", max_width=300),
    ).add_to(m)
    return maps.finish(m)
