"""Coverage tables for analysts: the numbers behind the maps, per LSOA, per area and per service.

Each table function is pure (DataFrames in, a `CoverageTable` out: a DataFrame and a
metadata dict stating the parameters, data vintages, build and generation time):

    lsoa_table(areas, services, types, radius_km, ...)            one row per LSOA 2021
    area_table(areas, services, level=<kind>, types, radius_km, ...)  one row per area of a kind:
        district, utla (upper-tier authority), sicbl (sub-ICB location), icb, region, england
    service_table(areas, services, types, radius_km, ...)         one row per service location
    coverage_tables(areas, services, levels, types, radius_km, ...)  several at once (one computation)

Everything is computed for the whole of England first and filtered afterwards. Catchments
cross authority borders (a service just over the boundary serves the LSOAs near it, and its
E2SFCA ratio shares its supply among every LSOA in reach), so an area's rows are exactly its
rows of the national table, and the rows of any one kind add up to England (every LSOA lies in
one area of each kind; area_kinds). Filters (`authority` = district, `utla`, `icb`, `sicbl`,
`region`: codes or exact names, official names too) keep:
    lsoa     the LSOAs in every chosen filter;
    service  the service locations in them;
    area levels  the WHOLE areas that overlap the filtered LSOAs (the districts of a county; the
             region holding an authority; the ICBs a county lies in; England), never part of an area.

Definitions (radius d0, deprived IMD deciles D = {1, 2} by default, demand P = children under 5
by default; formulas in access.py, whose functions compute them):
    nearest_km, n_within, sfca_per_1000, e2sfca_per_1000, within, deprived, gap per LSOA
        access.lsoa_measures (straight lines between ONS population-weighted LSOA centroids
        and service locations; gap = IMD decile in D and nearest service beyond d0)
    area counts  access.coverage_summary and access.coverage_by_decile over the area's LSOAs
        (children 0-15 and under 5 within reach, income-deprived children (IDACI numerator;
        suppressed LSOAs left out and counted), deprived children, gap LSOAs and children), plus
        services = service locations in the area (a service's area is that of the LSOA whose
        population-weighted centroid is nearest, as everywhere in the app) and
        services_per_1000_children = services / children 0-15 x 1000
    equity       access.equity: share of P within reach in IMD deciles 1-2 and 9-10, their ratio,
        and the concentration index of within-reach over IMD rank
    per service  lsoas_within_radius, children_within_radius, under5_within_radius,
        idaci_within_radius: the LSOAs whose centroid lies within d0 of the service, and their
        children (suppressed IDACI counts as 0 and is not guessed)

A service "type" filter keeps services offering any of the types (none: every service).
Supply is 1 per service location unless the directory records a capacity.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from . import access, taxonomy, under5
from .access import DEFAULT_DECILES, DEFAULT_RADIUS_KM, DEMANDS
from .area_kinds import ENGLAND_CODE, ENGLAND_NAME, KINDS, key_columns, with_country
from .areas import Areas, attach_areas
from .sources import catalogue

#: Levels: LSOAs, every kind of area (area_kinds, one row per kind there), service locations.
AREA_LEVELS = ("district", "utla", "sicbl", "icb", "region", "england")
LEVELS = ("lsoa", *AREA_LEVELS, "service")
MAX_RADIUS_KM = 50.0
ENGLAND = (ENGLAND_CODE, ENGLAND_NAME)

TITLES = {"lsoa": "Access to services per LSOA (2021)", **{k: KINDS[k].title for k in AREA_LEVELS},
          "service": "Children within reach of each service location"}
#: What the geographic exports (GeoJSON, GeoPackage) draw for each table, WGS84.
GEOMETRY = {"lsoa": "ONS LSOA (Dec 2021) boundaries, super generalised clipped (BSC)",
            **{k: KINDS[k].geometry for k in AREA_LEVELS}, "service": "service location points"}
#: Area keys: the columns naming a row of each area level (its code and name, its parent's).
KEYS = {k: key_columns(KINDS[k]) for k in AREA_LEVELS}
#: What a filter of each kind is called in messages.
FILTER_WHAT = {"district": "authority", "utla": "upper-tier authority", "icb": "ICB", "sicbl": "sub-ICB location",
               "region": "region"}
#: Catalogue sources every table depends on (boundaries: geographic exports).
SOURCE_KEYS = ("iod_ranks", "iod_subdomains", "iod_indicators", "lsoa_lookup", "region_lookup", "utla_lookup",
               "icb_lookup", "lsoa_centroids", "census_children", "under5", "lsoa11_lsoa21", "lsoa_boundaries",
               "district_boundaries", "utla_boundaries", "icb_boundaries", "sicbl_boundaries", "la_names")
#: The lookups placing each LSOA in its areas: their vintages are named in every file's metadata.
LOOKUP_KEYS = {"district": "lsoa_lookup", "region": "region_lookup", "utla": "utla_lookup", "icb": "icb_lookup",
               "sicbl": "icb_lookup"}
DOMAINS = ("income", "employment", "education", "health", "crime", "housing_and_services", "environment")
DECILE_MEASURES = ("children_0_15", "children_within", "under5", "under5_within", "idaci_children", "idaci_within")
#: Decimals kept for shares and rates: far beyond any real precision, and few enough digits that
#: every export format (Excel keeps 16 significant digits) gives back exactly the same number.
ROUND = 6
DEFAULT_DEMAND = "under5"  # early-years services: the children of new parents


class CoverageError(ValueError):
    """A parameter that cannot be used: the message says which, and what is allowed."""


class CoverageTable(NamedTuple):
    """One table and its metadata (`frame, metadata = lsoa_table(...)`)."""

    frame: pd.DataFrame
    metadata: dict

    @property
    def name(self) -> str:
        (name,) = self.metadata["tables"]
        return name


@dataclass(frozen=True)
class Params:
    """Checked, normalised parameters (see `check_params`)."""

    types: tuple[str, ...] = ()
    radius_km: float = DEFAULT_RADIUS_KM
    deciles: tuple[int, ...] = DEFAULT_DECILES
    demand: str = DEFAULT_DEMAND
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (area kind, codes), e.g. (("utla", ("E10000034",)),)

    def codes(self, kind: str) -> tuple[str, ...]:
        return dict(self.filters).get(kind, ())

    @property
    def authorities(self) -> tuple[str, ...]:  # district (ltla24) codes
        return self.codes("district")

    @property
    def regions(self) -> tuple[str, ...]:
        return self.codes("region")


# ---------------------------------------------------------------- parameters


def _codes_or_names(values, table: pd.DataFrame, code: str, name: str, what: str, example: str) -> tuple[str, ...]:
    by_code = {c.upper(): c for c in table[code]}
    by_name = {n.lower(): c for n, c in zip(table[name], table[code])}
    if "official_name" in table:  # "Worcestershire County Council" as well as "Worcestershire"
        by_name = {n.lower(): c for n, c in zip(table["official_name"], table[code])} | by_name
    out = []
    for v in values or ():
        v = str(v).strip()
        hit = by_code.get(v.upper()) or by_name.get(v.lower())
        if hit is None:
            label = dict(zip(table[code], table[name]))
            if re.fullmatch(r"[A-Za-z]\d.*", v):  # looks like a code: suggest codes one or two keystrokes away
                near = [by_code[x] for x in difflib.get_close_matches(v.upper(), list(by_code), n=3, cutoff=0.85)]
            else:
                near = [c for n, c in by_name.items() if v.lower() in n][:3] or [
                    by_name[x] for x in difflib.get_close_matches(v.lower(), list(by_name), n=3, cutoff=0.6)]
            near = list(dict.fromkeys(near))  # a name and an official name can point at one code
            hint = f" Did you mean {' or '.join(f'{c} ({label[c]})' for c in near)}?" if near else ""
            raise CoverageError(f"unknown {what} code {v!r}: not an English {what} (codes look like {example}, "
                                f"or give the exact name).{hint}")
        if hit not in out:
            out.append(hit)
    return tuple(out)


def check_params(
    areas: Areas | None = None,
    *,
    types: Iterable[str] = (),
    radius_km: float = DEFAULT_RADIUS_KM,
    deciles: Iterable[int] = DEFAULT_DECILES,
    demand: str = DEFAULT_DEMAND,
    authority: Iterable[str] = (),
    region: Iterable[str] = (),
    utla: Iterable[str] = (),
    icb: Iterable[str] = (),
    sicbl: Iterable[str] = (),
) -> Params:
    """Parameters checked and normalised; CoverageError names the first problem.

    Types may be taxonomy codes or labels; areas (authority = district, region, utla = upper-tier
    authority, icb, sicbl = sub-ICB location) codes or exact names, official ones too (any case).
    Several filters keep the LSOAs in all of them; filters with no LSOA in common are refused.
    Without `areas` the area filters are not checked.
    """
    codes = []
    for t in types or ():
        term = taxonomy.resolve(str(t))
        if term is None:
            known = ", ".join(x.code for x in taxonomy.TERMS)
            raise CoverageError(f"unknown service type {t!r}. Known types: {known}")
        if term.code not in codes:
            codes.append(term.code)
    try:
        radius = float(radius_km)
    except (TypeError, ValueError):
        raise CoverageError(f"the radius must be a number of km, not {radius_km!r}") from None
    if not math.isfinite(radius) or radius <= 0:
        raise CoverageError(f"the radius must be more than 0 km (got {radius_km:g})")
    if radius > MAX_RADIUS_KM:
        raise CoverageError(f"the radius must be at most {MAX_RADIUS_KM:g} km (got {radius:g})")
    try:
        dec = sorted({int(d) for d in deciles})
    except (TypeError, ValueError):
        raise CoverageError(f"deprived deciles must be whole numbers 1 to 10, not {deciles!r}") from None
    if not dec or not all(1 <= d <= 10 for d in dec):
        raise CoverageError(f"deprived deciles must be whole numbers 1 to 10 (got {list(deciles)})")
    if demand not in DEMANDS:
        raise CoverageError(f"demand must be one of {', '.join(DEMANDS)} (got {demand!r})")
    asked = {"district": authority, "region": region, "utla": utla, "icb": icb, "sicbl": sicbl}
    filters = []
    if areas is not None:
        units = areas.units
        for kind, values in asked.items():
            k = KINDS[kind]
            got = _codes_or_names(values, units[units.kind == kind].rename(columns={"code": k.code, "name": k.name}),
                                  k.code, k.name, FILTER_WHAT[kind], k.example)
            if got:
                filters.append((kind, got))
        if len(filters) > 1:  # every pair must share LSOAs: a code of one outside all of another is refused
            lsoa = areas.lsoa
            names = dict(zip(units.code, units.name))
            for (ka, ca), (kb, cb) in itertools.combinations(filters, 2):
                inside = lsoa[lsoa[KINDS[kb].code].isin(cb)]
                outside = [c for c in ca if c not in set(inside[KINDS[ka].code])]
                if outside:
                    c = outside[0]
                    raise CoverageError(f"{FILTER_WHAT[ka]} {c} ({names.get(c, '')}) is not in the "
                                        f"{FILTER_WHAT[kb]} chosen ({', '.join(cb)}); choose one or the other")
    else:
        filters = [(kind, tuple(v)) for kind, v in asked.items() if v]
    return Params(tuple(codes), radius, tuple(dec), demand, tuple(filters))


# ---------------------------------------------------------------- the computation


@dataclass
class _Run:
    """One national computation shared by every table asked for."""

    areas: Areas
    params: Params
    generated_at: str
    measures: pd.DataFrame  # access.lsoa_measures for all of England, with every IoD decile
    services: pd.DataFrame  # service locations of the chosen types, with their areas
    notes: list[str] = field(default_factory=list)


def _services_with_areas(services: pd.DataFrame, areas: Areas) -> pd.DataFrame:
    s = services if "lsoa21_code" in services else attach_areas(services, areas)
    info = areas.lsoa.set_index("lsoa21_code")
    cols = ["lsoa21_name", "ward24_code", "ward24_name", "ltla24_code", "ltla24_name", "utla23_code", "utla23_name",
            "sicbl24_code", "sicbl24_name", "icb24_code", "icb24_name", "region24_code", "region24_name", "imd_decile"]
    s = s.drop(columns=[c for c in cols if c in s]).reset_index(drop=True)
    got = info.reindex(s["lsoa21_code"].to_numpy())[cols].reset_index(drop=True)
    return with_country(pd.concat([s, got], axis=1))


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _run(areas: Areas, services: pd.DataFrame, p: Params, generated_at: str | None) -> _Run:
    chosen = access.services_of_types(services, p.types)
    lsoa = areas.lsoa
    m = with_country(access.lsoa_measures(lsoa, chosen, types=(), radius_km=p.radius_km, demand=p.demand,
                                          deciles=p.deciles))
    for c in ["imd_rank"] + [f"{d}_decile" for d in DOMAINS]:
        m[c] = lsoa[c].to_numpy()
    notes = []
    if len(chosen) == 0:
        notes.append("No service location of the chosen types is in the directory: nearest_km is blank and "
                     "no LSOA is within reach.")
        m["nearest_km"] = np.nan  # inf is not portable to CSV, Excel or JSON
    return _Run(areas, p, generated_at or _now(), m, _services_with_areas(chosen, areas), notes)


def _lsoa_mask(r: _Run, frame: pd.DataFrame) -> np.ndarray:
    """Rows (LSOAs or services) in every filter."""
    keep = np.ones(len(frame), bool)
    for kind, codes in r.params.filters:
        keep &= frame[KINDS[kind].code].isin(codes).to_numpy(bool)
    return keep


LSOA_COLUMNS = [
    "lsoa21_code", "lsoa21_name", "ward24_code", "ward24_name", "ltla24_code", "ltla24_name", "utla23_code",
    "utla23_name", "sicbl24_code", "sicbl24_name", "icb24_code", "icb24_name", "region24_code",
    "region24_name", "imd_score", "imd_rank", "imd_decile", *[f"{d}_decile" for d in DOMAINS],
    "children_and_young_people_decile", "children_0_15", "idaci_numerator", "under5", "nearest_km", "n_within",
    "within", "sfca_per_1000", "e2sfca_per_1000", "deprived", "gap",
]


def _lsoa(r: _Run) -> pd.DataFrame:
    m = r.measures
    out = m.loc[_lsoa_mask(r, m), LSOA_COLUMNS].reset_index(drop=True)
    out["nearest_km"] = out["nearest_km"].round(4)  # 0.1 m; `within` and `gap` use the unrounded value
    out["under5"] = out["under5"].round(2)
    for c in ("sfca_per_1000", "e2sfca_per_1000"):
        out[c] = out[c].round(ROUND)
    return out


def _with_walks(frame: pd.DataFrame, areas: Areas, r: _Run, net) -> pd.DataFrame:
    """Walking along OpenStreetMap paths (walking.lsoa_walks), blank outside the network (issue 15)."""
    from .walking import lsoa_walks

    pts = areas.lsoa.set_index("lsoa21_code").loc[frame["lsoa21_code"].to_numpy(), ["x", "y"]].reset_index()
    w = lsoa_walks(net, pts, r.services)
    return frame.assign(nearest_walk_km=w["nearest_walk_km"].round(4).to_numpy(),
                        walk_detour=w["walk_detour"].round(4).to_numpy())


def _as_counts(t: pd.DataFrame, cols) -> pd.DataFrame:
    """Sums of whole numbers held as floats -> int64 (exact below 2**53)."""
    for c in cols:
        v = t[c].to_numpy(float)
        if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            t[c] = v.astype(np.int64)
    return t


SUMMARY_COUNTS = ["lsoas", "children_0_15", "children_within", "idaci_children", "idaci_within",
                  "idaci_suppressed_lsoas", "deprived_children", "deprived_within", "gap_lsoas", "gap_children"]


def _area(r: _Run, level: str) -> pd.DataFrame:
    """One row per area of kind `level` (whole areas overlapping the filters)."""
    p, m, k = r.params, r.measures, KINDS[level]
    by = k.code
    summary = access.coverage_summary(m, radius_km=p.radius_km, deciles=p.deciles, demand=p.demand, by=by)
    per = access.coverage_by_decile(m, radius_km=p.radius_km, by=by)
    eq = access.equity(m, radius_km=p.radius_km, demand=p.demand, by=by)
    wide = per.pivot(index=by, columns="imd_decile", values=list(DECILE_MEASURES))
    wide.columns = [f"{measure}_imd{int(d)}" for measure, d in wide.columns]
    t = summary.merge(wide.reset_index(), on=by, how="left").merge(eq, on=by, how="left")
    t = _as_counts(t, SUMMARY_COUNTS + list(wide.columns))
    t["under5"] = t["under5"].astype(float).round(2)
    t["under5_within"] = t["under5_within"].astype(float).round(2)
    for c in wide.columns:
        if c.startswith("under5"):
            t[c] = t[c].astype(float).round(2)
    s = r.services  # service locations in each area
    n = s.groupby(by).size() if len(s) else pd.Series(dtype="int64")
    t["services"] = t[by].map(n).fillna(0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t["services_per_1000_children"] = t["services"] / t["children_0_15"].where(t["children_0_15"] > 0) * 1000
    for c in ("children_within_share", "under5_within_share", "idaci_within_share", "deprived_within_share",
              "services_per_1000_children", *access.EQUITY_COLUMNS):
        t[c] = t[c].astype(float).round(ROUND)
    # names, and whole areas overlapping the filters (the region holding an authority, the ICBs of a county)
    names = m[KEYS[level]].drop_duplicates(by)
    t = names.merge(t, on=by, how="right")
    keep = t[by].isin(set(m.loc[_lsoa_mask(r, m), by])) if p.filters else pd.Series(True, index=t.index)
    t = t[keep.to_numpy(bool)]
    head = KEYS[level] + ["lsoas", "children_0_15", "children_within", "children_within_share", "under5",
                          "under5_within", "under5_within_share", "idaci_children",
                          "idaci_within", "idaci_within_share", "idaci_suppressed_lsoas", "services",
                          "services_per_1000_children", "deprived_children", "deprived_within",
                          "deprived_within_share", "gap_lsoas", "gap_children", *access.EQUITY_COLUMNS]
    tail = [f"{measure}_imd{d}" for measure in DECILE_MEASURES for d in range(1, 11)]
    out = t[head + tail].sort_values(KEYS[level][0], ignore_index=True)
    for c in KEYS[level]:
        out[c] = out[c].astype("str")
    return out


SERVICE_COLUMNS = [
    "service_id", "location_id", "name", "organization", "types", "source", "last_verified", "postcode", "lat", "lon",
    "x", "y", "lsoa21_code", "lsoa21_name", "ward24_code", "ward24_name", "ltla24_code", "ltla24_name",
    "utla23_code", "utla23_name", "sicbl24_code", "sicbl24_name", "icb24_code", "icb24_name",
    "region24_code", "region24_name", "imd_decile", "lsoas_within_radius", "children_within_radius",
    "under5_within_radius", "idaci_within_radius",
]
SERVICE_COMPUTED = ("lsoas_within_radius", "children_within_radius", "under5_within_radius", "idaci_within_radius")


def _service(r: _Run) -> pd.DataFrame:
    p, s, lsoa = r.params, r.services, r.areas.lsoa
    pairs = access.pairs_within(s[["x", "y"]].to_numpy(float), lsoa[["x", "y"]].to_numpy(float),
                                p.radius_km * 1000.0)
    kids = pd.to_numeric(lsoa["children_0_15"], errors="coerce").fillna(0).to_numpy(float)
    idaci = pd.to_numeric(lsoa["idaci_numerator"], errors="coerce").fillna(0).to_numpy(float)
    u5 = pd.to_numeric(lsoa["under5"], errors="coerce").fillna(0).to_numpy(float)
    out = pd.DataFrame({c: s[c].to_numpy() if c in s else None for c in SERVICE_COLUMNS
                        if c not in SERVICE_COMPUTED})
    out["lsoas_within_radius"] = np.bincount(pairs.i, minlength=len(s)).astype(np.int64)
    out["children_within_radius"] = np.bincount(pairs.i, weights=kids[pairs.j], minlength=len(s)).astype(np.int64)
    out["under5_within_radius"] = np.bincount(pairs.i, weights=u5[pairs.j], minlength=len(s)).round(2)
    out["idaci_within_radius"] = np.bincount(pairs.i, weights=idaci[pairs.j], minlength=len(s)).astype(np.int64)
    out["types"] = [("; ".join(ts) if isinstance(ts, (list, tuple)) else (ts or "")) for ts in s["types"]]
    out["last_verified"] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                            for v in s.get("last_verified", pd.Series([None] * len(s)))]
    for c in ("service_id", "location_id", "name", "organization", "types", "source", "last_verified", "postcode",
              "lsoa21_code", "lsoa21_name", "ward24_code", "ward24_name", "ltla24_code", "ltla24_name",
              "utla23_code", "utla23_name", "sicbl24_code", "sicbl24_name", "icb24_code", "icb24_name",
              "region24_code", "region24_name"):
        out[c] = out[c].astype("str")
    for c in ("lat", "lon"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float).round(6)
    for c in ("x", "y"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float).round(1)
    out["imd_decile"] = out["imd_decile"].astype("Int64")
    p_mask = _lsoa_mask(r, out)
    return out[p_mask][SERVICE_COLUMNS].sort_values(["name", "service_id", "location_id"], ignore_index=True)


# ---------------------------------------------------------------- metadata


def _column_docs(p: Params, under5_label: str = under5.label(None)) -> dict[str, str]:
    dem = DEMANDS[p.demand]
    r = f"{p.radius_km:g} km"
    dec = ", ".join(map(str, p.deciles))
    docs = {
        "lsoa21_code": "LSOA 2021 code (ONS)", "lsoa21_name": "LSOA 2021 name",
        "ward24_code": "electoral ward 2024 code (ONS best-fit lookup)", "ward24_name": "electoral ward 2024 name",
        "ltla24_code": "local authority district 2024 code", "ltla24_name": "local authority district 2024 name",
        "utla23_code": "upper-tier authority (county or unitary council, metropolitan or London borough) 2023 code "
                       "(ONS LTLA23-UTLA23 lookup)", "utla23_name": "upper-tier authority 2023 name",
        "sicbl24_code": "NHS sub-ICB location 2024 code (ONS LSOA21-SICBL24-ICB24 lookup)",
        "sicbl24_name": "NHS sub-ICB location 2024 name",
        "icb24_code": "NHS Integrated Care Board 2024 code (ONS LSOA21-SICBL24-ICB24 lookup)",
        "icb24_name": "NHS Integrated Care Board 2024 name",
        "under5_within": f"children under 5 in LSOAs with a service within {r}",
        "under5_within_share": "under5_within / under5 (fraction 0-1)",
        "under5_within_radius": f"children under 5 ({under5_label}) in those LSOAs",
        "within_share_imd1_2": f"share of {dem} in IMD deciles 1-2 (the most deprived 20%) with a service within {r}",
        "within_share_imd9_10": f"share of {dem} in IMD deciles 9-10 (the least deprived 20%) with a service within "
                                f"{r}",
        "within_ratio_imd1_2_to_9_10": "within_share_imd1_2 / within_share_imd9_10 (above 1: the most deprived are "
                                       "better served; blank when the area has no children in either group)",
        "concentration_index": f"concentration index of 'a service within {r}' over IMD rank, {dem} ranked from the "
                               "most deprived LSOA (-1..1; negative = reach concentrated among the more deprived, "
                               "0 = equal; formula in directory/access.py)",
        "region24_code": "region code", "region24_name": "region name",
        "country_code": "country code", "country_name": "country name",
        "imd_score": "IoD2025 Index of Multiple Deprivation score",
        "imd_rank": "IoD2025 IMD rank (1 = most deprived of 33,755)",
        "imd_decile": "IoD2025 IMD decile (1 = most deprived 10% of LSOAs in England)",
        "children_and_young_people_decile": "IoD2025 children and young people sub-domain decile (education)",
        "children_0_15": "usual residents aged 15 and under (Census 2021)",
        "idaci_numerator": "income-deprived children aged 0-15 (IoD2025 IDACI numerator); blank where MHCLG "
                           "published none (suppressed), never estimated",
        "under5": f"children under 5: {under5_label}",
        "nearest_km": "straight-line distance from the LSOA's population-weighted centroid to the nearest service "
                      "location of the chosen types, km (rounded to 0.1 m; blank when there is none)",
        "n_within": f"service locations of the chosen types within {r}",
        "nearest_walk_km": "walk along OpenStreetMap streets and paths from the LSOA's population-weighted centroid "
                           "to the nearest service of the chosen types, km (directory/walking.py); blank outside the "
                           "walking network, or where a service off the network is nearer as the crow flies",
        "walk_detour": "that walk divided by the straight line to the same service (1 = direct; 2 or more: a "
                       "barrier in the way); blank where nearest_walk_km is",
        "within": f"a service of the chosen types is within {r} (nearest_km <= radius)",
        "sfca_per_1000": f"2SFCA accessibility: service supply per 1,000 {dem} within {r} (Luo & Wang 2003)",
        "e2sfca_per_1000": f"E2SFCA accessibility: service supply per 1,000 {dem}, distance-decay weights 1, 0.68, "
                           f"0.22 over thirds of {r} (Luo & Qi 2009)",
        "deprived": f"IMD decile in {dec}",
        "gap": f"provision gap: IMD decile in {dec} and no service of the chosen types within {r}",
        "lsoas": "LSOAs in the area",
        "children_within": f"children aged 0-15 in LSOAs with a service within {r}",
        "children_within_share": "children_within / children_0_15 (fraction 0-1)",
        "idaci_children": "income-deprived children (IDACI numerator), LSOAs with a published value",
        "idaci_within": f"income-deprived children in LSOAs with a service within {r}",
        "idaci_within_share": "idaci_within / idaci_children (fraction 0-1)",
        "idaci_suppressed_lsoas": "LSOAs whose IDACI numerator is not published (left out of the idaci_ sums)",
        "services": "service locations of the chosen types in the area",
        "services_per_1000_children": "services per 1,000 children aged 0-15 in the area",
        "deprived_children": f"{dem} in LSOAs of IMD decile {dec}",
        "deprived_within": f"{dem} in LSOAs of IMD decile {dec} with a service within {r}",
        "deprived_within_share": "deprived_within / deprived_children (fraction 0-1)",
        "gap_lsoas": f"gap LSOAs: IMD decile {dec}, no service within {r}",
        "gap_children": f"{dem} in the gap LSOAs",
        "service_id": "directory service id", "location_id": "directory location id", "name": "service name",
        "organization": "organisation running it", "types": "service types (taxonomy codes, '; '-separated)",
        "source": "where the record comes from", "last_verified": "date the record was last verified (YYYY-MM-DD)",
        "postcode": "postcode of the location", "lat": "latitude (WGS84)", "lon": "longitude (WGS84)",
        "x": "easting, British National Grid metres", "y": "northing, British National Grid metres",
        "lsoas_within_radius": f"LSOAs whose population-weighted centroid is within {r}",
        "children_within_radius": "children aged 0-15 (Census 2021) in those LSOAs",
        "idaci_within_radius": "income-deprived children (IDACI numerator) in those LSOAs; suppressed values count "
                               "as 0",
    }
    for d in DOMAINS:
        docs[f"{d}_decile"] = f"IoD2025 {d.replace('_', ' ')} domain decile (1 = most deprived)"
    what = {"children_0_15": "children aged 0-15", "children_within": f"children aged 0-15 within {r}",
            "under5": "children under 5", "under5_within": f"children under 5 within {r}",
            "idaci_children": "income-deprived children", "idaci_within": f"income-deprived children within {r}"}
    for measure, text in what.items():
        for k in range(1, 11):
            docs[f"{measure}_imd{k}"] = f"{text}, LSOAs of IMD decile {k}"
    return docs


def field_type(dtype) -> str:
    """Frictionless Table Schema type of a pandas dtype."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    return "string"


def schema(frame: pd.DataFrame, docs: dict[str, str]) -> list[dict]:
    return [{"name": c, "type": field_type(frame[c].dtype), "pandas_dtype": str(frame[c].dtype),
             "description": docs.get(c, "")} for c in frame.columns]


def _manifest(areas: Areas) -> dict:
    path = areas.folder / "manifest.json"
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    inputs = {str(k).replace("\\", "/").rsplit("/", 1)[-1]: v.get("sha256") for k, v in m.get("inputs", {}).items()}
    return {"version": m.get("version"), "built_at": m.get("built_at"), "inputs_sha256": inputs}


def _service_sources(services: pd.DataFrame) -> list[dict]:
    if services.empty or "source" not in services:
        return []
    out = []
    for src, g in services.groupby("source", sort=True):
        dates = sorted(str(v) for v in g.get("last_verified", pd.Series(dtype=object)).dropna())
        out.append({"source": str(src), "locations": int(len(g)),
                    "last_verified_from": dates[0] if dates else None, "last_verified_to": dates[-1] if dates else None})
    return out


def _gias_keys(services: pd.DataFrame) -> tuple[str, ...]:
    """Catalogue keys of the GIAS extracts the services came from (nursery schools, children's centres)."""
    from .ingest.gias import SOURCE
    from .ingest.gias_cc import CHILDRENS_CENTRES_SOURCE

    if "source" not in services:
        return ()
    used = set(services["source"])
    return tuple(k for k, s in (("gias", SOURCE), ("gias_childrens_centres", CHILDRENS_CENTRES_SOURCE)) if s in used)


def metadata(r: _Run, name: str, frame: pd.DataFrame) -> dict:
    p, cat, areas = r.params, catalogue(), r.areas
    units = areas.units
    names = dict(zip(units.code, units.name))
    notes = list(r.notes)
    u5 = under5.source_of(areas.lsoa)
    u5_label = under5.label(u5)
    if name in AREA_LEVELS and p.filters:
        notes.append("Area rows are whole areas overlapping the filter (e.g. the region holding an authority).")
    if name == "service":
        notes.append("A service's LSOA and areas (district, upper-tier authority, ICB, region) are those of the "
                     "LSOA whose population-weighted centroid is nearest to it.")
    notes.append(f"Demand counted: {DEMANDS[p.demand]}.")
    return {
        "title": "Family Support Map: coverage tables",
        "generated_at": r.generated_at,
        "generator": "Family Support Map, directory.coverage",
        "parameters": {
            "service_types": list(p.types),
            "service_type_labels": [taxonomy.label(t) for t in p.types] or ["all types"],
            "radius_km": p.radius_km,
            "gap_imd_deciles": list(p.deciles),
            "demand": p.demand,
            "demand_label": (f"children under 5 ({u5_label})" if p.demand == "under5" else DEMANDS[p.demand]),
            "under5_source": u5,
            "distance": "straight line between ONS population-weighted LSOA centroids and service locations, "
                        "British National Grid",
            "decay": "E2SFCA step weights 1.00, 0.68, 0.22 over thirds of the radius (Luo & Qi 2009)",
        },
        "filters": {
            "authority": [{"code": a, "name": names.get(a, "")} for a in p.authorities],
            "region": [{"code": x, "name": names.get(x, "")} for x in p.regions],
            **{kind: [{"code": c, "name": names.get(c, "")} for c in p.codes(kind)]
               for kind in ("utla", "icb", "sicbl") if p.codes(kind)},
        },
        "lookup_vintages": {kind: f"{s.title} ({s.vintage})" for kind, key in LOOKUP_KEYS.items()
                            if (s := cat.sources.get(key)) is not None},
        "services": {"locations": int(len(r.services)), "by_source": _service_sources(r.services)},
        "sources": [
            {"key": k, "title": s.title, "publisher": s.publisher, "vintage": s.vintage, "licence": s.licence,
             "url": s.url or s.page or ""}
            for k in _source_keys(u5) + _gias_keys(r.services)
            if (s := cat.sources.get(k)) is not None
        ],
        "build": _manifest(areas),
        "attribution": cat.attribution,
        "notes": notes,
        "tables": {name: {"title": TITLES[name], "level": name, "rows": int(len(frame)),
                          "geometry": GEOMETRY[name], "columns": schema(frame, _column_docs(p, u5_label))}},
    }


def _source_keys(under5_source: str) -> tuple[str, ...]:
    """The catalogue sources behind the tables: the Census 2021 under-5s, or the two bridged from 2011."""
    if under5_source == under5.CENSUS:
        return tuple(k for k in SOURCE_KEYS if k not in ("under5", "lsoa11_lsoa21")) + ("census_under5",)
    return SOURCE_KEYS


def merge_metadata(tables: Iterable[CoverageTable]) -> dict:
    """One metadata dict for several tables of one run (their `tables` entries together)."""
    tables = list(tables)
    out = json.loads(json.dumps(tables[0].metadata))
    notes = list(out["notes"])
    for t in tables[1:]:
        out["tables"].update(t.metadata["tables"])
        notes += [n for n in t.metadata["notes"] if n not in notes]
    out["notes"] = notes
    return out


# ---------------------------------------------------------------- public tables


def coverage_tables(
    areas: Areas,
    services: pd.DataFrame,
    levels: Iterable[str] = LEVELS,
    types: Iterable[str] = (),
    radius_km: float = DEFAULT_RADIUS_KM,
    *,
    deciles: Iterable[int] = DEFAULT_DECILES,
    demand: str = DEFAULT_DEMAND,
    authority: Iterable[str] = (),
    region: Iterable[str] = (),
    utla: Iterable[str] = (),
    icb: Iterable[str] = (),
    sicbl: Iterable[str] = (),
    generated_at: str | None = None,
    walking_network=None,
) -> dict[str, CoverageTable]:
    """Several tables from one national computation, keyed by level (in LEVELS order).

    `services`: Directory.service_frame() (with or without attach_areas). `walking_network`: a
    walking.Network (or None): the LSOA table's nearest_walk_km and walk_detour (blank without it).
    """
    levels = list(dict.fromkeys(levels))
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad or not levels:
        raise CoverageError(f"unknown level {bad[0] if bad else ''!r}: choose from {', '.join(LEVELS)}")
    p = check_params(areas, types=types, radius_km=radius_km, deciles=deciles, demand=demand,
                     authority=authority, region=region, utla=utla, icb=icb, sicbl=sicbl)
    r = _run(areas, services, p, generated_at)
    out = {}
    for lv in LEVELS:
        if lv in levels:
            frame = _lsoa(r) if lv == "lsoa" else _service(r) if lv == "service" else _area(r, lv)
            if lv == "lsoa":
                frame = _with_walks(frame, areas, r, walking_network)
            out[lv] = CoverageTable(frame, metadata(r, lv, frame))
    return out


def lsoa_table(areas: Areas, services: pd.DataFrame, types: Iterable[str] = (),
               radius_km: float = DEFAULT_RADIUS_KM, **kw) -> CoverageTable:
    """Per LSOA: codes and names, IMD and domain deciles, children, income-deprived children,
    nearest service, services within the radius, 2SFCA/E2SFCA per 1,000, gap flag."""
    return coverage_tables(areas, services, ["lsoa"], types, radius_km, **kw)["lsoa"]


def area_table(areas: Areas, services: pd.DataFrame, level: str = "district", types: Iterable[str] = (),
               radius_km: float = DEFAULT_RADIUS_KM, **kw) -> CoverageTable:
    """Per area of one kind (district, utla, sicbl, icb, region, england): children and income-deprived children within reach (in
    total and per IMD decile), services, services per 1,000 children, gap LSOAs and their children."""
    if level not in AREA_LEVELS:
        raise CoverageError(f"area level must be one of {', '.join(AREA_LEVELS)} (got {level!r})")
    return coverage_tables(areas, services, [level], types, radius_km, **kw)[level]


def service_table(areas: Areas, services: pd.DataFrame, types: Iterable[str] = (),
                  radius_km: float = DEFAULT_RADIUS_KM, **kw) -> CoverageTable:
    """Per service location: its LSOA, district, region, IMD decile, and the children within the radius."""
    return coverage_tables(areas, services, ["service"], types, radius_km, **kw)["service"]
