"""When a request cannot be served: the error pages, bad URLs and database outages.

- ``bad_request``, ``permission_denied``, ``page_not_found`` and ``server_error`` are
  the 400, 403, 404 and 500 handlers (``helpdesk/urls.py``): styled pages that say
  what happened and where to go next.
- ``NulByteGuardMiddleware`` answers a NUL byte anywhere in the URL with the 400
  page before any view runs: no real link has one, and PostgreSQL refuses it in a
  query, so a view or an admin filter that passed it on would fail with a 500.
- ``DatabaseOutageMiddleware`` turns a ``django.db.OperationalError`` or
  ``InterfaceError`` raised by a view (the database went away, refused a connection,
  timed out) into the 503 page: "We're having trouble — your last change may not
  have been saved; try again in a minute". ``server_error`` does the same for one
  raised by a middleware, such as the session or user lookup.

Nothing here queries the database: the pages are rendered without the request, so
no context processor asks for the session or the user, and ``page_context`` reads
only the path.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
# Seconds a client is asked to wait before trying again (Retry-After).
RETRY_AFTER_SECONDS = 60


def page_context(request: HttpRequest | None) -> dict:
    """Return what an error page needs, from the path alone (no query, no session).

    "/admin/helpdesk/ticket/" -> the console is the way back; "/portal/..." -> the
    portal; anything else -> the home page.
    """
    path = request.path if request is not None else ""
    if path.startswith(("/admin/", "/staff/")):
        area = "console"
    elif path.startswith("/portal/"):
        area = "portal"
    else:
        area = "public"
    return {"area": area, "support_email": settings.DEFAULT_FROM_EMAIL}


def error_page(request: HttpRequest | None, template: str, status: int) -> HttpResponse:
    """Render an error template without the request's context processors."""
    body = loader.render_to_string(template, page_context(request))
    return HttpResponse(body, status=status)


# --- the handlers (helpdesk/urls.py) ------------------------------------------------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_page(request, "400.html", 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_page(request, "403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_page(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page, or the 503 page when what failed was the database (in a
    middleware, where ``DatabaseOutageMiddleware`` cannot see it).

    Django calls this while it handles the exception, so ``sys.exc_info()`` has it.
    """
    if is_database_outage(sys.exc_info()[1]):
        return outage_response(request)
    return error_page(request, "500.html", 500)


# --- NUL bytes in the URL -----------------------------------------------------------


def has_nul_byte(request: HttpRequest) -> bool:
    """Whether the path or a query parameter (name or value) holds a NUL byte."""
    if "\x00" in request.path_info:
        return True
    return any(
        "\x00" in name or any("\x00" in value for value in values)
        for name, values in request.GET.lists()
    )


class NulByteGuardMiddleware:
    """Answer a URL with a NUL byte (``?status__exact=%00``) with the 400 page."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if has_nul_byte(request):
            return error_page(request, "400.html", 400)
        return self.get_response(request)


# --- database outages -----------------------------------------------------------------


def is_database_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be reached or used right now."""
    return isinstance(exc, DATABASE_ERRORS)


def outage_response(request: HttpRequest | None) -> HttpResponse:
    """Return the 503 page of a database outage, which no cache may keep."""
    response = error_page(request, "503.html", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response


class DatabaseOutageMiddleware:
    """Answer a view's database outage with the 503 page.

    The error is still logged with its traceback, so the outage is seen.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not is_database_outage(exception):
            return None
        logger.error(
            "Database unavailable: %s %s",
            request.method,
            request.path,
            exc_info=exception,
        )
        return outage_response(request)
