"""Learner HTML never runs in a browser: nbconvert's HTML of a graded notebook, sanitized.

Two pages show a learner's notebook as HTML: the feedback ``nbgrader generate_feedback`` writes (the
learner opens it) and the formgrader's view of a submission (served from the instructor's Jupyter
origin). Both are nbconvert ``HTMLExporter`` runs reading ``nbgrader_config.py``, so
:func:`sanitize_notebook_html` configures them there (``credkit release`` and the hook call it):

- ``HTMLExporter.sanitize_html``: nbconvert's own switch. JavaScript outputs and widget state are
  left out, HTML and Markdown outputs go through ``clean_html``;
- ``clean_html`` is replaced by :func:`clean_html` (nh3, the Ammonia sanitizer): nbconvert's default
  (bleach, a short allow-list) escaped honest images and table headers into visible markup;
- ``strip_files_prefix`` (applied right after ``markdown2html`` everywhere, including in nbgrader's
  own feedback and formgrade templates, which skip ``clean_html`` for markdown cells) is nbconvert's
  followed by :func:`clean_html`;
- ``get_metadata`` keeps an image's ``width``/``height`` only when it is a number: the templates
  write them unquoted (``width={{ width | escape_html }}``), so ``"1 onload=…"`` became an attribute.

Kept: markdown (headings with their anchors, lists, code, quotes, links), images (``http(s)``,
relative and ``data:image/…``), tables (pandas' too), math (MathJax typesets the text), SVG and PNG
outputs (shown through ``<img>``, where an SVG's scripts never run). Removed: scripts and their
content, event handler attributes, ``javascript:`` and other non-web URLs, ``<style>``, forms,
frames, objects, inline SVG/MathML markup.
"""

from __future__ import annotations

from typing import Any

import nh3
from nbconvert.filters.metadata import get_metadata as _nbconvert_get_metadata
from nbconvert.filters.strings import strip_files_prefix as _nbconvert_strip_files_prefix

__all__ = ["clean_html", "strip_files_prefix", "get_metadata", "sanitize_notebook_html", "HTML_CONFIG"]

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
}
_ATTRIBUTES = {
    "*": {"class", "title", "style", "align", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign"},
    "th": {"colspan", "rowspan", "valign", "scope"},
    "table": {"border"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    **{f"h{level}": {"id"} for level in range(1, 7)},  # markdown's heading anchors
}
# Properties honest output sets (pandas, markdown tables); nothing that loads a URL.
_STYLE = {
    "text-align", "vertical-align", "color", "background-color", "font-weight", "font-style", "font-size",
    "font-family", "text-decoration", "white-space", "width", "max-width", "min-width", "height", "padding",
    "padding-left", "padding-right", "padding-top", "padding-bottom", "margin", "margin-left", "margin-right",
    "border", "border-collapse", "border-bottom", "border-top", "border-left", "border-right", "display",
}
_SCHEMES = {"http", "https", "mailto", "data"}  # data: only for images, see _keep_attribute

HTML_CONFIG = {
    "sanitize_html": True,
    "filters": {
        "clean_html": "grading.safe_html.clean_html",
        "strip_files_prefix": "grading.safe_html.strip_files_prefix",
        "get_metadata": "grading.safe_html.get_metadata",
    },
}


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in ("href", "src") and value.strip().lower().startswith("data:"):
        # an image may be inline data (attachments, embedded plots); a link to data: may not
        return value if tag == "img" and value.strip().lower().startswith("data:image/") else None
    return value


def clean_html(element: Any) -> str:
    """Sanitized HTML: what an honest notebook shows, no script can run (nbconvert's ``clean_html``)."""
    text = element.decode("utf-8", "replace") if isinstance(element, bytes) else str(element)
    return nh3.clean(text, tags=_TAGS, attributes=_ATTRIBUTES, attribute_filter=_keep_attribute,
                     url_schemes=_SCHEMES, filter_style_properties=_STYLE, strip_comments=True,
                     link_rel="noopener noreferrer nofollow")


def strip_files_prefix(text: str) -> str:
    """nbconvert's ``strip_files_prefix``, then :func:`clean_html` (it always follows ``markdown2html``)."""
    return clean_html(_nbconvert_strip_files_prefix(text))


def get_metadata(output: Any, key: str, mimetype: str | None = None) -> Any:
    """nbconvert's ``get_metadata``; an image ``width``/``height`` only when it is a number."""
    value = _nbconvert_get_metadata(output, key, mimetype)
    if key in ("width", "height") and value is not None:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number or (isinstance(value, str) and value.isdigit())):
            return None
    return value


def sanitize_notebook_html(c: Any) -> None:
    """Configure ``c`` (nbgrader_config.py's ``get_config()``) so every HTMLExporter run sanitizes:
    the feedback and the formgrader's views of submissions."""
    c.HTMLExporter.sanitize_html = HTML_CONFIG["sanitize_html"]
    filters = dict(c.HTMLExporter.get("filters", {}) or {})
    filters.update(HTML_CONFIG["filters"])
    c.HTMLExporter.filters = filters
