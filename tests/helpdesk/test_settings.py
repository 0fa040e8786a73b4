"""Start-up configuration: production refuses a missing or malformed variable with one
line that names it, and no traceback."""

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
}


def _check(tmp_path, **overrides: str | None) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "EMAIL_"))
    }
    env["HELPDESK_VAR_DIR"] = str(tmp_path)
    for name, value in {**PRODUCTION, **overrides}.items():
        if value is not None:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = _check(tmp_path)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"DATABASE_URL": "mongodb://db/helpdesk"}, "DATABASE_URL"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"DJANGO_DEBUG": "ture"}, "DJANGO_DEBUG"),
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
        ({"DATABASE_CONN_MAX_AGE": "a minute"}, "DATABASE_CONN_MAX_AGE"),
        ({"DJANGO_ENV": "prod"}, "DJANGO_ENV"),
    ],
)
def test_a_missing_or_malformed_variable_stops_start_up_in_one_line(
    tmp_path, overrides, named
):
    result = _check(tmp_path, **overrides)

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr


def test_development_defaults_need_no_variables(tmp_path):
    result = _check(
        tmp_path, **{name: None for name in PRODUCTION}, DJANGO_SECURE_SSL_REDIRECT=None
    )

    # The deploy checks warn on a laptop (no HTTPS, DEBUG-free defaults), so only ask
    # that settings load and the system check runs.
    assert "configuration error" not in result.stderr
    assert "System check identified" in result.stderr + result.stdout
