"""A service's own page (/service?id=...): every detail, a small map, directions, its source and when it
was last verified, and "Is something wrong here?" for its stewards. The address can be sent."""

import folium
import streamlit as st
from streamlit_folium import st_folium

import ui
from directory import maps, reports, shortlist, text
from directory.store import NotFound

services = ui.services()
service_id = (st.query_params.get("id") or "").strip()[:64]
rows = services[services.service_id == service_id] if service_id else services.iloc[0:0]
if rows.empty and service_id:  # a service without a building (phone, online, home visits): no map
    no_building = ui.area_services()
    rows = no_building[no_building.service_id == service_id]

if rows.empty:
    st.title("Service not found")
    st.warning(
        "This service is not in the directory: it may have closed, or the link may be cut short. "
        "Search for support near you instead."
    )
    st.markdown("[Find support near you](./)")
    ui.footer()
    st.stop()

first = rows.iloc[0].to_dict()
st.set_page_config(page_title=f"{first['name']} · Family Support Map")
st.title(text.md(first["name"]), anchor=False)
if not text.is_blank(first.get("description")):
    st.write(text.md(first["description"]))

located = not text.is_blank(first.get("lat"))
details_col, map_col = st.columns([3, 2], gap="medium")
with details_col:
    for n, row in enumerate(rows.to_dict("records"), start=1):
        if len(rows) > 1:
            st.subheader(f"Place {n} of {len(rows)}", anchor=False)
        st.markdown(text.details_markdown(row))
with map_col:
    if not located:
        st.info(text.md(f"{text.NO_BUILDING_TEXT}: {text.available_text(first.get('service_areas'))}."))
    else:
        m = maps.base_map(first["lat"], first["lon"], zoom=15)
        for row in rows.to_dict("records"):
            folium.CircleMarker(
                [row["lat"], row["lon"]], radius=9, color="#fff", weight=2, fill=True,
                fill_color=maps.TYPE_COLOURS.get((row.get("types") or ["?"])[0], "#555"), fill_opacity=0.95,
                tooltip=text.esc(row["name"]),
            ).add_to(m)
        if len(rows) > 1:
            m.fit_bounds([[rows.lat.min(), rows.lon.min()], [rows.lat.max(), rows.lon.max()]])
        st_folium(maps.finish(m), key="sv_map", height=320, use_container_width=True, returned_objects=[])
        st.caption("Map © OpenStreetMap contributors. The details on the left say the same as the map.")

with st.container(key="no_print"):
    key = "sl_service_page"
    st.session_state[key] = service_id in ui.shortlist()
    st.checkbox(f"Shortlist {text.md(first['name'])}", key=key, on_change=ui.toggle_shortlist, args=(service_id, key))
    if ui.shortlist():
        st.markdown(f"[Open your shortlist ({len(ui.shortlist())}) to print or send]({shortlist.link(ui.shortlist())})")
    st.subheader("Send this page", anchor=False)
    st.write("The address of this page shows the same details to anyone you send it to:")
    st.code(ui.absolute_url(shortlist.service_link(service_id)), language=None, wrap_lines=True)

    st.subheader("Is something wrong here?", anchor=False)
    done = st.session_state.setdefault("sv_reported", [])
    if service_id in done:
        st.success("Thank you. Your message is with the directory's stewards, who check each service.")
    else:
        with st.form("sv_report", clear_on_submit=True, enter_to_submit=False):
            msg = st.text_area(
                "Tell the people who keep this directory what is wrong (for example a new phone number, "
                "changed opening times, or that it has closed)",
                max_chars=reports.MAX_CHARS, key="sv_report_text",
                help="Please don't include your name or contact details: only what you type is kept, with the "
                     "date, for the stewards of this service's entry.",
            )
            sent = st.form_submit_button("Send to the directory's stewards")
        if sent:
            try:
                reports.report_problem(ui.directory(), service_id, msg)
            except reports.ReportRefused as e:
                st.error(str(e))
            except NotFound:
                st.error("This service has just been removed from the directory.")
            except Exception:  # the database is busy or down: say so, never show a traceback
                st.error("Sorry, your message could not be saved just now. Please try again in a few minutes.")
            else:
                done.append(service_id)
                st.rerun()

ui.footer()
