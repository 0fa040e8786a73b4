"""TAM pages: the staff hours reports (``/staff/tam/``) and the customer's TAM page
in the portal (``/portal/tam/``). Views parse input, call one service or report
query, and map refusals onto messages.

Every CSV goes out through ``_csv_response``, whose writer escapes text cells that a
spreadsheet would run as formulas (``reports.csv_safe``).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable
from datetime import date

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from accounts.rules import may_file_tickets
from helpdesk.models import Ticket
from helpdesk.views import portal_view, refuse
from tam import ical, report_queries, reports, routing, services
from tam.forms import MeetingRequestForm, TimeEntryForm
from tam.models import Activity, Meeting, TAMContract

ACTIVITIES = list(Activity.choices)


def staff_report_view(view):
    """Require an agent who may read TAM contracts (Support Managers, TAMs, PMs)."""

    @functools.wraps(view)
    @staff_member_required
    @permission_required("tam.view_tamcontract", raise_exception=True)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return view(request, *args, **kwargs)

    return wrapper


def _month(year: int, month: int) -> date:
    try:
        return date(year, month, 1)
    except (ValueError, OverflowError):  # month 13; a year of 40 digits
        raise Http404("No such month") from None


# --- staff: the monthly hours report ----------------------------------------------


@staff_report_view
@require_GET
def report_index(request: HttpRequest) -> HttpResponse:
    """Open last month's report: the one the managers' e-mail is about."""
    month = services.previous_month(timezone.localdate())
    return redirect("tam:month", month.year, month.month)


@staff_report_view
@require_GET
def month_report(request: HttpRequest, year: int, month: int) -> HttpResponse:
    first = _month(year, month)
    report = report_queries.month_report(first)
    return render(
        request,
        "tam/month_report.html",
        {
            "report": report,
            "totals": report.totals,
            "chart": reports.svg_layout(report.chart),
            "activities": ACTIVITIES,
            "previous": services.previous_month(first),
            "next": report_queries.month_bounds(first)[1],
        },
    )


class _SafeCsvWriter:
    """A ``csv.writer`` that passes every row through ``reports.csv_safe``: text
    cells starting with = + - @ tab or CR get a leading quote, numbers stay as
    they are. Rows hold text as ``str`` and figures as numbers for that reason."""

    def __init__(self, out) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[reports.CsvCell | None]) -> None:
        self._writer.writerow(reports.csv_safe(row))


def _csv_response(filename: str) -> tuple[HttpResponse, _SafeCsvWriter]:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response, _SafeCsvWriter(response)


@staff_report_view
@require_GET
def month_report_csv(request: HttpRequest, year: int, month: int) -> HttpResponse:
    first = _month(year, month)
    report = report_queries.month_report(first)
    response, writer = _csv_response(f"tam-hours-{first:%Y-%m}.csv")
    writer.writerow(reports.csv_header(ACTIVITIES))
    for line in report.lines:
        writer.writerow(reports.csv_row(line, ACTIVITIES))
    return response


@staff_report_view
@require_GET
def contract_report(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(
        TAMContract.objects.select_related(
            "organization", "tam", "backup_tam", "project_manager", "renews"
        ),
        pk=pk,
    )
    report = report_queries.contract_report(contract)
    renewal = TAMContract.objects.filter(renews=contract).first()
    return render(
        request,
        "tam/contract_report.html",
        {
            "contract": contract,
            "report": report,
            "totals": report.totals,
            "chart": reports.svg_layout(report.chart),
            "activities": ACTIVITIES,
            "renewal": renewal,
            "meetings": contract.meetings.all()[:200],
        },
    )


@staff_report_view
@require_GET
def contract_term_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The term month by month with a totals row: what is invoiced at renewal."""
    contract = get_object_or_404(
        TAMContract.objects.select_related("organization"), pk=pk
    )
    report = report_queries.contract_report(contract)
    response, writer = _csv_response(
        f"tam-term-{contract.organization.slug}-{contract.starts_on:%Y-%m}.csv"
    )
    writer.writerow(reports.csv_header(ACTIVITIES))
    for line in report.lines:
        writer.writerow(reports.csv_row(line, ACTIVITIES))
    totals = report.totals
    writer.writerow(
        [
            "TERM TOTAL",
            contract.pk,
            contract.starts_on.isoformat(),
            contract.service_ends_on.isoformat(),
            "",
            reports.hours(totals.allotted),
            reports.hours(totals.rollover),
            reports.hours(totals.banked),
            reports.hours(totals.allotted + totals.rollover + totals.banked),
            reports.hours(totals.used),
            reports.hours(totals.remaining),
            reports.hours(totals.over),
            reports.hours(totals.change_order),
        ]
    )
    return response


def _ics(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "helpdesk.local"


@staff_report_view
@require_GET
def contract_meetings_ics(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(
        TAMContract.objects.select_related("organization"), pk=pk
    )
    return _ics(
        ical.calendar_of(
            contract.meetings.all(),
            name=f"TAM meetings: {contract.organization}",
            domain=_domain(),
        ),
        f"tam-{contract.pk}.ics",
    )


@staff_report_view
@require_GET
def meeting_ics(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = get_object_or_404(Meeting, pk=pk)
    return _ics(
        ical.calendar_of([meeting], name=meeting.title, domain=_domain()),
        f"meeting-{meeting.pk}.ics",
    )


# --- staff: logging time from a ticket ----------------------------------------------


class LogTimeForm(TimeEntryForm):
    """The ticket page's form, with whose time it is.

    A Support Manager (or a superuser) chooses among the agents; anyone else logs
    their own time, so the field is a hidden input holding their id and the page
    shows their name. Another id posted anyway reaches ``record_time_entry``,
    which refuses it on the ``agent`` field.
    """

    agent = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label=None,
        error_messages={
            "invalid_choice": "Choose an active agent: time is logged for agents only."
        },
    )
    field_order = ["agent"]

    def __init__(self, *args, may_choose_agent: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        agent = self.fields["agent"]
        agent.queryset = services.bookable_agents()
        if not may_choose_agent:
            agent.widget = forms.HiddenInput()


@staff_member_required
@permission_required("tam.add_timeentry", raise_exception=True)
@require_http_methods(["GET", "POST"])
def log_time(request: HttpRequest, ticket_pk: int) -> HttpResponse:
    """Log TAM time against a ticket, on the contract that covers the day worked."""
    ticket = get_object_or_404(
        Ticket.objects.select_related("organization"), pk=ticket_pk
    )
    today = routing.local_date(timezone.now(), ticket.organization.time_zone)
    contract = routing.contract_on(ticket.organization, today)
    back = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    if contract is None:
        messages.error(request, f"{ticket.organization} has no TAM contract today.")
        return redirect(back)
    may_choose_agent = services.may_log_time_for_others(request.user)
    form = LogTimeForm(
        request.POST or None,
        contract=contract,
        may_choose_agent=may_choose_agent,
        initial={
            "worked_on": today,
            "activity": Activity.TICKETS,
            "agent": request.user.pk,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        agent = data["agent"] or request.user  # no choice posted: one's own time
        try:
            entry = services.record_time_entry(
                contract,
                agent=agent,
                worked_on=data["worked_on"],
                minutes=data["minutes"],
                activity=data["activity"],
                ticket=ticket,
                change_order=data["change_order"],
                note=data["note"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            note = (
                " (beyond the month's hours: best effort)"
                if entry.is_best_effort
                else ""
            )
            whose = "" if agent == request.user else f" for {agent}"
            messages.success(
                request,
                f"Logged {reports.hh_mm(entry.minutes)} h{whose} on "
                f"{ticket.reference}{note}.",
            )
            return redirect(back)
    return render(
        request,
        "tam/log_time.html",
        {
            "form": form,
            "ticket": ticket,
            "contract": contract,
            "back": back,
            "may_choose_agent": may_choose_agent,
        },
    )


# --- the customer's portal ---------------------------------------------------------


def _portal_contract(request: HttpRequest) -> TAMContract | None:
    """The organisation's contract covering today, else its most recent one."""
    organization = request.organization
    today = routing.local_date(timezone.now(), organization.time_zone)
    return routing.contract_on(organization, today) or (
        TAMContract.objects.filter(organization=organization)
        .exclude(status=TAMContract.Status.CANCELLED)
        .select_related("tam", "backup_tam")
        .order_by("-starts_on")
        .first()
    )


ROTATE_FEED = "rotate-feed"


@portal_view
@require_http_methods(["GET", "POST"])
def portal_tam(request: HttpRequest) -> HttpResponse:
    """Show the customer their TAM, the term's hours month by month and meetings.

    A POST with ``action=rotate-feed`` replaces the contract's calendar link.
    """
    if request.method == "POST":
        if request.POST.get("action") != ROTATE_FEED:
            return HttpResponseBadRequest("Unknown action.")
        return _portal_rotate_feed(request)
    contract = _portal_contract(request)
    if contract is None:
        return render(request, "tam/portal_tam.html", {"contract": None})
    report = report_queries.contract_report(contract)
    today = routing.local_date(timezone.now(), contract.time_zone)
    this_month = next(
        (line for line in report.lines if line.starts_on <= today <= line.ends_on), None
    )
    upcoming = contract.meetings.filter(
        starts_at__gte=timezone.now(), status=Meeting.Status.PLANNED
    )[:8]
    feed = request.build_absolute_uri(
        reverse("portal:tam_feed", args=[contract.feed_token])
    )
    return render(
        request,
        "tam/portal_tam.html",
        {
            "contract": contract,
            "report": report,
            "totals": report.totals,
            "this_month": this_month,
            "chart": reports.svg_layout(report.chart),
            "on_duty": routing.tam_for(request.organization, today),
            "upcoming": upcoming,
            "feed_url": feed,
            "form": MeetingRequestForm(),
            "time_zone": request.organization.time_zone,
        },
    )


def _portal_rotate_feed(request: HttpRequest) -> HttpResponse:
    """Replace the calendar link of one of the organisation's contracts; another
    organisation's contract is not found."""
    try:
        pk = int(request.POST.get("contract", ""))
    except ValueError:
        return HttpResponseBadRequest("Say which contract's link to replace.")
    contract = get_object_or_404(
        TAMContract.objects.select_related("organization"),
        pk=pk,
        organization=request.organization,
    )
    try:
        services.rotate_feed_token(contract, acting_user=request.user)
    except PermissionDenied as exc:
        return refuse(request, str(exc))
    messages.success(
        request,
        "The calendar link was replaced and the old one no longer works. Subscribe "
        "your calendar apps again with the new link below.",
    )
    return redirect(f"{reverse('portal:tam')}#feed-url")


@portal_view
@require_POST
def portal_request_meeting(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    decision = may_file_tickets(request.user, organization, today=timezone.localdate())
    if not decision:
        return refuse(request, decision.reason)
    contract = _portal_contract(request)
    if contract is None:
        raise Http404("No TAM contract")
    form = MeetingRequestForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label or field}: {errors[0]}")
        return redirect("portal:tam")
    data = form.cleaned_data
    try:
        meeting = services.request_meeting(
            contract,
            mode=data["mode"],
            starts_at=form.starts_at(organization.time_zone),
            duration_minutes=data["duration_minutes"],
            title=data["title"],
            location=data["location"],
            country=data["country"],
            requested_by=request.user,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Meeting “{meeting.title}” requested for {meeting.starts_at:%d %B %Y}.",
        )
    return redirect("portal:tam")


@portal_view
@require_GET
def portal_meeting_ics(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = get_object_or_404(
        Meeting, pk=pk, contract__organization=request.organization
    )
    return _ics(
        ical.calendar_of([meeting], name=meeting.title, domain=_domain()),
        f"meeting-{meeting.pk}.ics",
    )


@require_GET
def contract_feed(request: HttpRequest, token) -> HttpResponse:
    """The subscribable calendar of a contract: the unguessable token in the URL is
    the credential, because calendar apps cannot log in."""
    contract = get_object_or_404(
        TAMContract.objects.select_related("organization"), feed_token=token
    )
    return _ics(
        ical.calendar_of(
            contract.meetings.all(),
            name=f"TAM meetings: {contract.organization}",
            domain=_domain(),
        ),
        "tam-meetings.ics",
    )
