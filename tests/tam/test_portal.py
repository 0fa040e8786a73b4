"""The customer's TAM page in the portal: every URL as every kind of visitor."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse

from tam.models import Meeting
from tests.accounts.factories import AgentFactory, UserFactory
from tests.helpdesk.factories import administrator
from tests.tam.factories import contract

pytestmark = pytest.mark.django_db

DURING_TERM = datetime(2027, 3, 10, 18, tzinfo=UTC)


@pytest.fixture
def world():
    ours = administrator()
    theirs = administrator()
    signed = contract(ours.organization, hours_per_month=15)
    other = contract(theirs.organization)
    with time_machine.travel(DURING_TERM, tick=False):
        yield {
            "ours": ours,
            "theirs": theirs,
            "contract": signed,
            "other": other,
            "meeting": signed.meetings.filter(kind=Meeting.Kind.WEEKLY_STATUS).first(),
        }


def _urls(world):
    return {
        "tam": ("get", reverse("portal:tam")),
        "request": ("post", reverse("portal:tam_request_meeting")),
        "ics": ("get", reverse("portal:tam_meeting_ics", args=[world["meeting"].pk])),
    }


MEETING_REQUEST = {
    "title": "Roadmap review",
    "mode": "remote",
    "day": "2027-03-11",
    "start": "10:00",
    "duration_minutes": "60",
}


def _visit(client, method, url):
    return getattr(client, method)(url, MEETING_REQUEST if method == "post" else None)


@pytest.mark.parametrize("name", ["tam", "request", "ics"])
def test_anonymous_visitors_are_sent_to_log_in(client, world, name):
    method, url = _urls(world)[name]

    response = _visit(client, method, url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


@pytest.mark.parametrize("name", ["tam", "request", "ics"])
@pytest.mark.parametrize("who", ["customer user", "agent"])
def test_people_who_are_not_named_administrators_are_refused(client, world, name, who):
    client.force_login(UserFactory() if who == "customer user" else AgentFactory())
    method, url = _urls(world)[name]

    response = _visit(client, method, url)

    assert response.status_code == 403
    assert b"named Support Administrators" in response.content
    assert Meeting.objects.filter(kind=Meeting.Kind.REQUESTED).count() == 0


def test_another_organisations_meeting_is_not_found(client, world):
    client.force_login(world["theirs"].user)

    response = client.get(_urls(world)["ics"][1])

    assert response.status_code == 404


def test_another_organisations_admin_sees_only_their_own_contract(client, world):
    client.force_login(world["theirs"].user)

    response = client.get(reverse("portal:tam"))

    text = response.content.decode()
    assert str(world["other"].tam) in text
    assert str(world["contract"].feed_token) not in text
    assert str(world["other"].feed_token) in text


def test_the_page_shows_the_tam_hours_and_meetings(client, world):
    client.force_login(world["ours"].user)

    response = client.get(reverse("portal:tam"))

    text = response.content.decode()
    assert response.status_code == 200
    assert str(world["contract"].tam) in text
    assert str(world["contract"].backup_tam) in text
    assert "0:00 h used of 15:00 h; 15:00 h remaining." in text
    assert "Weekly TAM status call" in text
    assert 'href="/portal/tam/"' in text  # the nav link


def test_the_nav_has_no_tam_link_without_a_contract(client):
    admin = administrator()
    client.force_login(admin.user)

    response = client.get(reverse("portal:tickets"))
    page = client.get(reverse("portal:tam"))

    assert 'href="/portal/tam/"' not in response.content.decode()
    assert b"has no TAM contract" in page.content


def test_a_meeting_request_too_soon_says_the_earliest_date(client, world):
    client.force_login(world["ours"].user)

    response = client.post(
        reverse("portal:tam_request_meeting"), MEETING_REQUEST, follow=True
    )

    assert b"Remote meeting notice rule" in response.content
    assert b"Friday 12 March 2027" in response.content
    assert not Meeting.objects.filter(kind=Meeting.Kind.REQUESTED).exists()


def test_a_meeting_request_with_notice_is_booked(client, world):
    client.force_login(world["ours"].user)

    response = client.post(
        reverse("portal:tam_request_meeting"),
        MEETING_REQUEST | {"day": "2027-03-12"},
        follow=True,
    )

    meeting = Meeting.objects.get(kind=Meeting.Kind.REQUESTED)
    assert (
        b"Meeting \xe2\x80\x9cRoadmap review\xe2\x80\x9d requested" in response.content
    )
    assert meeting.requested_by == world["ours"].user
    assert meeting.starts_at == datetime(2027, 3, 12, 18, tzinfo=UTC)  # 10:00 PST


def test_an_expired_licence_may_read_but_not_request(client, world):
    organization = world["ours"].organization
    organization.licence_active_until = date(2020, 1, 31)
    organization.save()
    client.force_login(world["ours"].user)

    assert client.get(reverse("portal:tam")).status_code == 200
    refused = client.post(reverse("portal:tam_request_meeting"), MEETING_REQUEST)
    assert refused.status_code == 403


def test_the_feed_is_reached_by_its_token_alone(client, world):
    feed = reverse("portal:tam_feed", args=[world["contract"].feed_token])

    response = client.get(feed)

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.content.count(b"BEGIN:VEVENT") == world["contract"].meetings.count()
    missing = reverse("portal:tam_feed", args=["00000000-0000-0000-0000-000000000000"])
    assert client.get(missing).status_code == 404


def test_the_meeting_ics_downloads(client, world):
    client.force_login(world["ours"].user)

    response = client.get(_urls(world)["ics"][1])

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert b"SUMMARY:Weekly TAM status call" in response.content
