"""DIMEE Studio: `streamlit run app.py`. Router only; each page lives in pages/."""

import streamlit as st

from ui import sidebar

PAGES = [  # url_path == file name: legacy pages/ mode picks the same page (ui.sidebar.current)
    ("pages/overview.py", "Overview", ":material/dashboard:"),
    ("pages/whatif.py", "What-if", ":material/tune:"),
    ("pages/samples.py", "Samples", ":material/search:"),
    ("pages/learn.py", "Learn", ":material/school:"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:"),
]


def main() -> None:
    st.set_page_config(page_title="DIMEE Studio", page_icon=":material/hub:", layout="wide")
    page = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0,
                                  url_path=path.split("/")[1][:-3])
                          for i, (path, title, icon) in enumerate(PAGES)])
    setup = sidebar.prepare()
    for msg in st.session_state.pop("_url_warnings", []):  # shown once, on arrival
        st.warning(msg)
    try:
        if setup.ctx is not None:
            page.run()
        else:
            st.title("DIMEE Studio")
            st.error(setup.problem)
    finally:  # always: an undrawn widget would lose its state at the end of the run
        sidebar.draw(setup)


if __name__ == "__main__":
    main()
