"""User-controlled strings made inert before the page renders them.

URL parameters, cache titles and names, label names, input texts, CSV cells and archive
names all come from outside. Streamlit renders st.markdown / caption / warning / error /
info / metric labels / help tooltips / st.table cells as Markdown (links, images that the
browser fetches, ``:color[]`` directives, LaTeX) and Plotly renders a subset of HTML
(``<a href>``) in hover text, so both are escaped.

Backslash escapes are not enough against GFM's *literal* autolinks: Streamlit's
remark-gfm (mdast-util-gfm-autolink-literal) runs its regexes over the parsed text, after
the escapes are gone, and links ``https?://`` followed by ``[-.\\w]``, ``www.`` and
``x@host.tld``. A WORD JOINER (U+2060: invisible, no line break) after every ``:`` and
``@`` and inside ``www.`` keeps those regexes from matching, whatever the escaping.
"""

from __future__ import annotations

import html
import re

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that
# start Markdown, GFM, Streamlit directive (:red[...], :material/x:) or LaTeX syntax.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"([:@])|(?<=www)(?=\.)", re.IGNORECASE)
MAX_SHOWN = 1000


def unlink(text: str) -> str:
    """``text`` with GFM's literal-autolink triggers broken by an invisible joiner."""
    return _AUTOLINK.sub(lambda m: (m.group(1) or "") + WORD_JOINER, text)


def shorten(value: object, limit: int = MAX_SHOWN) -> str:
    """At most ``limit`` characters, a cut marked with "…" (for table cells)."""
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def md(value: object, limit: int = MAX_SHOWN) -> str:
    """One line of plain text, shown literally inside Markdown (cut to ``limit``)."""
    line = " ".join(shorten(value, 4 * limit).split())  # cut first: bounded work on 50 MB
    return _MD_SPECIAL.sub(r"\\\1", unlink(shorten(line, limit)))


def md_quote(value: object, limit: int = 2000) -> str:
    """A multi-line text as a Markdown block quote, every line escaped."""
    lines = str(value)[:limit].splitlines() or [""]
    return "  \n".join("> " + md(line, limit) for line in lines)


def plotly(value: object, limit: int = MAX_SHOWN) -> str:
    """Plain text for Plotly labels and hover text (which accept some HTML)."""
    return html.escape(shorten(value, limit), quote=True)
