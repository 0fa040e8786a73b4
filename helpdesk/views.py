"""Views: the customer portal (``/portal/``) and the public pages.

Views parse input, call one service and map its errors onto the form. Every portal
view works inside the organisations the user is a named administrator of: another
organisation's ticket or attachment is a 404, so references do not leak.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import passwords
from accounts.models import Organization
from accounts.rules import Decision, may_file_tickets
from accounts.throttle import client_ip_address
from helpdesk import (
    clock_display,
    continuous_effort,
    escalations,
    reports,
    services,
    severity,
)
from helpdesk.forms import (
    AsOfForm,
    EscalationForm,
    ReopenForm,
    ReplyForm,
    SeverityChangeForm,
    TicketFilterForm,
    TicketForm,
)
from helpdesk.lifecycle import IllegalTransition
from helpdesk.models import Attachment, Message, SeverityChange, Ticket
from helpdesk.trust import portal as trust_portal
from policies.models import SLOTarget, SupportPlan
from tam import routing as tam_routing

logger = logging.getLogger(__name__)

ORG_SESSION_KEY = "portal_organization"
PAGE_SIZE = 25


# --- health ------------------------------------------------------------------------

# How long each dependency may take to answer /healthz.
HEALTH_TIMEOUT_SECONDS = 2.0


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Report the database, the Celery broker and the mail server separately.

    {"database": "ok", "broker": "error: ConnectionError", "mail": "ok",
     "status": "degraded"} with HTTP 200: the process can serve, so the load balancer
    keeps it. Only a database that does not answer is a 503 ("down"): then no page
    can be served. Each check gives up after ``HEALTH_TIMEOUT_SECONDS``; they run at
    once, so a hung dependency costs that long, not three times that.
    """
    checks = _run_checks(
        {
            "database": _check_database,
            "broker": _check_broker,
            "mail": _check_mail,
        },
        timeout=HEALTH_TIMEOUT_SECONDS,
    )
    if checks["database"] != "ok":
        status = "down"
    elif all(result == "ok" for result in checks.values()):
        status = "ok"
    else:
        status = "degraded"
    return JsonResponse(
        {**checks, "status": status}, status=503 if status == "down" else 200
    )


def _run_checks(
    checks: dict[str, Callable[[], str]], *, timeout: float
) -> dict[str, str]:
    """Run each check in its own thread; one still running at ``timeout`` failed.

    A check that hangs (a firewall dropping packets to the database) keeps its
    daemon thread until its own socket gives up, but never this request.
    """
    results: dict[str, str] = {}

    def run(name: str, check: Callable[[], str]) -> None:
        try:
            results[name] = check()
        except Exception as exc:  # any failure is the answer
            results[name] = _failed(name, exc)

    threads = {
        name: threading.Thread(target=run, args=(name, check), daemon=True)
        for name, check in checks.items()
    }
    for thread in threads.values():
        thread.start()
    deadline = monotonic() + timeout
    for thread in threads.values():
        thread.join(max(0.0, deadline - monotonic()))
    return {
        name: results.get(name, f"error: no answer within {timeout:g} s")
        for name in checks
    }


def _failed(name: str, exc: Exception) -> str:
    # The details (hosts, ports) go to the log; the public answer names the error.
    logger.warning("Health check of the %s failed: %s", name, exc)
    return f"error: {type(exc).__name__}"


def _check_database() -> str:
    """Ask the default database for ``SELECT 1``, on this thread's own connection."""
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread ends; its connection must not linger
    return "ok"


def _check_broker() -> str:
    """Ping Redis, or find the embedded broker's folders writable."""
    url = settings.CELERY_BROKER_URL
    scheme = urlsplit(url).scheme
    if scheme in {"redis", "rediss", "unix"}:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=HEALTH_TIMEOUT_SECONDS,
            socket_timeout=HEALTH_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    if scheme == "filesystem":
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = options.get(key)
            if folder and not _writable_folder(Path(folder)):
                logger.warning("Health check: broker folder %s is not writable", folder)
                return f"error: the {key} is missing or not writable"
        return "ok"
    return f"error: no check for a {scheme}:// broker"


def _check_mail() -> str:
    """Open a TCP connection to the SMTP server, or find the mail folder writable;
    the in-memory and console backends need nothing."""
    backend = settings.EMAIL_BACKEND
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        with socket.create_connection(
            (settings.EMAIL_HOST, settings.EMAIL_PORT),
            timeout=HEALTH_TIMEOUT_SECONDS,
        ):
            pass
        return "ok"
    if backend == "django.core.mail.backends.filebased.EmailBackend":
        folder = Path(settings.EMAIL_FILE_PATH)
        # The backend creates the folder on its first message.
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not _writable_folder(folder):
            logger.warning("Health check: mail folder %s is not writable", folder)
            return "error: the mail folder is not writable"
        return "ok"
    return "ok"  # locmem, console, dummy: nothing outside the process


def _writable_folder(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


# --- portal access ----------------------------------------------------------------


def refuse(request: HttpRequest, reason: str, *, status: int = 403) -> HttpResponse:
    """Render the page that says why, instead of an error."""
    return render(request, "portal/refused.html", {"reason": reason}, status=status)


def portal_view(view):
    """Require a logged-in named Support Administrator; set ``request.organizations``,
    ``request.organization`` (the one being worked in) and ``request.filing`` (whether
    they may file for it, and why not: the nav offers "New ticket" only when they may).
    """

    @functools.wraps(view)
    @login_required(login_url="portal:login")
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        organizations = list(
            Organization.objects.filter(administrators__user=request.user)
            .select_related("support_plan")
            .order_by("name")
        )
        if not organizations:
            hint = (
                " Agents work tickets in the agent console (/admin/)."
                if request.user.is_staff
                else ""
            )
            return refuse(
                request,
                "The support portal is for the named Support Administrators of our "
                "customers, and your account is not one. Ask your organisation's "
                f"Support Administrator to add you.{hint}",
            )
        chosen = request.session.get(ORG_SESSION_KEY)
        current = next((o for o in organizations if o.slug == chosen), None)
        if current is None:
            choosing = request.resolver_match.url_name == "choose"
            if len(organizations) > 1 and not choosing:
                return redirect(
                    f"{_url('portal:choose')}?next={request.get_full_path()}"
                )
            current = organizations[0]
        request.organizations = organizations
        request.organization = current
        # Lazy, like request.user: a download or a redirect never asks.
        request.filing = SimpleLazyObject(lambda: _filing_decision(request, current))
        return view(request, *args, **kwargs)

    return wrapper


def _url(name: str, *args) -> str:
    from django.urls import reverse

    return reverse(name, args=args)


def _filing_decision(request: HttpRequest, organization: Organization) -> Decision:
    return may_file_tickets(request.user, organization, today=timezone.localdate())


def _customer_ticket(request: HttpRequest, reference: str) -> Ticket:
    """Return the ticket if it belongs to one of the user's organisations, else 404."""
    return get_object_or_404(
        Ticket.objects.select_related(
            "organization", "severity", "plan", "requester", "assignee"
        ),
        reference=reference,
        organization__in=request.organizations,
    )


# --- portal pages -----------------------------------------------------------------


@portal_view
@require_http_methods(["GET", "POST"])
def choose_organization(request: HttpRequest) -> HttpResponse:
    """Let someone who administers several organisations pick the one to work in."""
    if request.method == "POST":
        slug = request.POST.get("organization", "")
        if any(o.slug == slug for o in request.organizations):
            request.session[ORG_SESSION_KEY] = slug
            target = request.POST.get("next") or ""
            if not target.startswith("/portal/") or target.startswith("//"):
                target = _url("portal:tickets")
            return redirect(target)
        messages.error(request, "Choose one of your organisations.")
    return render(
        request,
        "portal/choose_organization.html",
        {"next": request.GET.get("next", "")},
    )


@portal_view
@require_GET
def ticket_list(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    form = TicketFilterForm(request.GET or None, plan=organization.support_plan)
    tickets = (
        Ticket.objects.filter(organization=organization)
        .select_related("severity")
        .order_by("-created_at")
    )
    if form.is_valid():
        if form.cleaned_data["status"]:
            tickets = tickets.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["severity"]:
            tickets = tickets.filter(severity__level=form.cleaned_data["severity"])
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portal/ticket_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "decision": request.filing,
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def new_ticket(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    decision = _filing_decision(request, organization)
    if not decision:
        return refuse(request, decision.reason)
    plan = _plan_with_targets(organization.support_plan)
    if plan is None:
        return refuse(
            request,
            f"{organization} has no support plan yet; please contact your account "
            "manager.",
        )
    form = TicketForm(
        request.POST or None,
        request.FILES or None,
        plan=plan,
        offers_tam=tam_routing.offers_tam_choice(organization),
        # "Check for answers" without JavaScript reloads with ?summary=...&product=
        initial={
            "summary": request.GET.get("summary", "")[:200],
            "product": request.GET.get("product", "")[:20],
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        draft = services.TicketDraft(
            summary=data["summary"],
            description=data["description"],
            environment=data["environment"],
            severity=data.get("severity"),
            component=data["component"],
            app_ids=data["app_ids"],
            client_ids=data["client_ids"],
            urls=data["urls"],
            steps_to_reproduce=data["steps_to_reproduce"],
            customer_contact=data["customer_contact"],
            route_to_tam=data.get("route_to_tam", False),
            uploads=data["attachments"],
            product=data.get("product"),
        )
        try:
            ticket = services.open_ticket(
                organization, draft, requester=request.user, filed_by=request.user
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            trust_portal.record_filed(request, ticket)  # deflection: what was shown
            messages.success(
                request,
                f"Ticket {ticket.reference} filed. We sent a confirmation to "
                f"{request.user.email}.",
            )
            return redirect(ticket)
    return render(
        request,
        "portal/new_ticket.html",
        {
            "form": form,
            "plan": plan,
            "targets": _target_rows(plan),
            **trust_portal.new_ticket_context(request),
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _customer_ticket(request, reference)
    decision = _filing_decision(request, ticket.organization)
    form = ReplyForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not decision:
            return refuse(request, decision.reason)
        if form.is_valid():
            try:
                services.post_reply(
                    ticket,
                    author=request.user,
                    body=form.cleaned_data["body"],
                    uploads=form.cleaned_data["attachments"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, "Your reply was added.")
                return redirect(ticket)
    conversation = (
        Message.objects.exclude(visibility=Message.Visibility.INTERNAL)
        .filter(ticket=ticket)
        .select_related("author")
        .prefetch_related("attachments")
    )
    now = timezone.now()
    service_levels = [
        (clock, clock_display.view(clock, now))
        for clock in ticket.clocks.select_related("calendar").prefetch_related(
            "calendar__hours", "calendar__holidays"
        )
    ]
    return render(
        request,
        "portal/ticket_detail.html",
        {
            "ticket": ticket,
            "service_levels": service_levels,
            "conversation": conversation,
            "ticket_attachments": ticket.attachments.filter(message__isnull=True),
            "form": form,
            "reopen_form": ReopenForm(),
            "severity_form": SeverityChangeForm(ticket=ticket)
            if ticket.severity
            else None,
            "pending_change": ticket.severity_changes.filter(
                state=SeverityChange.State.AWAITING_CUSTOMER
            )
            .select_related("from_severity", "to_severity")
            .first(),
            "escalation_form": EscalationForm(),
            "decision": decision,
        },
    )


@portal_view
@require_POST
def reopen_ticket(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _customer_ticket(request, reference)
    decision = _filing_decision(request, ticket.organization)
    if not decision:
        return refuse(request, decision.reason)
    form = ReopenForm(request.POST)
    if form.is_valid():
        try:
            services.reopen_ticket(
                ticket, actor=request.user, reason=form.cleaned_data["body"]
            )
        except IllegalTransition as exc:
            messages.error(request, " ".join(exc.messages))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{ticket.reference} is open again.")
    else:
        messages.error(request, " ".join(form.errors.get("body", [])))
    return redirect(ticket)


@portal_view
@require_POST
def change_severity(request: HttpRequest, reference: str) -> HttpResponse:
    """The customer asks for an upgrade (with a justification) or a downgrade."""
    ticket = _customer_ticket(request, reference)
    decision = _filing_decision(request, ticket.organization)
    if not decision:
        return refuse(request, decision.reason)
    form = SeverityChangeForm(request.POST, ticket=ticket)
    if form.is_valid():
        data = form.cleaned_data
        try:
            change = severity.request_severity_change(
                ticket,
                data["to_severity"],
                actor=request.user,
                reason=data["reason"],
                expected=ticket.plan.severities.filter(pk=data["expected"]).first(),
                customer_contact=data["customer_contact"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Severity changed to {change.to_severity}.")
    else:
        messages.error(request, _form_errors(form))
    return redirect(ticket)


@portal_view
@require_POST
def decide_severity_change(
    request: HttpRequest, reference: str, pk: int
) -> HttpResponse:
    """The customer agrees to, or declines, a proposed downgrade."""
    ticket = _customer_ticket(request, reference)
    change = get_object_or_404(SeverityChange, pk=pk, ticket=ticket)
    decision = _filing_decision(request, ticket.organization)
    if not decision:
        return refuse(request, decision.reason)
    accept = request.POST.get("decision") == "accept"
    try:
        severity.decide_downgrade(change, accept=accept, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Severity is now {change.to_severity}."
            if accept
            else f"Severity stays {change.from_severity}.",
        )
    return redirect(ticket)


@portal_view
@require_POST
def escalate(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _customer_ticket(request, reference)
    decision = _filing_decision(request, ticket.organization)
    if not decision:
        return refuse(request, decision.reason)
    form = EscalationForm(request.POST)
    if form.is_valid():
        try:
            escalations.request_escalation(
                ticket, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"{ticket.reference} is escalated: support management has been alerted "
                "and an escalation engineer will evaluate it.",
            )
    else:
        messages.error(request, _form_errors(form))
    return redirect(ticket)


def _form_errors(form) -> str:
    return " ".join(
        f"{form.fields[name].label}: {' '.join(errs)}"
        if name in form.fields
        else " ".join(errs)
        for name, errs in form.errors.items()
    )


@portal_view
@require_GET
def attachment(request: HttpRequest, reference: str, pk: int) -> FileResponse:
    ticket = _customer_ticket(request, reference)
    item = get_object_or_404(
        Attachment.objects.select_related("message"), pk=pk, ticket=ticket
    )
    if not item.is_public:
        raise Http404("No such attachment")
    return serve_attachment(item)


def serve_attachment(item: Attachment) -> FileResponse:
    """Stream an attachment so that a browser never runs it: text is plain text,
    everything is a download unless it is an image or PDF."""
    inline = item.content_type.startswith("image/") or item.content_type.endswith("pdf")
    content_type = item.content_type
    if content_type == "text/plain":
        content_type = "text/plain; charset=utf-8"
    response = FileResponse(
        item.file.open("rb"),
        as_attachment=not inline,
        filename=item.original_name,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@portal_view
@require_GET
def plan_detail(request: HttpRequest) -> HttpResponse:
    """The organisation's plan, its upcoming dated changes, and (``?as_of=D``) the
    plan as it was at the end of day D in the organisation's zone."""
    from policies import revisions

    plan = _plan_with_targets(request.organization.support_plan)
    as_of = AsOfForm(request.GET if "as_of" in request.GET else None)
    shown = None
    if plan is not None and as_of.is_bound and as_of.is_valid():
        day = as_of.cleaned_data["as_of"]
        today = timezone.localdate(timezone=ZoneInfo(request.organization.time_zone))
        content = (
            None
            if day > today
            else revisions.snapshot_as_of(
                plan, revisions.end_of_day(day, request.organization.time_zone)
            )
        )
        if day > today:
            as_of.add_error(
                "as_of",
                "Choose today or a day before: upcoming changes are listed above.",
            )
        elif content is None:
            as_of.add_error("as_of", f"{plan} did not exist yet on that day.")
        else:
            shown = revisions.describe(content)
    return render(
        request,
        "portal/plan.html",
        {
            "plan": plan,
            "targets": _target_rows(plan) if plan else [],
            "upcoming": revisions.upcoming(plan) if plan else [],
            "as_of": as_of,
            "shown": shown,
        },
    )


def _plan_with_targets(plan: SupportPlan | None) -> SupportPlan | None:
    if plan is None:
        return None
    return (
        SupportPlan.objects.select_related("business_calendar", "default_severity")
        .prefetch_related(
            "severities",
            "caps",
            "catalogue",
            "business_calendar__hours",
            Prefetch(
                "targets",
                SLOTarget.objects.select_related(
                    "severity", "response_calendar", "resolution_calendar"
                ),
            ),
        )
        .get(pk=plan.pk)
    )


def _target_rows(plan: SupportPlan) -> list[dict]:
    """One row per severity (or one for the whole plan) for the response-time table."""
    targets = {t.severity_id: t for t in plan.targets.all()}
    rows = []
    for level in plan.severities.all() or [None]:
        key = level.pk if level else None
        target = targets.get(key) or targets.get(None)
        rows.append({"severity": level, "target": target})
    return rows


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def portal_index(request: HttpRequest) -> HttpResponse:
    return redirect("portal:tickets")


@staff_member_required
@permission_required("helpdesk.view_slo_attainment", raise_exception=True)
@require_GET
def slo_attainment(request: HttpRequest) -> HttpResponse:
    """Staff report: SLO attainment per plan, severity, metric and month."""
    today = timezone.localdate()
    months = _int_param(request, "months", default=6, low=1, high=36)
    first = date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    since = datetime.combine(first, time.min, tzinfo=UTC)
    until = timezone.now() + timedelta(days=1)
    return render(
        request,
        "staff/slo_attainment.html",
        {
            "rows": reports.attainment(since, until),
            "months": months,
            "since": first,
            # Sev1 continuous effort: workarounds provided, managers paged.
            "continuous_effort": continuous_effort.report(since, until),
        },
    )


def _int_param(
    request: HttpRequest, name: str, *, default: int, low: int, high: int
) -> int:
    try:
        return min(max(int(request.GET.get(name, default)), low), high)
    except ValueError:
        return default


# --- portal passwords -------------------------------------------------------------


class PortalPasswordResetView(auth_views.PasswordResetView):
    """Send a reset link, within the hourly limits per address and per e-mail
    (``accounts.passwords``). Known and unknown e-mails get the same answer."""

    template_name = "portal/password_reset.html"
    email_template_name = "portal/password_reset_email.txt"
    subject_template_name = "portal/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password_reset_done")

    def form_valid(self, form) -> HttpResponse:
        allowance = passwords.count_password_reset(
            address=client_ip_address(self.request),
            email=form.cleaned_data["email"],
            now=timezone.now(),
        )
        if allowance.address_limited:
            response = render(
                self.request,
                "portal/password_reset_limited.html",
                {"retry_after_minutes": -(-allowance.retry_after_seconds // 60)},
                status=429,
            )
            response["Retry-After"] = str(allowance.retry_after_seconds)
            return response
        if not allowance.may_send:
            # Past this e-mail's limit: the page of a sent link, and no e-mail.
            return redirect(self.get_success_url())
        return super().form_valid(form)


class PortalPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)  # stores it; other sessions end
        passwords.after_password_set(form.user, how="reset")
        return response


class PortalPasswordChangeView(auth_views.PasswordChangeView):
    """Change the password: every other session of the account ends (its session
    hash no longer matches), this one stays logged in (``update_session_auth_hash``).
    """

    template_name = "portal/password_change.html"
    success_url = reverse_lazy("portal:tickets")

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)  # saves, then update_session_auth_hash
        passwords.after_password_set(form.user, how="changed")
        messages.success(
            self.request,
            "Your password has been changed. Devices logged in with the old one "
            "have been logged out.",
        )
        return response


password_change = portal_view(PortalPasswordChangeView.as_view())
