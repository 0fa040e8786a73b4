"""Settings for the helpdesk, read from the environment through django-environ.

Every value has a default that runs on a laptop: SQLite and an embedded Celery broker
under ``var/``, e-mail written to files. Production differs only by environment
variables; with ``DJANGO_ENV=production`` the ones without a safe default are required
and a missing or malformed one stops start-up with one line that names it.
"""

import warnings
import zoneinfo
from collections.abc import Callable, Collection
from datetime import timedelta
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(BASE_DIR / ".env")
VAR_DIR = Path(env.str("HELPDESK_VAR_DIR", default=str(BASE_DIR / "var")))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _config_error(message: str) -> SystemExit:
    """Return the exit that stops start-up with one readable line, no traceback."""
    return SystemExit(f"configuration error: {message}")


def _flag(name: str, default: bool) -> bool:
    """Read a strict boolean: DJANGO_DEBUG=ture is an error, not False."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise _config_error(f"{name} must be true or false, not {raw!r}")


def _int(name: str, default: int) -> int:
    raw = env.str(name, default=str(default)).strip()
    try:
        return int(raw)
    except ValueError:
        raise _config_error(f"{name} must be a whole number, not {raw!r}") from None


def _redacted(url: str) -> str:
    """Return ``url`` with any password starred, fit to print in an error."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo, at, location = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{location}"


def _malformed(name: str, url: str, problem: str) -> SystemExit:
    return _config_error(f"{name} is malformed: {problem}, got {_redacted(url)!r}")


def _split_url(
    name: str, url: str, schemes: Collection[str], expected: str
) -> SplitResult:
    """Return the parts of ``url``, or stop start-up if it is not a ``scheme://``
    URL with one of ``schemes`` and a numeric port.

    DATABASE_URL=postgres//x -> "DATABASE_URL is malformed: expected
    postgres://user@host:5432/name or sqlite:///path, got 'postgres//x'".
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed [IPv6] host
        raise _malformed(name, url, f"{exc}; expected {expected}") from None
    if not parts.scheme or url[len(parts.scheme) : len(parts.scheme) + 3] != "://":
        raise _malformed(name, url, f"expected {expected}")
    if parts.scheme not in schemes:
        raise _malformed(
            name, url, f"unknown scheme {parts.scheme}://, expected {expected}"
        )
    if "," not in parts.netloc:  # a PostgreSQL host list keeps a port per host
        try:
            parts.port  # noqa: B018 - parsing the port raises for "abc" or 99999
        except ValueError:
            raise _malformed(
                name, url, "the port must be a number from 0 to 65535"
            ) from None
    return parts


def _url_config(name: str, url: str, parse: Callable[[str], dict], expected: str):
    """Return django-environ's settings for ``url``. What it would raise, or print as
    a warning (with the password in it), becomes one line naming ``name``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return parse(url)
    except Warning:
        raise _malformed(name, url, f"expected {expected}") from None
    except (ImproperlyConfigured, ValueError, KeyError) as exc:
        raise _malformed(name, url, f"{exc}; expected {expected}") from None


ENVIRONMENT = env.str("DJANGO_ENV", default="development").strip().lower()
if ENVIRONMENT not in {"development", "production"}:
    raise _config_error(
        f"DJANGO_ENV must be 'development' or 'production', not {ENVIRONMENT!r}"
    )
IS_PRODUCTION = ENVIRONMENT == "production"

_REQUIRED_IN_PRODUCTION = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "HELPDESK_BASE_URL",  # links in e-mails: no request to take the host from
)
if IS_PRODUCTION:
    for _name in _REQUIRED_IN_PRODUCTION:
        if not env.str(_name, default="").strip():
            raise _config_error(f"{_name} is required when DJANGO_ENV=production")

DEBUG = _flag("DJANGO_DEBUG", default=False)
if IS_PRODUCTION and DEBUG:
    raise _config_error("DJANGO_DEBUG must be false when DJANGO_ENV=production")

SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    default="django-insecure-laptop-only-key-never-used-in-production-0123456789",
)
if IS_PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise _config_error("DJANGO_SECRET_KEY must be a random string of 50+ characters")

ALLOWED_HOSTS = [
    host.strip()
    for host in env.list(
        "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"]
    )
    if host.strip()
]
if IS_PRODUCTION:
    if not ALLOWED_HOSTS:
        raise _config_error("DJANGO_ALLOWED_HOSTS must name at least one host")
    # "*" would answer any Host header, so password-reset links and absolute URLs could
    # point at an attacker's domain. ".example.com" (a domain and its subdomains) is
    # the way to allow many hosts.
    for _host in ALLOWED_HOSTS:
        if "*" in _host:
            raise _config_error(
                f"DJANGO_ALLOWED_HOSTS must not contain a wildcard when "
                f"DJANGO_ENV=production, got {_host!r}; name each host, or use "
                f"'.example.com' for a domain and its subdomains"
            )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin with the console's site (helpdesk/console/site.py)
    "helpdesk.console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "simple_history",
    "axes",
    "django_otp",  # two-factor sign-in for the console (accounts/two_factor)
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "accounts.two_factor",
    "policies",
    "helpdesk",
    "tam",
    "helpdesk.trust",  # the public trust site: status, knowledge base, releases
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy on every response from here in (pages, downloads, the
    # lockout and two-factor pages); see CONTENT_SECURITY_POLICY below.
    "csp.middleware.CSPMiddleware",
    # helpdesk/errors.py: a NUL byte in the URL is a 400 before anything queries; a
    # view's OperationalError/InterfaceError (the database is down) is the 503
    # "try again in a minute" page, not a 500.
    "helpdesk.errors.NulByteGuardMiddleware",
    "helpdesk.errors.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Cache-Control: no-store on every logged-in response and download; outside the
    # rest, so it sees the final response (it reads request.user on the way out).
    "accounts.sessions.NoStoreMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(), then the gate that makes agents enter a code.
    "django_otp.middleware.OTPMiddleware",
    "accounts.two_factor.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Every instant in the console in the agent's own zone (accounts.timezones).
    "accounts.timezones.AgentTimeZoneMiddleware",
    # Idle and absolute session time-outs (needs the user and messages).
    "accounts.sessions.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # /staff/ pages inside the console's frame (header, log out, nav).
                "helpdesk.console.frame.console_frame",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
# Checked in every mode: a typo stops start-up with one line, not a traceback from
# deep inside django-environ or at the first query.
_DATABASE_FORMS = "postgres://user@host:5432/name or sqlite:///path"
_DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}


def _database(name: str, url: str) -> dict:
    if url == "sqlite://:memory:":  # django-environ's own form; ":memory:" is no port
        return environ.Env.db_url_config(url)
    schemes = {s for s, e in environ.Env.DB_SCHEMES.items() if e in _DATABASE_ENGINES}
    parts = _split_url(name, url, schemes, _DATABASE_FORMS)
    if parts.scheme == "sqlite" and parts.netloc:
        # sqlite://var/db.sqlite3 would quietly open db.sqlite3 in the working folder.
        raise _malformed(
            name,
            url,
            "a SQLite URL has no host: sqlite:///relative/path or sqlite:////absolute/path",
        )
    config = _url_config(name, url, environ.Env.db_url_config, _DATABASE_FORMS)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # postgres:////run/postgresql/helpdesk names a socket folder as the host.
        if not config["HOST"]:
            raise _malformed(name, url, f"no host, expected {_DATABASE_FORMS}")
        if not config["NAME"] and "service" not in config.get("OPTIONS", {}):
            raise _malformed(name, url, f"no database name, expected {_DATABASE_FORMS}")
    return config


DATABASES = {
    "default": _database(
        "DATABASE_URL",
        # Empty means unset, as for REDIS_URL and EMAIL_URL.
        env.str("DATABASE_URL", default="").strip()
        or f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}",
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = _int("DATABASE_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: wait for locks instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A parallel plan starts worker processes for one query. The console's and the
    # portal's queries read a page of rows on an index; on a small server the
    # start-up cost more than the workers saved (a word search over 1,000,000
    # tickets: 58 ms with two workers, 34 ms without). Raise it for a server with
    # cores to spare; empty leaves the server's setting (and sends no start-up
    # option, which some connection poolers refuse); a
    # max_parallel_workers_per_gather in DATABASE_URL's own "options" wins.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _workers = env.str("DATABASE_PARALLEL_WORKERS", default="0").strip()
    if _workers and "max_parallel_workers_per_gather" not in _options.get(
        "options", ""
    ):
        if not _workers.isdigit():
            raise _config_error(
                "DATABASE_PARALLEL_WORKERS must be a whole number of 0 or more, "
                f"or empty, not {_workers!r}"
            )
        _options["options"] = (
            f"{_options.get('options', '')} "
            f"-c max_parallel_workers_per_gather={int(_workers)}"
        ).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ----------------------------------------------------
_REDIS_FORMS = "redis://host:6379/0, rediss://host:6379/0 or unix:///path"
REDIS_URL = env.str("REDIS_URL", default="").strip()
if REDIS_URL:
    _redis = _split_url(
        "REDIS_URL", REDIS_URL, {"redis", "rediss", "unix"}, _REDIS_FORMS
    )
    if _redis.scheme == "unix" and not _redis.path:
        raise _malformed(
            "REDIS_URL", REDIS_URL, "no socket path, expected unix:///path"
        )
    if _redis.scheme != "unix":
        if not _redis.hostname:
            raise _malformed(
                "REDIS_URL", REDIS_URL, f"no host, expected {_REDIS_FORMS}"
            )
        if not (_redis.path.strip("/") or "0").isdigit():
            raise _malformed(
                "REDIS_URL", REDIS_URL, "the database after the host must be a number"
            )

if REDIS_URL:
    # Requests never wait on Redis for long: every connection has short time-outs
    # (seconds), so a Redis that is down fails at once and one that is frozen fails
    # after the time-out instead of hanging the request.
    _REDIS_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 2}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": _REDIS_TIMEOUTS,
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # A publish after commit is a hint (helpdesk.emails.publish_hint): one connection
    # attempt (kombu would retry it for seconds), then the outbox sweep does the work.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        **_REDIS_TIMEOUTS,
        "max_retries": 0,
    }
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = _REDIS_TIMEOUTS["socket_connect_timeout"]
    CELERY_REDIS_SOCKET_TIMEOUT = _REDIS_TIMEOUTS["socket_timeout"]
    CELERY_REDIS_RETRY_ON_TIMEOUT = False
    # Storing or reading a result retries a lost connection twice within a second
    # (Celery's default is 20 times, growing to a minute apart).
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
        "retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        }
    }
else:
    # Embedded defaults: a cache and a broker that need no server, shared by the
    # web, worker and beat processes through files under var/.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _BROKER_DIR = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'results'}"
    for _folder in ("queue", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "results").mkdir(parents=True, exist_ok=True)

CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is redelivered, not lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "send-pending-emails": {
        "task": "helpdesk.send_pending_emails",
        "schedule": 60.0,
    },
    "sweep-slo-clocks": {
        "task": "helpdesk.sweep_slo_clocks",
        "schedule": 60.0,
    },
    # Status updates whose subscriber fan-out hint was lost; idempotent.
    "trust-fan-out-pending-status-updates": {
        "task": "trust.fan_out_pending_status_updates",
        "schedule": 60.0,
    },
    # Sev1 continuous effort: page the managers once a Sev1 is left unassigned or
    # unanswered for HELPDESK_SEV1_MANAGER_PAGE_MINUTES; idempotent, catches up.
    "page-sev1-managers": {
        "task": "helpdesk.page_sev1_managers",
        "schedule": 60.0,
    },
    # Inbound e-mail: poll INBOUND_MAIL_URL (IMAP or the maildir); idempotent.
    "receive-inbound-mail": {
        "task": "helpdesk.receive_inbound_mail",
        "schedule": 15.0,
    },
    # Plan revisions go live at their instant, once; a late run catches up.
    "policies-apply-due-revisions": {
        "task": "policies.apply_due_revisions",
        "schedule": 60.0,
    },
    # TAM contracts: both tasks are idempotent and catch up when run late.
    "tam-renew-due-contracts": {
        "task": "tam.renew_due_contracts",
        "schedule": timedelta(days=1),
    },
    "tam-send-monthly-hours-report": {
        "task": "tam.send_monthly_hours_report",
        "schedule": timedelta(hours=6),
    },
    # 60 days before a TAM renewal the customer's licence does not cover (once).
    "tam-warn-licence-endings": {
        "task": "tam.warn_licence_endings",
        "schedule": timedelta(hours=6),
    },
}
# A material plan revision (policies.revisions) takes effect at least this many days
# after it is scheduled, so customers hear of it in advance (Iron.io).
HELPDESK_POLICY_NOTICE_DAYS = _int("HELPDESK_POLICY_NOTICE_DAYS", default=30)
# A Sev1 ticket (continuous effort) pages every on-call agent at once and the Support
# Managers when it is still unassigned or unanswered this many minutes later.
HELPDESK_SEV1_MANAGER_PAGE_MINUTES = _int(
    "HELPDESK_SEV1_MANAGER_PAGE_MINUTES", default=15
)
# Fail fast when the broker is down: the outbox keeps the work for the sweep.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Auth -----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # login throttling (django-axes)
    "accounts.backends.ModelBackend",  # Django's, permissions in one query
    # Sessions signed in before accounts.backends name Django's own; without it here
    # they would be signed out. It reads no permission of its own (the one above
    # fills the cache both share). Remove after the absolute session time-out has
    # passed since 2026-11-28 (HELPDESK_SESSION_MAX_HOURS, below).
    "django.contrib.auth.backends.ModelBackend",
]
# Five wrong passwords for one e-mail address from one address lock that pair out
# for 15 minutes, and so do twenty from one address whatever the e-mail (one password
# sprayed over many accounts); a successful login resets its own pair's count only.
# Axes has one limit for all buckets, so accounts.throttle gives each its own.
AXES_FAILURE_LIMIT = _int("AXES_FAILURE_LIMIT", default=5)
HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT = _int(
    "HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT", default=20
)
AXES_COOLOFF_TIME = timedelta(minutes=_int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "accounts.throttle.LoginThrottleHandler"
AXES_RESET_ON_SUCCESS = True
# The client's address: REMOTE_ADDR, or behind N proxies (a load balancer: 1) the
# N-th entry from the right of X-Forwarded-For. Axes' AXES_IPWARE_* settings need
# django-ipware, whose proxy count means something else; see accounts.throttle.
HELPDESK_TRUSTED_PROXY_COUNT = _int("HELPDESK_TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_ip_address"
# Reset links asked for, per hour: from one address, and for one e-mail address.
HELPDESK_PASSWORD_RESETS_PER_ADDRESS = _int(
    "HELPDESK_PASSWORD_RESETS_PER_ADDRESS", default=10
)
HELPDESK_PASSWORD_RESETS_PER_EMAIL = _int(
    "HELPDESK_PASSWORD_RESETS_PER_EMAIL", default=3
)
# Sessions end after this long unused (accounts.sessions), and after
# HELPDESK_SESSION_MAX_HOURS however busy.
HELPDESK_AGENT_IDLE_MINUTES = _int("HELPDESK_AGENT_IDLE_MINUTES", default=30)
HELPDESK_CUSTOMER_IDLE_MINUTES = _int("HELPDESK_CUSTOMER_IDLE_MINUTES", default=480)
HELPDESK_SESSION_MAX_HOURS = _int("HELPDESK_SESSION_MAX_HOURS", default=12)
for _name, _low in (
    ("AXES_FAILURE_LIMIT", 1),
    ("HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT", 1),
    ("HELPDESK_TRUSTED_PROXY_COUNT", 0),
    ("HELPDESK_PASSWORD_RESETS_PER_ADDRESS", 1),
    ("HELPDESK_PASSWORD_RESETS_PER_EMAIL", 1),
    ("HELPDESK_AGENT_IDLE_MINUTES", 1),
    ("HELPDESK_CUSTOMER_IDLE_MINUTES", 1),
    ("HELPDESK_SESSION_MAX_HOURS", 1),
):
    if vars()[_name] < _low:
        raise _config_error(f"{_name} must be {_low} or more, not {vars()[_name]}")
SESSION_COOKIE_AGE = HELPDESK_SESSION_MAX_HOURS * 3600
AXES_USERNAME_CALLABLE = "accounts.rules.login_name"
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:tickets"
LOGOUT_REDIRECT_URL = "portal:login"

# Two-factor sign-in for the agent console (accounts/two_factor): an authenticator
# app (TOTP) plus one-time recovery codes. Required for superusers and Support
# Managers, optional for other agents; an agent who set it up is always asked for a
# code. Not read from the environment, so no deployment turns the requirement off;
# the test settings do, because their sessions come from force_login.
HELPDESK_REQUIRE_2FA = True
HELPDESK_2FA_RECOVERY_CODES = 10
OTP_TOTP_ISSUER = env.str("HELPDESK_2FA_ISSUER", default="Helpdesk")
# Each wrong code doubles the wait before the next one is checked: 1, 2, 4, 8 s...
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- I18N and time: store UTC, compute in each calendar's zone ------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The zone the console shows times in for an agent who has not chosen one
# (accounts.timezones activates the agent's zone on each request).
HELPDESK_AGENT_TIME_ZONE = env.str("HELPDESK_AGENT_TIME_ZONE", default="UTC")
if HELPDESK_AGENT_TIME_ZONE not in zoneinfo.available_timezones():
    raise _config_error(
        f"HELPDESK_AGENT_TIME_ZONE must be an IANA time zone such as "
        f"Europe/London, got {HELPDESK_AGENT_TIME_ZONE!r}"
    )

# --- Static and media -----------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("HELPDESK_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Tickets --------------------------------------------------------------------
HELPDESK_ATTACHMENT_MAX_BYTES = _int(
    "HELPDESK_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024
)
HELPDESK_ATTACHMENT_MAX_FILES = 5
# Compressed logs (.zip, .gz, .tar.gz) are read as a stream, never unpacked to disk,
# and refused past these limits (helpdesk/archives.py): files inside, bytes once
# expanded, and expanded/compressed size once past the grace (archive bombs).
HELPDESK_ARCHIVE_MAX_ENTRIES = _int("HELPDESK_ARCHIVE_MAX_ENTRIES", default=1000)
HELPDESK_ARCHIVE_MAX_EXPANDED_BYTES = _int(
    "HELPDESK_ARCHIVE_MAX_EXPANDED_BYTES", default=100 * 1024 * 1024
)
HELPDESK_ARCHIVE_MAX_RATIO = _int("HELPDESK_ARCHIVE_MAX_RATIO", default=100)
HELPDESK_ARCHIVE_RATIO_GRACE_BYTES = _int(
    "HELPDESK_ARCHIVE_RATIO_GRACE_BYTES", default=1024 * 1024
)
# Uploads are measured while the body streams in (helpdesk/uploads.py): an attachment
# past HELPDESK_ATTACHMENT_MAX_BYTES is dropped at that chunk and reported by the form,
# and a request longer than the largest one we could accept (every attachment at its
# limit plus the form's text) is cut off unread instead of filling the temp folder.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's default: a form's text fields
HELPDESK_UPLOAD_MAX_REQUEST_BYTES = (
    HELPDESK_ATTACHMENT_MAX_FILES * HELPDESK_ATTACHMENT_MAX_BYTES
    + DATA_UPLOAD_MAX_MEMORY_SIZE
    + 1024 * 1024  # multipart boundaries and part headers
)
FILE_UPLOAD_HANDLERS = [
    "helpdesk.uploads.AttachmentLimitUploadHandler",  # first: it sees every chunk
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
HELPDESK_REFERENCE_PREFIX = "HD"
# Where links in e-mails point (no request to take the host from in a worker).
HELPDESK_BASE_URL = env.str(
    "HELPDESK_BASE_URL", default="http://127.0.0.1:8000"
).rstrip("/")
# The trust site's 90-day uptime bars count calendar days of this zone (one for every
# reader; the page names it).
HELPDESK_STATUS_TIME_ZONE = env.str("HELPDESK_STATUS_TIME_ZONE", default="UTC")

# --- Inbound e-mail (helpdesk.mail): one mailbox, three doors --------------------
# imaps://user:password@host:993/INBOX (IMAP over TLS), imap://... (STARTTLS), or
# maildir:///path; the default is a maildir under var/ that `make run` watches.
_INBOUND_FORMS = "imaps://user:password@host:993/INBOX, imap://... or maildir:///path"
INBOUND_MAIL_URL = env.str(
    "INBOUND_MAIL_URL", default=f"maildir://{VAR_DIR / 'mail-in'}"
).strip()
_inbound = _split_url(
    "INBOUND_MAIL_URL", INBOUND_MAIL_URL, {"imap", "imaps", "maildir"}, _INBOUND_FORMS
)
if _inbound.scheme.startswith("imap") and not _inbound.hostname:
    raise _malformed("INBOUND_MAIL_URL", INBOUND_MAIL_URL, f"no host, {_INBOUND_FORMS}")
if _inbound.scheme == "maildir" and not _inbound.path.strip("/"):
    raise _malformed("INBOUND_MAIL_URL", INBOUND_MAIL_URL, f"no path, {_INBOUND_FORMS}")
# Mail to the support address files and answers tickets; a reply that copies the
# escalations address escalates its ticket. Auto-replies come from the first.
HELPDESK_SUPPORT_ADDRESS = env.str(
    "HELPDESK_SUPPORT_ADDRESS", default="support@example.com"
).strip()
HELPDESK_ESCALATIONS_ADDRESS = env.str(
    "HELPDESK_ESCALATIONS_ADDRESS", default="escalations@example.com"
).strip()
# A larger message is refused (and moved to the failed folder) unread.
HELPDESK_INBOUND_MAX_BYTES = _int("HELPDESK_INBOUND_MAX_BYTES", default=25 * 1024**2)

# --- E-mail ---------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="support@helpdesk.local")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_EMAIL_URL = env.str("EMAIL_URL", default="").strip()
if _EMAIL_URL:
    # smtp+tls://user:password@host:587 (django-environ), e.g. a relay in production;
    # consolemail:// prints messages instead.
    _EMAIL_FORMS = "smtp+tls://user:password@host:587 or consolemail://"
    _email = _split_url(
        "EMAIL_URL", _EMAIL_URL, environ.Env.EMAIL_SCHEMES, _EMAIL_FORMS
    )
    if _email.scheme.startswith("smtp") and not _email.hostname:
        raise _malformed("EMAIL_URL", _EMAIL_URL, f"no host, expected {_EMAIL_FORMS}")
    vars().update(
        _url_config("EMAIL_URL", _EMAIL_URL, environ.Env.email_url_config, _EMAIL_FORMS)
    )
else:
    # Laptop default: every message is written to a file under var/mail/.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
# Seconds each SMTP exchange may wait (Django waits forever): a frozen mail server
# costs a password notice sent during a request this much, not the request. The
# outbox passes its own (helpdesk.emails.SMTP_TIMEOUT_SECONDS).
EMAIL_TIMEOUT = 10

# --- Security: on in production, off on a laptop served over plain HTTP ----------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _flag("DJANGO_SECURE_SSL_REDIRECT", default=IS_PRODUCTION)
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
SECURE_HSTS_SECONDS = _int(
    "DJANGO_SECURE_HSTS_SECONDS", default=31536000 if IS_PRODUCTION else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = IS_PRODUCTION
SECURE_HSTS_PRELOAD = IS_PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp), on in every mode. Everything loads from our
# own origin. No page has an inline script or on*= handler, the admin's included
# (Django passes its values in data- attributes of <script src>), so script-src
# needs no nonce. The QR code of the two-factor set-up is inline <svg>, not an
# image, so img-src needs no data:. style-src keeps 'unsafe-inline' for now: the
# console's coloured columns are style= attributes (helpdesk/admin.py,
# tam/admin.py), a few pages have a <style> block and the admin's scripts set
# styles; inline CSS runs no script, and moving it into stylesheets is the
# follow-up that removes it. HELPDESK_CSP_REPORT_ONLY=true sends the policy as
# Content-Security-Policy-Report-Only instead, to try a change on live traffic
# (browsers ignore frame-ancestors there; X-Frame-Options still denies framing);
# HELPDESK_CSP_REPORT_URI is where browsers post what the policy blocked.
_CSP_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
_CSP_REPORT_URI = env.str("HELPDESK_CSP_REPORT_URI", default="").strip()
if _CSP_REPORT_URI:
    if any(c.isspace() or c in ";," for c in _CSP_REPORT_URI):
        raise _config_error("HELPDESK_CSP_REPORT_URI must be one URL")
    _CSP_DIRECTIVES["report-uri"] = [_CSP_REPORT_URI]
if _flag("HELPDESK_CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY = None
    CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": _CSP_DIRECTIVES}
else:
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}
    CONTENT_SECURITY_POLICY_REPORT_ONLY = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
