"""Canned replies in the console: each agent keeps their own; Support Managers also
write the shared ones (``helpdesk.share_macro``). Writes go through
``helpdesk.macros``, which checks who asks; the composer fills a reply from one
through :meth:`MacroAdmin.fill_view`."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.html import format_html

from accounts.console import HistoryAdmin, requires
from helpdesk import macros
from helpdesk.models import Macro, Ticket


class MacroForm(forms.ModelForm):
    """A canned reply; "shared" is offered only to those who may share."""

    is_shared = forms.BooleanField(
        label="Shared with every agent",
        required=False,
        help_text="Unticked: only you see it.",
    )
    user = None  # set per request by MacroAdmin.get_form

    class Meta:
        model = Macro
        fields = ["name", "body", "then_status"]
        widgets = {"body": forms.Textarea(attrs={"rows": 8, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].help_text = "Placeholders: " + ", ".join(
            f"{{{name}}} ({description})"
            for name, (description, _) in macros.PLACEHOLDERS.items()
        )
        if self.user is None or not macros.may_share(self.user):
            del self.fields["is_shared"]
        else:
            self.fields["is_shared"].initial = self.instance.pk is not None and (
                self.instance.is_shared
            )

    def clean(self):
        cleaned = super().clean()
        # The owner decides which name must be unique: set it before the model's
        # own checks run (_post_clean), as save_macro will store it.
        shared = cleaned.get("is_shared", False)
        if self.instance.pk is None or shared or self.instance.is_shared:
            self.instance.owner = None if shared else self.user
        return cleaned

    def _post_clean(self):
        super()._post_clean()  # the model's own checks: lengths, choices
        for name, errors in macros.content_errors(self.instance).items():
            self.add_error(name, errors)
        if not self.has_error("name"):
            # The unique names depend on the owner, which is not a form field (the
            # form's own check leaves such constraints out).
            try:
                self.instance.validate_constraints()
            except ValidationError as exc:
                self.add_error("name", exc.messages)


class MacroOwnerFilter(admin.SimpleListFilter):
    title = "whose"
    parameter_name = "whose"

    def lookups(self, request, model_admin):
        return [("mine", "Mine"), ("shared", "Shared")]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.filter(owner=request.user)
        if self.value() == "shared":
            return queryset.filter(owner__isnull=True)
        return queryset


@admin.register(Macro)
class MacroAdmin(HistoryAdmin):
    form = MacroForm
    list_display = ["name", "whose", "then_status", "preview"]
    list_filter = [MacroOwnerFilter, "then_status"]
    search_fields = ["name", "body"]
    list_select_related = ["owner"]
    actions = None  # deleting goes through delete_macro, one at a time

    @admin.display(description="whose")
    def whose(self, macro: Macro) -> str:
        return "shared" if macro.is_shared else "mine"

    @admin.display(description="text")
    def preview(self, macro: Macro) -> str:
        return format_html(
            '<span class="hd-cut" title="{}">{}</span>',
            macro.body,
            macro.body[:80] + ("…" if len(macro.body) > 80 else ""),
        )

    def get_queryset(self, request):
        return macros.visible_to(request.user).select_related("owner")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def get_fields(self, request, obj=None):
        fields = ["name", "body", "then_status"]
        return [*fields, "is_shared"] if macros.may_share(request.user) else fields

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or macros.may_change(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or macros.may_change(request.user, obj))

    def save_model(self, request, obj, form, change):
        macros.save_macro(
            obj, shared=form.cleaned_data.get("is_shared", False), actor=request.user
        )

    def delete_model(self, request, obj):
        macros.delete_macro(obj, actor=request.user)

    def get_urls(self):
        own = [
            path(
                "fill/<int:ticket_pk>/",
                self.admin_site.admin_view(self.fill_view),
                name="helpdesk_macro_fill",
            )
        ]
        return own + super().get_urls()

    @requires("helpdesk.change_ticket", model=Ticket)
    def fill_view(self, request, ticket_pk: int):
        """A canned reply filled for one ticket, as JSON for the composer."""
        ticket = get_object_or_404(
            Ticket.objects.select_related(
                "organization", "requester", "plan", "severity"
            ),
            pk=ticket_pk,
        )
        chosen = request.GET.get("macro", "")
        if not (chosen.isdigit() and len(chosen) <= 12):
            raise Http404("No such canned reply")
        macro = get_object_or_404(macros.visible_to(request.user), pk=int(chosen))
        return JsonResponse(macros.prepare(macro, ticket, agent=request.user).as_json())
