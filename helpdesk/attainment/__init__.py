"""SLO attainment roll-ups: per month, plan, severity and metric, the clocks met,
breached, breached by a reclassification and made best effort, kept as each outcome
is decided (``rollups``) so the report reads a few hundred rows instead of every
clock (``helpdesk.reports``)."""
