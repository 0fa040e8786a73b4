"""The two-factor pages: /admin/two-factor/… (included by helpdesk/urls.py before
the admin's own URLs, whose catch-all would otherwise answer them)."""

from django.contrib import admin
from django.urls import path

from accounts.two_factor import views

app_name = "two_factor"

urlpatterns = [
    path("", admin.site.admin_view(views.manage), name="manage"),
    path("set-up/", admin.site.admin_view(views.set_up), name="set_up"),
    path("verify/", admin.site.admin_view(views.verify), name="verify"),
    path(
        "recovery-codes/",
        admin.site.admin_view(views.recovery_codes),
        name="recovery_codes",
    ),
    path("turn-off/", admin.site.admin_view(views.turn_off), name="turn_off"),
]
