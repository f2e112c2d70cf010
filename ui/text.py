"""User-controlled strings made inert before the page renders them.

URL parameters, cache titles and names, label names, input texts and archive names all
come from outside. Streamlit renders st.markdown / caption / warning / error / progress
text as Markdown (links, images that the browser fetches, ``:color[]`` directives, LaTeX)
and Plotly renders a subset of HTML (``<a href>``) in hover text, so both are escaped.
"""

from __future__ import annotations

import html
import re

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that
# start Markdown, GFM, Streamlit directive (:red[...], :material/x:) or LaTeX syntax.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")
MAX_SHOWN = 1000


def md(value: object, limit: int = MAX_SHOWN) -> str:
    """One line of plain text, shown literally inside Markdown (cut to ``limit``)."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_quote(value: object, limit: int = 2000) -> str:
    """A multi-line text as a Markdown block quote, every line escaped."""
    lines = str(value)[:limit].splitlines() or [""]
    return "  \n".join("> " + md(line, limit) for line in lines)


def plotly(value: object) -> str:
    """Plain text for Plotly labels and hover text (which accept some HTML)."""
    return html.escape(str(value), quote=True)
