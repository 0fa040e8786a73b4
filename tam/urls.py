"""Staff pages of TAM contracts: /staff/tam/… (included by helpdesk/urls.py)."""

from django.urls import path

from tam import views

app_name = "tam"

urlpatterns = [
    path("", views.report_index, name="index"),
    path("reports/<int:year>/<int:month>/", views.month_report, name="month"),
    path(
        "reports/<int:year>/<int:month>.csv", views.month_report_csv, name="month_csv"
    ),
    path("contracts/<int:pk>/", views.contract_report, name="contract"),
    path("contracts/<int:pk>/term.csv", views.contract_term_csv, name="contract_csv"),
    path(
        "contracts/<int:pk>/meetings.ics",
        views.contract_meetings_ics,
        name="contract_ics",
    ),
    path("meetings/<int:pk>.ics", views.meeting_ics, name="meeting_ics"),
    path("tickets/<int:ticket_pk>/time/", views.log_time, name="log_time"),
]
