"""The product catalogue in the console (issue 15 §3.2): each plan's products and
components with their aliases, and the caps that apply to them."""

from __future__ import annotations

from django.contrib import admin

from accounts.console import HistoryAdmin
from policies.models import CatalogueEntry, SeverityCap


class EntryCapInline(admin.TabularInline):
    model = SeverityCap
    fk_name = "entry"
    extra = 0
    fields = ["plan", "component", "max_level", "reason"]


@admin.register(CatalogueEntry)
class CatalogueEntryAdmin(HistoryAdmin):
    service_owned_fields = ()  # a plain edit: reverting is an edit too

    list_display = ["name", "plan", "alias_names", "cap"]
    list_select_related = ["plan"]
    list_filter = ["plan"]
    search_fields = ["name", "aliases"]
    inlines = [EntryCapInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("caps")

    @admin.display(description="aliases")
    def alias_names(self, entry: CatalogueEntry) -> str:
        return ", ".join(entry.alias_list) or "—"

    @admin.display(description="cap")
    def cap(self, entry: CatalogueEntry) -> str:
        levels = [f"at most Level {cap.max_level}" for cap in entry.caps.all()]
        return ", ".join(levels) or "—"
