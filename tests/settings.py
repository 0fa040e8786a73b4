"""Test settings: the real settings, with fast hashing, in-memory mail and eager tasks.

The database is SQLite unless DATABASE_URL is set (CI sets PostgreSQL). Celery talks to
Redis (REDIS_URL, default redis://127.0.0.1:6379/15); unit tests run tasks eagerly and
integration tests switch eagerness off and start a real worker.
"""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from helpdesk.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
SECURE_SSL_REDIRECT = False
# Login throttling is tested on its own (tests/accounts/test_login_throttle.py).
AXES_ENABLED = False
# Sessions here come from force_login, which no second factor follows; the two-factor
# tests turn the requirement on (tests/accounts/test_two_factor.py). An agent who has
# an authenticator is asked for a code either way.
HELPDESK_REQUIRE_2FA = False
