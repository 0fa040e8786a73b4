"""The agent console (the Django admin), one module per concern; importing this
package registers every helpdesk admin."""

from helpdesk.admin import escalations, inbound, macros, outbox, sweep, tickets

__all__ = ["escalations", "inbound", "macros", "outbox", "sweep", "tickets"]
