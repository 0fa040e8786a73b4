"""Benchmark the new-ticket form's suggestions endpoint at 10,000 articles.

Run from the repository root: `make bench-trust`, or
`.venv/bin/python bench/trust_suggestions.py [--articles N] [--keep] [--database D]`.

It creates a fresh PostgreSQL database `helpdesk_bench_trust` (or --database, a
name starting with helpdesk_bench but never the console benchmark's; on
DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432), migrates it and
loads N published knowledge-base articles (default 10,000) written from a support
vocabulary in which each word has a realistic frequency (a few words on most
articles, most words on few), plus an open incident and a maintenance window.

Then, as a logged-in Support Administrator through Django's test client (the whole
request: middleware, portal checks, the ranked search on the GIN index, the
deflection record, the customer's known issues, rendering), it times
`GET /portal/tickets/new/suggestions/` for a dozen summaries as people type them
(rare words, common words, long summaries, no match), the median of 7 runs after a
warm-up, and counts the request's queries. The baseline, measured in the same
run on the same rows: the naive way to suggest, an `icontains` on title or body for
any word and the matches ranked in Python by counting the words (title counting
ten times). The summary prints each summary's times and the ratio.

Goal: every summary under 50 ms at 10,000 articles. It exits 0 whatever the
results: it is a report, not a gate. The database is dropped unless --keep.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "helpdesk_bench_trust"
# Other benchmarks' databases, never dropped here (the console's takes hours to load).
FOREIGN_DBS = ("helpdesk_bench_console",)
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
GOAL_MS = 50.0
RUNS = 7
SEED = 20261128

TOPICS = [
    "login", "widget", "registration", "api", "sso", "saml", "oauth", "token",
    "session", "password", "reset", "email", "verification", "profile", "capture",
    "webhook", "signature", "secret", "client", "rotate", "rate", "limit", "export",
    "import", "console", "role", "team", "invite", "domain", "cookie", "mobile",
    "ios", "android", "apple", "google", "facebook", "federation", "certificate",
    "redirect", "callback", "timeout", "latency", "error", "locale", "captcha",
    "audit", "analytics", "consent", "gdpr", "deletion", "backup", "kerberos",
    "ldap", "passkey", "mfa", "totp", "sms", "throttle", "entity", "schema",
]  # fmt: skip
FILLER = [
    "the", "a", "to", "of", "and", "in", "your", "for", "is", "on", "you", "with",
    "that", "this", "it", "be", "can", "are", "from", "or", "as", "if", "when",
    "users", "user", "open", "choose", "select", "application", "settings", "page",
    "then", "will", "not", "use", "set", "up", "new", "each", "all", "more", "only",
    "after", "before", "check", "make", "sure",
]  # fmt: skip
SUMMARIES = [
    "login widget times out",
    "Login widget spins forever on Safari after the update",
    "rotate client secret",
    "webhook signature does not match",
    "kerberos",
    "How do I configure SAML single sign-on with our identity provider?",
    "passkey",
    "rate limit 429 on the capture api when importing profiles",
    "error",
    "zzzz qqqq",
    "gdpr deletion of a user profile",
    "the",
]


def zipf_choice(rng: random.Random, words: list[str]) -> str:
    """The n-th word about 1/n as often as the first."""
    weights = [1 / (n + 1) for n in range(len(words))]
    return rng.choices(words, weights)[0]


def text(rng: random.Random, words: int) -> str:
    out = []
    for _ in range(words):
        if rng.random() < 0.25:
            out.append(zipf_choice(rng, TOPICS))
        else:
            out.append(rng.choice(FILLER))
    return " ".join(out)


def prepare(database: str) -> str:
    """Create the empty database ``database`` and point Django at it; return the
    server's maintenance URL (to drop it at the end)."""
    import psycopg

    if database.startswith(FOREIGN_DBS) or not database.startswith("helpdesk_bench"):
        sys.exit(f"refusing to drop and create {database}: not a benchmark's own")
    base = os.environ.get("DATABASE_URL", DEFAULT_PG)
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/trust_suggestions.py runs on PostgreSQL (DATABASE_URL)")
    maintenance = urlunsplit(("postgres", parts.netloc, "/postgres", "", ""))
    bench = urlunsplit(("postgres", parts.netloc, f"/{database}", "", ""))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    os.environ["DATABASE_URL"] = bench
    os.environ.pop("REDIS_URL", None)  # embedded broker: nothing touches real Redis
    os.environ["HELPDESK_VAR_DIR"] = tempfile.mkdtemp(prefix="trust-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    return maintenance


def load(articles: int):
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Organization, SupportAdministrator, User
    from helpdesk.trust.models import (
        Article,
        Category,
        Component,
        Incident,
        MaintenanceWindow,
    )
    from policies.loader import load_policy_packs
    from policies.models import SupportPlan

    call_command("migrate", verbosity=0, interactive=False)
    load_policy_packs()
    rng = random.Random(SEED)
    categories = [
        Category.objects.create(name=f"Category {n}", slug=f"category-{n}")
        for n in range(12)
    ]
    rows = []
    for n in range(articles):
        title = text(rng, rng.randint(4, 9)).capitalize()
        rows.append(
            Article(
                category=categories[n % len(categories)],
                title=title[:200],
                slug=f"article-{n}",
                summary=text(rng, 12)[:300],
                body=text(rng, rng.randint(150, 500)),
                status=Article.Status.PUBLISHED,
            )
        )
    Article.objects.bulk_create(rows, batch_size=1000)
    with connection.cursor() as cursor:  # what autovacuum does after a bulk load
        cursor.execute("SELECT gin_clean_pending_list('trust_article_search')")
        cursor.execute("SELECT gin_clean_pending_list('trust_article_title_search')")
        cursor.execute("ANALYZE trust_article")
    component = Component.objects.create(name="Login widget")
    incident = Incident.objects.create(title="Slow sign-in", impact="minor")
    incident.components.set([component])
    window = MaintenanceWindow.objects.create(
        title="Database upgrade",
        starts_at=timezone.now() + timedelta(hours=3),
        ends_at=timezone.now() + timedelta(hours=5),
    )
    window.components.set([component])
    organization = Organization.objects.create(
        name="Bench Corp",
        slug="bench",
        support_plan=SupportPlan.objects.get(slug="janrain-platinum"),
        licence_active_until=timezone.localdate() + timedelta(days=365),
    )
    user = User.objects.create_user(email="ada@bench.example", password=None)
    SupportAdministrator.objects.create(user=user, organization=organization)
    return user


def naive_suggest(summary: str, limit: int = 5) -> list:
    """The baseline: icontains on title or body for any word, ranked in Python."""
    import re
    from functools import reduce
    from operator import or_

    from django.db.models import Q

    from helpdesk.trust.models import Article

    words = [w.lower() for w in re.findall(r"\w+", summary)][:12]
    if not words:
        return []
    condition = reduce(
        or_, (Q(title__icontains=w) | Q(body__icontains=w) for w in words)
    )
    scored = []
    for pk, title, body in (
        Article.objects.published().filter(condition).values_list("pk", "title", "body")
    ):
        title, body = title.lower(), body.lower()
        score = sum(10 * title.count(w) + body.count(w) for w in words)
        scored.append((-score, title, pk))
    scored.sort()
    return [pk for _, _, pk in scored[:limit]]


def timed(fn, runs: int = RUNS) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--database",
        default=BENCH_DB,
        help=f"the database to create, load and drop (default {BENCH_DB})",
    )
    args = parser.parse_args()
    maintenance = prepare(args.database)

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from helpdesk.trust import search

    started = time.perf_counter()
    user = load(args.articles)
    print(f"loaded {args.articles:,} articles in {time.perf_counter() - started:.1f} s")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    url = reverse("portal:new_ticket_suggestions")
    token = str(uuid.uuid4())

    print(
        f"\n{'summary':<50} {'endpoint':>9} {'queries':>7} {'service':>8}"
        f" {'naive':>8} {'ratio':>6}"
    )
    worst = 0.0
    ratios = []
    for summary in SUMMARIES:

        def endpoint(summary=summary):
            response = client.get(url, {"summary": summary, "token": token})
            assert response.status_code == 200, response.status_code

        endpoint_ms = timed(endpoint)
        with CaptureQueriesContext(connection) as queries:
            endpoint()
        service_ms = timed(lambda summary=summary: search.suggest(summary))
        naive_ms = timed(lambda summary=summary: naive_suggest(summary), runs=3)
        ratio = naive_ms / service_ms if service_ms else float("inf")
        ratios.append(ratio)
        worst = max(worst, endpoint_ms)
        shown = summary if len(summary) <= 48 else summary[:47] + "…"
        print(
            f"{shown:<50} {endpoint_ms:>7.1f}ms {len(queries):>7} {service_ms:>6.1f}ms"
            f" {naive_ms:>6.1f}ms {ratio:>5.1f}x"
        )
    print(
        f"\nslowest endpoint answer: {worst:.1f} ms (goal < {GOAL_MS:.0f} ms:"
        f" {'met' if worst < GOAL_MS else 'NOT met'});"
        f" ranked search vs naive icontains: median {statistics.median(ratios):.1f}x"
        " faster"
    )

    if not args.keep:
        from django.db import connections

        connections.close_all()
        import psycopg

        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
