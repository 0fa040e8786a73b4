"""The agent console (the Django admin), one module per concern; importing this
package registers every helpdesk admin."""

from helpdesk.admin import escalations, outbox, sweep, tickets

__all__ = ["escalations", "outbox", "sweep", "tickets"]
