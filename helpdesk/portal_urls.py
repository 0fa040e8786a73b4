"""The customer portal: /portal/…"""

from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from helpdesk import views
from helpdesk.forms import PortalAuthenticationForm
from helpdesk.trust import views as trust_views
from tam import views as tam_views


class TicketReferenceConverter:
    """A ticket reference as stored: letters, digits and hyphens, at most the 16
    characters of ``Ticket.reference`` (``HD-000123``).

    Anything else (a NUL byte, which PostgreSQL refuses in a query, 300 characters,
    non-ASCII) matches no URL and is a 404 before any query runs.
    """

    regex = r"[A-Za-z0-9][A-Za-z0-9-]{0,15}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TicketReferenceConverter, "reference")

app_name = "portal"

urlpatterns = [
    path("", views.portal_index, name="index"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html",
            authentication_form=PortalAuthenticationForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.password_change, name="password_change"),
    path(
        "password-reset/",
        views.PortalPasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="portal/password_reset_done.html"
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PortalPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="portal/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("organisation/", views.choose_organization, name="choose"),
    path("tickets/", views.ticket_list, name="tickets"),
    path("tickets/new/", views.new_ticket, name="new_ticket"),
    path(
        "tickets/new/suggestions/",
        trust_views.new_ticket_suggestions,
        name="new_ticket_suggestions",
    ),
    path("tickets/<reference:reference>/", views.ticket_detail, name="ticket"),
    path("tickets/<reference:reference>/reopen/", views.reopen_ticket, name="reopen"),
    path(
        "tickets/<reference:reference>/severity/",
        views.change_severity,
        name="change_severity",
    ),
    path(
        "tickets/<reference:reference>/severity/<int:pk>/decide/",
        views.decide_severity_change,
        name="decide_severity",
    ),
    path("tickets/<reference:reference>/escalate/", views.escalate, name="escalate"),
    path(
        "tickets/<reference:reference>/attachments/<int:pk>/",
        views.attachment,
        name="attachment",
    ),
    path("plan/", views.plan_detail, name="plan"),
    # TAM contracts (tam.views): the customer's TAM, hours and meetings.
    path("tam/", tam_views.portal_tam, name="tam"),
    path(
        "tam/meetings/request/",
        tam_views.portal_request_meeting,
        name="tam_request_meeting",
    ),
    path(
        "tam/meetings/<int:pk>.ics",
        tam_views.portal_meeting_ics,
        name="tam_meeting_ics",
    ),
    path("tam/calendar/<uuid:token>.ics", tam_views.contract_feed, name="tam_feed"),
]
