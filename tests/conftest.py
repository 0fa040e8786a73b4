import os

import pytest
import redis
from django.conf import settings


def _require_services() -> bool:
    return os.environ.get("HELPDESK_REQUIRE_SERVICES", "") == "1"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Return the test Redis URL; skip when unreachable, unless CI requires it."""
    url = settings.REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if _require_services():
            pytest.fail(f"Redis at {url} is required but unreachable")
        pytest.skip(f"Redis at {url} is unreachable")
    return url


@pytest.fixture
def celery_app_live(redis_url):
    """The project's Celery app with eager mode off, so tasks go through Redis."""
    from helpdesk.celery import app

    app.conf.task_always_eager = False
    try:
        yield app
    finally:
        app.conf.task_always_eager = True
