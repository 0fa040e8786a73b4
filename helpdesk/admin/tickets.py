"""The agent console's ticket pages: the list, the ticket with its conversation,
clocks, attachments and history, filing on a customer's behalf, and the ticket's own
actions (reply, status, severity, explain a due instant, download an attachment).

Tickets are never deleted here. Filing, replying and status changes go through
``helpdesk.services`` so the admin follows the same rules as the portal.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR
from django.contrib.admin.widgets import AdminTextareaWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from accounts.autocomplete import KeyCheckedAutocomplete
from accounts.console import HistoryAdmin, requires
from accounts.models import User
from helpdesk import (
    clock_display,
    clocks,
    lifecycle,
    services,
    severity,
    timeline,
)
from helpdesk.admin import filing, policy_rules
from helpdesk.admin.filing import ORGANIZATION_PARAM, TicketCreationForm
from helpdesk.console import queues, rows, search, ticket_page, urgency
from helpdesk.console.paginator import ConsolePaginator
from helpdesk.models import (
    Attachment,
    SLOClock,
    Ticket,
)
from helpdesk.views import serve_attachment
from policies.models import SupportPlan
from tam import routing as tam_routing


class AgentReplyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))
    internal = forms.BooleanField(
        required=False, label="Internal note (agents only; not a response)"
    )


class AgentSeverityForm(forms.Form):
    to_severity = forms.IntegerField(label="New severity level")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))
    expected = forms.IntegerField(required=False, widget=forms.HiddenInput)


class BulkSeverityForm(forms.Form):
    level = forms.IntegerField(min_value=1, max_value=9, label="New severity level")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))


class TicketChangeForm(forms.ModelForm):
    """An agent's edit of a ticket: checked by the services that store it, so an
    edit is refused at its field or stored, never reported saved and dropped."""

    class Meta:
        model = Ticket
        fields = ["assignee", "is_tam_routed", *services.DETAIL_FIELDS]
        # Short boxes: a few ids or URLs each.
        widgets = {
            name: AdminTextareaWidget(attrs={"rows": rows})
            for name, rows in (
                ("steps_to_reproduce", 4),
                ("urls", 2),
                ("app_ids", 2),
                ("client_ids", 2),
            )
        }

    def clean(self):
        cleaned = super().clean()
        assignee = cleaned.get("assignee")
        if "assignee" in self.changed_data:
            try:  # an agent; a Sev1 is never left unassigned
                services.validate_assignment(self.instance, assignee)
            except ValidationError as exc:
                self.add_error("assignee", exc.message_dict["assignee"])
        changes = self.detail_changes()
        if changes:
            try:
                services.validate_ticket_details(self.instance, changes)
            except ValidationError as exc:
                for name, errors in exc.error_dict.items():
                    self.add_error(name if name in self.fields else None, errors)
        return cleaned

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assignee = self.instance.assignee if self.instance.assignee_id else None
        field = self.fields.get("assignee")
        widget = getattr(field, "widget", None)
        widget = getattr(widget, "widget", widget)  # the admin's related wrapper
        if assignee is not None and isinstance(widget, KnownChoiceAutocomplete):
            widget.known = {str(assignee.pk): assignee}

    def detail_changes(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name in services.DETAIL_FIELDS and name in self.cleaned_data
        }

    def _post_clean(self):
        pass  # the services write the row; the form does not touch the instance


# A clock's schedule is its calendar's (BusinessCalendar.schedule), built once per
# calendar version in each process: the calendar row is all a page loads for it.
CLOCKS_WITH_CALENDARS = SLOClock.objects.select_related("calendar")


class SLOStateFilter(admin.SimpleListFilter):
    """Tickets by the state of their SLO clocks (any clock in that state).

    The live states are about open tickets, each on an index: "breached" is the
    console's overdue range (``helpdesk.console.urgency``); "at risk" and "on
    track" read the running clocks' 75% instants (``clock_running_75``); a paused
    clock is a ticket waiting on the customer (``tkt_open_status``). "Met" covers
    every ticket; its count stops at the console paginator's cap.
    """

    title = "SLO state"
    parameter_name = "slo"

    def lookups(self, request, model_admin):
        return [
            ("breached", "Breached"),
            ("at_risk", "At risk"),
            ("on_track", "On track"),
            ("paused", "Paused"),
            ("met", "Met"),
            ("best_effort", "Best effort"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "breached":
            return queryset.filter(urgency.overdue(now))
        running = Q(status=SLOClock.Status.RUNNING, breached_at__isnull=True)
        conditions = {
            # At risk: 75% of the target is behind it (warned, or about to be),
            # and the due instant is not (that is breached).
            "at_risk": running & Q(warning_75_at__lte=now, due_at__gte=now),
            "on_track": running & Q(warning_75_at__gt=now),
            "paused": Q(status=SLOClock.Status.PAUSED),
            "met": Q(status=SLOClock.Status.MET, breached_at__isnull=True),
            "best_effort": Q(status=SLOClock.Status.BEST_EFFORT),
        }
        if value not in conditions:
            return queryset
        clocks = SLOClock.objects.filter(conditions[value], ticket=OuterRef("pk"))
        if value == "met":
            return queryset.filter(Exists(clocks))
        if value == "paused":
            # Only waiting on the customer pauses a clock (helpdesk.clocks).
            queryset = queryset.filter(status=Ticket.Status.WAITING_ON_CUSTOMER)
        return queryset.filter(urgency.OPEN, Exists(clocks))


# The ticket's own instants, read-only on its page: shown by rows.instant, zone named.
_INSTANT_FIELDS = (
    "first_response_due_at",
    "resolution_due_at",
    "first_responded_at",
    "resolved_at",
    "closed_at",
    "created_at",
    "updated_at",
)


def _shown_as_instant(name):
    return f"{name}_shown" if name in _INSTANT_FIELDS else name


def _instants_shown(fields: list) -> list:
    return [
        tuple(map(_shown_as_instant, item))
        if isinstance(item, tuple | list)
        else _shown_as_instant(item)
        for item in fields
    ]


def _instant_display(name: str):
    @admin.display(description=Ticket._meta.get_field(name).verbose_name)
    def shown(model_admin, ticket: Ticket) -> str:
        return rows.instant(getattr(ticket, name))

    return shown


class ConsoleViewFilter(admin.SimpleListFilter):
    """The one-click views (``helpdesk.console.queues``), shown as tabs above the
    list with their counts rather than in the filter sidebar."""

    title = "view"
    parameter_name = "view"

    def lookups(self, request, model_admin):
        return [(queue.slug, queue.label) for queue in queues.QUEUES]

    def queryset(self, request, queryset):
        if self.value() not in queues.BY_SLUG:
            return queryset
        return queryset.filter(
            queues.condition(self.value(), user=request.user, now=timezone.now())
        )


class StatusFilter(admin.SimpleListFilter):
    """The lifecycle status; an unresolved status also names the open-ticket
    indexes' condition, so the list walks them in urgency order."""

    title = "status"
    parameter_name = "status__exact"  # the address Django's own filter gave it

    def lookups(self, request, model_admin):
        return Ticket.Status.choices

    def queryset(self, request, queryset):
        value = self.value()
        if value not in Ticket.Status.values:
            return queryset
        queryset = queryset.filter(status=value)
        closed = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
        return queryset if value in closed else queryset.filter(urgency.OPEN)


def _plans_and_levels(request) -> list[tuple[int, str, int | None]]:
    """Each plan with each of its severity levels, for the plan and severity
    filters: one query for both, once per request."""
    if not hasattr(request, "_console_plans"):
        request._console_plans = list(
            SupportPlan.objects.order_by("name", "severities__level").values_list(
                "pk", "name", "severities__level"
            )
        )
    return request._console_plans


class _IntegerFilter(admin.SimpleListFilter):
    def int_value(self) -> int | None:
        value = self.value()
        # Nine digits at most: a huge number is no plan, not a database error.
        ok = value and len(value) <= 9 and value.isascii() and value.isdigit()
        return int(value) if ok else None


class PlanFilter(_IntegerFilter):
    title = "plan"
    parameter_name = "plan__id__exact"  # the address Django's own filter gave it

    def lookups(self, request, model_admin):
        plans = dict((pk, name) for pk, name, _ in _plans_and_levels(request))
        return [(str(pk), name) for pk, name in plans.items()]

    def queryset(self, request, queryset):
        value = self.int_value()
        return queryset if value is None else queryset.filter(plan_id=value)


class SeverityLevelFilter(_IntegerFilter):
    title = "severity level"
    parameter_name = "severity__level"

    def lookups(self, request, model_admin):
        levels = {level for _, _, level in _plans_and_levels(request) if level}
        return [(str(level), f"Level {level}") for level in sorted(levels)]

    def queryset(self, request, queryset):
        value = self.int_value()
        return queryset if value is None else queryset.filter(severity__level=value)


class KnownChoiceAutocomplete(KeyCheckedAutocomplete):
    """The console's autocomplete select (a submitted value that is no key is
    dropped, not looked up), which shows its chosen option without querying it
    again when the form already read it: ``known``, the ticket's assignee, read
    with the ticket."""

    def optgroups(self, name, value, attr=None):
        known = getattr(self, "known", {})  # set on the form's own copy
        empty = self.choices.field.empty_values
        wanted = {str(v) for v in value if str(v) not in empty}
        if not wanted or not wanted <= known.keys():
            return super().optgroups(name, value, attr)
        options = (
            [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        )
        for key in sorted(wanted):
            label = self.choices.field.label_from_instance(known[key])
            options.append(self.create_option(name, key, label, wanted, len(options)))
        return [(None, options, 0)]


@admin.register(Ticket)
class TicketAdmin(HistoryAdmin):
    # The list (helpdesk.console): compact columns that fit 1280 px, ordered by
    # urgency on an index, one-click views with counts, a search that goes to an
    # index (reference, organisation, full text) and a paginator that estimates.
    list_display = [
        "reference",
        "summary_cell",
        "organization_cell",
        "severity_cell",
        "status_cell",
        "assignee_cell",
        "slo_cell",
        "created_cell",
    ]
    list_display_links = ["reference"]
    # Only the orders an index serves: urgency (the default), reference, filing.
    sortable_by = ["reference", "slo_cell", "created_cell"]
    ordering = [urgency.by_urgency()]  # then newest: the admin adds -pk
    list_select_related = ["organization", "severity", "assignee"]
    list_filter = [
        ConsoleViewFilter,
        SLOStateFilter,
        "is_escalated",
        StatusFilter,
        "environment",
        PlanFilter,
        SeverityLevelFilter,
        "is_tam_routed",
    ]
    list_per_page = 50
    paginator = ConsolePaginator
    show_full_result_count = False  # a second count of the whole table
    show_facets = admin.ShowFacets.NEVER  # a count per choice of every filter
    search_fields = ["reference"]  # shows the box; get_search_results does the rest
    search_help_text = (
        "A reference (HD-000123 or 123), an organisation (its name, its first "
        'words or its slug; "quoted" searches the text instead), or words in the '
        "summary, description and conversation."
    )
    readonly_fields = [
        "reference",
        "organization",
        "requester",
        "filed_by",
        "plan",
        "status",
        "first_response_due_at",
        "resolution_due_at",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "created_at",
        "updated_at",
    ]
    # What the side panel and the timeline do not show already (status and its next
    # steps, organisation, plan, requester, severity and clocks are in the panel;
    # summary, description, who filed it and the changes with their times are the
    # timeline): the editable fields, each saved through a service (save_model),
    # and a few read-only facts.
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("reference", "environment", "created_at"),
                    "assignee",
                    "is_tam_routed",
                ]
            },
        ),
        (
            "Details",
            {
                "fields": [
                    "component",
                    "steps_to_reproduce",
                    "urls",
                    ("app_ids", "client_ids"),
                    "customer_contact",
                ]
            },
        ),
    ]
    # No inlines: the conversation, its attachments, severity changes, escalations
    # and clock events are the timeline (helpdesk.timeline); the clocks and the open
    # escalation with its checks are in the side panel.
    inlines = []
    actions = ["change_severity_action"]

    @admin.action(
        description="Change severity of the selected tickets", permissions=["change"]
    )
    def change_severity_action(self, request, queryset):
        """Change severity in bulk, each ticket through the same rules (caps,
        justification, agreement); refusals are reported per ticket."""
        form = BulkSeverityForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            level, reason = form.cleaned_data["level"], form.cleaned_data["reason"]
            for ticket in queryset.select_related("plan", "severity"):
                target = ticket.plan.severities.filter(level=level).first()
                try:
                    if target is None:
                        raise ValidationError(f"{ticket.plan} has no level {level}.")
                    change = severity.request_severity_change(
                        ticket,
                        target,
                        actor=request.user,
                        reason=reason,
                        expected=ticket.severity,
                    )
                except ValidationError as exc:
                    self.message_user(
                        request,
                        f"{ticket.reference}: {' '.join(exc.messages)}",
                        messages.ERROR,
                    )
                else:
                    self.message_user(
                        request,
                        f"{ticket.reference}: {change.get_state_display().lower()}.",
                    )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Change severity",
            "opts": self.model._meta,
            "tickets": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/helpdesk/ticket/change_severity.html", context
        )

    change_form_template = "admin/helpdesk/ticket/change_form.html"
    autocomplete_fields = ["assignee"]

    def has_delete_permission(self, request, obj=None):
        return False  # tickets are never hard-deleted from the console

    first_response_due_at_shown = _instant_display("first_response_due_at")
    resolution_due_at_shown = _instant_display("resolution_due_at")
    first_responded_at_shown = _instant_display("first_responded_at")
    resolved_at_shown = _instant_display("resolved_at")
    closed_at_shown = _instant_display("closed_at")
    created_at_shown = _instant_display("created_at")
    updated_at_shown = _instant_display("updated_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []  # filing on behalf: the creation form has its own fields
        # Severity changes have their own workflow; the text is the customer's.
        return [
            *map(_shown_as_instant, self.readonly_fields),
            "severity",
            "environment",
            "summary",
            "description",
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = TicketCreationForm if obj is None else TicketChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # filing on behalf (helpdesk.admin.filing)
            fields = [*TicketCreationForm.Meta.fields, "attachments"]
            return [(None, {"fields": fields})]
        # Instants in the agent's zone, named (the admin's own shows neither).
        return [
            (name, {**options, "fields": _instants_shown(options["fields"])})
            for name, options in super().get_fieldsets(request, obj)
        ]

    def add_view(self, request, form_url="", extra_context=None):
        """Filing on behalf, first step: choose the organisation (a GET form that
        reloads this page with ``?organization=<id>``)."""
        organization = filing.chosen_organization(
            request.POST.get(ORGANIZATION_PARAM)
            if request.method == "POST"
            else request.GET.get(ORGANIZATION_PARAM)
        )
        if organization is None and request.method != "POST":
            if not self.has_add_permission(request):
                raise PermissionDenied
            context = {
                **self.admin_site.each_context(request),
                "title": "File a ticket on a customer's behalf",
                "opts": self.model._meta,
                "organizations": filing.organizations_to_file_for(),
                "param": ORGANIZATION_PARAM,
            }
            return TemplateResponse(
                request, "admin/helpdesk/ticket/choose_organization.html", context
            )
        extra_context = {**(extra_context or {}), "filing_for": organization}
        if organization is not None:
            extra_context["title"] = f"File a ticket for {organization}"
        return super().add_view(request, form_url, extra_context)

    def get_object(self, request, object_id, from_field=None):
        """The ticket of the change page with everything it shows of it, read once
        per request (change_view reads it for its context, and the admin again).

        From ``ticket_page.page_tickets``, built once per thread, rather than
        ``get_queryset``, which narrows nothing here (every agent who may view
        tickets sees every ticket) and would be built and resolved on each request;
        its clocks come with their events (``ticket_page.clocks_with_events``)."""
        cache = request.__dict__.setdefault("_console_tickets", {})
        key = (object_id, from_field)
        if key not in cache:
            queryset = ticket_page.page_tickets()
            opts = self.model._meta
            field = opts.pk if from_field is None else opts.get_field(from_field)
            try:
                value = field.to_python(object_id)
                cache[key] = ticket_page.prepare(queryset.get(**{field.name: value}))
            except (self.model.DoesNotExist, ValidationError, ValueError):
                cache[key] = None
        return cache[key]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("clocks", CLOCKS_WITH_CALENDARS))
        )

    # --- the list ---------------------------------------------------------------

    def get_search_results(self, request, queryset, search_term):
        found = search.find(queryset, search_term)
        # The list says when the term was taken for organisations (changelist_view).
        request.console_search_by_organisation = found.by_organisation
        if found.ranked and ORDER_VAR not in request.GET:
            return search.ranked_first(found.tickets), False
        return found.tickets, False

    def changelist_view(self, request, extra_context=None):
        now = timezone.now()
        counts = queues.counts(user=request.user, now=now)
        base = reverse("admin:helpdesk_ticket_changelist")
        current = request.GET.get("view")
        tabs = [
            {
                "label": "All tickets",
                "url": base,
                "count": None,
                "title": "Every ticket, most urgent first",
                "selected": not request.GET,
            }
        ] + [
            {
                "label": queue.label,
                "url": f"{base}?{urlencode({'view': queue.slug})}",
                "count": counts[queue.slug],
                "title": queue.title,
                "selected": current == queue.slug,
            }
            for queue in queues.QUEUES
        ]
        extra_context = {
            **(extra_context or {}),
            "console_views": tabs,
            # The list needs the width: the app menu stays one click away (Home).
            "is_nav_sidebar_enabled": False,
        }
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            cl = context["cl"]
            context["console_count"] = cl.paginator.count_label(
                cl.opts.verbose_name, cl.opts.verbose_name_plural
            )
            context["console_pages"] = (
                list(cl.paginator.get_elided_page_range(cl.page_num))
                if cl.multi_page
                else []
            )
            if getattr(request, "console_search_by_organisation", False):
                # Quoted, the same term is looked for in the text (search.parse).
                context["console_text_search"] = "?" + urlencode(
                    {**cl.params, "q": f'"{cl.query}"'}
                )
        return response

    # The columns: helpdesk.console.rows builds each cell (and, for the list, each
    # row at once); these are the admin's names for them.
    def action_checkbox(self, obj):
        """The row's checkbox without a template render per row."""
        # The header's "select all" box is the admin's own (result_headers).
        return mark_safe(rows.checkbox(obj))

    @admin.display(description="summary")
    def summary_cell(self, ticket: Ticket) -> str:
        return mark_safe(rows.summary(ticket))

    @admin.display(description="organisation")
    def organization_cell(self, ticket: Ticket) -> str:
        return mark_safe(rows.organisation(ticket))

    @admin.display(description="sev.")
    def severity_cell(self, ticket: Ticket) -> str:
        return mark_safe(rows.severity(ticket))

    @admin.display(description="status")
    def status_cell(self, ticket: Ticket) -> str:
        return mark_safe(rows.status(ticket))

    @admin.display(description="assignee")
    def assignee_cell(self, ticket: Ticket) -> str:
        return mark_safe(rows.assignee(ticket))

    @admin.display(description="SLO", ordering=urgency.by_urgency())
    def slo_cell(self, ticket: Ticket) -> str:
        return mark_safe(rows.slo(ticket, timezone.now()))

    @admin.display(description="opened", ordering="created_at")
    def created_cell(self, ticket: Ticket) -> str:
        return mark_safe(rows.opened(ticket, timezone.localtime().year))

    def save_model(self, request, obj, form, change):
        if change:
            data = form.cleaned_data
            with transaction.atomic():
                if details := form.detail_changes():
                    services.update_ticket_details(obj, details, actor=request.user)
                if "assignee" in form.changed_data:
                    services.assign_ticket(obj, data["assignee"], actor=request.user)
                if "is_tam_routed" in form.changed_data:
                    services.set_tam_routed(
                        obj, data["is_tam_routed"], actor=request.user
                    )
            return
        data = form.cleaned_data
        ticket = services.open_ticket(
            data["organization"],
            form.draft(),
            requester=data["requester"],
            filed_by=request.user,
        )
        obj.pk, obj.reference = ticket.pk, ticket.reference

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self.get_object(request, object_id)
        if ticket is None:  # let the admin say it does not exist
            return super().change_view(request, object_id, form_url, extra_context)
        allowed = policy_rules.statuses_offered(
            ticket, lifecycle.allowed_next(ticket.status)
        )
        now = timezone.now()
        clock_pages = ticket_page.clocks_with_events(ticket)
        extra_context = {
            **(extra_context or {}),
            **policy_rules.ticket_context(ticket, request.user),
            "reply_form": AgentReplyForm(),
            "send_and": [
                (s, f"Send and set {Ticket.Status(s).label.lower()}")
                for s in (Ticket.Status.WAITING_ON_CUSTOMER, Ticket.Status.RESOLVED)
                if s in allowed
            ],
            "timeline": timeline.timeline(ticket, clock_pages),
            "clock_views": [
                (page.clock, clock_display.view(page.clock, now))
                for page in clock_pages
            ],
            "open_escalation": ticket_page.open_escalation(ticket),
            "tam_minutes_left": tam_routing.minutes_left(
                ticket.organization, timezone.localdate()
            ),
            # A resolved or closed ticket's severity no longer changes.
            "severity_choices": []
            if ticket.status in lifecycle.ENDS
            else ticket_page.severities_offered(ticket),
            "current_severity_id": ticket.severity_id,
            "status_choices": [(s, Ticket.Status(s).label) for s in allowed],
            # The conversation and its panel need the width (the list does too).
            "is_nav_sidebar_enabled": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="helpdesk_ticket_reply",
            ),
            path(
                "<int:pk>/status/",
                self.admin_site.admin_view(self.status_view),
                name="helpdesk_ticket_status",
            ),
            path(
                "<int:pk>/workaround/",
                self.admin_site.admin_view(self.workaround_view),
                name="helpdesk_ticket_workaround",
            ),
            path(
                "attachments/<int:pk>/",
                self.admin_site.admin_view(self.attachment_view),
                name="helpdesk_attachment_download",
            ),
            path(
                "<int:pk>/severity/",
                self.admin_site.admin_view(self.severity_view),
                name="helpdesk_ticket_severity",
            ),
            path(
                "clocks/<int:pk>/explain/",
                self.admin_site.admin_view(self.explain_view),
                name="helpdesk_clock_explain",
            ),
        ]
        return own + super().get_urls()

    @requires("helpdesk.change_ticket")
    def reply_view(self, request, pk: int):
        ticket = get_object_or_404(Ticket, pk=pk)
        back = reverse("admin:helpdesk_ticket_change", args=[pk])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        form = AgentReplyForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Write a reply first.", messages.ERROR)
            return HttpResponseRedirect(back)
        then = request.POST.get("then_status", "")
        try:
            with transaction.atomic():  # the reply and its status, or neither
                services.post_reply(
                    ticket,
                    author=request.user,
                    body=form.cleaned_data["body"],
                    internal=form.cleaned_data["internal"],
                    uploads=request.FILES.getlist("attachments"),
                )
                if then:
                    services.change_status(ticket, then, actor=request.user)
        except ValidationError as exc:
            self.message_user(
                request, "Not sent: " + " ".join(exc.messages), messages.ERROR
            )
        else:
            kind = "Internal note" if form.cleaned_data["internal"] else "Reply"
            done = f" Status: {Ticket.Status(then).label.lower()}." if then else ""
            self.message_user(request, f"{kind} added.{done}", messages.SUCCESS)
        return HttpResponseRedirect(back)

    workaround_view = policy_rules.workaround_view  # Sev1 continuous effort

    @requires("helpdesk.change_ticket")
    def status_view(self, request, pk: int):
        ticket = get_object_or_404(Ticket, pk=pk)
        back = reverse("admin:helpdesk_ticket_change", args=[pk])
        if request.method == "POST":
            try:
                services.change_status(
                    ticket, request.POST.get("status", ""), actor=request.user
                )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, "Status changed.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    @requires("helpdesk.change_ticket")
    def severity_view(self, request, pk: int):
        ticket = get_object_or_404(Ticket.objects.select_related("plan"), pk=pk)
        back = reverse("admin:helpdesk_ticket_change", args=[pk])
        form = AgentSeverityForm(request.POST or None)
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not form.is_valid():
            self.message_user(
                request, "Choose a severity and give a reason.", messages.ERROR
            )
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        target = ticket.plan.severities.filter(pk=data["to_severity"]).first()
        expected = ticket.plan.severities.filter(pk=data["expected"]).first()
        try:
            if target is None:
                raise ValidationError("Choose one of the plan's severities.")
            change = severity.request_severity_change(
                ticket,
                target,
                actor=request.user,
                reason=data["reason"],
                expected=expected,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(
                request,
                f"Severity {change.get_direction_display().lower()} to "
                f"{change.to_severity}: {change.get_state_display().lower()}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(back)

    @requires("helpdesk.view_ticket", model=SLOClock)
    def explain_view(self, request, pk: int):
        """Explain a clock's due instant: the open intervals counted, and the
        holidays and pauses skipped."""
        clock = get_object_or_404(
            SLOClock.objects.select_related("ticket", "calendar"), pk=pk
        )
        schedule = clocks.schedule_of(clock.calendar)
        end = clock.due_at or timezone.now()
        pauses = list(clock.pauses.all())
        counted = []
        for start, stop in schedule.explain(clock.started_at, end):
            pieces = [(start, stop)]
            for pause in pauses:
                p_end = pause.ended_at or end
                pieces = [
                    piece
                    for a, b in pieces
                    for piece in ((a, min(b, pause.started_at)), (max(a, p_end), b))
                    if piece[1] > piece[0]
                ]
            counted += pieces
        context = {
            **self.admin_site.each_context(request),
            "title": f"Explain {clock}",
            "opts": self.model._meta,
            "original": clock.ticket,
            "clock": clock,
            "counted": [(a, b, b - a) for a, b in counted],
            "total": sum((b - a for a, b in counted), timedelta()),
            "pauses": pauses,
            "holidays": schedule.holidays_between(clock.started_at, end),
            "zone": clock.calendar.time_zone if clock.calendar else "UTC",
        }
        return TemplateResponse(request, "admin/helpdesk/clock_explain.html", context)

    @requires("helpdesk.view_attachment", model=Attachment)
    def attachment_view(self, request, pk: int):
        """Download an attachment: agents who may view attachments, which Project
        Managers may not (internal notes carry some)."""
        item = get_object_or_404(Attachment.objects.select_related("ticket"), pk=pk)
        if not self.has_view_permission(request, item.ticket):
            raise PermissionDenied
        return serve_attachment(item)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            kwargs["widget"] = KnownChoiceAutocomplete(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        if db_field.name == "requester":
            kwargs["queryset"] = User.objects.filter(
                administered__isnull=False
            ).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
