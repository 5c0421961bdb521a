"""Streamlit glue for the one "Area" choice of Provision gaps and Coverage tables.

A kind (upper-tier authority by default, district, ICB, sub-ICB location, region), then an area
of that kind or "All of England" (drawn and tabled by areas of that kind), and a search box
that finds any area by its name or official name ("Worcestershire", "Worcestershire County
Council", "NHS Herefordshire and Worcestershire Integrated Care Board") and switches the kind.
The kinds and their areas come from directory.area_kinds; the URL state from the pages.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from directory import area_kinds
from directory.area_kinds import ENGLAND_CODE, KINDS

PICKER_KINDS = tuple(k for k in KINDS if k != "england")


def kind_label(kind: str) -> str:
    return KINDS[kind].label


def _labels(units: pd.DataFrame, kind: str) -> dict[str, str]:
    g = units[units.kind == kind]
    out = {ENGLAND_CODE: f"All of England (by {KINDS[kind].plural.split(' (')[0]})"}
    out.update({c: area_kinds.label(row) for c, row in zip(g.code, g.to_dict("records"))})
    return out


def area_picker(prefix: str, units: pd.DataFrame, container=None) -> tuple[str, str]:
    """Kind, area and search widgets (session keys {prefix}_kind, {prefix}_area, {prefix}_find).
    Returns (kind, area code or E92000001)."""
    box = container or st
    ss = st.session_state
    kind_key, area_key, find_key, note_key = f"{prefix}_kind", f"{prefix}_area", f"{prefix}_find", f"{prefix}_note"
    ss.setdefault(kind_key, area_kinds.DEFAULT_KIND)
    ss.setdefault(area_key, ENGLAND_CODE)
    ss.setdefault(find_key, "")

    def on_kind():
        codes = set(units.code[units.kind == ss[kind_key]])
        if ss[area_key] not in codes:  # a unitary authority is both a district and an upper-tier authority
            ss[area_key] = ENGLAND_CODE
        ss[note_key] = ""

    def on_find():
        q = ss[find_key].strip()
        if not q:
            ss[note_key] = ""
            return
        hits = area_kinds.search(units, q, kinds=PICKER_KINDS, limit=5)
        if hits.empty:
            ss[note_key] = f"No area's name matches “{q[:60]}”."
            return
        best = hits.iloc[0]
        ss[kind_key], ss[area_key] = best.kind, best.code
        others = [f"{area_kinds.label(r)} ({KINDS[r['kind']].label})" for r in hits.iloc[1:4].to_dict("records")]
        ss[note_key] = (f"Showing {area_kinds.label(best)} ({KINDS[best.kind].label})."
                        + (f" Also matching: {'; '.join(others)}." if others else ""))
        ss[find_key] = ""

    box.text_input("Find an area by name", key=find_key, on_change=on_find,
                   placeholder="e.g. Worcestershire, or NHS Herefordshire and Worcestershire Integrated Care Board",
                   help="Councils by their official or short names, NHS Integrated Care Boards and sub-ICB "
                        "locations, districts and regions.")
    if ss.get(note_key):
        box.caption(ss[note_key])
    box.radio("Kind of area", PICKER_KINDS, key=kind_key, format_func=kind_label, horizontal=True, on_change=on_kind,
              help="Upper-tier authorities (county and unitary councils, metropolitan and London boroughs) "
                   "commission children's centres and family hubs; NHS Integrated Care Boards commission "
                   "perinatal mental health services.")
    labels = _labels(units, ss[kind_key])
    if ss[area_key] not in labels:
        ss[area_key] = ENGLAND_CODE
    box.selectbox("Area", list(labels), key=area_key, format_func=labels.get,
                  help="Type to filter the list by name.")
    return ss[kind_key], ss[area_key]


def area_name(units: pd.DataFrame, kind: str, code: str) -> str:
    if code == ENGLAND_CODE:
        return "England"
    row = units[(units.kind == kind) & (units.code == code)]
    return area_kinds.label(row.iloc[0]) if len(row) else code
