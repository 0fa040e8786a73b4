"""HTML-only mail to plain text, safely.

``nh3`` (the Rust ``ammonia`` sanitiser) first removes everything but a few
structural tags, dropping scripts, styles and their content, comments and every
attribute; the stdlib parser then only has to turn what is left into lines. Quoted
history (``<blockquote>``) comes out as ``> `` lines, so the reply parser strips it
like quoted plain text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

_BLOCKS = {
    "p",
    "div",
    "li",
    "tr",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "ul",
    "ol",
    "hr",
}
_KEPT = {*_BLOCKS, "br", "blockquote", "td", "th"}


def html_to_text(html: str) -> str:
    """Return the text of ``html``, a line per block.

    "<p>Hi<br>there</p><blockquote><p>old</p></blockquote>" -> "Hi\\nthere\\n> old".
    """
    clean = nh3.clean(
        html,
        tags=_KEPT,
        attributes={},
        clean_content_tags={"script", "style", "head", "title"},
        strip_comments=True,
        link_rel=None,
    )
    parser = _TextParser()
    parser.feed(clean)
    parser.close()
    return parser.text()


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self.current: list[str] = []
        self.depth = 0  # blockquotes we are inside

    def _break(self) -> None:
        line = re.sub(r"[ \t\r\n\u00a0]+", " ", "".join(self.current)).strip()
        self.lines.append((self.depth, line))
        self.current = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in _BLOCKS or tag == "br":
            self._break()
        elif tag == "blockquote":
            self._break()
            self.depth += 1
        elif tag in {"td", "th"}:
            self.current.append(" ")

    def handle_endtag(self, tag) -> None:
        if tag in _BLOCKS:
            self._break()
        elif tag == "blockquote":
            self._break()
            self.depth = max(0, self.depth - 1)

    def handle_data(self, data) -> None:
        self.current.append(data)

    def text(self) -> str:
        self._break()
        out: list[str] = []
        for depth, line in self.lines:
            if not line and (depth or not out or not out[-1].strip("> ")):
                continue  # no runs of blank lines
            out.append((("> " * depth) + line).rstrip())
        return "\n".join(out).strip()
