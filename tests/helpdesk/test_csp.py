"""The Content-Security-Policy header (django-csp) on the portal, the console and the
public pages: no inline script, no plugin, no framing. The browser check that the
pages keep working under it is tests/browser/test_csp_browser.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket, png

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def policy(response) -> dict[str, list[str]]:
    """Return the response's policy as {directive: [sources]}."""
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_locked_down(response) -> None:
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no inline script, no eval
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["img-src"] == ["'self'"]
    # Inline CSS only (coloured admin columns), see helpdesk/settings.py.
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]


def test_public_pages_carry_the_policy(client):
    for url in (
        "/",
        reverse("portal:login"),
        reverse("portal:password_reset"),
        reverse("admin:login"),
    ):
        response = client.get(url)

        assert response.status_code == 200, url
        assert_locked_down(response)


def test_portal_pages_carry_the_policy(client):
    admin = administrator()
    ticket = file_ticket(admin)
    client.force_login(admin.user)

    for url in (reverse("portal:tickets"), ticket.get_absolute_url()):
        response = client.get(url)

        assert response.status_code == 200, url
        assert_locked_down(response)


def test_console_pages_carry_the_policy(client):
    ticket = file_ticket()
    client.force_login(AgentFactory(is_superuser=True))

    for url in (
        reverse("admin:index"),
        reverse("admin:helpdesk_ticket_change", args=[ticket.pk]),
    ):
        response = client.get(url)

        assert response.status_code == 200, url
        assert_locked_down(response)


def test_an_attachment_keeps_its_own_stricter_policy(client):
    """serve_attachment sandboxes what a browser opens inline (an image, a PDF);
    the middleware adds its policy only where a response has none."""
    admin = administrator()
    ticket = file_ticket(admin, uploads=[png()])
    client.force_login(admin.user)

    response = client.get(ticket.attachments.get().get_absolute_url())

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_report_only_mode_sends_the_same_policy_under_the_other_header(
    client, settings
):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = None

    response = client.get("/")

    assert "Content-Security-Policy" not in response.headers
    report_only = response.headers["Content-Security-Policy-Report-Only"]
    assert "object-src 'none'" in report_only


def _csp_settings(tmp_path, **variables: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "HELPDESK_CSP_"))
    }
    env |= {"HELPDESK_VAR_DIR": str(tmp_path), **variables}
    code = (
        "import json; from helpdesk import settings as s; print(json.dumps("
        "[s.CONTENT_SECURITY_POLICY, s.CONTENT_SECURITY_POLICY_REPORT_ONLY]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_policy_is_enforced_unless_report_only_is_asked_for(tmp_path):
    enforced = _csp_settings(tmp_path)
    trial = _csp_settings(
        tmp_path,
        HELPDESK_CSP_REPORT_ONLY="true",
        HELPDESK_CSP_REPORT_URI="https://csp.example.com/report",
    )

    policy, report_only = json.loads(enforced.stdout)
    assert policy["DIRECTIVES"]["frame-ancestors"] == ["'none'"]
    assert report_only is None
    policy, report_only = json.loads(trial.stdout)
    assert policy is None
    assert report_only["DIRECTIVES"]["object-src"] == ["'none'"]
    assert report_only["DIRECTIVES"]["report-uri"] == ["https://csp.example.com/report"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HELPDESK_CSP_REPORT_ONLY", "ture"),
        ("HELPDESK_CSP_REPORT_URI", "https://a.example/r; script-src *"),
    ],
)
def test_a_malformed_csp_variable_stops_start_up(tmp_path, name, value):
    result = _csp_settings(tmp_path, **{name: value})

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
