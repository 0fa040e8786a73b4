"""The trust site's URLs, mounted at / by helpdesk/urls.py: /status/, /kb/,
/releases/ and the front page."""

from django.urls import path

from helpdesk.trust import feeds, views

app_name = "trust"

urlpatterns = [
    path("status/", views.status_page, name="status"),
    path("status/rss/", feeds.StatusFeed(), name="status_rss"),
    path("status/atom/", feeds.StatusAtomFeed(), name="status_atom"),
    path("status/incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("status/maintenance/<int:pk>/", views.maintenance_detail, name="maintenance"),
    path("status/subscribe/", views.subscribe, name="subscribe"),
    path(
        "status/subscribe/confirm/<str:token>/",
        views.confirm_subscription,
        name="confirm_subscription",
    ),
    path("status/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("kb/", views.kb_index, name="kb"),
    path("kb/category/<slug:slug>/", views.kb_category, name="kb_category"),
    path("kb/<slug:slug>/", views.kb_article, name="kb_article"),
    path("kb/<slug:slug>/vote/", views.kb_vote, name="kb_vote"),
    path("kb/<slug:slug>/report/", views.kb_report, name="kb_report"),
    path("releases/", views.releases, name="releases"),
    path("releases/rss/", feeds.ReleaseFeed(), name="releases_rss"),
    path("releases/atom/", feeds.ReleaseAtomFeed(), name="releases_atom"),
    path("releases/<int:pk>/", views.release_detail, name="release"),
    path("staff/trust/deflection/", views.deflection_report, name="deflection_report"),
]
