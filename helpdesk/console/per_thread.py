"""Querysets built once per thread and narrowed per request.

Building a queryset with sub-selects (``Subquery`` annotations) and resolving them
cost more than running it on the ticket page. A queryset built once and narrowed
per request (``.filter()``, ``.get()``) copies the outer query but shares the
resolved sub-selects, and compiling a copy writes to those (their aliases'
reference counts, their ordering): two threads compiling copies at once could make
wrong SQL. So each thread builds its own, once.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def per_thread(build: Callable[[], T]) -> Callable[[], T]:
    """``build()``'s result, built once in each thread that asks for it."""
    local = threading.local()

    @functools.wraps(build)
    def built() -> T:
        try:
            return local.value
        except AttributeError:
            local.value = build()
            return local.value

    return built
