"""The console's ticket page, its two costliest parts built in Python:
``{% timeline_entries timeline %}``, the conversation
(``helpdesk.console.timeline_html``), and ``{% console_fieldsets adminform %}``, the
form's fieldsets (``helpdesk.console.fieldsets``)."""

from django import template

from helpdesk.console import fieldsets, timeline_html

register = template.Library()


@register.simple_tag(takes_context=True)
def timeline_entries(context, entries):
    """The timeline's entries; files linked for agents who may open them."""
    user = context["request"].user
    return timeline_html.render(
        entries, may_download=user.has_perm("helpdesk.view_attachment")
    )


@register.simple_tag
def console_fieldsets(adminform):
    """The change form's fieldsets, as the admin's own template draws them."""
    return fieldsets.render(adminform)
