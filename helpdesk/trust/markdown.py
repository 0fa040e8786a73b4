"""Markdown to safe HTML: markdown-it-py (CommonMark, tables, strikethrough) renders,
nh3 (ammonia) keeps only harmless tags, attributes and URL schemes.

Authors may write HTML inside Markdown; whatever it is, no script, event handler,
``javascript:`` URL, style or frame survives.
"""

from __future__ import annotations

import html

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_MARKDOWN = (
    MarkdownIt("commonmark", {"html": True, "typographer": False})
    .enable("table")
    .enable("strikethrough")
)
TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol",
    "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},  # language-python from fenced code
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(text: str) -> SafeString:
    """Return ``text`` rendered and sanitised.

    ``"**hi**"`` -> ``<p><strong>hi</strong></p>``."""
    rendered = _MARKDOWN.render(text or "")
    return mark_safe(
        nh3.clean(
            rendered,
            tags=TAGS,
            attributes=ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )


def plain_text(text: str, limit: int = 300) -> str:
    """Return the Markdown's text without tags, cut at ``limit`` characters."""
    rendered = _MARKDOWN.render(text or "")
    words = " ".join(html.unescape(nh3.clean(rendered, tags=set())).split())
    return words if len(words) <= limit else words[: limit - 1].rsplit(" ", 1)[0] + "…"
