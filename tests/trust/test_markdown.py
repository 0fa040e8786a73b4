"""Markdown bodies render to safe HTML: script, handlers, javascript: URLs, styles
and frames never survive (authors may write HTML; nh3 keeps the harmless part)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from helpdesk.trust.markdown import plain_text, render_markdown
from tests.trust.factories import ArticleFactory

ATTACKS = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="  javascript:alert(1)">click</a>',
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg onload=alert(1)>",
    '<object data="evil.swf"></object>',
    "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<form action="https://evil.example"><input name=password></form>',
    "<scr<script>ipt>alert(1)</script>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
]


class Elements(HTMLParser):
    """Every tag and attribute of a piece of HTML, as a browser would read them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize("attack", ATTACKS)
def test_xss_attempts_are_neutralised(attack):
    html = str(render_markdown(f"Hello\n\n{attack}\n\nafter"))
    parser = Elements()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in {"script", "iframe", "object", "svg", "math", "form", "input"}
        for name, value in attrs.items():
            assert not name.startswith("on"), (attack, html)
            assert name != "style", (attack, html)
            if name in {"href", "src"}:
                scheme = urlsplit((value or "").strip()).scheme.lower()
                assert scheme in {"", "http", "https", "mailto"}, (attack, html)
    assert "<script" not in html.lower()
    assert "Hello" in html
    assert "after" in html


def test_plain_markdown_renders():
    html = render_markdown(
        "# Title\n\n**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "[docs](https://docs.example.com)"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert "<table>" in html
    assert "<td>1</td>" in html
    assert 'href="https://docs.example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_plain_text_drops_tags_and_keeps_entities_readable():
    assert plain_text("**Rotate** a <b>secret</b> & deploy") == (
        "Rotate a secret & deploy"
    )


@pytest.mark.django_db
def test_an_article_page_serves_the_sanitised_body(client):
    article = ArticleFactory(
        body='Hi <script>alert("x")</script><img src=x onerror=alert(2)>'
    )
    page = client.get(article.get_absolute_url()).content.decode()
    assert 'alert("x")' not in page
    assert "onerror" not in page
