"""The agent console's ticket list (``helpdesk.admin.tickets`` uses it).

- ``urgency``: a ticket's next due instant, the list's order and its indexes
  (imported by ``helpdesk.models``, so it imports no model);
- ``queues``: the one-click views and their counts in one query;
- ``search``: reference, organisation and full-text search;
- ``paginator``: counts that never scan a million rows.
"""
