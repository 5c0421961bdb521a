"""Find support's "Phone and online support for your area" (not a page itself: find_support.py calls
`section`). Services without a building (helplines, online groups, home visits) are listed for the
upper-tier authority of the place searched, with the England-wide ones, under the same filters; they
are never put on the map. The logic is in directory.service_areas; this lays it out."""

from __future__ import annotations

import streamlit as st

import ui
from directory import service_areas, shortlist, text
from directory.nearest import Filters, matches

HEADING = "Phone and online support for your area"


def section(origin, filters: Filters, areas) -> None:
    """The section for a search from `origin` (a geocode.Location) with the family's filters."""
    frame = ui.area_services()
    if frame.empty:
        return
    utla = service_areas.area_of_origin(areas, origin.x, origin.y, origin.code)
    rows = service_areas.for_area(frame, utla)
    if len(rows):
        rows = rows[matches(rows, filters)]
    where = service_areas.label(utla) if utla else "England"
    st.subheader(HEADING, anchor=False)
    if rows.empty:
        st.caption(f"No helpline, online or home-visiting service for families in {text.md(where)} matches "
                   "these filters yet.")
        return
    st.caption(f"Helplines, online groups and home visits for families in {text.md(where)}"
               + (", and across England" if utla else "") + ": there is no building to walk to, so they are "
               "not on the map.")
    shortlisted = ui.shortlist()
    for row in rows.to_dict("records"):
        sid = row["service_id"]
        national = service_areas.ENGLAND in (row.get("service_areas") or ())
        with st.expander(f"**{text.md(row['name'])}** · {'England-wide' if national else text.md(where)}"):
            st.markdown(text.details_markdown(row))
            st.markdown(f"[This service's own page (to send or print)]({shortlist.service_link(sid)})")
        key = f"sl_{sid}_area"
        st.session_state[key] = sid in shortlisted
        st.checkbox(f"Shortlist {text.md(row['name'])}", key=key, on_change=ui.toggle_shortlist, args=(sid, key))
