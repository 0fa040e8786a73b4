from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from accounts import timezones
from helpdesk import errors, views
from helpdesk.trust import views as trust_views

urlpatterns = [
    # The trust site's front page (helpdesk/trust): status, KB search, releases.
    path("", trust_views.front_page, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("helpdesk/favicon.svg")),
    ),
    # Before the admin's own URLs: its catch-all would answer these with a 404.
    path("admin/two-factor/", include("accounts.two_factor.urls")),
    path(
        "admin/time-zone/",
        admin.site.admin_view(timezones.my_time_zone),
        name="my_time_zone",
    ),
    path("admin/", admin.site.urls),
    path("portal/", include("helpdesk.portal_urls")),
    path("staff/tam/", include("tam.urls")),
    path("staff/slo/attainment/", views.slo_attainment, name="slo_attainment"),
    # /status/, /kb/, /releases/ and /staff/trust/deflection/
    path("", include("helpdesk.trust.urls")),
]

# Styled error pages that never query; the 500 handler answers a database outage
# met by a middleware with the 503 page (helpdesk/errors.py).
handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
