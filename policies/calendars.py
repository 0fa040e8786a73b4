"""Build engine schedules from calendar definitions, once per definition."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays as holidays_lib
from django.utils import timezone

from policies.business_time import Schedule

Weekly = tuple[tuple[int, tuple[tuple[str, str], ...]], ...]


def country_holidays(
    country: str, subdivision: str, years: Iterable[int]
) -> list[date]:
    """Return the public holidays of ``country`` (and region) in ``years``.

    Raises ValueError naming the code when the ``holidays`` package does not know it.
    """
    try:
        found = holidays_lib.country_holidays(
            country.upper(), subdiv=subdivision.upper() or None, years=list(years)
        )
    except NotImplementedError:
        raise ValueError(f"unknown holiday country {country!r}") from None
    except KeyError:
        raise ValueError(
            f"unknown holiday region {subdivision!r} of {country!r}"
        ) from None
    return sorted(found)


def default_years() -> range:
    """Five years around today: enough for any open ticket's targets."""
    this_year = timezone.now().year
    return range(this_year - 1, this_year + 4)


@lru_cache(maxsize=256)
def _build(
    tz: str,
    weekly: Weekly,
    explicit: tuple[date, ...],
    country: str,
    subdivision: str,
    years: tuple[int, ...],
) -> Schedule:
    days = set(explicit)
    if country:
        days.update(country_holidays(country, subdivision, years))
    return Schedule(tz, {day: list(spans) for day, spans in weekly}, sorted(days))


def cached_schedule(
    tz: str,
    weekly: Weekly,
    explicit: tuple[date, ...],
    country: str = "",
    subdivision: str = "",
    years: range | None = None,
) -> Schedule:
    """Return the Schedule for this definition, built once per process.

    The key is the whole definition, so an edited calendar gets a fresh schedule and
    an unchanged one keeps its precomputed interval tables.
    """
    span = tuple(years if years is not None else default_years()) if country else ()
    return _build(tz, weekly, explicit, country, subdivision, span)
