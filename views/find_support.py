"""Find support: families search by postcode or place and get a list and a map."""

from urllib.parse import urlencode

import streamlit as st
from streamlit_folium import st_folium

import ui
from views import area_support
from directory import maps, shortlist, taxonomy, text, urlstate, walking
from directory.config import WALKING_KMH
from directory.geocode import LocateError, locate
from directory.nearest import Filters, near

MAX_SHOWN = 50
STAGE_OPTIONS = [""] + [s.code for s in taxonomy.STAGES]

st.title("Find support near you")
st.write(
    "Children's centres and family hubs, stay and play, baby massage, parenting courses, feeding and sleep "
    "support, peer support and perinatal mental health services near you."
)

areas = ui.areas()
search_index = ui.service_index()  # built once per directory version
services = search_index.services

# The URL is the search: fill the widgets from it when they have no value yet.
start = urlstate.decode(st.query_params)
defaults = {
    "fs_q": start.q, "fs_radius": start.radius_km, "fs_types": start.types, "fs_self": start.self_referral,
    "fs_free": start.free_only, "fs_stage": start.stage or "", "fs_at": start.at, "fs_last_q": start.q,
}
for key, value in defaults.items():
    st.session_state.setdefault(key, value)

q = st.text_input(
    "Postcode or place",
    key="fs_q",
    placeholder="e.g. TF1 1AA, Harrogate, Dawley or a local authority",
    help="A full postcode gives distances from your door. Your postcode is not stored or logged.",
)
filters_on = any(st.session_state[k] for k in ("fs_types", "fs_self", "fs_free", "fs_stage"))
with st.expander("Filters", expanded=filters_on):
    st.multiselect(
        "Type of support", [t.code for t in taxonomy.TERMS], key="fs_types", format_func=taxonomy.label,
        placeholder="Any type",
    )
    st.select_slider("Distance", options=list(urlstate.RADII_KM), key="fs_radius", format_func=lambda r: f"{r:g} km")
    st.selectbox(
        "Age or stage", STAGE_OPTIONS, key="fs_stage",
        format_func=lambda c: taxonomy.STAGE_BY_CODE[c].label if c else "Any age or stage",
        help="The same words as on each entry. 1 to 2 years: from the first to the second birthday; "
             "2 to 4 years: from the second birthday until the fifth.",
    )
    st.checkbox("Self-referral only (no need to be referred by a professional)", key="fs_self")
    st.checkbox("Free only", key="fs_free")

if q != st.session_state.fs_last_q:  # a new search forgets the place chosen for the old one
    st.session_state.fs_at = None
    st.session_state.fs_last_q = q

state = urlstate.SearchState(
    q=q.strip(), radius_km=st.session_state.fs_radius, types=st.session_state.fs_types,
    self_referral=st.session_state.fs_self, free_only=st.session_state.fs_free,
    stage=st.session_state.fs_stage or None, at=st.session_state.fs_at,
)
st.query_params.from_dict(urlstate.encode(state))

if not state.q:
    st.info(
        f"Type a postcode or a place to see what is near. The directory holds {len(services):,} service "
        "locations in England."
    )
    ui.footer()
    st.stop()

try:
    if state.at and (chosen := areas.places.search(state.at)):
        origin = chosen[0]
    else:
        origin = locate(state.q, areas.postcodes, areas.places)
except LocateError as e:
    if e.kind == "ambiguous":
        st.warning(str(e))
        pick = st.radio("Choose a place", [c.label for c in e.candidates], index=None, key="fs_pick")
        if pick:
            st.session_state.fs_at = next(c.code for c in e.candidates if c.label == pick)
            st.rerun()
    elif e.kind == "malformed":
        st.error(str(e))
    else:
        st.warning(str(e))
    ui.footer()
    st.stop()

if origin.note:
    st.info(origin.note)

filters = Filters(tuple(state.types), state.self_referral, state.free_only, state.stage)
found = near(search_index, origin.x, origin.y, state.radius_km, filters)
pace = st.session_state.get("fs_pace", WALKING_KMH)
results = walking.add_walks(ui.walking_network(), origin.x, origin.y, found.table.head(MAX_SHOWN), kmh=pace)

if found.n_matching == 0:
    st.warning(
        "No service in the directory matches these filters anywhere yet. Try fewer filters: the directory "
        "grows as councils and services add their lists."
    )
    ui.footer()
    st.stop()

if found.within_radius:
    more = f" (showing the nearest {MAX_SHOWN})" if len(found.table) > MAX_SHOWN else ""
    st.subheader(f"{len(found.table)} within {state.radius_km:g} km of {origin.label}{more}")
else:
    st.subheader(f"Nothing within {state.radius_km:g} km of {origin.label}")
    st.info(
        f"No service matching your filters is within {state.radius_km:g} km. "
        f"The nearest {len(results)} are listed below with their distances."
    )
pace_text = f"{pace:g} km/h" + (" (3 mph)" if pace == WALKING_KMH else " (with a pram)")
along = results["walk_basis"].eq("paths")
if along.all():
    route_note = (f"Walking times follow the streets and footpaths mapped by OpenStreetMap, from the path nearest "
                  f"{origin.label} ({results['origin_snap_m'].iloc[0]:.0f} m away), at {pace_text}.")
elif along.any():
    route_note = (f"Walking times follow mapped streets and footpaths where marked \"along paths\"; the others "
                  f"are straight lines from {origin.label}, and real routes are longer. Pace: {pace_text}.")
else:
    route_note = (f"Distances are straight lines from {origin.label}: walking routes are not mapped here yet, "
                  f"so real routes are longer. Walking times assume {pace_text}.")
st.caption(f"{route_note} Distances in km are straight lines.")
st.radio("Walking pace", [WALKING_KMH, walking.PRAM_KMH], key="fs_pace", horizontal=True,
         format_func=lambda k: f"{k:g} km/h" + (" (3 mph)" if k == WALKING_KMH else " (with a pram and a toddler)"))

# Phone first: on a narrow screen the list comes first and the map is one tap away (the switch shows
# only below 640 px, where Streamlit stacks columns); on a wide screen list and map sit side by side.
with st.container(key="fs_view_switch"):
    view = st.radio("Show", ["List", "Map"], horizontal=True, key="fs_view",
                    help="On a small screen: the list of services, or the map of them.")
shortlist_ids = ui.shortlist()
rows = results.to_dict("records")  # once, for the map and the list
if view == "Map":  # the map first (on a phone: at the top), the list after it
    map_col, list_col = st.columns([3, 2], gap="medium")
else:
    list_col, map_col = st.columns([2, 3], gap="medium")
with map_col:
    out = st_folium(
        maps.search_map(origin, state.radius_km, results, rows), key="fs_map", height=520, use_container_width=True,
        returned_objects=["last_object_clicked"],
    )
selected = maps.clicked_service(results, (out or {}).get("last_object_clicked"))

with list_col:
    with st.container(key="fs_shortlist_bar"):
        if shortlist_ids:
            st.markdown(
                f"**Your shortlist: {len(shortlist_ids)} service{'s' if len(shortlist_ids) != 1 else ''}.** "
                f"[Open the shortlist to print or send]({shortlist.link(shortlist_ids)})"
            )
            if st.checkbox(f"Show distances from {text.md(state.q)} on the shortlist (puts it in the link)",
                           key="fs_sl_keep_q"):
                st.markdown(f"[Open the shortlist with distances]({shortlist.link(shortlist_ids, state.q)})")
        else:
            st.caption("Tick “Shortlist” on the services you want to print or send.")
    for i, row in enumerate(rows, start=1):
        sid = row["service_id"]
        walk = walking.walk_label(row["walk_min"], row["walk_basis"])
        if row["walk_basis"] == "paths":
            walk += f" ({row['walk_km']:.1f} km)"
        label = f"{i}\\. **{text.md(row['name'])}** · {row['distance_km']:.1f} km · {walk}"
        with st.expander(label, expanded=sid == selected):
            st.markdown(text.details_markdown(row))
            st.markdown(f"[This service's own page (to send or print)]({shortlist.service_link(sid)})")
        key = f"sl_{sid}_{row['location_id']}"  # a service at two places nearby is listed twice
        st.session_state[key] = sid in shortlist_ids
        st.checkbox(f"Shortlist {text.md(row['name'])}", key=key, on_change=ui.toggle_shortlist, args=(sid, key))

area_support.section(origin, filters, areas)  # services without a building, for the family's authority

share = ui.absolute_url(f"?{urlencode(urlstate.encode(state))}")  # this page is the app's home: "/?q=..."
with st.expander("Share this search"):
    st.write("Copy this link to send the same search and filters to someone else:")
    st.code(share, language=None, wrap_lines=True)
    st.download_button(
        "Download this list (CSV)",
        lambda: text.safe_csv(  # made when asked for (spreadsheet-safe), not on every run
            results.assign(types=results.types.apply(lambda ts: "; ".join(taxonomy.label(t) for t in ts)))[
                ["name", "types", "address", "town", "postcode", "area", "distance_km", "walk_km", "walk_basis",
                 "walk_min", "phone", "email", "url", "last_verified", "source"]
            ].round({"distance_km": 2, "walk_km": 2, "walk_min": 0})),
        file_name="family-support-nearby.csv",
        mime="text/csv",
        on_click="ignore",
    )

ui.footer()
