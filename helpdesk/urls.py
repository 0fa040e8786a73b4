from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from helpdesk import views

admin.site.site_header = "Helpdesk agent console"
admin.site.site_title = "Helpdesk"
admin.site.index_title = "Agent console"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("helpdesk/favicon.svg")),
    ),
    # Before the admin's own URLs: its catch-all would answer these with a 404.
    path("admin/two-factor/", include("accounts.two_factor.urls")),
    path("admin/", admin.site.urls),
    path("portal/", include("helpdesk.portal_urls")),
    path("staff/tam/", include("tam.urls")),
    path("staff/slo/attainment/", views.slo_attainment, name="slo_attainment"),
]
