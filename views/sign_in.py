"""Steward sign-in: the public site is read-only; stewards on the directory's list sign in here
with their organisation's identity provider (OpenID Connect) to get the Manage page."""

import streamlit as st

import ui
from directory import config, text

st.title("Directory stewards: sign in")
st.write(
    "The directory is kept by stewards in councils, NHS teams and charities. Families and professionals don't "
    "need an account: everything public is on the other pages."
)

state, account = ui.sign_in_state()
if state == "unconfigured":
    st.info("Sign-in is not configured on this server, so the directory can't be changed in the browser.")
    st.markdown(
        "**For the operator of this server:** copy `.streamlit/secrets.toml.example` to "
        "`.streamlit/secrets.toml`, fill in the `[auth]` section with your identity provider's OpenID Connect "
        "client (redirect URI ending in `/oauth2callback`, a random cookie secret, client id and secret, the "
        "provider's `server_metadata_url`), add stewards with `python -m directory stewards add EMAIL "
        "--name NAME --authority CODE`, and restart the app. Until then the command line "
        "(`python -m directory import ...`) works for operators with shell access."
    )
elif state == "signed_out":
    st.write("Sign in with your organisation's account. Only accounts on this directory's list of stewards can "
             "change it; an admin adds you with your work email.")
    st.button("Sign in", type="primary", on_click=st.login, key="si_login")
elif state == "not_listed":
    st.warning(f"You are signed in as {text.md(ui.signed_in_email())}, which is not on this directory's list of "
               "stewards (or has been disabled). Ask an admin of the directory to add you; until then you can use "
               "the public pages.")
    st.button("Sign out", on_click=st.logout, key="si_logout")
elif state == "expired":
    st.warning(f"Your session has ended after {config.session_idle_minutes():g} minutes without activity. Sign in "
               "again to carry on.")
    st.button("Sign in again", type="primary", on_click=st.login, key="si_login_again")
else:
    st.success(f"Signed in as {text.md(account.name)} ({text.md(account.email)}): open Manage directory in the "
               "menu.")

ui.footer()
