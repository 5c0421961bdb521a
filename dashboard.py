"""Family Support Map: the Streamlit entry point (streamlit run dashboard.py)."""

import streamlit as st

st.set_page_config(page_title="Family Support Map", page_icon="🧸", layout="wide")

# URL paths are the file names (/provision_gaps, ...): with a pages/ folder beside the entry script,
# Streamlit shows a "Page not found" dialog on a first visit to any other path.
pages = {
    "For families": [
        st.Page("pages/find_support.py", title="Find support", icon=":material/search:", default=True),
    ],
    "For commissioners": [
        st.Page("pages/provision_gaps.py", title="Provision gaps", icon=":material/map:"),
    ],
    "For directory stewards": [
        st.Page("pages/manage_directory.py", title="Manage directory", icon=":material/edit_note:"),
    ],
    "For analysts": [
        st.Page("pages/coverage_tables.py", title="Coverage tables", icon=":material/table_chart:"),
    ],
    "About": [
        st.Page("pages/about.py", title="About the data", icon=":material/info:"),
    ],
}
st.navigation(pages).run()
