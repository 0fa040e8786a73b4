"""The trust site's pages: public, server-rendered, no log-in needed to read.

Views parse input, call one service or reader, and render. Pages that list rows run
a constant number of queries (tests/trust/test_queries.py pins them).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.throttle import client_ip_address, hit
from helpdesk.trust import board, deflection, search, services, subscriptions
from helpdesk.trust import portal as trust_portal
from helpdesk.trust.forms import (
    DocumentationReportForm,
    SearchForm,
    SubscribeForm,
    VoteForm,
)
from helpdesk.trust.models import (
    Article,
    Category,
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    ReleaseNote,
)
from helpdesk.views import portal_view

REPORTS_PER_HOUR = 5  # documentation reports per anonymous address
SUBSCRIPTIONS_PER_HOUR = 5  # subscription requests per address
RELATED = 5
SEARCH_RESULTS = 20


def _address(request: HttpRequest) -> str:
    return client_ip_address(request) or "unknown"


# --- front page and status ---------------------------------------------------------


@require_GET
def front_page(request: HttpRequest) -> HttpResponse:
    """The site's home: status summary, KB search, latest releases, the ways in."""
    now = timezone.now()
    status_board = board.build(now, history_days=1)
    return render(
        request,
        "trust/front_page.html",
        {
            "board": status_board,
            "search_form": SearchForm(),
            "releases": ReleaseNote.objects.filter(is_published=True).select_related(
                "component"
            )[:3],
            "categories": Category.objects.annotate(
                published=Count(
                    "articles", filter=Q(articles__status=Article.Status.PUBLISHED)
                )
            )
            .filter(published__gt=0)
            .order_by("position", "name"),
        },
    )


@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "trust/status.html",
        {"board": board.build(timezone.now()), "subscribe_form": SubscribeForm()},
    )


@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(
        Incident.objects.prefetch_related(
            "components",
            Prefetch(
                "updates", queryset=IncidentUpdate.objects.order_by("-posted_at", "-pk")
            ),
        ),
        pk=pk,
    )
    return render(request, "trust/incident.html", {"incident": incident})


@require_GET
def maintenance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(
        MaintenanceWindow.objects.prefetch_related("components"), pk=pk
    )
    return render(
        request,
        "trust/maintenance.html",
        {"window": window, "phase": window.phase(timezone.now())},
    )


@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST)
    if form.is_valid() and not hit(
        "status-subscribe",
        _address(request),
        limit=SUBSCRIPTIONS_PER_HOUR,
        period=timedelta(hours=1),
        now=timezone.now(),
    ):
        form.add_error(None, "Too many requests from your address; try in an hour.")
    if form.is_valid():
        try:
            subscriptions.subscribe(form.cleaned_data["email"])
        except ValidationError as exc:
            form.add_error("email", exc.message_dict.get("email"))
    if not form.is_valid():
        return render(
            request,
            "trust/status.html",
            {"board": board.build(timezone.now()), "subscribe_form": form},
            status=400,
        )
    return render(
        request, "trust/subscribe_sent.html", {"email": form.cleaned_data["email"]}
    )


@require_GET
def confirm_subscription(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = subscriptions.confirm(token)
    return render(
        request,
        "trust/subscription_confirmed.html",
        {"subscriber": subscriber},
        status=200 if subscriber else 400,
    )


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (mail scanners follow links); POST unsubscribes, which is
    also what a mail client's one-click unsubscribe (RFC 8058) sends."""
    if request.method == "POST":
        done = subscriptions.unsubscribe(token)
        return render(
            request,
            "trust/unsubscribed.html",
            {"done": done},
            status=200 if done else 400,
        )
    subscriber = subscriptions.subscriber_for_unsubscribe(token)
    return render(
        request,
        "trust/unsubscribe.html",
        {"subscriber": subscriber},
        status=200 if subscriber else 400,
    )


# --- knowledge base ------------------------------------------------------------


@require_GET
def kb_index(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results = None
    if form.is_valid() and form.cleaned_data["q"].strip():
        results = list(
            search.search(form.cleaned_data["q"])
            .select_related("category")
            .only("title", "slug", "summary", "updated_at", "category__name")[
                :SEARCH_RESULTS
            ]
        )
    categories = Category.objects.prefetch_related(
        Prefetch(
            "articles",
            queryset=Article.objects.published()
            .only("title", "slug", "summary", "updated_at", "category_id")
            .order_by("title"),
            to_attr="published_articles",
        )
    )
    return render(
        request,
        "trust/kb_index.html",
        {"form": form, "results": results, "categories": categories},
    )


@require_GET
def kb_category(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category, slug=slug)
    articles = category.articles.published().order_by("title")
    return render(
        request,
        "trust/kb_category.html",
        {"category": category, "articles": articles, "form": SearchForm()},
    )


def _article_context(request: HttpRequest, article: Article, **extra) -> dict:
    related = list(
        article.related.published().only("title", "slug", "summary")[:RELATED]
    )
    if not related:  # none chosen: others of its category
        related = list(
            Article.objects.published()
            .filter(category_id=article.category_id)
            .exclude(pk=article.pk)
            .only("title", "slug", "summary")[:RELATED]
        )
    votes = article.votes.aggregate(
        helpful=Count("pk", filter=Q(is_helpful=True)), total=Count("pk")
    )
    identified = request.user.is_authenticated
    # The reader's own answer, shown on the buttons (aria-pressed). A reader who
    # never voted and has no session gets none: reading starts no session.
    reader = services.reader_key(request, create=False)
    my_vote = (
        article.votes.filter(reader=reader).values_list("is_helpful", flat=True).first()
        if reader
        else None
    )
    return {
        "article": article,
        "related": related,
        "votes": votes,
        "my_vote": my_vote,
        "report_form": DocumentationReportForm(identified=identified),
        "vote_form": VoteForm(),
        **extra,
    }


def _published(slug: str) -> Article:
    return get_object_or_404(
        Article.objects.published().select_related("category"), slug=slug
    )


@require_GET
def kb_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = _published(slug)
    # Opened from a suggestion on the portal's new-ticket form: a possible deflection.
    deflection.mark_viewed(
        request.GET.get("suggested"), article, user=request.user, now=timezone.now()
    )
    return render(request, "trust/kb_article.html", _article_context(request, article))


@require_POST
def kb_vote(request: HttpRequest, slug: str) -> HttpResponse:
    article = _published(slug)
    form = VoteForm(request.POST)
    feedback = f"{article.get_absolute_url()}#feedback"
    if not form.is_valid():
        messages.error(request, "Choose yes or no.")
        return redirect(feedback)
    vote = services.record_vote(
        article,
        reader=services.reader_key(request),
        is_helpful=form.cleaned_data["helpful"] == "yes",
    )
    answer = "helpful" if vote.is_helpful else "not helpful"
    messages.success(
        request, f"Thank you: your answer “{answer}” is recorded. You can change it."
    )
    return redirect(feedback)


@require_POST
def kb_report(request: HttpRequest, slug: str) -> HttpResponse:
    """ "Report a documentation error": into the documentation owners' queue."""
    article = _published(slug)
    user = request.user if request.user.is_authenticated else None
    form = DocumentationReportForm(request.POST, identified=user is not None)
    if (
        form.is_valid()
        and user is None
        and not hit(
            "kb-report",
            _address(request),
            limit=REPORTS_PER_HOUR,
            period=timedelta(hours=1),
            now=timezone.now(),
        )
    ):
        form.add_error(
            None,
            "We have had several reports from your address in the last hour; "
            "please try again later.",
        )
    if form.is_valid():
        services.report_documentation_error(
            article,
            body=form.cleaned_data["body"],
            name=form.cleaned_data.get("name", ""),
            email=form.cleaned_data.get("email", ""),
            user=user,
        )
        messages.success(
            request,
            "Thank you: your report is with the documentation team.",
        )
        return redirect(f"{article.get_absolute_url()}#feedback")
    context = _article_context(request, article, report_form=form)
    return render(request, "trust/kb_article.html", context, status=400)


# --- release notes -------------------------------------------------------------


@require_GET
def releases(request: HttpRequest) -> HttpResponse:
    category = request.GET.get("category", "")
    notes = ReleaseNote.objects.filter(is_published=True).select_related("component")
    if category in ReleaseNote.Category.values:
        notes = notes.filter(category=category)
    else:
        category = ""
    return render(
        request,
        "trust/releases.html",
        {
            "notes": notes[:100],
            "categories": ReleaseNote.Category.choices,
            "category": category,
        },
    )


@require_GET
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(
        ReleaseNote.objects.filter(is_published=True).select_related("component"),
        pk=pk,
    )
    return render(request, "trust/release.html", {"note": note})


# --- the portal's new-ticket form (deflection) ------------------------------------


@portal_view
@require_GET
def new_ticket_suggestions(request: HttpRequest) -> HttpResponse:
    """GET /portal/tickets/new/suggestions/?summary=...&product=...: the fragment."""
    found = trust_portal.suggestions(request, request.GET)
    return render(request, "trust/_suggestions.html", {"suggestions": found})


# --- staff report ----------------------------------------------------------------


@staff_member_required
@permission_required("trust.view_deflection_report", raise_exception=True)
@require_GET
def deflection_report(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "trust/deflection_report.html",
        {"months": deflection.monthly_figures(now=timezone.now())},
    )
