"""Family Support Map: the Streamlit entry point (streamlit run dashboard.py)."""

import streamlit as st

import ui

st.set_page_config(page_title="Family Support Map", page_icon="🧸", layout="wide")

# Only a signed-in steward on the allow-list gets the Manage page: for everyone else it is not in
# the navigation, and its URL (/manage) is not a page of the app. They get the sign-in page instead.
steward = ui.account()
ui.account_box(steward)
if steward is not None:
    stewards_page = st.Page("views/manage_directory.py", title="Manage directory", icon=":material/edit_note:",
                            url_path="manage")
else:
    stewards_page = st.Page("views/sign_in.py", title="Steward sign-in", icon=":material/login:",
                            url_path="sign-in")

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
    "For directory stewards": [stewards_page],
    "For analysts": [
        st.Page("views/coverage_tables.py", title="Coverage tables", icon=":material/table_chart:",
                url_path="coverage"),
    ],
    "About": [
        st.Page("views/about.py", title="About the data", icon=":material/info:", url_path="about"),
    ],
}
# Reached by their links (sent, printed), not listed in the navigation.
unlisted = [
    st.Page("views/service.py", title="Service", url_path="service"),
    st.Page("views/shortlist.py", title="Shortlist", url_path="shortlist"),
]
ui.navigation(pages, unlisted).run()
