"""Template helpers of the TAM pages."""

from __future__ import annotations

from django import template

from tam import reports
from tam.models import TAMContract

register = template.Library()


@register.filter
def hh_mm(minutes: int | None) -> str:
    """Format minutes as h:mm: {{ 95|hh_mm }} -> 1:35."""
    return reports.hh_mm(minutes or 0)


@register.filter
def get(mapping: dict, key: str):
    """Look a key up in a dict: {{ line.by_activity|get:value }}."""
    return mapping.get(key) if mapping else None


@register.simple_tag
def has_tam_contract(organization) -> bool:
    """Whether the organisation has a TAM contract to show (one small query)."""
    if organization is None:
        return False
    return (
        TAMContract.objects.filter(organization=organization)
        .exclude(status=TAMContract.Status.CANCELLED)
        .exists()
    )
