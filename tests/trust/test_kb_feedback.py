"""Helpful votes (one per reader per article) and "Report a documentation error"
(throttled, with a honeypot, named for logged-in readers)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from helpdesk.trust import views
from helpdesk.trust.models import Article, ArticleVote, DocumentationReport
from tests.helpdesk.factories import administrator
from tests.trust.factories import ArticleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def vote(client, article, helpful: str):
    return client.post(
        reverse("trust:kb_vote", args=[article.slug]), {"helpful": helpful}
    )


def test_one_vote_per_reader_per_article_and_a_second_replaces_it(client):
    article = ArticleFactory()
    assert vote(client, article, "yes").status_code == 302
    assert vote(client, article, "no").status_code == 302
    assert list(ArticleVote.objects.values_list("is_helpful", flat=True)) == [False]
    other_reader = type(client)()
    vote(other_reader, article, "yes")
    assert ArticleVote.objects.filter(article=article).count() == 2
    page = client.get(article.get_absolute_url()).content.decode()
    assert "1 of 2 readers found it helpful." in page


def test_a_logged_in_reader_votes_as_themselves(client):
    article = ArticleFactory()
    admin = administrator()
    client.force_login(admin.user)
    vote(client, article, "yes")
    vote(client, article, "yes")
    assert ArticleVote.objects.get().reader == f"user:{admin.user.pk}"


def test_bad_votes_and_unpublished_articles_change_nothing(client):
    article = ArticleFactory()
    draft = ArticleFactory(status=Article.Status.DRAFT)
    assert vote(client, article, "maybe").status_code == 302
    assert vote(client, draft, "yes").status_code == 404
    assert client.get(reverse("trust:kb_vote", args=[article.slug])).status_code == 405
    assert not ArticleVote.objects.exists()


def report(client, article, **data):
    return client.post(reverse("trust:kb_report", args=[article.slug]), data)


def test_an_anonymous_report_reaches_the_documentation_queue(client):
    article = ArticleFactory(title="Configure Sign in with Apple")
    response = report(
        client,
        article,
        body="The menu is now called Identity providers.",
        name="Gil",
        email="gil@globex.example",
        website="",
    )
    assert response.status_code == 302
    stored = DocumentationReport.objects.get()
    assert (stored.article, stored.reporter_name, stored.reporter) == (
        article,
        "Gil",
        None,
    )
    assert stored.reporter_email == "gil@globex.example"
    assert stored.resolved_at is None
    page = client.get(response.url).content.decode()
    assert "your report is with the documentation team" in page


def test_the_honeypot_and_an_empty_report_are_refused_with_field_errors(client):
    article = ArticleFactory()
    robot = report(
        client, article, body="Buy cheap watches today!", website="x.example"
    )
    assert robot.status_code == 400
    assert "This field must be left empty." in robot.content.decode()
    empty = report(client, article, body="  ")
    assert empty.status_code == 400
    assert "Please correct the error below." in empty.content.decode()
    assert not DocumentationReport.objects.exists()


def test_anonymous_reports_are_throttled_per_address(client):
    article = ArticleFactory()
    body = {"body": "Step 3 names the wrong button."}
    for _ in range(views.REPORTS_PER_HOUR):
        assert report(client, article, **body).status_code == 302
    refused = report(client, article, **body)
    assert refused.status_code == 400
    assert "several reports from your address" in refused.content.decode()
    assert DocumentationReport.objects.count() == views.REPORTS_PER_HOUR


def test_a_logged_in_support_administrator_is_named_and_not_throttled(client):
    article = ArticleFactory()
    admin = administrator()
    client.force_login(admin.user)
    page = client.get(article.get_absolute_url()).content.decode()
    assert admin.user.email in page or admin.user.get_full_name() in page
    assert 'name="email"' not in page  # their address comes from the account
    for _ in range(views.REPORTS_PER_HOUR + 1):
        response = report(
            client, article, body="The screenshot shows the old console.",
            name="Someone Else", email="else@example.com",
        )  # fmt: skip
        assert response.status_code == 302
    stored = DocumentationReport.objects.first()
    assert stored.reporter == admin.user
    assert stored.reporter_email == admin.user.email
    assert stored.reporter_name == (admin.user.get_full_name() or admin.user.email)


# --- where the answer shows ------------------------------------------------------


def feedback_part(page: str) -> str:
    """The page from the feedback section (``#feedback``) on."""
    assert page.count('id="feedback"') == 1
    return page[page.index('id="feedback"') :]


def pressed(page: str) -> dict[str, str]:
    """The aria-pressed of the Yes and No buttons."""
    part = feedback_part(page)
    return {
        value: part.split(f'value="{value}" aria-pressed="')[1].split('"')[0]
        for value in ("yes", "no")
    }


def test_a_vote_comes_back_at_the_feedback_section_showing_the_choice(client):
    article = ArticleFactory()
    response = vote(client, article, "yes")
    assert response.url == f"{article.get_absolute_url()}#feedback"
    page = client.get(response.url).content.decode()
    assert "your answer “helpful” is recorded" in feedback_part(page)
    assert pressed(page) == {"yes": "true", "no": "false"}
    assert "Your answer: <strong>helpful</strong>" in page
    # A second vote changes the choice; it does not add one.
    page = client.get(vote(client, article, "no").url).content.decode()
    assert "your answer “not helpful” is recorded" in feedback_part(page)
    assert pressed(page) == {"yes": "false", "no": "true"}
    assert ArticleVote.objects.get().is_helpful is False
    assert "0 of 1 reader found it helpful." in page
    again = client.get(article.get_absolute_url()).content.decode()
    assert "is recorded" not in again  # the message is shown once
    assert pressed(again) == {"yes": "false", "no": "true"}


def test_a_reader_who_never_voted_sees_no_choice_and_gets_no_session(client):
    article = ArticleFactory()
    ArticleVote.objects.create(article=article, reader="anon:someone", is_helpful=True)
    response = client.get(article.get_absolute_url())
    assert pressed(response.content.decode()) == {"yes": "false", "no": "false"}
    assert "sessionid" not in response.cookies
    admin = administrator()
    client.force_login(admin.user)
    vote(client, article, "no")
    assert pressed(client.get(article.get_absolute_url()).content.decode()) == {
        "yes": "false",
        "no": "true",
    }


def test_a_refused_vote_and_a_report_answer_in_the_feedback_section(client):
    article = ArticleFactory()
    refused = vote(client, article, "maybe")
    assert refused.url.endswith("#feedback")
    assert "Choose yes or no." in feedback_part(
        client.get(refused.url).content.decode()
    )
    sent = report(client, article, body="The menu is now called Identity providers.")
    assert sent.url == f"{article.get_absolute_url()}#feedback"
    page = client.get(sent.url).content.decode()
    assert "your report is with the documentation team" in feedback_part(page)
