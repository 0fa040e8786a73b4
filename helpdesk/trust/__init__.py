"""The public trust site: status, incidents and maintenance, the knowledge base,
release notes and their feeds, and deflection on the portal's new-ticket form."""
