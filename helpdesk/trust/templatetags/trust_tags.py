"""Template helpers of the trust site."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.formats import date_format
from django.utils.html import format_html

from helpdesk.trust.markdown import render_markdown

register = template.Library()


@register.filter(expects_localtime=False)
def public_instant(at: datetime | None) -> str:
    """An instant on a public page: in UTC with the zone named, in a ``<time>`` that
    ``static/trust/trust.js`` rewrites in the reader's own zone (named too)."""
    if at is None:
        return "—"
    utc = at.astimezone(UTC)
    return format_html(
        '<time datetime="{}" data-local-time>{} UTC</time>',
        utc.isoformat(),
        date_format(utc, "D j M Y, H:i"),
    )


@register.filter
def markdown(text: str):
    """Render Markdown to sanitised HTML."""
    return render_markdown(text)
