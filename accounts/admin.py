from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.utils import timezone

from accounts.autocomplete import AutocompleteKeysChecked
from accounts.console import HistoryAdmin
from accounts.models import (
    Organization,
    SupportAdministrator,
    Team,
    TeamMembership,
    User,
)


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "role_names"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name", "time_zone")}),
        (
            "Access",
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "password1", "password2"),
            },
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def role_names(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all())


class SupportAdministratorInline(AutocompleteKeysChecked, admin.TabularInline):
    model = SupportAdministrator
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "job_title", "phone"]


class LicenceStatusFilter(admin.SimpleListFilter):
    title = "licence"
    parameter_name = "licence"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "active":
            return queryset.filter(licence_active_until__gte=today)
        if self.value() == "expired":
            return queryset.filter(licence_active_until__lt=today)
        return queryset


@admin.register(Organization)
class OrganizationAdmin(HistoryAdmin):
    service_owned_fields = ()  # a plain edit: reverting is an edit too

    list_display = [
        "name",
        "slug",
        "licence_type",
        "licence_active_until",
        "licence_active",
        "time_zone",
    ]
    list_filter = [LicenceStatusFilter, "licence_type"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [SupportAdministratorInline]
    readonly_fields = ["created_at", "updated_at"]

    @admin.display(boolean=True, description="licence active")
    def licence_active(self, organization: Organization) -> bool:
        return organization.has_active_licence(timezone.localdate())


@admin.register(SupportAdministrator)
class SupportAdministratorAdmin(HistoryAdmin):
    service_owned_fields = ()  # a plain edit: reverting is an edit too

    list_display = ["user", "organization", "job_title", "created_at"]
    list_select_related = ["user", "organization"]
    list_filter = ["organization"]
    search_fields = ["user__email", "user__full_name", "organization__name"]
    autocomplete_fields = ["user", "organization"]


class TeamMembershipInline(AutocompleteKeysChecked, admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "is_on_call"]


@admin.register(Team)
class TeamAdmin(HistoryAdmin):
    """The teams new tickets are routed to (helpdesk.routing) and who is on call."""

    service_owned_fields = ()  # a plain edit: reverting is an edit too

    list_display = ["name", "kind", "member_count", "on_call"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [TeamMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__user")

    @admin.display(description="members")
    def member_count(self, team: Team) -> int:
        return len(team.memberships.all())

    @admin.display(description="on call")
    def on_call(self, team: Team) -> str:
        names = [str(m.user) for m in team.memberships.all() if m.is_on_call]
        return ", ".join(names) or "—"
