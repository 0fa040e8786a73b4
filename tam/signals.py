"""Wiring for the ticket core (signals carry no rules, STYLE.md).

``bucket_exhausted`` is sent inside the transaction of the time entry that uses up
a month's allowance, once per bucket (the entry that crosses it), with ``bucket``,
``contract`` and ``entry``. A receiver that flips the open TAM tickets' clocks to
best effort runs in the same transaction, so both commit or neither does.
"""

from django.dispatch import Signal

bucket_exhausted = Signal()
