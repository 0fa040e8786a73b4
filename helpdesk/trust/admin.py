"""The trust site in the agent console: agents author status, the knowledge base
and release notes here; the documentation owners work the error-report queue.

Incident updates are posted through ``helpdesk.trust.services`` (the timeline, the
incident's status, subscribers' e-mails and the replies on linked tickets), never
as raw rows; an incident's status and resolution instant are therefore
service-owned and its history is read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.console import HistoryAdmin
from helpdesk.templatetags.instants import instant_text
from helpdesk.trust import links, services
from helpdesk.trust.models import (
    Article,
    Category,
    Component,
    DocumentationReport,
    Incident,
    IncidentTicketLink,
    IncidentUpdate,
    MaintenanceWindow,
    ReleaseNote,
    StatusSubscriber,
)


@admin.register(Component)
class ComponentAdmin(HistoryAdmin):
    service_owned_fields = ()
    list_display = ("name", "group", "position", "served")
    list_editable = ("position",)
    search_fields = ("name", "group")
    # Whose it is: the customers whose plan has one of these entries; none, everyone's.
    filter_horizontal = ("catalogue_entries",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("catalogue_entries__plan")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "catalogue_entries":  # names repeat across plans
            field.queryset = field.queryset.select_related("plan")
            field.label_from_instance = lambda entry: f"{entry.plan} · {entry.name}"
        return field

    @admin.display(description="products")
    def served(self, component: Component) -> str:
        entries = component.catalogue_entries.all()
        return ", ".join(f"{e.plan} · {e.name}" for e in entries) or "every customer"


class IncidentUpdateInline(admin.TabularInline):
    model = IncidentUpdate
    fields = ("posted_at", "status", "body", "author")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-posted_at", "-pk")

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # updates are posted with the form's "Post an update" fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class IncidentForm(forms.ModelForm):
    update_status = forms.ChoiceField(
        label="Post an update: status",
        choices=[("", "—"), *Incident.Status.choices],
        required=False,
    )
    update_body = forms.CharField(
        label="Post an update: message (Markdown)",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Shown on the status page and e-mailed to subscribers. A "
        "“Resolved” update closes the incident and replies on its linked tickets.",
    )

    # Linked tickets go through services.link_tickets / unlink_tickets (the
    # permission check and the record of who linked), never as a raw field.
    link_references = forms.CharField(
        label="Link tickets",
        required=False,
        max_length=2000,
        widget=forms.TextInput(
            attrs={"size": 60, "placeholder": "HD-000123, HD-000124"}
        ),
        help_text="Ticket references, separated by commas or spaces. Each gets a "
        "public reply when the incident is resolved.",
    )
    unlink = forms.ModelMultipleChoiceField(
        label="Linked tickets (tick to unlink)",
        queryset=IncidentTicketLink.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Incident
        fields = ("title", "impact", "components", "started_at", "postmortem")
        widgets = {"components": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["unlink"].queryset = _links_of(self.instance)
        self.fields["unlink"].label_from_instance = _link_label

    def clean_link_references(self) -> list:
        try:
            return links.tickets_named(self.cleaned_data["link_references"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc

    def clean(self):
        data = super().clean()
        status, body = data.get("update_status"), (data.get("update_body") or "")
        if self.instance.pk is None and not (status and body.strip()):
            raise ValidationError(
                "A new incident needs its first update: choose a status and say "
                "what is happening."
            )
        if bool(status) != bool(body.strip()):
            raise ValidationError("An update needs both a status and a message.")
        if data.get("link_references") and self.instance.is_resolved:
            self.add_error(
                "link_references",
                "This incident is resolved: link the tickets to an open incident.",
            )
        return data


def _links_of(incident: Incident):
    return incident.ticket_links.select_related("ticket", "linked_by").order_by(
        "ticket__reference"
    )


def _link_label(link: IncidentTicketLink) -> str:
    by = "—"
    if link.linked_by is not None:
        by = link.linked_by.get_full_name() or link.linked_by.email
    return (
        f"{link.ticket.reference} · {link.ticket.summary} — linked by {by}, "
        f"{instant_text(link.linked_at)}"
    )


@admin.register(Incident)
class IncidentAdmin(HistoryAdmin):
    form = IncidentForm
    service_owned_fields = ("status", "resolved_at")
    list_display = ("title", "impact", "status", "started_at", "resolved_at")
    list_filter = ("status", "impact")
    search_fields = ("title",)
    readonly_fields = ("status", "resolved_at", "linked_ticket_list")
    inlines = [IncidentUpdateInline]
    fieldsets = (
        (None, {"fields": ("title", "impact", "components", "started_at")}),
        ("State", {"fields": ("status", "resolved_at")}),
        ("Post an update", {"fields": ("update_status", "update_body")}),
        ("Resolved incident", {"fields": ("postmortem",)}),
        ("Linked tickets", {"fields": ("unlink", "link_references")}),
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not request.user.has_perm("trust.add_incidentupdate"):
            fieldsets = [f for f in fieldsets if f[0] != "Post an update"]
        # Only who may link sees the form; others read the links.
        if not self.has_change_permission(request, obj):
            tickets = ("linked_ticket_list",)
        elif obj is None:
            tickets = ("link_references",)
        elif obj.is_resolved:
            tickets = ("linked_ticket_list",)
        else:
            tickets = ("unlink", "link_references")
        return [
            (name, {**options, "fields": tickets})
            if name == "Linked tickets"
            else (name, options)
            for name, options in fieldsets
        ]

    @admin.display(description="Linked tickets")
    def linked_ticket_list(self, obj) -> str:
        rows = [
            (
                reverse("admin:helpdesk_ticket_change", args=[link.ticket_id]),
                _link_label(link),
            )
            for link in (_links_of(obj) if obj and obj.pk else [])
        ]
        if not rows:
            return "—"
        return format_html(
            '<ul style="margin:0">{}</ul>',
            format_html_join("", '<li><a href="{}">{}</a></li>', rows),
        )

    def save_model(self, request, obj, form, change) -> None:
        obj._history_user = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        self._save_links(request, form)
        status = form.cleaned_data.get("update_status")
        body = form.cleaned_data.get("update_body")
        if status and body and request.user.has_perm("trust.add_incidentupdate"):
            try:
                services.post_incident_update(
                    form.instance, status=status, body=body, acting_user=request.user
                )
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)

    def _save_links(self, request, form) -> None:
        """Link and unlink through the service, before an update is posted, so a
        "Resolved" update in the same save replies on the tickets just linked."""
        incident = form.instance
        unlinked = [link.ticket for link in form.cleaned_data.get("unlink") or []]
        if unlinked:
            count = services.unlink_tickets(
                incident, unlinked, acting_user=request.user
            )
            self.message_user(request, f"{count} ticket(s) unlinked.")
        tickets = form.cleaned_data.get("link_references") or []
        if tickets:
            try:
                created = services.link_tickets(
                    incident, tickets, acting_user=request.user
                )
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{len(created)} ticket(s) linked"
                    + (
                        f"; {len(tickets) - len(created)} already were."
                        if len(created) < len(tickets)
                        else "."
                    ),
                )


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(HistoryAdmin):
    service_owned_fields = ()
    list_display = ("title", "starts_at", "ends_at", "is_cancelled")
    list_filter = ("is_cancelled",)
    search_fields = ("title",)
    date_hierarchy = "starts_at"

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "components":
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(StatusSubscriber)
class StatusSubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "created_at", "confirmed_at")
    search_fields = ("email",)
    readonly_fields = ("email", "created_at", "confirmed_at")

    def has_add_permission(self, request) -> bool:
        return False  # people subscribe themselves (double opt-in)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Article)
class ArticleAdmin(HistoryAdmin):
    service_owned_fields = ()
    list_display = (
        "title",
        "category",
        "status",
        "updated_at",
        "helpful_votes",
        "unhelpful_votes",
        "open_reports",
    )
    list_filter = ("status", "category")
    list_select_related = ("category",)
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("related",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                helpful=Count("votes", filter=Q(votes__is_helpful=True), distinct=True),
                unhelpful=Count(
                    "votes", filter=Q(votes__is_helpful=False), distinct=True
                ),
                reports=Count(
                    "error_reports",
                    filter=Q(error_reports__resolved_at__isnull=True),
                    distinct=True,
                ),
            )
        )

    @admin.display(ordering="helpful", description="helpful")
    def helpful_votes(self, obj) -> int:
        return obj.helpful

    @admin.display(ordering="unhelpful", description="not helpful")
    def unhelpful_votes(self, obj) -> int:
        return obj.unhelpful

    @admin.display(ordering="reports", description="open error reports")
    def open_reports(self, obj) -> int:
        return obj.reports


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(DocumentationReport)
class DocumentationReportAdmin(admin.ModelAdmin):
    """The documentation owners' queue: reports from the form under every article."""

    list_display = (
        "article",
        "short_body",
        "reporter_name",
        "created_at",
        "resolved_at",
    )
    list_filter = (OpenFilter,)
    list_select_related = ("article",)
    search_fields = ("body", "article__title", "reporter_email")
    readonly_fields = (
        "article",
        "body",
        "reporter_name",
        "reporter_email",
        "reporter",
        "created_at",
        "resolved_at",
        "resolved_by",
    )
    actions = ["mark_resolved"]

    def has_add_permission(self, request) -> bool:
        return False  # reports come from the article pages

    @admin.display(description="report")
    def short_body(self, obj) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"

    @admin.action(permissions=["change"], description="Mark as resolved")
    def mark_resolved(self, request, queryset) -> None:
        count = services.resolve_documentation_reports(
            queryset, acting_user=request.user
        )
        self.message_user(request, f"{count} report(s) marked resolved.")


@admin.register(ReleaseNote)
class ReleaseNoteAdmin(HistoryAdmin):
    service_owned_fields = ()
    list_display = ("version", "title", "category", "component", "released_on")
    list_filter = ("category", "component", "is_published")
    list_select_related = ("component",)
    search_fields = ("version", "title")
    date_hierarchy = "released_on"
