"""The console's lists built in Python: ``{% console_result_list cl %}``, the ticket
list's table (the admin's own headers over rows built by ``helpdesk.console.rows``,
one string each); on the ticket page ``{% timeline_entries timeline %}``, the
conversation (``helpdesk.console.timeline_html``), and ``{% console_fieldsets
adminform %}``, the form's fieldsets (``helpdesk.console.fieldsets``)."""

from django import template
from django.contrib.admin.templatetags.admin_list import result_headers, result_list

from helpdesk.console import fieldsets, rows, timeline_html

register = template.Library()


@register.inclusion_tag("admin/helpdesk/ticket/console_results.html")
def console_result_list(cl):
    built = rows.render(cl)
    if built is None:  # a list the rows do not know: the admin's own renderer
        return {**result_list(cl), "rows": None}
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "rows": built,
    }


@register.simple_tag(takes_context=True)
def timeline_entries(context, entries):
    """The ticket page's timeline, built by ``helpdesk.console.timeline_html``."""
    user = context["request"].user
    return timeline_html.render(
        entries, may_download=user.has_perm("helpdesk.view_attachment")
    )


@register.simple_tag
def console_fieldsets(adminform):
    """The change form's fieldsets, built by ``helpdesk.console.fieldsets``."""
    return fieldsets.render(adminform)
