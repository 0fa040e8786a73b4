"""RSS 2.0 and Atom feeds (django.contrib.syndication): the status page's incidents
and maintenance windows, and the release notes (Janrain publishes its platform
updates as a feed)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape

from helpdesk.trust.markdown import render_markdown
from helpdesk.trust.models import Incident, MaintenanceWindow, ReleaseNote

ITEMS = 50


class StatusFeed(Feed):
    feed_type = Rss201rev2Feed
    title = "System status: incidents and maintenance"
    description = "Incidents, their updates, and scheduled maintenance."

    def link(self):
        return reverse("trust:status")

    def items(self):
        incidents = list(
            Incident.objects.prefetch_related("updates", "components").order_by(
                "-updated_at"
            )[:ITEMS]
        )
        windows = list(
            MaintenanceWindow.objects.prefetch_related("components").order_by(
                "-updated_at"
            )[:ITEMS]
        )
        both = incidents + windows
        both.sort(key=lambda item: item.updated_at, reverse=True)
        return both[:ITEMS]

    def item_title(self, item) -> str:
        if isinstance(item, Incident):
            return f"[{item.get_status_display()}] {item.title}"
        label = "Cancelled maintenance" if item.is_cancelled else "Maintenance"
        return f"[{label}] {item.title}"

    def item_description(self, item) -> str:
        components = escape(", ".join(c.name for c in item.components.all()))
        if isinstance(item, Incident):
            lines = [
                f"<p>Impact: {item.get_impact_display()}. Affects: {components}.</p>"
            ]
            for update in item.updates.all():
                lines.append(
                    f"<p><strong>{update.get_status_display()}</strong> "
                    f"({update.posted_at:%Y-%m-%d %H:%M} UTC)</p>"
                    f"{render_markdown(update.body)}"
                )
            return "".join(lines)
        window = (
            f"<p>{item.starts_at:%Y-%m-%d %H:%M} to {item.ends_at:%Y-%m-%d %H:%M} UTC."
            f" Affects: {components}.</p>"
        )
        return window + render_markdown(item.description)

    def item_link(self, item) -> str:
        return item.get_absolute_url()

    def item_guid(self, item) -> str:
        kind = "incident" if isinstance(item, Incident) else "maintenance"
        return f"{kind}-{item.pk}-{item.updated_at:%Y%m%d%H%M%S}"

    item_guid_is_permalink = False

    def item_pubdate(self, item) -> datetime:
        return item.started_at if isinstance(item, Incident) else item.created_at

    def item_updateddate(self, item) -> datetime:
        return item.updated_at


class StatusAtomFeed(StatusFeed):
    feed_type = Atom1Feed
    subtitle = StatusFeed.description


class ReleaseFeed(Feed):
    feed_type = Rss201rev2Feed
    title = "Release notes"
    description = (
        "Security fixes, critical patch updates, maintenance releases, new "
        "functionality and documentation changes."
    )

    def link(self):
        return reverse("trust:releases")

    def items(self):
        return ReleaseNote.objects.filter(is_published=True).select_related(
            "component"
        )[:ITEMS]

    def item_title(self, item: ReleaseNote) -> str:
        return f"{item.version}: {item.title}"

    def item_description(self, item: ReleaseNote) -> str:
        return render_markdown(item.body)

    def item_link(self, item: ReleaseNote) -> str:
        return item.get_absolute_url()

    def item_pubdate(self, item: ReleaseNote) -> datetime:
        return datetime.combine(item.released_on, time(), tzinfo=UTC)

    def item_updateddate(self, item: ReleaseNote) -> datetime:
        return item.updated_at

    def item_categories(self, item: ReleaseNote):
        categories = [item.get_category_display()]
        if item.component is not None:
            categories.append(item.component.name)
        return categories


class ReleaseAtomFeed(ReleaseFeed):
    feed_type = Atom1Feed
    subtitle = ReleaseFeed.description
