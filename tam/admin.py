"""The agent console for TAM contracts: contracts with their monthly buckets and time
entries inline, time entries, meetings, change orders, TAM profiles and routing.

Every write with a rule goes through ``tam.services``: the forms validate with the
same functions, ``save_model``/``save_formset`` call the service.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.forms.models import construct_instance
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.autocomplete import AutocompleteKeysChecked
from accounts.console import HistoryAdmin, requires
from tam import reports, rules, services
from tam.models import (
    IN_SCOPE,
    ChangeOrder,
    HourBucket,
    Meeting,
    RoutingPreference,
    TAMContract,
    TAMProfile,
    TimeEntry,
)


def _in_scope_used():
    """A subquery: the in-scope minutes logged against the bucket of the row."""
    return Coalesce(
        Subquery(
            TimeEntry.objects.filter(bucket=OuterRef("pk"), activity__in=IN_SCOPE)
            .values("bucket")
            .annotate(total=Sum("minutes"))
            .values("total"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def _form_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _fill(form: forms.ModelForm) -> None:
    """Copy the cleaned data onto the form's instance without validating the model:
    the service that writes the row validates it."""
    form.instance = construct_instance(form, form.instance, form._meta.fields)


# --- whose time: the agent field of every form that logs time ---------------------


class _OwnTimeWidget(forms.HiddenInput):
    """The agent field of someone who logs only their own time: their name as text
    and their own id posted back (``record_time_entry`` refuses any other)."""

    def __init__(self, user, attrs=None) -> None:
        super().__init__(attrs)
        self.user_pk = user.pk
        self.user_label = str(user)

    @property
    def is_hidden(self) -> bool:
        return False  # keep the row, its label and its errors on the page

    def render(self, name, value, attrs=None, renderer=None):
        hidden = super().render(name, self.user_pk, attrs, renderer)
        return format_html("{}<strong>{}</strong> (you)", hidden, self.user_label)


class _AgentFieldMixin:
    """The agent of a new entry is chosen among agents only, and only by those who
    may log time for others; anyone else gets their own name, fixed.

    The admin sets ``acting_user`` on the form class it builds for each request
    (``get_form``, ``get_formset``); the form validates with it and the service
    checks it again when it writes.
    """

    acting_user = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("agent")
        if field is None:  # an existing entry: read-only
            return
        field.queryset = services.bookable_agents()
        if self.acting_user is not None and not services.may_log_time_for_others(
            self.acting_user
        ):
            field.widget = _OwnTimeWidget(self.acting_user)
            field.help_text = (
                "You log your own time; a Support Manager logs time in another "
                "agent's name."
            )


# --- contracts ------------------------------------------------------------------------


class HourBucketInline(admin.TabularInline):
    model = HourBucket
    extra = 0
    fields = [
        "starts_on",
        "ends_on",
        "allotted",
        "rollover",
        "banked",
        "used",
        "remaining",
    ]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(used_minutes=_in_scope_used())

    # The inline also renders an empty template row: no bucket, no figures.

    @admin.display(description="allotted")
    def allotted(self, bucket: HourBucket) -> str:
        return reports.hh_mm(bucket.allotted_minutes) if bucket.pk else ""

    @admin.display(description="rollover")
    def rollover(self, bucket: HourBucket) -> str:
        return reports.hh_mm(bucket.rollover_minutes) if bucket.pk else ""

    @admin.display(description="banked (scheduled)")
    def banked(self, bucket: HourBucket) -> str:
        return reports.hh_mm(bucket.banked_minutes) if bucket.pk else ""

    @admin.display(description="used")
    def used(self, bucket: HourBucket) -> str:
        return reports.hh_mm(bucket.used_minutes) if bucket.pk else ""

    @admin.display(description="remaining / best effort")
    def remaining(self, bucket: HourBucket) -> str:
        if not bucket.pk:
            return ""
        left = bucket.allowance_minutes - bucket.used_minutes
        if left >= 0:
            return reports.hh_mm(left)
        return format_html(
            '<strong style="color:#b42318">{} over</strong>', reports.hh_mm(-left)
        )


class TimeEntryInline(admin.TabularInline):
    """The last two months' entries (the full list is under Time entries)."""

    model = TimeEntry
    extra = 0
    fields = [
        "worked_on",
        "agent",
        "minutes",
        "activity",
        "ticket",
        "change_order",
        "best_effort_minutes",
        "note",
    ]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "time entries of the last two months"

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        since = timezone.localdate() - timedelta(days=62)
        return (
            super()
            .get_queryset(request)
            .filter(worked_on__gte=since)
            .select_related("agent", "ticket", "change_order")
            .order_by("-worked_on", "-pk")
        )


class NewTimeEntryForm(_AgentFieldMixin, forms.ModelForm):
    class Meta:
        model = TimeEntry
        fields = [
            "worked_on",
            "agent",
            "minutes",
            "activity",
            "ticket",
            "change_order",
            "note",
        ]

    def clean(self):
        cleaned = super().clean()
        contract = self.instance.contract if self.instance.contract_id else None
        if contract is None or self.errors:
            return cleaned
        try:
            services.validate_time_entry(
                contract,
                agent=cleaned["agent"],
                worked_on=cleaned["worked_on"],
                minutes=cleaned["minutes"],
                activity=cleaned["activity"],
                ticket=cleaned.get("ticket"),
                change_order=cleaned.get("change_order"),
                acting_user=self.acting_user,
            )
        except ValidationError as exc:
            _form_errors(self, exc)
        return cleaned

    def _post_clean(self):
        # The entry is built by the service (bucket, best effort): fill the instance
        # for display, skip the model's validation of a row never saved from here.
        _fill(self)


class NewTimeEntryInline(AutocompleteKeysChecked, admin.TabularInline):
    """Log time here: each row goes through ``services.record_time_entry``."""

    model = TimeEntry
    form = NewTimeEntryForm
    extra = 1
    can_delete = False
    verbose_name = "new time entry"
    verbose_name_plural = "log time"
    autocomplete_fields = ["ticket"]

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.acting_user = request.user  # a class built for this request
        return formset

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)


class ContractCreationForm(forms.ModelForm):
    """Entering a signed contract: the same rules as ``services.create_contract``."""

    class Meta:
        model = TAMContract
        fields = [
            "organization",
            "tam",
            "backup_tam",
            "project_manager",
            "signed_on",
            "starts_on",
            "term_months",
            "hours_per_month",
            "time_zone",
            "auto_renew",
            "unused_hours",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].required = False
        self.fields["time_zone"].help_text = "Empty: the organisation's time zone."
        self.fields["unused_hours"].required = False  # empty: rolled over

    def draft(self) -> services.ContractDraft:
        data = self.cleaned_data
        return services.ContractDraft(
            tam=data["tam"],
            backup_tam=data["backup_tam"],
            project_manager=data.get("project_manager"),
            signed_on=data["signed_on"],
            starts_on=data["starts_on"],
            term_months=data["term_months"],
            hours_per_month=data["hours_per_month"],
            auto_renew=data.get("auto_renew", True),
            time_zone=data.get("time_zone") or "",
            unused_hours=data.get("unused_hours") or TAMContract.UnusedHours.ROLL_OVER,
        )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            services.validate_contract(cleaned["organization"], self.draft())
        except ValidationError as exc:
            _form_errors(self, exc)
        return cleaned

    def _post_clean(self):
        _fill(self)  # the service builds and validates the row (ends_on, status)


class BankedHoursForm(forms.Form):
    """How many banked hours go into which month of the term."""

    month_starts_on = forms.TypedChoiceField(
        label="Month", coerce=date.fromisoformat, empty_value=None
    )
    hours = forms.DecimalField(
        min_value=Decimal("0.25"),
        max_digits=6,
        decimal_places=2,
        help_text="In hours (1.5 = 1 h 30 min).",
    )

    def __init__(self, contract: TAMContract, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["month_starts_on"].choices = [
            (
                bucket.starts_on.isoformat(),
                f"{rules.period(bucket.starts_on, bucket.ends_on)} "
                f"({reports.hh_mm(bucket.banked_minutes)} h banked so far)",
            )
            for bucket in contract.buckets.order_by("starts_on")
        ]

    def minutes(self) -> int:
        return int(self.cleaned_data["hours"] * 60)


class ContractChangeForm(forms.ModelForm):
    class Meta:
        model = TAMContract
        fields = [
            "tam",
            "backup_tam",
            "project_manager",
            "auto_renew",
            "notice_received_on",
            "notice_from",
            "notice_document",
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        contract = TAMContract.objects.get(pk=self.instance.pk)
        try:
            services.validate_contract_change(
                contract,
                tam=cleaned["tam"],
                backup_tam=cleaned["backup_tam"],
                project_manager=cleaned.get("project_manager"),
            )
        except ValidationError as exc:
            _form_errors(self, exc)
        received_on = cleaned.get("notice_received_on")
        if contract.notice_received_on is None and received_on:
            if not (cleaned.get("notice_from") or "").strip():
                self.add_error("notice_from", "Say who at the customer gave notice.")
            today = timezone.localdate()
            if received_on > today:
                self.add_error(
                    "notice_received_on",
                    "Termination notice rule: a notice cannot be received in the "
                    "future.",
                )
        return cleaned

    def _post_clean(self):
        pass  # services.change_contract and record_notice write the row


@admin.register(TAMContract)
class TAMContractAdmin(HistoryAdmin):
    list_display = [
        "organization",
        "status",
        "starts_on",
        "ends_on",
        "hours_per_month",
        "term_months",
        "tam",
        "backup_tam",
        "auto_renew",
        "notice_received_on",
        "report",
    ]
    list_select_related = ["organization", "tam", "backup_tam"]
    list_filter = ["status", "term_months", "auto_renew"]
    search_fields = ["organization__name", "organization__slug"]
    date_hierarchy = "starts_on"
    readonly_fields = [
        "organization",
        "status",
        "signed_on",
        "starts_on",
        "ends_on",
        "term_months",
        "hours_per_month",
        "time_zone",
        "renews",
        "rolled_over_minutes",
        "unused_hours",
        "banked_minutes",
        "renewal_refusal",
        "cancelled_on",
        "notice_recorded_by",
        "report",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("organization", "status", "report"),
                    ("signed_on", "starts_on", "ends_on", "cancelled_on"),
                    ("term_months", "hours_per_month", "time_zone"),
                    ("renews", "rolled_over_minutes"),
                    ("unused_hours", "banked_minutes"),
                    "renewal_refusal",
                    ("tam", "backup_tam", "project_manager"),
                    "auto_renew",
                ]
            },
        ),
        (
            "Written termination notice",
            {
                "description": "Before the term ends or within 45 days after it, a "
                "notice stops the renewal (a renewal already made is cancelled as of "
                "the notice); later, service ends with the renewed term.",
                "fields": [
                    ("notice_received_on", "notice_from"),
                    "notice_document",
                    "notice_recorded_by",
                ],
            },
        ),
    ]
    inlines = [HourBucketInline, NewTimeEntryInline, TimeEntryInline]
    # Adds the "Replace calendar feed link" button for those who may change it.
    change_form_template = "tam/contract_change_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ContractChangeForm if obj is not None else ContractCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ContractCreationForm.Meta.fields})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = list(self.readonly_fields)
        if obj.notice_received_on is not None:
            fields += ["notice_received_on", "notice_from", "notice_document"]
        return fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # contracts are history: they end or are cancelled

    def get_urls(self):
        own = [
            path(
                "<int:pk>/feed-link/",
                self.admin_site.admin_view(self.rotate_feed_view),
                name="tam_tamcontract_rotate_feed",
            ),
            path(
                "<int:pk>/banked-hours/",
                self.admin_site.admin_view(self.banked_hours_view),
                name="tam_tamcontract_banked_hours",
            ),
        ]
        return own + super().get_urls()

    @requires("tam.change_tamcontract")
    def rotate_feed_view(self, request, pk: int):
        """Replace the contract's calendar feed link: a page that says what it does,
        then a POST (through ``services.rotate_feed_token``)."""
        contract = get_object_or_404(
            TAMContract.objects.select_related("organization"), pk=pk
        )
        if not self.has_change_permission(request, contract):
            raise PermissionDenied
        back = reverse("admin:tam_tamcontract_change", args=[contract.pk])
        if request.method == "POST":
            services.rotate_feed_token(contract, acting_user=request.user)
            self.message_user(
                request,
                "The calendar feed link was replaced; the old link no longer works. "
                "The customer's Support Administrators find the new one on their "
                "portal TAM page.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": "Replace the calendar feed link",
            "opts": self.opts,
            "original": contract,
            "back": back,
        }
        return TemplateResponse(request, "tam/contract_feed_confirm.html", context)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["may_schedule_banked_hours"] = (
            obj is not None
            and obj.banked_minutes > 0
            and obj.status in TAMContract.CURRENT_STATUSES
            and services.may_schedule_banked_hours(request.user, obj)
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    # The contract's TAM only views contracts; the service decides who schedules.
    @requires("tam.view_tamcontract")
    def banked_hours_view(self, request, pk: int):
        """Schedule banked hours of the previous term into a month of this one
        (through ``services.schedule_banked_hours``)."""
        contract = get_object_or_404(
            TAMContract.objects.select_related("organization"), pk=pk
        )
        if not services.may_schedule_banked_hours(request.user, contract):
            raise PermissionDenied
        back = reverse("admin:tam_tamcontract_change", args=[contract.pk])
        form = BankedHoursForm(contract, request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                bucket = services.schedule_banked_hours(
                    contract,
                    month_starts_on=form.cleaned_data["month_starts_on"],
                    minutes=form.minutes(),
                    acting_user=request.user,
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict") and "minutes" in exc.error_dict:
                    exc.error_dict["hours"] = exc.error_dict.pop("minutes")
                _form_errors(form, exc)
            else:
                self.message_user(
                    request,
                    f"{reports.hh_mm(form.minutes())} h of banked hours scheduled "
                    f"into the month from {bucket.starts_on:%-d %b %Y}; "
                    f"{reports.hh_mm(services.unscheduled_minutes(contract))} h "
                    "left to schedule.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": "Schedule banked hours",
            "opts": self.opts,
            "original": contract,
            "back": back,
            "form": form,
            "unscheduled": services.unscheduled_minutes(contract),
        }
        return TemplateResponse(request, "tam/contract_banked_hours.html", context)

    @admin.display(description="report")
    def report(self, contract: TAMContract) -> str:
        if not contract.pk:
            return "—"
        return format_html('<a href="{}">hours report</a>', contract.get_absolute_url())

    def save_model(self, request, obj, form, change):
        if not change:
            contract = services.create_contract(
                form.cleaned_data["organization"],
                form.draft(),
                acting_user=request.user,
            )
            obj.pk, obj.ends_on = contract.pk, contract.ends_on
            return
        data = form.cleaned_data
        original = TAMContract.objects.get(pk=obj.pk)
        people = ("tam", "backup_tam", "project_manager", "auto_renew")
        if any(name in form.changed_data for name in people):
            services.change_contract(
                original,
                tam=data["tam"],
                backup_tam=data["backup_tam"],
                project_manager=data["project_manager"],
                auto_renew=data["auto_renew"],
                acting_user=request.user,
            )
        if original.notice_received_on is None and data.get("notice_received_on"):
            holder = services.record_notice(
                original.organization,
                received_on=data["notice_received_on"],
                given_by=data.get("notice_from") or "",
                document=data.get("notice_document") or None,
                acting_user=request.user,
            )
            self.message_user(
                request,
                f"Notice recorded on {holder}; it is now "
                f"{holder.get_status_display().lower()}.",
                messages.SUCCESS,
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not TimeEntry:
            return super().save_formset(request, form, formset, change)
        contract = form.instance
        # What the change message reads (formset.save() is not called here).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = (
            [],
            [],
            [],
        )
        for entry_form in formset.forms:
            if not entry_form.has_changed() or not entry_form.cleaned_data:
                continue
            data = entry_form.cleaned_data
            entry = services.record_time_entry(
                contract,
                agent=data["agent"],
                worked_on=data["worked_on"],
                minutes=data["minutes"],
                activity=data["activity"],
                ticket=data.get("ticket"),
                change_order=data.get("change_order"),
                note=data.get("note", ""),
                acting_user=request.user,
            )
            formset.new_objects.append(entry)
            if entry.is_best_effort:
                self.message_user(
                    request,
                    f"{reports.hh_mm(entry.best_effort_minutes)} h of the entry on "
                    f"{entry.worked_on} is beyond the month's hours: best effort.",
                    messages.WARNING,
                )

    def save_related(self, request, form, formsets, change):
        if change:
            for formset in formsets:
                self.save_formset(request, form, formset, change)

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, NewTimeEntryInline):
            kwargs.setdefault("initial", [{"agent": request.user.pk}])
        return kwargs


# --- buckets, entries, change orders, meetings ------------------------------------


@admin.register(HourBucket)
class HourBucketAdmin(HistoryAdmin):
    list_display = [
        "contract",
        "starts_on",
        "ends_on",
        "allowance",
        "used",
        "remaining",
    ]
    list_select_related = ["contract__organization"]
    list_filter = ["starts_on"]
    search_fields = ["contract__organization__name"]
    readonly_fields = [
        "contract",
        "index",
        "starts_on",
        "ends_on",
        "allotted_minutes",
        "rollover_minutes",
    ]

    def has_add_permission(self, request):
        return False  # buckets come with their contract

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(used_minutes=_in_scope_used())

    @admin.display(description="allowance")
    def allowance(self, bucket: HourBucket) -> str:
        return reports.hh_mm(bucket.allowance_minutes)

    @admin.display(description="used", ordering="used_minutes")
    def used(self, bucket: HourBucket) -> str:
        return reports.hh_mm(bucket.used_minutes)

    @admin.display(description="remaining")
    def remaining(self, bucket: HourBucket) -> str:
        return reports.hh_mm(max(bucket.allowance_minutes - bucket.used_minutes, 0))


class TimeEntryAdminForm(_AgentFieldMixin, forms.ModelForm):
    class Meta:
        model = TimeEntry
        fields = [
            "contract",
            "worked_on",
            "agent",
            "minutes",
            "activity",
            "ticket",
            "change_order",
            "note",
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors or not cleaned.get("contract"):
            return cleaned
        try:
            services.validate_time_entry(
                cleaned["contract"],
                agent=cleaned["agent"],
                worked_on=cleaned["worked_on"],
                minutes=cleaned["minutes"],
                activity=cleaned["activity"],
                ticket=cleaned.get("ticket"),
                change_order=cleaned.get("change_order"),
                acting_user=self.acting_user,
            )
        except ValidationError as exc:
            _form_errors(self, exc)
        return cleaned

    def _post_clean(self):
        _fill(self)  # the service sets the bucket and the best-effort part


@admin.register(TimeEntry)
class TimeEntryAdmin(HistoryAdmin):
    """Add ``?ticket=<id>&contract=<id>`` to the add URL to start from a ticket."""

    form = TimeEntryAdminForm
    list_display = [
        "worked_on",
        "contract",
        "agent",
        "minutes",
        "activity",
        "ticket",
        "best_effort_minutes",
    ]
    list_select_related = ["contract__organization", "agent", "ticket"]
    list_filter = ["activity", "worked_on"]
    search_fields = ["contract__organization__name", "ticket__reference", "note"]
    date_hierarchy = "worked_on"
    autocomplete_fields = ["ticket"]
    readonly_fields = ["bucket", "best_effort_minutes", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in TimeEntry._meta.fields]  # entries are a ledger

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.acting_user = request.user  # a class built for this request
        return form

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("agent", request.user.pk)
        initial.setdefault("worked_on", timezone.localdate())
        return initial

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        entry = services.record_time_entry(
            data["contract"],
            agent=data["agent"],
            worked_on=data["worked_on"],
            minutes=data["minutes"],
            activity=data["activity"],
            ticket=data.get("ticket"),
            change_order=data.get("change_order"),
            note=data.get("note", ""),
            acting_user=request.user,
        )
        obj.pk = entry.pk
        if entry.is_best_effort:
            self.message_user(
                request,
                f"{reports.hh_mm(entry.best_effort_minutes)} h is beyond the month's "
                "hours and marked best effort.",
                messages.WARNING,
            )


@admin.register(ChangeOrder)
class ChangeOrderAdmin(HistoryAdmin):
    service_owned_fields = ()  # a plain edit: reverting is an edit too

    list_display = ["reference", "title", "contract", "status", "approved_on"]
    list_select_related = ["contract__organization"]
    list_filter = ["status"]
    search_fields = ["reference", "title", "contract__organization__name"]


class MeetingRequestAdminForm(forms.ModelForm):
    class Meta:
        model = Meeting
        fields = [
            "contract",
            "kind",
            "mode",
            "title",
            "starts_at",
            "duration_minutes",
            "location",
            "country",
        ]

    def clean(self):
        cleaned = super().clean()
        if self.errors or not cleaned.get("contract"):
            return cleaned
        try:
            services.validate_meeting_request(
                cleaned["contract"],
                mode=cleaned["mode"],
                starts_at=cleaned["starts_at"],
                country=cleaned.get("country", ""),
                title=cleaned.get("title", ""),
                location=cleaned.get("location", ""),
            )
        except ValidationError as exc:
            _form_errors(self, exc)
        return cleaned


@admin.register(Meeting)
class MeetingAdmin(HistoryAdmin):
    list_display = ["starts_at", "title", "contract", "kind", "mode", "status", "ics"]
    list_select_related = ["contract__organization"]
    list_filter = ["kind", "mode", "status"]
    search_fields = ["title", "contract__organization__name"]
    date_hierarchy = "starts_at"
    actions = ["cancel_meetings"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MeetingRequestAdminForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in Meeting._meta.fields]

    def has_delete_permission(self, request, obj=None):
        return False  # cancel instead: subscribed calendars then see it cancelled

    @admin.display(description="iCalendar")
    def ics(self, meeting: Meeting) -> str:
        return format_html(
            '<a href="{}">.ics</a>', reverse("tam:meeting_ics", args=[meeting.pk])
        )

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        meeting = services.request_meeting(
            data["contract"],
            kind=data["kind"],
            mode=data["mode"],
            starts_at=data["starts_at"],
            duration_minutes=data["duration_minutes"],
            title=data["title"],
            location=data.get("location", ""),
            country=data.get("country", ""),
            requested_by=request.user,
        )
        obj.pk = meeting.pk

    @admin.action(description="Cancel the selected meetings", permissions=["change"])
    def cancel_meetings(self, request, queryset):
        for meeting in queryset.filter(status=Meeting.Status.PLANNED):
            services.cancel_meeting(meeting, acting_user=request.user)


# --- people and routing ------------------------------------------------------------


@admin.register(TAMProfile)
class TAMProfileAdmin(HistoryAdmin):
    service_owned_fields = ()  # a plain edit: reverting is an edit too

    list_display = ["user", "location", "away_from", "away_until"]
    list_select_related = ["user"]
    list_filter = ["location"]
    search_fields = ["user__email", "user__full_name"]


@admin.register(RoutingPreference)
class RoutingPreferenceAdmin(HistoryAdmin):
    list_display = ["organization", "mode", "updated_at"]
    list_select_related = ["organization"]
    list_filter = ["mode"]
    search_fields = ["organization__name"]

    def save_model(self, request, obj, form, change):
        services.set_routing(obj.organization, obj.mode, acting_user=request.user)
