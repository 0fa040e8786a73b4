"""``{% console_result_list cl %}``: the ticket list's table, the admin's own
headers over rows built by ``helpdesk.console.rows`` (one string each)."""

from django import template
from django.contrib.admin.templatetags.admin_list import result_headers, result_list

from helpdesk.console import rows

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
