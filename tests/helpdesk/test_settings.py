"""Start-up configuration: a malformed variable, or in production a missing or unsafe
one, stops start-up with one line that names it, and no traceback."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "helpdesk.example.com",
    "DATABASE_URL": "postgres://helpdesk@127.0.0.1:5432/helpdesk",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "HELPDESK_BASE_URL": "https://helpdesk.example.com",
}


def _manage(
    tmp_path, args: list[str], variables: dict[str, str | None]
) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "EMAIL_"))
    }
    env["HELPDESK_VAR_DIR"] = str(tmp_path)
    for name, value in variables.items():
        if value is not None:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _check(tmp_path, **overrides: str | None) -> subprocess.CompletedProcess:
    return _manage(
        tmp_path,
        ["check", "--deploy", "--fail-level", "WARNING"],
        {**PRODUCTION, **overrides},
    )


def _check_development(tmp_path, **variables: str) -> subprocess.CompletedProcess:
    return _manage(tmp_path, ["check"], variables)


def _assert_stopped_in_one_line(result: subprocess.CompletedProcess, named: str):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = _check(tmp_path)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS"),
        ({"DJANGO_ALLOWED_HOSTS": "*"}, "DJANGO_ALLOWED_HOSTS"),
        ({"DJANGO_ALLOWED_HOSTS": "helpdesk.example.com,*"}, "DJANGO_ALLOWED_HOSTS"),
        ({"DJANGO_ALLOWED_HOSTS": "*.example.com"}, "DJANGO_ALLOWED_HOSTS"),
        ({"DJANGO_ALLOWED_HOSTS": " , "}, "DJANGO_ALLOWED_HOSTS"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"DATABASE_URL": "mongodb://db/helpdesk"}, "DATABASE_URL"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"DJANGO_DEBUG": "ture"}, "DJANGO_DEBUG"),
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
        ({"DATABASE_CONN_MAX_AGE": "a minute"}, "DATABASE_CONN_MAX_AGE"),
        ({"DJANGO_ENV": "prod"}, "DJANGO_ENV"),
        ({"HELPDESK_BASE_URL": None}, "HELPDESK_BASE_URL"),
        ({"INBOUND_MAIL_URL": "pop3://mail.example.com/"}, "INBOUND_MAIL_URL"),
        ({"INBOUND_MAIL_URL": "imaps://user:pw@:993/INBOX"}, "INBOUND_MAIL_URL"),
    ],
)
def test_a_missing_or_malformed_variable_stops_start_up_in_one_line(
    tmp_path, overrides, named
):
    result = _check(tmp_path, **overrides)

    assert result.returncode == 1
    _assert_stopped_in_one_line(result, named)


def test_a_domain_with_its_subdomains_is_an_allowed_production_host(tmp_path):
    result = _check(tmp_path, DJANGO_ALLOWED_HOSTS="helpdesk.example.com, .example.org")

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("DATABASE_URL", "postgres//x"),  # no ://
        ("DATABASE_URL", "helpdesk"),
        ("DATABASE_URL", "mysql://db.internal/helpdesk"),  # unknown scheme here
        ("DATABASE_URL", "postgres:///helpdesk"),  # no host
        ("DATABASE_URL", "postgres://helpdesk@db.internal:5432"),  # no database
        ("DATABASE_URL", "postgres://helpdesk@db.internal:port/helpdesk"),
        ("DATABASE_URL", "postgres://helpdesk@[::1/helpdesk"),  # unparsable
        ("DATABASE_URL", "sqlite://var/helpdesk.sqlite3"),  # a host, not a path
        ("REDIS_URL", "redis//cache.internal"),
        ("REDIS_URL", "memcached://cache.internal:11211"),
        ("REDIS_URL", "redis://:6379/0"),  # no host
        ("REDIS_URL", "redis://cache.internal:63 79/0"),
        ("REDIS_URL", "redis://cache.internal:6379/zero"),
        ("EMAIL_URL", "smtp//smtp.example.com"),
        ("EMAIL_URL", "imap://smtp.example.com"),
        ("EMAIL_URL", "smtp+tls://user:password@:587"),  # no host
        ("EMAIL_URL", "smtp+tls://smtp.example.com:tls"),
    ],
)
def test_a_malformed_url_stops_start_up_in_one_line_in_every_mode(tmp_path, name, url):
    result = _check_development(tmp_path, **{name: url})

    _assert_stopped_in_one_line(result, name)
    assert "malformed" in result.stderr


def test_a_malformed_url_is_shown_without_its_password(tmp_path):
    url = "postgres://helpdesk:hunter2@db.internal:54x2/helpdesk"

    result = _check_development(tmp_path, DATABASE_URL=url)

    _assert_stopped_in_one_line(result, "DATABASE_URL")
    assert "hunter2" not in result.stderr
    assert "postgres://helpdesk:***@db.internal:54x2/helpdesk" in result.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {
            "DATABASE_URL": "sqlite:///{tmp_path}/helpdesk.sqlite3",
            "REDIS_URL": "redis://cache.internal:6379/0",
            "EMAIL_URL": "smtp+tls://user:p%40ss@smtp.example.com:587",
        },
        {
            "DATABASE_URL": "postgres://helpdesk@db.internal:5432/helpdesk",
            "REDIS_URL": "rediss://:secret@cache.internal:6380/1",
            "EMAIL_URL": "consolemail://",
        },
        {
            "DATABASE_URL": "postgres:////run/postgresql/helpdesk",  # a socket folder
            "REDIS_URL": "unix:///run/redis/redis.sock",
            "EMAIL_URL": "smtps://user@smtp.example.com:465",
        },
    ],
)
def test_well_formed_urls_start(tmp_path, variables):
    variables = {k: v.format(tmp_path=tmp_path) for k, v in variables.items()}

    result = _check_development(tmp_path, **variables)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_development_defaults_need_no_variables(tmp_path):
    result = _check(
        tmp_path, **{name: None for name in PRODUCTION}, DJANGO_SECURE_SSL_REDIRECT=None
    )

    # The deploy checks warn on a laptop (no HTTPS, DEBUG-free defaults), so only ask
    # that settings load and the system check runs.
    assert "configuration error" not in result.stderr
    assert "System check identified" in result.stderr + result.stdout


def _database_options(tmp_path, **variables: str) -> str:
    result = _manage(
        tmp_path,
        [
            "shell",
            "-c",
            "from django.conf import settings; "
            "print(settings.DATABASES['default'].get('OPTIONS', {}).get('options'))",
        ],
        variables,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # after the shell's own line


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "-c max_parallel_workers_per_gather=0"),
        ({"DATABASE_PARALLEL_WORKERS": "2"}, "-c max_parallel_workers_per_gather=2"),
        ({"DATABASE_PARALLEL_WORKERS": ""}, "None"),  # the server's own setting
        # The URL's own options win.
        (
            {"DATABASE_PARALLEL_WORKERS": "2", "DATABASE_URL_OPTIONS": "=4"},
            "-c max_parallel_workers_per_gather=4",
        ),
    ],
)
def test_postgresql_sessions_plan_without_parallel_workers_unless_told(
    tmp_path, variables, expected
):
    url = "postgres://helpdesk@127.0.0.1:5432/helpdesk"
    if suffix := variables.pop("DATABASE_URL_OPTIONS", ""):
        url += (
            f"?options=-c%20max_parallel_workers_per_gather{suffix.replace('=', '%3D')}"
        )

    assert _database_options(tmp_path, DATABASE_URL=url, **variables) == expected


def test_a_negative_number_of_parallel_workers_stops_start_up(tmp_path):
    result = _check_development(
        tmp_path,
        DATABASE_URL="postgres://helpdesk@127.0.0.1:5432/helpdesk",
        DATABASE_PARALLEL_WORKERS="-1",
    )

    _assert_stopped_in_one_line(result, "DATABASE_PARALLEL_WORKERS")
