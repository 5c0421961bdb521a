"""Family Support Map: the Streamlit entry point (streamlit run dashboard.py)."""

import streamlit as st

st.set_page_config(page_title="Family Support Map", page_icon="🧸", layout="wide")

pages = {
    "For families": [
        st.Page("pages/find_support.py", title="Find support", icon=":material/search:", default=True),
    ],
    "About": [
        st.Page("pages/about.py", title="About the data", icon=":material/info:", url_path="about"),
    ],
}
st.navigation(pages).run()
