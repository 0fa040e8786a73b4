"""Ticket references under concurrency: unique and without gaps."""

import threading

import pytest
from django.db import connection

from helpdesk.models import Ticket
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need a real database server"
)
def test_concurrent_filings_get_consecutive_unique_references():
    admin = administrator()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def file_one() -> None:
        try:
            barrier.wait()
            file_ticket(admin)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=file_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    references = sorted(Ticket.objects.values_list("reference", flat=True))
    assert references == [f"HD-{n:06d}" for n in range(1, 9)]
