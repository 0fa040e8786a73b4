"""Throttling of log-ins and password resets, and the client address both count by.

Log-ins are counted by django-axes (settings ``AXES_*``); this module tells it which
address a request came from (``client_ip_address``) and gives each lockout bucket its
own limit (``LoginThrottleHandler``). Password resets are counted in Django's cache
(``hit``), which is Redis in production and so shared by every web process.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum
from django.http import HttpRequest

logger = logging.getLogger(__name__)


# --- the client's address ---------------------------------------------------------


def client_ip_address(request: HttpRequest) -> str | None:
    """Return the address ``request`` came from, trusting only the configured proxies.

    With ``HELPDESK_TRUSTED_PROXY_COUNT = 0`` (the default) that is ``REMOTE_ADDR``:
    an ``X-Forwarded-For`` header is text the client wrote, and is ignored. Behind
    ``n`` proxies that each append the address they were connected from, the client
    is the ``n``-th address from the right of ``X-Forwarded-For``; whatever stands to
    its left is the client's own text.

    n=1, REMOTE_ADDR=10.0.0.2 (the load balancer),
    X-Forwarded-For "6.6.6.6, 198.51.100.7" -> "198.51.100.7".

    A chain shorter than ``n`` did not pass through every proxy (a health check from
    inside, or a misconfiguration), so ``REMOTE_ADDR`` is the nearest address we can
    vouch for.
    """
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    depth = settings.HELPDESK_TRUSTED_PROXY_COUNT
    if depth == 0:
        return remote
    # Several X-Forwarded-For headers arrive joined by commas, in order.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(chain) < depth:
        return remote
    client = _address(chain[-depth])
    if client is None:
        # Our own proxy wrote it, so this is a misconfiguration, not an attack.
        logger.warning(
            "X-Forwarded-For entry %r written by a trusted proxy is no IP address; "
            "counting the request against REMOTE_ADDR",
            chain[-depth],
        )
        return remote
    return client


def _address(text: str) -> str | None:
    """Return ``text`` as a canonical IP address, or None if it is none.

    "198.51.100.7:4431" -> "198.51.100.7"; "[2001:DB8::1]:443" -> "2001:db8::1";
    "::ffff:198.51.100.7" -> "198.51.100.7" (one client, one spelling, one bucket).
    """
    text = text.strip()
    if text.startswith("["):  # [IPv6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


# --- log-in throttling (django-axes) ----------------------------------------------


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler, with a limit per lockout bucket.

    ``AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]`` counts
    failures twice: per e-mail and address (limit ``AXES_FAILURE_LIMIT``: someone
    guessing one account's password), and per address whatever the e-mail (limit
    ``HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT``: one password tried on many accounts).
    Axes itself has one limit for every bucket, which would either lock a whole
    office out after five typos or let spraying through, so ``get_failures`` reports
    the bucket nearest its own limit on the scale of ``AXES_FAILURE_LIMIT``: Axes
    locks when any bucket is full.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        limit = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        buckets = self.get_user_attempts(request, credentials)
        worst = 0
        for parameter, attempts in zip(parameters, buckets, strict=True):
            failures = (
                attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            )
            worst = max(worst, failures - _bucket_limit(parameter, limit) + limit)
        return worst

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """Forget the failures of the account that just logged in, from this address.

        Axes would delete every bucket the login matches, the whole address's among
        them, so a sprayer could empty the address's count by logging in to an
        account of their own now and then.
        """
        count, _ = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        ).delete()
        return count


def _bucket_limit(parameter: str | list[str], limit: int) -> int:
    if parameter in ("ip_address", ["ip_address"]):
        return settings.HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT
    return limit


# --- counting in the cache (password resets) --------------------------------------


def hit(bucket: str, key: str, *, limit: int, period: timedelta, now: datetime) -> bool:
    """Count one request for ``key`` in ``bucket``; return whether it is within
    ``limit`` requests in the current ``period``.

    Windows are fixed and aligned to the epoch (with a one-hour period: from one
    whole hour to the next), so the count is one atomic ``incr`` per request. A
    refused request still counts, so hammering does not shorten the wait.
    Keys are hashed: no e-mail address is written to the cache as it is.

    limit=3, period=1 h: requests at 10:05, 10:20, 10:40 pass, 10:50 is refused,
    11:00 passes again.
    """
    seconds = int(period.total_seconds())
    window = int(now.timestamp()) // seconds
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"throttle:{bucket}:{digest}:{window}"
    # add() is a no-op when the key exists; incr() is atomic on Redis.
    cache.add(cache_key, 0, timeout=seconds + 60)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.set(cache_key, 1, timeout=seconds + 60)
        count = 1
    return count <= limit
