"""The ticket page's composer: the reply form with its canned-reply picker.

``{% composer %}`` renders the picker (a GET form: choose a canned reply, the page
reloads with ``?macro=<id>`` and the reply box filled), the reply form and its
"send and set status" buttons, the canned reply's status first. With JavaScript
(``static/helpdesk/composer.js``) the picker filters as one types and fills the box
without a reload, from the same filled text (``admin:helpdesk_macro_fill``).
"""

from __future__ import annotations

from django import template
from django.urls import reverse

from helpdesk import macros

register = template.Library()


@register.inclusion_tag("admin/helpdesk/ticket/_composer.html", takes_context=True)
def composer(context) -> dict:
    request, ticket = context["request"], context["original"]
    user = request.user
    offered = list(macros.search(user)) if ticket.status != "closed" else []
    prepared = None
    chosen = request.GET.get("macro", "")
    if chosen.isdigit() and len(chosen) <= 12:
        macro = next((m for m in offered if m.pk == int(chosen)), None)
        if macro is not None:
            prepared = macros.prepare(macro, ticket, agent=user)
    send_and = list(context.get("send_and") or [])
    first = prepared.then_status if prepared else ""
    buttons = [("", "Send"), *send_and]
    buttons.sort(key=lambda button: button[0] != first)  # the macro's status first
    return {
        "original": ticket,
        "reply_form": context.get("reply_form"),
        "csrf_token": context.get("csrf_token"),
        "perms": context.get("perms"),
        "macros": offered,
        "prepared": prepared,
        "buttons": buttons,
        "fill_url": reverse("admin:helpdesk_macro_fill", args=[ticket.pk]),
        "manage_url": reverse("admin:helpdesk_macro_changelist"),
    }
