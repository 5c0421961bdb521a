"""Family Support Map: the Streamlit entry point (streamlit run dashboard.py)."""

import streamlit as st

st.set_page_config(page_title="Family Support Map", page_icon="🧸", layout="wide")

# The views live in views/, not pages/: Streamlit runs a folder named pages/ beside the entry script as
# an old-style multipage app on a fresh server's first request, bypassing this navigation.
pages = {
    "For families": [
        st.Page("views/find_support.py", title="Find support", icon=":material/search:", default=True),
    ],
    "For commissioners": [
        st.Page("views/provision_gaps.py", title="Provision gaps", icon=":material/map:", url_path="gaps"),
        st.Page("views/walking_access.py", title="Walking access", icon=":material/directions_walk:",
                url_path="walking"),
    ],
    "For directory stewards": [
        st.Page("views/manage_directory.py", title="Manage directory", icon=":material/edit_note:",
                url_path="manage"),
    ],
    "For analysts": [
        st.Page("views/coverage_tables.py", title="Coverage tables", icon=":material/table_chart:",
                url_path="coverage"),
    ],
    "About": [
        st.Page("views/about.py", title="About the data", icon=":material/info:", url_path="about"),
    ],
}
st.navigation(pages).run()
