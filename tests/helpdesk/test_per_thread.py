"""Querysets built once per thread (helpdesk.console.per_thread): one per thread,
never shared, so that compiling copies in several threads at once always makes the
same SQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from helpdesk import timeline
from helpdesk.console import ticket_page
from helpdesk.console.per_thread import per_thread


def test_once_in_a_thread_and_once_in_each_other():
    calls = []

    @per_thread
    def built():
        calls.append(threading.get_ident())
        return object()

    here = built()
    with ThreadPoolExecutor(max_workers=3) as pool:
        there = list(pool.map(lambda _: built(), range(30)))

    assert built() is here
    assert all(value is not here for value in there)
    assert len(set(map(id, there))) == len(set(calls)) - 1
    assert len(calls) == len(set(calls))  # never twice in one thread


@pytest.mark.django_db
def test_the_ticket_pages_sql_is_the_same_in_every_thread_at_once():
    # Compiled for this thread's connection (its features read once), in each
    # thread; nothing is run.
    here = connections["default"]  # this thread's, not the per-thread proxy

    def sql(pk: int) -> list[tuple]:
        return [
            queryset.query.get_compiler(connection=here).as_sql()
            for queryset in (
                ticket_page.page_tickets().filter(pk=pk),
                ticket_page._clock_rows().filter(ticket_id=pk),
                timeline._message_rows().filter(ticket_id=pk),
            )
        ]

    expected = sql(7)
    start = threading.Barrier(4)

    def many(_):
        start.wait()
        return [sql(7) for _ in range(50)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        made = [each for batch in pool.map(many, range(4)) for each in batch]

    assert all(each == expected for each in made)
