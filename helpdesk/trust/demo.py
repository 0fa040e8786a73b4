"""Demo content for the trust site (``manage.py seed_demo``): components, an active and
a resolved incident with their timelines, an upcoming maintenance window, knowledge
base articles in three categories, and release notes. Idempotent: rows are found by
name, slug or version and left alone when present."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import User
from helpdesk.trust.models import (
    Article,
    Category,
    Component,
    DocumentationReport,
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    ReleaseNote,
    StatusSubscriber,
)
from policies.models import CatalogueEntry

COMPONENTS = [
    ("Identity", "Login widget", "The hosted sign-in and registration widget."),
    ("Identity", "Registration API", "Creating and updating user profiles."),
    ("Identity", "Social login", "Sign-in with Google, Apple, Facebook and others."),
    ("Identity", "Single sign-on", "SAML and OpenID Connect federation."),
    ("Platform", "Admin console", "Where you configure applications and clients."),
    ("Platform", "Capture API", "Profile storage and entity queries."),
    ("Platform", "Webhooks", "Event delivery to your endpoints."),
    ("Hosting", "Application runtimes", "Java, PHP, Node.js, Python, Ruby and .NET."),
    ("Hosting", "Managed databases", "MySQL / MariaDB, PostgreSQL and MS SQL nodes."),
    ("Hosting", "Hosting dashboard", "Environments, billing and the dashboard."),
]

# Whose components they are (issue 14 §4): the catalogue entries of the demo plans
# (policies/packs) each serves, as (plan slug, entry name). Only Jelastic's pack has
# a catalogue, so the hosting components are its customers' (Globex); the others are
# mapped to nothing: platform-wide, shown to every customer.
CATALOGUE = {
    "Application runtimes": [
        ("jelastic", name)
        for name in (".Net", "Java", "PHP", "Node.js", "Python", "Ruby")
    ]
    + [("jelastic", "Docker containers")],
    "Managed databases": [
        ("jelastic", name) for name in ("MS-SQL", "MySQL / MariaDB", "PostgreSQL")
    ],
    "Hosting dashboard": [
        ("jelastic", "Platform (dashboard, environments, billing)"),
    ],
}

CATEGORIES = [
    ("getting-started", "Getting started", "Set up an application and its clients."),
    (
        "authentication",
        "Authentication and social login",
        "Sign-in flows, identity providers and sessions.",
    ),
    (
        "api-and-security",
        "API and security",
        "Clients, secrets, rate limits and the Capture API.",
    ),
]

# (category, slug, title, summary, body)
ARTICLES = [
    (
        "getting-started",
        "create-your-first-application",
        "Create your first application",
        "An application holds your user store, clients and sign-in settings.",
        """An **application** is the container for your users, your API clients and
the sign-in settings your sites share.

1. In the admin console, open **Applications** and choose **New application**.
2. Give it a name your team recognises, such as `acme-production`.
3. Choose the region closest to most of your users; it cannot be changed later.
4. Save. The console shows the application's **App ID**: quote it in tickets.

Create separate applications for production and testing, so a test never
touches real profiles.""",
    ),
    (
        "getting-started",
        "add-the-login-widget-to-your-site",
        "Add the login widget to your site",
        "Two script tags and a container element.",
        """The login widget renders sign-in, registration and password reset.

```html
<div id="login-widget"></div>
<script src="https://widget.example.com/v3/widget.js"></script>
```

Then call `widget.init({appId: "YOUR_APP_ID", locale: "en-US"})` once the page has
loaded. The widget needs the page's domain in the application's **Allowed
domains** list; otherwise sign-in fails with `origin_not_allowed`.""",
    ),
    (
        "getting-started",
        "invite-your-team-to-the-admin-console",
        "Invite your team to the admin console",
        "Give colleagues their own console accounts and roles.",
        """Every person who configures the product should have their own account.
Open **Settings → Team**, choose **Invite**, and pick a role: *Owner*, *Editor* or
*Viewer*. Invitations expire after seven days.

Only the named Support Administrators of your organisation may file support
tickets; ask your account manager to add one.""",
    ),
    (
        "getting-started",
        "choose-a-severity-when-filing-a-ticket",
        "Choose a severity when filing a ticket",
        "What Severity 1 to 4 mean and what to include.",
        """Pick the severity by the impact on your production users:

| Severity | Meaning |
| --- | --- |
| 1 | Production is down for most users, no workaround |
| 2 | A major function is impaired, or a workaround is costly |
| 3 | A minor function is impaired |
| 4 | A question or a request |

For Severity 1 and 2, name a person we can reach while we work on it. Include the
App ID, the client ID and the time the problem started, with its zone.""",
    ),
    (
        "authentication",
        "configure-social-login-with-google",
        "Configure social login with Google",
        "Create an OAuth client in Google Cloud and paste its ID into the console.",
        """1. In the Google Cloud console, create an **OAuth client ID** of type
   *Web application*.
2. Add `https://login.example.com/oauth/google/callback` as an authorised redirect
   URI.
3. In our admin console, open **Social login → Google**, paste the client ID and
   secret, and enable the provider.

Users who signed up with the same e-mail address are linked automatically once
they confirm it. Social login errors such as `redirect_uri_mismatch` mean the
redirect URI above is missing or misspelt.""",
    ),
    (
        "authentication",
        "configure-sign-in-with-apple",
        "Configure Sign in with Apple",
        "A Services ID, a key and your domain's verification file.",
        """Sign in with Apple needs a **Services ID**, a private key (`.p8`) and the
domain verification file Apple gives you, served from your site. Enter the Team
ID, Key ID and Services ID under **Social login → Apple**. Apple shares the
user's e-mail address only on the first sign-in: the widget stores it then.""",
    ),
    (
        "authentication",
        "login-widget-times-out",
        "The login widget times out or spins forever",
        "Check allowed domains, blocked third-party cookies and the status page.",
        """When the login widget keeps spinning or times out:

- Check the [status page](/status/) for an incident on *Login widget*.
- Make sure the page's domain is in **Allowed domains**.
- Safari and Firefox block third-party cookies: serve the widget from a custom
  domain (`login.yourcompany.com`) so its session cookie is first-party.
- Look in the browser console for `origin_not_allowed` or `429` answers.

If none of these helps, file a ticket with the App ID, the browser and the time.""",
    ),
    (
        "authentication",
        "session-length-and-single-sign-out",
        "Session length and single sign-out",
        "How long users stay signed in, and how to sign them out everywhere.",
        """Sessions last 14 days by default, renewed on activity. Change it under
**Settings → Sessions**. To sign a user out of every site of the application,
call `POST /sessions/revoke` with their UUID; the widget notices within a minute.""",
    ),
    (
        "api-and-security",
        "rotate-a-client-secret",
        "Rotate a client secret",
        "Create the new secret, deploy it, then revoke the old one: no downtime.",
        """Rotate a client secret whenever someone who knew it leaves, or if it may
have leaked.

1. In the admin console, open **Clients**, choose the client, then **Rotate
   secret**. Both the old and the new secret work for 24 hours.
2. Deploy the new secret to your servers (never to browsers or mobile apps).
3. Choose **Revoke old secret** once every server uses the new one.

Never send a client secret in a support ticket: we never need it, and the portal
refuses text that looks like one.""",
    ),
    (
        "api-and-security",
        "api-rate-limits",
        "API rate limits",
        "Per-client limits, the 429 answer and how to back off.",
        """Each API client may make 50 requests per second, with bursts of 100. Past
that the API answers `429 Too Many Requests` with a `Retry-After` header in
seconds. Back off exponentially and retry; batch profile updates with the bulk
endpoint instead of one call per user.""",
    ),
    (
        "api-and-security",
        "query-profiles-with-the-capture-api",
        "Query profiles with the Capture API",
        "Filter, sort and page through user profiles.",
        """`POST /entity.find` takes a filter such as
`lastLogin > '2026-01-01' and emailVerified is not null`, a `sort_on` list and a
`max_results` of at most 1,000. Page with the `first_result` of the next page.
Queries over more than 100,000 profiles should use the export job instead.""",
    ),
    (
        "api-and-security",
        "verify-webhook-signatures",
        "Verify webhook signatures",
        "Every event carries an HMAC signature: check it before trusting the body.",
        """Each webhook request has an `X-Signature` header: the hex HMAC-SHA256 of
the raw body with your webhook key. Compute it over the bytes you received (not a
re-serialised JSON) and compare in constant time. Reject events older than five
minutes (`X-Timestamp`) to stop replays.""",
    ),
]

RELEASES = [
    (
        "3.14.0",
        21,
        "Login widget",
        ReleaseNote.Category.FUNCTIONALITY,
        "Passkeys in the login widget",
        "Users can now register a **passkey** and sign in with it. Turn it on under "
        "**Sign-in methods → Passkeys**.",
    ),
    (
        "3.13.2",
        35,
        "Registration API",
        ReleaseNote.Category.SECURITY,
        "Stricter redirect URI matching",
        "Redirect URIs are now compared exactly, including the trailing slash. "
        "Check your clients' redirect URIs before 15 January.",
    ),
    (
        "3.13.1",
        48,
        "Capture API",
        ReleaseNote.Category.CRITICAL_PATCH,
        "Fix for paging past 10,000 results",
        "`entity.find` no longer repeats results when paging past 10,000 profiles.",
    ),
    (
        "3.13.0",
        62,
        "Admin console",
        ReleaseNote.Category.MAINTENANCE,
        "Faster client list and audit log export",
        "The client list loads in a third of the time; the audit log exports as CSV.",
    ),
    (
        "2026.10",
        80,
        None,
        ReleaseNote.Category.DOCUMENTATION,
        "New guides for social login",
        "New step-by-step guides for Google and Apple sign-in, and a rewritten "
        "troubleshooting page for the login widget.",
    ),
]


def seed(now: datetime | None = None) -> int:
    """Create the demo trust site; return how many rows were new."""
    now = now or timezone.now()
    author = User.objects.filter(is_superuser=True).order_by("pk").first()
    created = 0
    components = {}
    for position, (group, name, description) in enumerate(COMPONENTS):
        component, new = Component.objects.get_or_create(
            name=name,
            defaults={"group": group, "description": description, "position": position},
        )
        components[name] = component
        created += new
    _map_to_catalogue(components)
    categories = {}
    for position, (slug, name, description) in enumerate(CATEGORIES):
        category, new = Category.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "description": description, "position": position},
        )
        categories[slug] = category
        created += new
    for category, slug, title, summary, body in ARTICLES:
        _, new = Article.objects.get_or_create(
            slug=slug,
            defaults={
                "category": categories[category],
                "title": title,
                "summary": summary,
                "body": body,
                "status": Article.Status.PUBLISHED,
            },
        )
        created += new
    related = {
        "configure-social-login-with-google": ["configure-sign-in-with-apple"],
        "login-widget-times-out": [
            "add-the-login-widget-to-your-site",
            "configure-social-login-with-google",
        ],
        "rotate-a-client-secret": ["api-rate-limits", "verify-webhook-signatures"],
    }
    for slug, others in related.items():
        article = Article.objects.get(slug=slug)
        if not article.related.exists():
            article.related.set(Article.objects.filter(slug__in=others))
    for version, days_ago, component, category, title, body in RELEASES:
        _, new = ReleaseNote.objects.get_or_create(
            version=version,
            defaults={
                "released_on": (now - timedelta(days=days_ago)).date(),
                "component": components.get(component),
                "category": category,
                "title": title,
                "body": body,
            },
        )
        created += new
    created += _incidents(now, components, author)
    if not MaintenanceWindow.objects.exists():
        start = (now + timedelta(days=3)).replace(hour=23, minute=0, second=0)
        window = MaintenanceWindow.objects.create(
            title="Database upgrade for the Capture API",
            description="Profile writes pause for up to 15 minutes inside this "
            "window; reads and sign-in keep working.",
            starts_at=start,
            ends_at=start + timedelta(hours=3),
        )
        window.components.set([components["Capture API"], components["Webhooks"]])
        created += 1
    if not DocumentationReport.objects.exists():
        DocumentationReport.objects.create(
            article=Article.objects.get(slug="configure-sign-in-with-apple"),
            body="The console menu is now called 'Identity providers', not "
            "'Social login'.",
            reporter_name="Gil Admin",
            reporter_email="gil@globex.example",
        )
        created += 1
    if not StatusSubscriber.objects.exists():
        StatusSubscriber.objects.create(
            email="status-watch@acme.example", confirmed_at=now
        )
        created += 1
    return created


def _map_to_catalogue(components: dict[str, Component]) -> None:
    """Map each demo component to its plans' entries, once: a mapping an agent has
    changed since is left alone, and entries of packs not loaded are skipped."""
    wanted = {spec for specs in CATALOGUE.values() for spec in specs}
    entries = {
        (entry.plan.slug, entry.name): entry
        for entry in CatalogueEntry.objects.select_related("plan").filter(
            plan__slug__in={plan for plan, _ in wanted}
        )
    }
    for name, specs in CATALOGUE.items():
        component = components[name]
        if component.catalogue_entries.exists():
            continue
        component.catalogue_entries.set(
            [entries[spec] for spec in specs if spec in entries]
        )


def _incidents(now: datetime, components: dict, author) -> int:
    """Timelines are written as rows here (demo history, no e-mail or replies)."""
    created = 0
    if not Incident.objects.filter(
        title="Elevated error rates on the Registration API"
    ).exists():
        started = now - timedelta(hours=2)
        incident = Incident.objects.create(
            title="Elevated error rates on the Registration API",
            impact=Incident.Impact.MAJOR,
            status=Incident.Status.IDENTIFIED,
            started_at=started,
        )
        incident.components.set([components["Registration API"]])
        IncidentUpdate.objects.bulk_create(
            [
                IncidentUpdate(
                    incident=incident,
                    status=Incident.Status.INVESTIGATING,
                    body="Some registrations fail with a 503. We are investigating.",
                    posted_at=started,
                    author=author,
                    subscribers_notified_at=now,  # demo history: no e-mail
                ),
                IncidentUpdate(
                    incident=incident,
                    status=Incident.Status.IDENTIFIED,
                    body="A failed cache node in the EU region is the cause; traffic "
                    "is moving to healthy nodes.",
                    posted_at=started + timedelta(minutes=40),
                    author=author,
                    subscribers_notified_at=now,
                ),
            ]
        )
        created += 1
    if not Incident.objects.filter(
        title="Slow start of new MySQL and PostgreSQL nodes"
    ).exists():
        # On a hosting component: Jelastic's customers see it on the new-ticket
        # form, Janrain's do not (issue 14 §4).
        started = now - timedelta(minutes=50)
        incident = Incident.objects.create(
            title="Slow start of new MySQL and PostgreSQL nodes",
            impact=Incident.Impact.MINOR,
            status=Incident.Status.INVESTIGATING,
            started_at=started,
        )
        incident.components.set([components["Managed databases"]])
        IncidentUpdate.objects.create(
            incident=incident,
            status=Incident.Status.INVESTIGATING,
            body="New database nodes take up to 10 minutes to start; running nodes "
            "are not affected. We are investigating.",
            posted_at=started,
            author=author,
            subscribers_notified_at=now,
        )
        created += 1
    if not Incident.objects.filter(title="Slow sign-in on the login widget").exists():
        started = now - timedelta(days=12, hours=5)
        resolved = started + timedelta(hours=3, minutes=10)
        incident = Incident.objects.create(
            title="Slow sign-in on the login widget",
            impact=Incident.Impact.MINOR,
            status=Incident.Status.RESOLVED,
            started_at=started,
            resolved_at=resolved,
            postmortem="""**Summary.** For 3 hours 10 minutes, sign-in through the login
widget took up to 20 seconds for about 15% of users in North America.

**Cause.** A configuration change lowered the connection pool of the session
service; under the morning peak, requests queued.

**What we changed.** The pool size is now checked by a deployment test, and an
alert fires when sign-in latency passes 2 seconds for five minutes.""",
        )
        incident.components.set(
            [components["Login widget"], components["Social login"]]
        )
        steps = [
            (Incident.Status.INVESTIGATING, 0, "Sign-in is slow for some users."),
            (
                Incident.Status.IDENTIFIED,
                45,
                "A configuration change reduced the session service's capacity.",
            ),
            (Incident.Status.MONITORING, 120, "The change is reverted; watching."),
            (Incident.Status.RESOLVED, 190, "Sign-in times are back to normal."),
        ]
        IncidentUpdate.objects.bulk_create(
            [
                IncidentUpdate(
                    incident=incident,
                    status=status,
                    body=body,
                    posted_at=started + timedelta(minutes=minutes),
                    author=author,
                    subscribers_notified_at=now,
                )
                for status, minutes, body in steps
            ]
        )
        created += 1
    return created
