from django.contrib import admin
from django.urls import include, path

from helpdesk import views

admin.site.site_header = "Helpdesk agent console"
admin.site.site_title = "Helpdesk"
admin.site.index_title = "Agent console"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("portal/", include("helpdesk.portal_urls")),
    path("staff/tam/", include("tam.urls")),
    path("staff/slo/attainment/", views.slo_attainment, name="slo_attainment"),
]
