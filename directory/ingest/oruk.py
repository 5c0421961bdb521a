"""Open Referral UK (HSDS UK profile) JSON: services in with a report, the directory out.

Reads the shapes councils publish:
- the ORUK 3.0 `/services` page (`{"total_items": .., "contents": [..]}`), and the
  older v1 API page (`{"totalElements": .., "content": [..]}`);
- a plain list of full service objects; or one service object.

From each service: organization, name, description (HTML made plain text),
locations (latitude/longitude, or a postal address whose postcode is looked up),
taxonomy terms (ORUK 3 `attributes[].taxonomy_term`, v1 `service_taxonomys[].taxonomy`)
mapped to our types through the steward's mapping table, ages (ORUK 3
`minimum_age`/`maximum_age` or v1 `eligibilitys`, in years), cost options and
fees, phones (service or contacts), schedules (ORUK 3 `schedules`, v1
`regular_schedules`), languages and `assured_date` (or `last_verified`).

List summaries (what a council API returns for `/services` without details)
have no locations or taxonomy: each is reported as not mappable, never guessed.

A service without a building (a helpline, an online group, home visits) has no
location but `service_areas` (read by `service_areas_of`: an upper-tier authority or
England): it is kept with them, never given a made-up point; one with neither is refused.

Writing: `export_oruk` gives a `/services` page of every service, valid against
the ORUK 3.0 `service.json` schema. Fields ORUK has no place for go in
`fsm_*` extension fields (as councils add `pc_*` ones), including the record's
source and source id, so that exporting and re-importing changes nothing.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import date, datetime, timedelta, timezone

from .. import service_areas as areas_of
from .. import taxonomy
from ..geocode import LocateError, PostcodeIndex, parse_full_postcode, postcode_latlon
from ..store import PRECISIONS, Place, ServiceRecord, StoredService
from ..text import html_to_text
from .csv_import import EMAIL, STATUSES
from .report import ERROR, WARNING, Problem, Report, check_duplicates_in_file, clean_json, in_uk, upload_text

#: Stable ids for exported sub-records (schedules, contacts...), derived from the service id.
EXPORT_NAMESPACE = uuid.UUID("6f1d3c9e-8a51-4a3b-9f7e-2d7c5b0e4a11")
MAX_AGE_YEARS = 120
WEEKDAYS = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday",
            "SA": "Saturday", "SU": "Sunday"}


# ---------------------------------------------------------------- defensive readers


def _s(v) -> str | None:
    """A stripped string, or None (numbers become strings; objects, lists and booleans are not text)."""
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return str(v)
    return None


def _list(v) -> list:
    return v if isinstance(v, list) else []


def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _float(v) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        f = float(v)
    elif isinstance(v, str) and v.strip():
        try:
            f = float(v)
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def _date(v) -> date | None:
    s = _s(v)
    if not s:
        return None
    try:
        return date.fromisoformat(s[:10])
    except ValueError:
        return None


# ---------------------------------------------------------------- reading


def _services_of(doc, report: Report) -> list | None:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key, pages, page in (("contents", "total_pages", "page_number"), ("content", "totalPages", "number")):
            if isinstance(doc.get(key), list):
                total, number = doc.get(pages), doc.get(page)
                if isinstance(total, int) and total > 1:
                    shown = f"page {number} of {total}" if isinstance(number, int) else f"one of {total} pages"
                    report.notes.append(f"This file is {shown} of the feed: download every page (or one page with "
                                        "all services) to import the whole directory.")
                return doc[key]
        if "name" in doc or "id" in doc:
            return [doc]
        keys = ", ".join(sorted(str(k) for k in doc)[:8])
        report.problems.append(Problem(0, "file", "Expected an Open Referral UK /services page (with “contents”), "
                                                  f"a list of services or one service; found an object with keys: "
                                                  f"{keys or 'none'}."))
        return None
    report.problems.append(Problem(0, "file", "Expected an Open Referral UK /services page, a list of services or "
                                              f"one service; found a JSON {type(doc).__name__}."))
    return None


def read_oruk(data: bytes, source: str, postcodes: PostcodeIndex | None,
              terms: taxonomy.TaxonomyMap | None = None, limit_bytes: int | None = None,
              keyed: bool = False) -> Report:
    """Records and a report from an Open Referral UK JSON file. Never raises on bad input.
    `keyed`: the services are keyed by their ids (a feed's pull): two with the same name and postcode
    are a warning, not a rejection."""
    report = Report(unit="service")
    content = upload_text(data, report, limit_bytes)
    if content is None:
        return report
    try:
        doc = json.loads(content)
    except json.JSONDecodeError as e:
        report.problems.append(Problem(0, "file", f"Not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."))
        return report
    except RecursionError:
        report.problems.append(Problem(0, "file", "Not readable: the JSON is nested too deeply."))
        return report
    items = _services_of(doc, report)
    if items is None:
        return report
    if not items:
        report.problems.append(Problem(0, "file", "The file holds no services."))
        return report
    terms = terms if terms is not None else taxonomy.TaxonomyMap()
    no_location = 0
    for i, item in enumerate(items, start=1):
        report.rows += 1
        try:
            item = clean_json(item, i, report)  # NUL and bidi controls removed, each reported
            rec, problems = service_record(item, i, source, postcodes, terms, report)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as e:
            rec, problems = None, [Problem(i, "service", f"Could not read this service ({type(e).__name__}: {e}).")]
        report.problems.extend(problems)
        no_location += any(p.field == "location" and p.severity == ERROR for p in problems)
        if rec is not None and not any(p.severity == ERROR for p in problems):
            report.add(rec, i)
    if no_location and no_location == report.rows:
        report.notes.append("No service in this file has a location: it looks like a list summary (what "
                            "/services returns without details). Fetch each service's full record "
                            "(/services/{id}) to place them on the map.")
    check_duplicates_in_file(report, "service", same_place_warns=keyed)
    return report


def _terms_of(item: dict) -> list[tuple[str | None, str | None, str | None]]:
    """(vocabulary, term, name) of each taxonomy term a service carries, whichever ORUK version."""
    out = []
    for a in _list(item.get("attributes")):
        tt = _dict(_dict(a).get("taxonomy_term"))
        if tt:
            out.append((_s(tt.get("taxonomy")) or _s(tt.get("vocabulary")), _s(tt.get("term")) or _s(tt.get("code")),
                        _s(tt.get("name"))))
    for a in _list(item.get("taxonomy_terms")):
        tt = _dict(a)
        if tt:
            out.append((_s(tt.get("taxonomy")) or _s(tt.get("vocabulary")), _s(tt.get("term")) or _s(tt.get("code")),
                        _s(tt.get("name"))))
    for a in _list(item.get("service_taxonomys")):
        tx = _dict(_dict(a).get("taxonomy"))
        if tx:
            out.append((_s(tx.get("vocabulary")), _s(tx.get("id")), _s(tx.get("name"))))
    return [t for t in out if t[1] or t[2]]


def schedule_text(s: dict) -> str | None:
    """What families read: the schedule's description, else its days and times."""
    s = _dict(s)
    if _s(s.get("description")):
        return _s(s.get("description"))
    days = []
    for d in re.split(r"[,\s]+", _s(s.get("byday")) or ""):
        d = d.strip().upper()[-2:]
        if d in WEEKDAYS:
            days.append(WEEKDAYS[d])
    if _s(s.get("weekday")):
        days.append(_s(s.get("weekday")))
    opens, closes = (_s(s.get(k)) for k in ("opens_at", "closes_at"))
    times = f"{opens[:5]}-{closes[:5]}" if opens and closes else (opens[:5] if opens else "")
    freq = (_s(s.get("freq")) or "").lower()
    text = ", ".join(days)
    if freq == "monthly" and text:
        text = f"monthly on {text}"
    return " ".join(p for p in (text, times) if p) or None


def _ages(item: dict, bad) -> tuple[int | None, int | None, str | None]:
    lows, highs, texts = [item.get("minimum_age")], [item.get("maximum_age")], []
    for e in _list(item.get("eligibilitys")):
        e = _dict(e)
        lows.append(e.get("minimum_age"))
        highs.append(e.get("maximum_age"))
        if _s(e.get("eligibility")):
            texts.append(_s(e.get("eligibility")))

    def months(values, label):
        out = []
        for v in values:
            if v is None or v == "":
                continue
            f = _float(v)
            if f is None or not 0 <= f <= MAX_AGE_YEARS:
                bad(label, f"“{v}” is not an age in years between 0 and {MAX_AGE_YEARS}.")
                continue
            out.append(round(f * 12))
        return out

    lo, hi = months(lows, "minimum_age"), months(highs, "maximum_age")
    lo_m, hi_m = (min(lo) if lo else None), (max(hi) if hi else None)
    if lo_m is not None and hi_m is not None and lo_m > hi_m:
        bad("maximum_age", f"Age range is upside down: from {lo_m / 12:g} to {hi_m / 12:g} years.")
    return lo_m, hi_m, ("; ".join(texts) or None)


def _place(loc: dict, j: int, postcodes: PostcodeIndex | None, bad) -> Place | None:
    addresses = [_dict(a) for a in _list(loc.get("addresses")) + _list(loc.get("physical_addresses"))]
    addresses.sort(key=lambda a: (_s(a.get("address_type")) or "physical") != "physical")
    addr = addresses[0] if addresses else {}
    lat, lon = _float(loc.get("latitude")), _float(loc.get("longitude"))
    where = f"location {j}"
    if (lat is None) != (lon is None) or (loc.get("latitude") not in (None, "") and lat is None):
        bad("location", f"{where}: latitude and longitude must both be numbers.")
        return None
    if lat is not None and not in_uk(lat, lon):
        bad("location", f"{where}: ({lat}, {lon}) is outside the UK: check the numbers are not swapped.")
        return None
    pc_text = _s(addr.get("postal_code")) or _s(loc.get("postal_code"))
    postcode = pc_text
    precision = "building"  # latitude and longitude as given
    if _s(loc.get("fsm_precision")) in PRECISIONS:  # our own export says what its point is
        precision = _s(loc.get("fsm_precision"))
    if pc_text:
        try:
            pc = parse_full_postcode(pc_text)
            postcode = pc.display
            if lat is None:
                point = postcode_latlon(postcodes, pc)
                if point is None:
                    bad("postcode", f"{where}: postcode {pc.display} is not in the loaded postcode directory and "
                                    "the location has no latitude/longitude.")
                    return None
                lat, lon = point
                precision = "postcode"  # the postcode's centre, not the building
        except LocateError as e:
            if lat is None:
                bad("postcode", f"{where}: {e}")
                return None
            bad("postcode", f"{where}: {e} Kept as written; the place comes from its latitude/longitude.", WARNING)
    if lat is None:
        bad("location", f"{where} has neither latitude/longitude nor a postcode.")
        return None
    address = ", ".join(p for p in (_s(addr.get("address_1")), _s(addr.get("address_2"))) if p) or None
    return Place(latitude=round(lat, 6), longitude=round(lon, 6), name=_s(loc.get("name")), address=address,
                 town=_s(addr.get("city")), postcode=postcode, precision=precision)


def service_record(item, i: int, source: str, postcodes: PostcodeIndex | None, terms: taxonomy.TaxonomyMap,
                   report: Report | None = None) -> tuple[ServiceRecord | None, list[Problem]]:
    """One ORUK service object as a record (None if rejected) and its problems."""
    problems: list[Problem] = []

    def bad(fieldname, message, severity=ERROR):
        problems.append(Problem(i, fieldname, message, severity))

    if not isinstance(item, dict):
        bad("service", f"Expected a service object, found a JSON {type(item).__name__}.")
        return None, problems
    own_source, own_id = _s(item.get("fsm_source")), _s(item.get("fsm_source_id"))
    own = bool(own_source and own_id)  # written by our own export: keys and plain text as they were
    source_id = own_id if own else _s(item.get("id"))
    if not source_id:
        bad("id", "Missing id: each service needs its feed id (Open Referral UK `id`).")
    name = _s(item.get("name"))
    if not name:
        bad("name", "Missing name.")
    raw_description = item.get("description")
    description = _s(raw_description) if own else html_to_text(_s(raw_description))
    status = (_s(item.get("status")) or "active").lower()
    if status not in STATUSES:
        bad("status", f"“{item.get('status')}” is not an ORUK status ({', '.join(STATUSES)}).")

    # types
    codes, unmapped, ignored = [], [], 0
    for vocabulary, term, term_name in _terms_of(item):
        code = terms.resolve(vocabulary, term, term_name)
        if code == taxonomy.IGNORE:
            ignored += 1
            continue
        if code in taxonomy.BY_CODE:
            if code not in codes:
                codes.append(code)
        else:
            label = f"{term_name or term}" + (f" ({vocabulary})" if vocabulary else "")
            unmapped.append(label)
            if report is not None:
                report.unmapped_terms[(vocabulary or "", term or term_name or "", term_name or "")] += 1
    if unmapped and codes:
        bad("taxonomy", f"Terms not mapped to our types, left out: {'; '.join(unmapped)}. Add them to the taxonomy "
                        "mapping table to use them.", WARNING)
    elif unmapped:
        bad("taxonomy", f"None of its taxonomy terms maps to our types: {'; '.join(unmapped)}. Add them to the "
                        "taxonomy mapping table, then check again.")
    elif not codes and ignored:
        bad("taxonomy", "Its taxonomy terms are all mapped to “ignore”: not one of our types of service.")
    elif not codes:
        bad("taxonomy", "No taxonomy terms: we can't tell which type of service this is.")

    # places
    places: list[Place] = []
    locations = [_dict(s).get("location") if isinstance(_dict(s).get("location"), dict) else None
                 for s in _list(item.get("service_at_locations"))] + _list(item.get("locations"))
    virtual = int((_s(item.get("attending_type")) or "").lower() in NO_BUILDING)  # HSDS-UK 1.0's hint
    for j, loc in enumerate(locations, start=1):
        if not isinstance(loc, dict):
            continue
        if (_s(loc.get("location_type")) or "").lower() == "virtual":
            virtual += 1
            continue
        place = _place(loc, j, postcodes, bad)
        if place is not None and place not in places:
            places.append(place)
    served, unknown_areas = service_areas_of(item)
    for text in unknown_areas:
        bad("service_areas", f"Service area “{text[:80]}” is not an upper-tier authority or England: left out.",
            WARNING)
    if not places and not served and not any(p.field in ("location", "postcode") for p in problems):
        if virtual:
            bad("location", "Online, phone or home visits only, with no service area: say where it is available "
                            "(ORUK `service_areas`: an upper-tier authority, or England).")
        else:
            bad("location", "No location (latitude/longitude or postcode) and no service area: the service can't "
                            "be placed on the map or listed for an area.")

    lo, hi, eligibility_texts = _ages(item, bad)
    eligibility = _s(item.get("eligibility_description")) or eligibility_texts

    # costs: structured options first, the (deprecated) fees text kept as written
    free = None
    options = [_dict(o) for o in _list(item.get("cost_options"))]
    for o in options:
        amount, option = _float(o.get("amount")), (_s(o.get("option")) or "").casefold()
        if amount == 0 or option == "free":
            free = True
        elif free is None and ((amount is not None and amount > 0) or option in ("charge", "paid")):
            free = False
    fees = _s(item.get("fees")) or "; ".join(t for t in (_s(o.get("amount_description")) for o in options) if t) \
        or None

    phone = None
    for p in _list(item.get("phones")) + [ph for c in _list(item.get("contacts"))
                                          for ph in _list(_dict(c).get("phones"))]:
        phone = phone or _s(_dict(p).get("number"))
    for c in _list(item.get("contacts")):
        phone = phone or _s(_dict(c).get("phone"))

    email = _s(item.get("email"))
    if email and not EMAIL.match(email):
        bad("email", f"“{email}” is not an email address: left out.", WARNING)
        email = None

    schedules = [schedule_text(s) for s in _list(item.get("schedules")) + _list(item.get("regular_schedules"))]
    schedule = "; ".join(dict.fromkeys(s for s in schedules if s)) or None

    languages = []
    for lang in _list(item.get("languages")):
        n = _s(lang) if not isinstance(lang, dict) else (_s(lang.get("name")) or _s(lang.get("language"))
                                                         or _s(lang.get("code")))
        if n and n not in languages:
            languages.append(n)

    verified = None
    for key, v in (("assured_date", item.get("assured_date")), ("last_verified", item.get("last_verified")),
                   ("assured_date", _dict(item.get("pc_metadata")).get("date_assured"))):
        if v in (None, ""):
            continue
        d = _date(v)
        if d is None:
            bad(key, f"“{v}” is not a date like 2025-03-31: left out.", WARNING)
        elif d > date.today() + timedelta(days=1):
            bad(key, f"{d} is in the future: left out.", WARNING)
        else:
            verified = d
            break

    referral = (_s(item.get("fsm_referral")) or "").lower() or None
    if referral and referral not in ("self", "professional", "both"):
        bad("fsm_referral", f"“{referral}” should be self, professional or both: left out.", WARNING)
        referral = None
    capacity = _float(item.get("fsm_capacity"))
    if capacity is not None and capacity <= 0:
        capacity = None
    if any(p.severity == ERROR for p in problems):
        return None, problems
    return ServiceRecord(
        source=own_source if own else source,
        source_id=source_id,
        name=name,
        types=codes,
        places=places,
        organization=_s(_dict(item.get("organization")).get("name")),
        description=description,
        url=_s(item.get("url")),
        email=email,
        phone=phone,
        fees=fees,
        is_free=free,
        referral=referral,
        referral_notes=_s(item.get("fsm_referral_notes")),
        min_age_months=lo,
        max_age_months=hi,
        pregnancy=item.get("fsm_pregnancy") is True,
        eligibility=eligibility,
        schedule=schedule,
        languages=languages,
        last_verified=verified,
        capacity=capacity,
        status=status,
        service_areas=served,
        part_of_id=_s(item.get("fsm_part_of_id")) if own else None,
        part_of_name=_s(item.get("fsm_part_of_name")) if own else None,
        closed_on=_date(item.get("fsm_closed_on")) if own else None,
    ), problems


#: HSDS-UK 1.0 `attending_type`s of a service without a building
NO_BUILDING = frozenset({"phone", "online", "home visit", "telephone"})


def service_areas_of(item: dict) -> tuple[list[str], list[str]]:
    """(our codes, texts not understood) of a service's ORUK `service_areas`: each read from its
    `uri` (an ONS statistical-geography URI), else its `name` or (HSDS-UK 1.0) `service_area`."""
    codes, unknown = [], []
    for a in _list(item.get("service_areas")):
        a = _dict(a)
        texts = [t for t in (_s(a.get("uri")), _s(a.get("name")), _s(a.get("service_area"))) if t]
        code = next((c for c in map(areas_of.resolve, texts) if c), None)
        if code is None:
            if texts:
                unknown.append(texts[0] if not texts[0].startswith("http") or len(texts) == 1 else texts[1])
        elif code not in codes:
            codes.append(code)
    return codes, unknown


# ---------------------------------------------------------------- writing


def _sub_id(service_id: str, kind: str, n: int | str = 0) -> str:
    return str(uuid.uuid5(EXPORT_NAMESPACE, f"{service_id}/{kind}/{n}"))


def _years(months: int | None) -> float | None:
    return None if months is None else round(months / 12, 6)


def _utc_text(t: datetime | None) -> str | None:
    """ORUK date-time in UTC; SQLite gives back naive datetimes (stored as UTC)."""
    if t is None:
        return None
    return (t.astimezone(timezone.utc) if t.tzinfo else t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(d: dict) -> dict:
    """Leave out empty optional fields (None, empty lists)."""
    return {k: v for k, v in d.items() if v is not None and v != []}


def service_document(s: StoredService) -> dict:
    """One stored service as an ORUK 3.0 service object (plus `fsm_*` extension fields)."""
    r = s.record
    doc = {
        "id": s.id,
        "organization_id": s.organization_id,
        "name": r.name,
        "description": r.description,
        "url": r.url,
        "email": r.email,
        "status": r.status or "active",
        "fees": r.fees,
        "minimum_age": _years(r.min_age_months),
        "maximum_age": _years(r.max_age_months),
        "eligibility_description": r.eligibility,
        "assured_date": r.last_verified.isoformat() if r.last_verified else None,
        "last_modified": _utc_text(s.last_modified),
        "schedules": [{"id": _sub_id(s.id, "schedule"), "service_id": s.id, "description": r.schedule}]
        if r.schedule else [],
        "service_at_locations": [
            {
                "id": _sub_id(s.id, "service_at_location", loc_id),
                "service_id": s.id,
                "location_id": loc_id,
                "location": _clean({
                    "id": loc_id,
                    "location_type": "physical",
                    "name": p.name,
                    "latitude": p.latitude,
                    "longitude": p.longitude,
                    "fsm_precision": p.precision if p.precision and p.precision != "building" else None,
                    "addresses": [{
                        "id": _sub_id(s.id, "address", loc_id), "location_id": loc_id,
                        "address_1": p.address or "", "city": p.town or "", "state_province": "",
                        "postal_code": p.postcode or "", "country": "GB", "address_type": "physical",
                    }] if (p.address or p.town or p.postcode) else [],
                }),
            }
            for p, loc_id in zip(r.places, s.location_ids)
        ],
        "languages": [{"id": _sub_id(s.id, "language", n), "service_id": s.id, "name": lang}
                      for n, lang in enumerate(r.languages)],
        "organization": {"id": s.organization_id, "name": r.organization, "description": ""}
        if r.organization and s.organization_id else None,
        "cost_options": [_clean({"id": _sub_id(s.id, "cost_option"), "service_id": s.id,
                                 "option": "Free" if r.is_free else "Charge", "amount": 0 if r.is_free else None,
                                 "amount_description": r.fees})]
        if r.is_free is not None else [],
        "phones": [{"id": _sub_id(s.id, "phone"), "service_id": s.id, "number": r.phone}] if r.phone else [],
        "service_areas": [{"id": _sub_id(s.id, "service_area", code), "service_id": s.id,
                           "name": areas_of.label(code), "uri": areas_of.uri(code)} for code in r.service_areas],
        "attributes": [
            {
                "id": _sub_id(s.id, "attribute", code),
                "link_id": s.id,
                "taxonomy_term_id": _sub_id("taxonomy", "term", code),
                "link_type": "service",
                "taxonomy_term": {
                    "id": _sub_id("taxonomy", "term", code),
                    "name": taxonomy.label(code),
                    "description": taxonomy.BY_CODE[code].description if code in taxonomy.BY_CODE else "",
                    "taxonomy": taxonomy.VOCABULARY,
                    "term": code,
                },
            }
            for code in r.types
        ],
        # extensions: what ORUK has no field for, and the keys that make re-import idempotent
        "fsm_source": r.source,
        "fsm_source_id": r.source_id,
        "fsm_referral": r.referral,
        "fsm_referral_notes": r.referral_notes,
        "fsm_pregnancy": bool(r.pregnancy),
        "fsm_capacity": r.capacity,
        "fsm_part_of_id": r.part_of_id,  # a linked site's main service (GIAS links), and when it closed
        "fsm_part_of_name": r.part_of_name,
        "fsm_closed_on": r.closed_on.isoformat() if r.closed_on else None,
    }
    return _clean(doc)


def export_oruk(services: list[StoredService]) -> dict:
    """Every service as one ORUK 3.0 `/services` page."""
    contents = [service_document(s) for s in services]
    return {
        "total_items": len(contents),
        "total_pages": 1,
        "page_number": 1,
        "size": len(contents),
        "first_page": True,
        "last_page": True,
        "empty": not contents,
        "contents": contents,
    }


def export_json(services: list[StoredService]) -> str:
    return json.dumps(export_oruk(services), ensure_ascii=False, indent=1) + "\n"
