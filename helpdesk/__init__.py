"""The helpdesk project package and ticket core."""

from .celery import app as celery_app

__all__ = ("celery_app",)
