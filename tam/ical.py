"""Meetings as iCalendar (RFC 5545), built with the maintained ``icalendar`` library.

Each meeting keeps one UID for life and bumps its SEQUENCE when it changes, so a
calendar that subscribed to the feed updates the event instead of adding a copy; a
cancelled meeting stays in the feed with STATUS:CANCELLED.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from icalendar import Calendar, Event

from tam.models import Meeting

PRODID = "-//Helpdesk//TAM meetings//EN"


def meeting_event(meeting: Meeting, *, domain: str = "helpdesk.local") -> Event:
    """Return the VEVENT of one meeting, its instants in UTC."""
    event = Event()
    event.add("uid", f"{meeting.uid}@{domain}")
    event.add("dtstamp", meeting.updated_at.astimezone(UTC))
    event.add("dtstart", meeting.starts_at.astimezone(UTC))
    event.add("dtend", meeting.ends_at.astimezone(UTC))
    event.add("summary", meeting.title)
    event.add("sequence", meeting.sequence)
    event.add(
        "status",
        "CANCELLED" if meeting.status == Meeting.Status.CANCELLED else "CONFIRMED",
    )
    event.add("categories", [meeting.get_kind_display()])
    where = meeting.location or (
        "Remote" if meeting.mode == Meeting.Mode.REMOTE else "On site"
    )
    event.add("location", where)
    event.add(
        "description",
        f"{meeting.get_kind_display()} ({meeting.get_mode_display().lower()}), "
        f"{meeting.duration_minutes} minutes.",
    )
    return event


def calendar_of(
    meetings: Iterable[Meeting], *, name: str, domain: str = "helpdesk.local"
) -> bytes:
    """Return a VCALENDAR holding the meetings, ready to serve as text/calendar."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for meeting in meetings:
        calendar.add_component(meeting_event(meeting, domain=domain))
    return calendar.to_ical()
