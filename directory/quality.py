"""Is each record fit for families? The facts a family needs, per record, per source, per authority.

Pure functions over the directory's flat service table (`Directory.service_frame()`,
one row per service location, after `areas.attach_areas`). The vocabulary of facts
is `FACTS`, in this one place; the Manage page, the command line and the tests read it.

Each fact's exact rule (a service with several places has a fact when any of its
places has it; `location_precision` is its best place's):

location   placed at a building or a postcode centre (`precision` "building" or
           "postcode"), or, for a service without a building (phone, online, home visits:
           `precision` "area", rows of `Directory.area_service_frame`), the area it serves.
           A place known only to its postcode sector (about 1 km) does not count;
           `location_precision` says which of "building", "postcode", "area", "sector"
           (or "unknown" when the table does not say).
address    a street address line (not just a town) and a postcode; a service without a
           building needs none (counted as met).
phone      a UK telephone number: with spaces, hyphens, dots and brackets taken out, the
           text starts with 10 or 11 digits beginning with 0 (or +44 and 9 or 10 digits).
           An extension or a second number after it is fine ("01527-534113 (ext 2165)",
           "01202-261530/261961"); a number with a digit too many is not ("0208-8583-5866").
email      an address of the form name@domain.tld.
website    an http(s) link, or a bare domain, that `text.safe_url` accepts.
ages       who it is for: a youngest or oldest age, or "for expectant parents".
cost       free or not stated as such (`is_free` set), or a description of the fees.
referral   how to get in: self-referral, by a professional, or both.
hours      opening times or session times (the schedule text).
verified   last verified within 12 months of `today` (on or after `today` minus 365
           days, the same rule as the Manage page's "not verified for more than a year").

`score` is the number of facts a record has (0 to 10, every fact counting the same);
`missing` names the facts it lacks, in vocabulary order, joined by ";".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from . import text


@dataclass(frozen=True)
class Fact:
    name: str
    label: str  # what a steward reads
    rule: str  # the exact rule, for the page and the file's notes


FACTS: tuple[Fact, ...] = (
    Fact("location", "Location", "placed at a building or a postcode centre (a postcode sector only does not count); "
                                 "a service without a building: the area it serves"),
    Fact("address", "Address", "a street address line and a postcode (a service without a building needs none)"),
    Fact("phone", "Phone", "a UK telephone number (10 or 11 digits from 0, or +44); an extension may follow"),
    Fact("email", "Email", "an email address (name@domain.tld)"),
    Fact("website", "Website", "an http(s) web address"),
    Fact("ages", "Ages", "a youngest or oldest age, or for expectant parents"),
    Fact("cost", "Cost", "free or not, or a description of the fees"),
    Fact("referral", "Referral", "self-referral, by a professional, or both"),
    Fact("hours", "Opening times", "opening or session times"),
    Fact("verified", "Verified", "last verified within the last 12 months"),
)
FACT_NAMES: tuple[str, ...] = tuple(f.name for f in FACTS)
BY_NAME = {f.name: f for f in FACTS}
VERIFIED_DAYS = 365
#: precisions that count as a location a family can walk to, best first
PRECISE = ("building", "postcode", "area")
PRECISIONS = ("building", "postcode", "area", "sector", "unknown")
RECORD_COLUMNS = ["service_id", "name", "source", "utla_code", "utla_name", "score", "missing",
                  "location_precision", *FACT_NAMES]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _texts(s: pd.Series) -> pd.Series:
    """The column as stripped strings ('' for blanks, NaN, None)."""
    return s.map(lambda v: "" if text.is_blank(v) else str(v).strip())


_PHONE = re.compile(r"^(?:0\d{9,10}|\+44\d{9,10})(?!\d)")


def phone_ok(v) -> bool:
    return not text.is_blank(v) and bool(_PHONE.match(re.sub(r"[\s\-.()]", "", str(v))))


def _column(df: pd.DataFrame, name: str, default=None) -> pd.Series:
    return df[name] if name in df else pd.Series(default, index=df.index, dtype=object)


def location_facts(services: pd.DataFrame, today: date | None = None) -> pd.DataFrame:
    """One row per service location: each fact as a boolean, and the location's precision."""
    today = today or date.today()
    df = services
    precision = _texts(_column(df, "precision")).replace("", "unknown")
    has_point = (pd.to_numeric(_column(df, "lat"), errors="coerce").notna()
                 & pd.to_numeric(_column(df, "lon"), errors="coerce").notna())
    no_building = (precision == "area").to_numpy(bool)  # a service area instead of a place
    precision = precision.where(has_point | no_building, "none")
    lo = pd.to_numeric(_column(df, "min_age_months"), errors="coerce")
    hi = pd.to_numeric(_column(df, "max_age_months"), errors="coerce")
    pregnancy = _column(df, "pregnancy", False).map(lambda v: False if text.is_blank(v) else bool(v))
    is_free = _column(df, "is_free")
    verified = pd.to_datetime(_column(df, "last_verified"), errors="coerce")
    cutoff = pd.Timestamp(today - timedelta(days=VERIFIED_DAYS))
    out = pd.DataFrame({
        "service_id": df["service_id"].to_numpy(),
        "location_precision": precision.to_numpy(),
        # unknown precision: the table predates precisions; a point is all that can be said
        "location": (precision.isin(PRECISE) | (precision == "unknown")).to_numpy(bool),
        "address": (((_texts(_column(df, "address")) != "") & (_texts(_column(df, "postcode")) != "")).to_numpy(bool)
                    | no_building),
        "phone": _column(df, "phone").map(phone_ok).to_numpy(bool),
        "email": _texts(_column(df, "email")).map(lambda v: bool(EMAIL.match(v))).to_numpy(bool),
        "website": _column(df, "url").map(lambda v: text.safe_url(v) is not None).to_numpy(bool),
        "ages": (lo.notna() | hi.notna() | pregnancy).to_numpy(bool),
        "cost": (is_free.map(lambda v: not text.is_blank(v)) | (_texts(_column(df, "fees")) != "")).to_numpy(bool),
        "referral": (_texts(_column(df, "referral")) != "").to_numpy(bool),
        "hours": (_texts(_column(df, "schedule")) != "").to_numpy(bool),
        "verified": (verified.notna() & (verified >= cutoff)).to_numpy(bool),
    }, index=df.index)
    return out


def record_quality(services: pd.DataFrame, today: date | None = None) -> pd.DataFrame:
    """One row per service: service_id, name, source, utla_code, utla_name, score, missing,
    location_precision and one boolean column per fact; worst records first (lowest score,
    then name). `services` is the flat service table (one row per location)."""
    if services.empty:
        return pd.DataFrame({c: pd.Series(dtype=bool if c in FACT_NAMES else object) for c in RECORD_COLUMNS})
    facts = location_facts(services, today)
    per = facts.groupby("service_id", sort=False)
    out = per[list(FACT_NAMES)].any()
    order = PRECISIONS + ("none",)
    rank = facts["location_precision"].map({p: i for i, p in enumerate(order)}).fillna(len(order) - 1)
    best = rank.groupby(facts["service_id"], sort=False).min().astype(int)
    out["location_precision"] = np.array(order, dtype=object)[best.reindex(out.index).to_numpy()]
    first = services.drop_duplicates("service_id").set_index("service_id")
    out["name"] = first["name"].reindex(out.index)
    out["source"] = first["source"].reindex(out.index)
    out["utla_code"] = _column(first, "utla23_code").reindex(out.index)
    out["utla_name"] = _column(first, "utla23_name").reindex(out.index)
    flags = out[list(FACT_NAMES)].to_numpy(bool)
    out["score"] = flags.sum(axis=1).astype(int)
    names = np.array(FACT_NAMES, dtype=object)
    out["missing"] = [";".join(names[~row]) for row in flags]
    out = out.reset_index()
    out = out.sort_values(["score", "name", "service_id"], kind="stable", ignore_index=True)
    return out[RECORD_COLUMNS]


def group_quality(records: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per group (`by`: "source" or "utla"): records, mean score, and for each fact the count of
    records with it and their share (0-1); locations by precision. Lowest mean score first."""
    keys = {"source": ["source"], "utla": ["utla_code", "utla_name"]}[by]
    df = records.copy()
    for k in keys:
        df[k] = df[k].fillna("(unknown)") if k in df else "(unknown)"
    for p in PRECISIONS:
        df[f"precision_{p}"] = df["location_precision"] == p
    g = df.groupby(keys, dropna=False, sort=True)
    out = g.size().rename("records").to_frame()
    out["mean_score"] = g["score"].mean().round(2)
    for f in FACT_NAMES:
        out[f] = g[f].sum().astype(int)
        out[f"{f}_share"] = (out[f] / out["records"]).round(4)
    for p in PRECISIONS:
        out[f"location_{p}"] = g[f"precision_{p}"].sum().astype(int)
    out = out.reset_index().sort_values(["mean_score", *keys], kind="stable", ignore_index=True)
    return out


def quality_table(services: pd.DataFrame, by: str = "record", today: date | None = None) -> pd.DataFrame:
    """The table the command line writes: per record (worst first), per source or per upper-tier authority."""
    if by not in ("record", "source", "utla"):
        raise ValueError(f"--by must be record, source or utla, not {by!r}")
    records = record_quality(services, today)
    return records if by == "record" else group_quality(records, by)


def missing_labels(missing: str) -> str:
    """'phone;hours' -> 'Phone, Opening times' (for stewards)."""
    return ", ".join(BY_NAME[m].label for m in missing.split(";") if m in BY_NAME)


def fixed_since(before: str, after: str) -> list[str]:
    """Facts missing in `before` (a `missing` string) and no longer missing in `after`."""
    now = set(after.split(";")) if after else set()
    return [m for m in (before.split(";") if before else []) if m and m not in now]


# ---------------------------------------------------------------- files


def _spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as formulas, neutralised (the shared writer rule)."""
    return text.spreadsheet_safe_frame(df)


def rules_frame() -> pd.DataFrame:
    """The vocabulary and each fact's rule, for a file's notes sheet."""
    return pd.DataFrame([{"fact": f.name, "label": f.label, "rule": f.rule} for f in FACTS])


def write_table(table: pd.DataFrame, path, fmt: str) -> None:
    """Write a quality table as CSV (UTF-8) or Excel (the table, and a sheet of the facts' rules)."""
    out = _spreadsheet_safe(table)
    if fmt == "csv":
        out.to_csv(path, index=False, encoding="utf-8")
    elif fmt == "xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as xw:
            out.to_excel(xw, sheet_name="quality", index=False)
            _spreadsheet_safe(rules_frame()).to_excel(xw, sheet_name="facts", index=False)
    else:
        raise ValueError(f"format must be csv or xlsx, not {fmt!r}")
