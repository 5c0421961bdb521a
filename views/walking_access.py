"""Walking access: per neighbourhood, the walk along real paths to the nearest service, how much longer it
is than the straight line (barriers), and how many services are within a walking time."""

import streamlit as st
from streamlit_folium import st_folium

import ui
from directory import access, taxonomy, text, walk_maps, walking
from directory.config import WALKING_KMH

st.title("Walking access")
st.write(
    "A mother who cannot drive after a difficult birth walks, along streets and footpaths, around railways, "
    "rivers and ring roads. Where OpenStreetMap routes are loaded, this page measures the walk from each "
    "neighbourhood (its population-weighted centre) to the nearest service, and compares it with the straight line."
)

areas = ui.areas()
net = ui.walking_network()
if net is None:
    st.info(
        "No walking network is loaded. Put an OpenStreetMap extract (`*.osm.pbf`, e.g. your county from "
        "Geofabrik) in the raw data folder and reload: it is prepared once."
    )
    ui.footer()
    st.stop()

services = ui.services()
c1, c2, c3 = st.columns(3)
types = c1.multiselect("Type of support", [t.code for t in taxonomy.TERMS], key="wa_types",
                       format_func=taxonomy.label, placeholder="Any type")
minutes = c2.select_slider("Walking time", options=[10, 15, 20, 25, 30, 40], value=20, key="wa_min",
                           format_func=lambda m: f"{m} min")
pace = c3.radio("Walking pace", [WALKING_KMH, walking.PRAM_KMH], key="wa_pace",
                format_func=lambda k: f"{k:g} km/h" + (" (3 mph)" if k == WALKING_KMH else " (with a pram)"))

files = list(net.info.get("files", []))
pool = access.services_of_types(services, types)
lsoa = areas.lsoa
w = walking.lsoa_walks(net, lsoa, pool, within_min=minutes, kmh=pace)
covered = w["walk_basis"].eq("paths").to_numpy()
if len(files) == len(net.boxes) and len(files) > 1:  # one extract at a time on the map
    xy = lsoa[["x", "y"]].to_numpy(float)
    in_box = [(xy[:, 0] >= b[0]) & (xy[:, 0] <= b[2]) & (xy[:, 1] >= b[1]) & (xy[:, 1] <= b[3]) for b in net.boxes]
    known_n = [int((m & w["nearest_walk_km"].notna().to_numpy()).sum()) for m in in_box]
    names = [f"{f} ({int((m & covered).sum())} neighbourhoods)" for f, m in zip(files, in_box)]
    pick = st.selectbox("Extract", range(len(files)), index=max(range(len(files)), key=known_n.__getitem__),
                        format_func=names.__getitem__, key="wa_extract")
    covered = covered & in_box[pick]
table = lsoa.loc[covered, ["lsoa21_code", "lsoa21_name", "ltla24_name", "imd_decile", "under5"]].reset_index(drop=True)
table = table.join(w.loc[covered, ["nearest_walk_km", "nearest_line_km", "walk_detour", "n_walk_within",
                                   "snap_m"]].reset_index(drop=True))
st.caption(
    f"Network: {net.n_nodes:,} path nodes, {net.info.get('km', 0):,.0f} km of walkable streets and paths from "
    f"{', '.join(files)}. {covered.sum():,} neighbourhoods shown (their centre is within "
    f"{walking.SNAP_LIMIT_M:.0f} m of a path). "
    f"Walking time at {pace:g} km/h. {walking.ATTRIBUTION}"
)
known = table["nearest_walk_km"].notna()
if not known.any():
    st.warning(
        "No service of these types lies on the mapped paths near these neighbourhoods, so no walk can be "
        "measured. Try any type, or add the services of this area to the directory."
    )
else:
    st.subheader("Walk ÷ straight line to the nearest service")
    st.write(
        f"Median {table.loc[known, 'walk_detour'].median():.2f}; {int((table['walk_detour'] >= 2).sum())} "
        "neighbourhoods walk at least twice the straight line (dark on the map): something is in the way."
    )
    st_folium(walk_maps.detour_map(areas.lsoa_boundaries, table, pool, within_min=minutes), key="wa_map",
              height=560, use_container_width=True, returned_objects=[])
    shown = table.sort_values(["walk_detour", "nearest_walk_km"], ascending=False, na_position="last",
                              ignore_index=True)
    st.dataframe(
        shown.round({"nearest_walk_km": 2, "nearest_line_km": 2, "walk_detour": 2, "under5": 0, "snap_m": 0}),
        hide_index=True, use_container_width=True,
        column_config={
            "lsoa21_code": "LSOA", "lsoa21_name": "Neighbourhood", "ltla24_name": "Authority",
            "imd_decile": "IMD decile", "under5": "Children under 5",
            "nearest_walk_km": "Walk to nearest (km)", "nearest_line_km": "Straight line to it (km)",
            "walk_detour": "Walk ÷ straight line", "n_walk_within": f"Services within {minutes} min walk",
            "snap_m": "Centre to nearest path (m)",
        },
    )
    st.download_button("Download this table (CSV)", text.safe_csv(shown), file_name="walking-access.csv",
                       mime="text/csv")
ui.footer()
