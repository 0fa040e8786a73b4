"""The secrets guard: what it refuses, what it lets through, and how it says so.

The guard is a pure module and most tests need no database; the last ones go through
the services that feed it free text and attachments. Credential-shaped values are
assembled from pieces so that secret scanners run on this repository do not flag the
test corpus.
"""

import base64
import io
import json
import logging
import math
import random
import textwrap
import time
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PageObject, PdfReader, PdfWriter

from helpdesk import escalations, pdf_text, severity
from helpdesk.attachments import check_upload
from helpdesk.models import Escalation, OutboundEmail, SeverityChange
from helpdesk.secrets_guard import (
    MAX_SCAN_BYTES,
    Finding,
    explain,
    find_secrets,
    scan_bytes,
    secret_errors,
    validate_no_secrets,
)
from tam import services as tam_services
from tam.models import Meeting
from tests.accounts.factories import AgentFactory, UserFactory
from tests.helpdesk.factories import administrator, file_ticket
from tests.tam.factories import contract

BULLET = "\u2022"

# A Janrain-style value: 32 lowercase letters and digits.
JANRAIN = "3kz9qw8x7v6u5t4s" + "3r2p1o0n9m8l7k6j"
# A client ID of the same shape: labelled as an ID, it must pass.
CLIENT_ID = "8n5j7s2x9q4w1e6r" + "3t0y5u8i2o4p6a1s"
RANDOM = "Zk3v9QpL2xW8" + "rT5yN1mB7cJ4"
AWS_KEY_ID = "AKIA" + "Z3MHN5QW7XJ2PLRT"
AWS_SECRET = "wJalrXUtnFEMI" + "K7MDENGbPxRfiCYzz1234567890"
GITHUB = "ghp_" + RANDOM + "Hg6dF0sA2eR9"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0" + RANDOM + "_" + RANDOM + "Hg6dF0sA2eR9"
SLACK = "xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_TEST = "sk_" + "test_" + "4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE = "AIza" + "SyD3kz9qw8x7v6u5t4s3r2p1o0n9m8l7k6j"
SENDGRID = (
    "SG." + "Zk3v9QpL2xW8rT5yN1mB7c" + "." + RANDOM + RANDOM + "Hg6dF0sA2eR9abcdefg"
)
NPM = "npm_" + RANDOM + "Hg6dF0sA2eR9"
OPENAI = "sk-" + "proj-" + RANDOM + "T3BlbkFJ" + RANDOM
GOOGLE_SECRET = "GOCSPX-" + "1a2B3c4D5e6F" + "7g8H9i0J1k2L3m4N"
SLACK_USER = "xoxp-" + "123456789012-123456789012-1234567890123-" + JANRAIN
SLACK_APP = "xapp-" + "1-A0123ABCD-1234567890123-" + JANRAIN + JANRAIN
SLACK_REFRESH = "xoxe-" + "1-" + "My0xLTEyMzQ1Ni0" + RANDOM
SLACK_HOOK = "https://hooks.slack.com/" + "services/T0123ABCD/B0123ABCD/" + RANDOM
SLACK_FLOW = "hooks.slack.com/" + "workflows/T0123ABCD/A0123ABCD/1234567890/" + RANDOM
# An Azure key (base64 of 32 bytes) and a SAS signature (base64, URL-encoded).
AZURE_KEY = "q7Ym" + RANDOM + "Hg6dF0sA2e+/R9x="
SAS_SIG = "Xy%2Bz" + RANDOM + "Hg6dF0sA2eR9q1w%3D"
BASIC = base64.b64encode(b"deploy:" + b"S3cr3tPa55").decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JWT = ".".join(
    [
        _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
        _b64url(json.dumps({"sub": "1234567890", "name": "Jane"}).encode()),
        _b64url(bytes(range(32))),
    ]
)


def _pem(label: str, *, body: bool = True) -> str:
    lines = [f"-----BEGIN {label}-----"]
    if body:
        lines += ["MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi", f"-----END {label}-----"]
    return "\n".join(lines)


TRUE_POSITIVES = [
    # (text, kind, line)
    ("Here is our key:\n" + _pem("RSA PRIVATE KEY"), "private key", 2),
    (_pem("OPENSSH PRIVATE KEY", body=False), "private key", 1),
    (_pem("EC PRIVATE KEY"), "private key", 1),
    ("pasted below\n\n" + _pem("PRIVATE KEY", body=False), "private key", 3),
    (_pem("ENCRYPTED PRIVATE KEY"), "private key", 1),
    (_pem("PGP PRIVATE KEY BLOCK", body=False), "private key", 1),
    ("GET /v1/me\nAuthorization: Bearer " + RANDOM, "bearer token", 2),
    (
        f"curl -H 'Authorization: Bearer {RANDOM}' https://api.example.com",
        "bearer token",
        1,
    ),
    (f"please call it with bearer {RANDOM} and tell me", "bearer token", 1),
    (f"Authorization: Basic {BASIC}", "basic auth password", 1),
    (f"The failing key is {AWS_KEY_ID} in eu-west-1", "AWS access key", 1),
    (f'aws_secret_access_key = "{AWS_SECRET}"', "AWS secret access key", 1),
    (f"the id_token was {JWT}", "JSON Web Token", 1),
    (f"GITHUB_TOKEN={GITHUB}", "GitHub token", 1),
    (f"token {GITHUB_PAT}", "GitHub token", 1),
    (f"webhook bot uses {SLACK}", "Slack token", 1),
    (f"stripe.api_key = '{STRIPE}'", "Stripe API key", 1),
    (f"test mode key {STRIPE_TEST}", "Stripe API key", 1),
    (f"maps key {GOOGLE}", "Google API key", 1),
    (f"SENDGRID={SENDGRID}", "SendGrid API key", 1),
    (f"//registry.npmjs.org/:_authToken={NPM}", "npm token", 1),
    (f"export OPENAI_API_KEY={OPENAI}", "OpenAI API key", 1),
    (f"client_secret={JANRAIN}", "client secret", 1),
    (
        f'{{"client_id": "{CLIENT_ID}", "client_secret": "{JANRAIN}"}}',
        "client secret",
        1,
    ),
    (
        f"oauth:\n  client_id: {CLIENT_ID}\n  client_secret: {JANRAIN}",
        "client secret",
        3,
    ),
    (f"apiKey: {RANDOM}", "API key", 1),
    (f'apiKey: "{RANDOM}"', "API key", 1),
    (f"api_key={RANDOM}", "API key", 1),
    (f"X-Api-Key: {RANDOM}", "API key", 1),
    (f"<apiKey>{RANDOM}</apiKey>", "API key", 1),
    (f"https://rpxnow.com/api/v2/auth_info?apiKey={JANRAIN}&format=json", "API key", 1),
    (f"run it as: tool --api-key {JANRAIN}", "API key", 1),
    ("secret: s3cr3tv4lu3", "secret assigned to a keyword", 1),
    (f"SECRET_KEY = '{RANDOM}'", "secret assigned to a keyword", 1),
    (f"secret_key_base: {CLIENT_ID}{JANRAIN}", "secret assigned to a keyword", 1),
    ("my password is hunter2", "password", 1),
    ("[db]\nhost = db.internal\npassword=hunter22", "password", 3),
    ("spring.datasource.password: Tr0ub4dor", "password", 1),
    ("Password: Summer2024!", "password", 1),
    (
        "git clone https://deploy:S3cr3tPa55@git.example.com/app.git",
        "password in a URL",
        1,
    ),
    (f"our client secret is {JANRAIN}, can you check?", "client secret", 1),
    (f"Registration API Client Secret: {JANRAIN}", "client secret", 1),
    (f"Social Login API Key - {JANRAIN}", "API key", 1),
    (f"API key: {JANRAIN}", "API key", 1),
    (f"The apikey {JANRAIN} stopped working today", "API key", 1),
    (f"The secret (production) is {JANRAIN}", "secret assigned to a keyword", 1),
    (
        f"https://app.example.com/cb#access_token={RANDOM}&token_type=bearer",
        "access token",
        1,
    ),
    (f"token={RANDOM}", "access token", 1),
    (
        "https://acct.blob.core.windows.net/logs/app.log?sv=2022-11-02&ss=b&srt=o"
        f"&sp=r&se=2026-01-01T00:00:00Z&spr=https&sig={SAS_SIG}",
        "Azure SAS signature",
        1,
    ),
    (
        "SharedAccessSignature sr=https%3a%2f%2fns.servicebus.windows.net"
        f"&sig={SAS_SIG}&se=1767225600&skn=RootManageSharedAccessKey",
        "Azure SAS signature",
        1,
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=acct;"
        f"AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
        "Azure storage key",
        1,
    ),
    (f"accountkey={AZURE_KEY}", "Azure storage key", 1),
    (
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root"
        f"ManageSharedAccessKey;SharedAccessKey={AZURE_KEY}",
        "shared access key",
        1,
    ),
    (
        f"Endpoint=https://x.service.signalr.net;AccessKey={AZURE_KEY};Version=1.0;",
        "shared access key",
        1,
    ),
    ("REDIS_URL=redis://:" + "p4ssw0rd1" + "@cache:6379/0", "password in a URL", 1),
    ("https://admin:" + "Summer2024!" + "@db.example.com/", "password in a URL", 1),
    (f"SLACK_USER_TOKEN={SLACK_USER}", "Slack token", 1),
    (f"socket mode uses {SLACK_APP}", "Slack token", 1),
    (f"refresh_with: {SLACK_REFRESH}", "Slack token", 1),
    (f"alerts post to {SLACK_HOOK}", "Slack webhook URL", 1),
    (f"the workflow at {SLACK_FLOW} fires twice", "Slack webhook URL", 1),
    (f"https://maps.example.com/embed?q=key%3D{GOOGLE}%26z%3D3", "Google API key", 1),
    (f'{{"text": "our key:\\n{GOOGLE}"}}', "Google API key", 1),
    (f"GOOGLE_CLIENT_SECRET={GOOGLE_SECRET}", "Google OAuth client secret", 1),
]

# A value on the line after its label, or wrapped over two lines.
MULTILINE_TRUE_POSITIVES = [
    # (text, kind, line)
    (f"client_secret=\n{JANRAIN}", "client secret", 2),
    (f"oauth:\n  client_secret:\n    {JANRAIN}\n  scope: openid", "client secret", 3),
    (f"Registration API Client Secret:\r\n{JANRAIN}\r\nThanks", "client secret", 2),
    (f'{{"client_secret":\n    "{JANRAIN}"}}', "client secret", 2),
    (f"api_key: >-\n  {RANDOM}", "API key", 2),
    ("[db]\npassword =\n    " + "Tr0ub4dor3", "password", 3),
    ("<password>\n  " + "Tr0ub4dor3" + "\n</password>", "password", 2),
    (f"Hi,\nour client secret is\n{JANRAIN}", "client secret", 3),
    (
        f"our client secret is {JANRAIN[:10]}\n{JANRAIN[10:]}, can you check?",
        "client secret",
        1,
    ),
    (f"pasted from the console: {GITHUB[:20]}\n{GITHUB[20:]}", "GitHub token", 1),
    (f"> maps key {GOOGLE[:20]}\n> {GOOGLE[20:]}\n\nThanks", "Google API key", 1),
    (f"Authorization: Bearer eyJ\r\n  {RANDOM}{RANDOM}", "bearer token", 1),
    (f"x\nSharedAccessKey={AZURE_KEY[:16]}\n{AZURE_KEY[16:]}", "shared access key", 2),
]

FALSE_POSITIVES = [
    "App ID: abcdefghijklmnopqrst",
    f"client_id={CLIENT_ID}",
    f"Client ID: {CLIENT_ID}",
    f"Affected App ID dkx9kf3m2n and client ID {CLIENT_ID} (production)",
    "request 123e4567-e89b-12d3-a456-426614174000 failed",
    f"https://login.example.com/oauth/authorize?client_id={CLIENT_ID}"
    "&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=token"
    "&scope=openid&state=af0ifjsldkj",
    "https://example.com/search?q=api+key&page=2&sort=desc",
    "Fixed in commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "2024-05-01T12:00:01.123Z INFO [req-id=4bf92f3577b34da6a3ce929d0e0e4736] "
    "GET /api/v1/users 200 12ms trace_id=00f067aa0ba902b7",
    "Traceback (most recent call last):\n"
    '  File "/srv/app/views.py", line 42, in login\n'
    '    token = request.headers.get("X-Token")\n'
    "KeyError: 'token'",
    "color: #ff00aa; background: #1e90ff;",
    # A small image pasted as a data: URI is not a credential: let it through.
    '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ'
    'AAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">',
    "Contact jane.doe@example.com or +1 (555) 010-9999",
    "Upgraded from 2.3.14 to 2.4.0-rc1",
    "Order #A-2024-000123 shipped",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "I rotated the API key yesterday",
    "where do I find my client secret?",
    "password reset e-mail not received",
    "Enter your API key in Settings > API keys",
    "Regenerate the client secret in the dashboard (Settings -> Clients)",
    "Error: invalid_client (client secret mismatch)",
    "The token expired after 3600 seconds",
    "Token refreshed for user 42",
    "Password must be at least 12 characters",
    "The secret is patience.",
    "The bearer of this letter is our new administrator",
    "Please do not under any circumstances add either Social Login API Key values "
    "or Registration API Client Secret values within this ticket.",
    "client_secret=<redacted>",
    "api_key=XXXXXXXX",
    "secret: ****",
    "password: ********",
    "API_KEY=${API_KEY}",
    'api_key = os.environ["API_KEY"]',
    'os.environ["API_KEY"]',
    'api_key: "YOUR_API_KEY"',
    "secret = process.env.CLIENT_SECRET",
    "const apiKey = config.apiKey;",
    'password = form.cleaned_data["password"]',
    "Authorization: Bearer <token>",
    "Authorization: Bearer YOUR_ACCESS_TOKEN",
    "https://user:<password>@git.example.com/app.git",
    "ssh git@github.com:example/app.git",
    "client_secret_expires_at=0",
    "max_tokens=4096",
    '"secret": true',
    "password=[FILTERED]",
    'Parameters: {"user"=>{"email"=>"a@b.com", "password"=>"[FILTERED]"}}',
    "TypeError: __init__() missing 1 required positional argument: 'api_key'",
    "DEBUG auth ok token=*** user=42",
    "def login(password: str, token: Optional[str] = None):",
    "the password is correct",
    "Password: nothing happens when I click Save",
    "token_type=bearer&expires_in=3600",
    '<input type="password" name="password" value="">',
    "csrftoken=" + RANDOM,
    "next_page_token=" + RANDOM,
    "private_key=/etc/ssl/private/server.key",
    _pem("CERTIFICATE"),
    _pem("PUBLIC KEY"),
    # Lines after an empty label that are the next label, a word or a sentence.
    "oauth:\n  token:\n    description: The API token\n    value: ${TOKEN}",
    "secret:\n  name: my-secret\n  key: password",
    "[db]\npassword =\nhost = db2.internal",
    "password=\nhost2=db2",
    "Password:\nforgotten",
    "Client secret:\nRegenerated it yesterday in the dashboard",
    "X-Api-Key:\nContent-Type: application/json",
    "class RSAPrivateKey(metaclass=abc.ABCMeta):\n    @abc.abstractmethod",
    # Line breaks between words or IDs are not wrapped tokens.
    "first_token = token\nwhile token:\n    ptidx, ptoken = next_token(tlist)",
    "has_secret = False\nfor lines in files:",
    "self.password = password\nif choices is not None:",
    "I rotated the API key\nyesterday and the secret\nis now in the vault",
    "10:00:01 INFO token refreshed for user 42\n10:00:02 INFO 3 sessions",
    "AWS\nABOGADO\nABUDHABI\nACADEMY\nACCENTURE\nACCOUNTANT\nACCOUNTANTS\nACTOR",
    "request 123e4567-e89b-12d3-\na456-426614174000 failed",
    "commit 9fceb02d0ae598e95dc9\n70b74767f19372d61af8",
    "App ID: abcdefghijklmnopqrst\nClient ID: " + CLIENT_ID,
    # Signed URLs that are not SAS tokens, and credentials that are placeholders.
    "https://www.googleadservices.com/pagead/aclk?sa=L&ai=DChcSEwi&sig=AOD64_"
    + JANRAIN
    + "&adurl=",
    "https://acct.blob.core.windows.net/c?sv=2022-11-02&se=2026-01-01&sig=<signature>",
    "AccountKey=<your-key>;EndpointSuffix=core.windows.net",
    "https://{user}:{password}@git.example.com/app.git",
    "https://user:<password>@git.acme.io/app.git",
    "postgres://${DB_USER}:${DB_PASSWORD}@db/app",
    "redis://:pw@cache:6379",
    "http://localhost:8080/admin and mail admin@example.com",
    "https://hooks.slack.com/" + "services/T00000000/B00000000/" + "X" * 24,
]


def _secret_part(masked: str) -> str:
    return masked.rstrip(BULLET)


@pytest.mark.parametrize(("text", "kind", "line"), TRUE_POSITIVES)
def test_credentials_are_found_with_kind_and_line(text, kind, line):
    findings = find_secrets(text)

    assert [(f.kind, f.line) for f in findings] == [(kind, line)]
    assert len(findings[0].masked) <= 12
    assert len(_secret_part(findings[0].masked)) <= 4


@pytest.mark.parametrize(("text", "kind", "line"), MULTILINE_TRUE_POSITIVES)
def test_values_on_the_next_line_or_wrapped_are_found(text, kind, line):
    findings = find_secrets(text)

    assert [(f.kind, f.line) for f in findings] == [(kind, line)]
    assert "\n" not in findings[0].masked
    assert len(_secret_part(findings[0].masked)) <= 4


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_ordinary_ticket_text_passes(text):
    assert find_secrets(text) == []


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_ordinary_ticket_text_passes_when_wrapped_or_quoted(text):
    wrapped = "\n".join(
        "\n".join(textwrap.wrap(line, width=30, break_on_hyphens=False))
        for line in text.split("\n")
    )
    quoted = "> " + text.replace("\n", "\n> ")

    assert find_secrets(wrapped) == []
    assert find_secrets(quoted) == []


def test_corpora_are_big_enough():
    assert len(TRUE_POSITIVES) >= 30
    assert len(FALSE_POSITIVES) >= 40


def test_masked_shows_at_most_four_characters_then_bullets():
    (finding,) = find_secrets(f"client_secret={JANRAIN}")

    assert finding == Finding("client secret", 1, JANRAIN[:4] + BULLET * 8)


def test_short_passwords_show_fewer_characters():
    (finding,) = find_secrets("password=hunter2")

    assert finding.masked == "hu" + BULLET * 5


def test_overlapping_rules_report_a_value_once():
    findings = find_secrets(f"Authorization: Bearer {JWT}\naccess_token={GITHUB}")

    assert [(f.kind, f.line) for f in findings] == [
        ("JSON Web Token", 1),
        ("GitHub token", 2),
    ]


def test_findings_come_in_reading_order():
    text = f"api_key={RANDOM}\nnothing here\npassword=hunter22 token={GITHUB}"

    findings = find_secrets(text)

    assert [(f.kind, f.line) for f in findings] == [
        ("API key", 1),
        ("password", 3),
        ("GitHub token", 3),
    ]


def test_explain_names_kind_line_and_masked_value_but_never_the_secret():
    findings = find_secrets(f"Hello,\nour client secret is {JANRAIN}\nThanks")

    message = explain(findings)

    assert "a client secret on line 2" in message
    assert JANRAIN[:4] + BULLET in message
    assert JANRAIN not in message
    assert JANRAIN[:5] not in message


def test_explain_says_why_and_what_to_do_instead():
    message = explain(find_secrets(f"API key: {JANRAIN}"), where="the description")

    assert message.startswith("The description contains what looks like an API key")
    assert "stored with the ticket and sent by e-mail" in message
    assert "will never ask you for them" in message
    assert "<redacted>" in message
    assert "rotate the credential" in message


def test_explain_lists_five_findings_and_counts_the_rest():
    text = "\n".join(f"password=hunter{n:02d}" for n in range(8))

    message = explain(find_secrets(text))

    assert message.count("a password on line") == 5
    assert "and 3 more." in message
    assert "hunter0" not in message


def test_explain_of_nothing_is_empty():
    assert explain([]) == ""


def test_validator_raises_validation_error_with_code_secret():
    with pytest.raises(ValidationError) as excinfo:
        validate_no_secrets(f"Steps to reproduce:\n1. call with api_key={RANDOM}")

    assert excinfo.value.code == "secret"
    assert "an API key on line 2" in excinfo.value.messages[0]
    assert RANDOM not in excinfo.value.messages[0]


@pytest.mark.parametrize("value", ["", "Login fails for App ID abcdefghijklmnop"])
def test_validator_accepts_clean_text(value):
    assert validate_no_secrets(value) is None


def test_validator_refuses_a_form_field():
    class ReplyForm(forms.Form):
        body = forms.CharField(validators=[validate_no_secrets])

    form = ReplyForm(data={"body": f"token: {GITHUB}"})

    assert not form.is_valid()
    assert form.errors.as_data()["body"][0].code == "secret"
    assert GITHUB not in str(form.errors)


def _log_lines(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        f"2024-05-01T12:{n % 60:02d}:{n % 59:02d}.123Z INFO [req-id="
        f"{rng.getrandbits(128):032x}] GET /api/v1/users?page={n}&client_id="
        f"{CLIENT_ID} 200 {rng.randint(1, 900)}ms trace_id={rng.getrandbits(64):016x}"
        for n in range(count)
    ]


def test_scan_bytes_reports_the_line_of_a_secret_in_a_log():
    lines = _log_lines(500)
    lines[136] += f" Authorization: Bearer {RANDOM}"

    findings = scan_bytes("\r\n".join(lines).encode(), filename="app.log")

    assert [(f.kind, f.line) for f in findings] == [("bearer token", 137)]


def test_scan_bytes_survives_invalid_utf8():
    data = b"caf\xe9 ok\n\xff\xfeclient_secret=" + JANRAIN.encode()

    assert [(f.kind, f.line) for f in scan_bytes(data)] == [("client secret", 2)]


def test_scan_bytes_reads_only_the_first_two_megabytes():
    padding = b"x" * MAX_SCAN_BYTES + b"\n"

    assert scan_bytes(padding + f"api_key={RANDOM}".encode()) == []
    assert scan_bytes(f"api_key={RANDOM}\n".encode() + padding) != []


def test_a_two_megabyte_log_reports_each_secret_with_its_kind():
    lines = _log_lines(14_000)
    lines[9_999] += f" password=hunter22 key={AWS_KEY_ID}"
    data = "\n".join(lines).encode()
    assert len(data) > 2_000_000

    findings = scan_bytes(data)

    assert [(f.kind, f.line) for f in findings] == [
        ("password", 10_000),
        ("AWS access key", 10_000),
    ]


# --- linear time, by comparing two sizes in one run ---------------------------------
# Never a wall-clock limit: machines are shared. A linear scan of 4x the text costs
# about 4x the CPU time, a quadratic one 16x; the best of three runs is the least
# disturbed. Speed goals belong in bench/.

SMALL_TEXT = 32 * 1024
# Repeated fragments that make a backtracking pattern quadratic: each rule's anchor,
# labels with empty values, and line breaks that may wrap a value.
ADVERSARIAL = [
    "eyJ",
    "sk-",
    "secret=",
    "secret ",
    "Authorization: ",
    "bearer ",
    "a",
    "://a:b",
    "://:a",
    "client_secret=\n",
    "password:\n",
    "token is\n",
    "a\n",
    "ab\n> ",
    "?sv=1&sig=",
    "AccountKey=",
    "xapp-1-",
    "hooks.slack.com/services/",
    "%3DAIza",
]


def _cpu_seconds(text: str) -> float:
    """Return the least CPU time (not wall-clock time) of three scans of `text`."""
    best = math.inf
    for _ in range(3):
        started = time.process_time()
        find_secrets(text)
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("chunk", ADVERSARIAL)
def test_adversarial_repetition_scans_in_linear_time(chunk):
    small, large = (
        chunk * (size // len(chunk)) for size in (SMALL_TEXT, 4 * SMALL_TEXT)
    )

    assert _cpu_seconds(large) < 12 * _cpu_seconds(small)


def test_a_log_scans_in_linear_time():
    small, large = ("\n".join(_log_lines(count)) for count in (150, 600))

    assert _cpu_seconds(large) < 12 * _cpu_seconds(small)


# --- PDF attachments --------------------------------------------------------------


def _pdf(*pages: str, compress: bool = True) -> bytes:
    """Return a PDF whose pages show `pages`, a line of Helvetica per text line."""

    def literal(line: str) -> str:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"({escaped}) Tj"

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for text in pages:
        shown = " T* ".join(map(literal, text.split("\n")))
        content = f"BT /F1 10 Tf 12 TL 72 720 Td {shown} ET".encode("latin-1")
        flate = b""
        if compress:
            content, flate = zlib.compress(content), b" /Filter /FlateDecode"
        objects.append(
            b"<< /Length %d%s >>\nstream\n%s\nendstream"
            % (len(content), flate, content)
        )
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            b"<< /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % len(objects)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _locked(data: bytes, *, user_password: str, algorithm: str = "AES-256") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(
        user_password=user_password, owner_password="owner", algorithm=algorithm
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_upload(data: bytes, name: str = "setup.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


PDF_PAGE = "Steps to reproduce\nApp ID: abcdefghijklmnopqrst\nClient ID: " + CLIENT_ID


def test_a_clean_pdf_is_accepted():
    checked = check_upload(_pdf_upload(_pdf(PDF_PAGE, PDF_PAGE)))

    assert checked.content_type == "application/pdf"


def test_a_pdf_is_refused_with_the_page_and_line_of_its_secret():
    data = _pdf(PDF_PAGE, f"Our settings\nclient_secret={JANRAIN}")

    with pytest.raises(ValidationError) as excinfo:
        check_upload(_pdf_upload(data))

    [error] = excinfo.value.error_list
    assert error.code == "secret"
    assert error.message.startswith(
        "Page 2 of setup.pdf contains what looks like a client secret on line 2"
    )
    assert JANRAIN[:5] not in error.message


def test_a_pdf_is_read_up_to_its_page_and_character_limits():
    pages = [f"page {n}" for n in range(1, pdf_text.MAX_PAGES + 2)]
    data = _pdf(*pages)

    assert pdf_text.extract_pages(data) == pages[: pdf_text.MAX_PAGES]
    assert pdf_text.extract_pages(data, max_pages=2, max_chars=10) == ["page 1", "page"]
    # Past the limit nothing is read, so nothing is refused.
    late = _pdf(*pages[: pdf_text.MAX_PAGES], f"client_secret={JANRAIN}")
    assert check_upload(_pdf_upload(late)).content_type == "application/pdf"


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_a_pdf_that_only_restricts_copying_or_printing_is_still_read(algorithm):
    data = _locked(_pdf(f"api_key={RANDOM}"), user_password="", algorithm=algorithm)

    with pytest.raises(ValidationError) as excinfo:
        check_upload(_pdf_upload(data))

    assert [e.code for e in excinfo.value.error_list] == ["secret"]


def test_a_pdf_that_needs_a_password_is_refused_because_it_cannot_be_checked():
    data = _locked(_pdf(PDF_PAGE), user_password="open sesame")

    with pytest.raises(pdf_text.PdfLockedError):
        pdf_text.extract_pages(data)
    with pytest.raises(ValidationError) as excinfo:
        check_upload(_pdf_upload(data))

    assert excinfo.value.code == "encrypted"
    assert "setup.pdf is protected by a password" in excinfo.value.messages[0]


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",  # no xref, no trailer
        _pdf(PDF_PAGE)[:150],  # cut short
        _pdf(PDF_PAGE).replace(b"/Kids [5 0 R]", b"/Kids [2 0 R]"),  # a cycle
        b"%PDF-1.7\n" + bytes(range(256)) * 8,  # garbage
    ],
)
def test_a_malformed_pdf_does_not_crash_and_is_accepted_without_a_secret(data):
    with pytest.raises(pdf_text.PdfUnreadableError):
        pdf_text.extract_pages(data)

    assert check_upload(_pdf_upload(data)).content_type == "application/pdf"


def test_a_pdf_that_cannot_be_opened_is_scanned_as_raw_bytes():
    data = _pdf(f"client_secret={JANRAIN}", compress=False)
    broken = data[: data.index(b"xref")]

    with pytest.raises(ValidationError) as excinfo:
        check_upload(_pdf_upload(broken, "broken.pdf"))

    [error] = excinfo.value.error_list
    assert error.code == "secret"
    assert "a client secret on line" in error.message


def test_a_page_whose_text_cannot_be_read_does_not_hide_the_others(monkeypatch, caplog):
    extract_text = PageObject.extract_text
    seen = []

    def fails_once(page, *args, **kwargs):
        seen.append(page)
        if len(seen) == 1:
            raise ValueError("bad content stream")
        return extract_text(page, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", fails_once)
    # A Celery worker started earlier in the run reconfigures logging and disables
    # loggers that existed then; this test reads this one's records.
    monkeypatch.setattr(pdf_text.logger, "disabled", False)
    caplog.set_level(logging.WARNING, logger=pdf_text.logger.name)

    assert pdf_text.extract_pages(_pdf("one", "two")) == ["", "two"]
    assert "PDF page 1" in caplog.text


# --- the services that take free text and attachments ---------------------------

PT = ZoneInfo("America/Los_Angeles")


def test_secret_errors_name_only_the_fields_that_carry_one():
    errors = secret_errors({"title": "Sync", "location": f"api_key={RANDOM}"})

    assert list(errors) == ["location"]
    assert "an API key on line 1" in errors["location"][0]


def _leaky(text: str) -> str:
    return f"{text} (config: client_secret={JANRAIN})"


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["reason", "customer_contact"])
def test_a_severity_change_that_carries_a_secret_changes_nothing(field):
    admin = administrator("janrain-platinum")
    plan = admin.organization.support_plan
    ticket = file_ticket(
        admin, severity=plan.severities.get(level=2), customer_contact="Ada"
    )
    agent = AgentFactory(role="Support Engineer")
    values = {"reason": "The customer has a workaround.", "customer_contact": "Bo"}
    emails = OutboundEmail.objects.count()

    def change(**fields):
        return severity.request_severity_change(
            ticket,
            plan.severities.get(level=3),
            actor=agent,
            expected=ticket.severity,
            **fields,
        )

    with pytest.raises(ValidationError) as excinfo:
        change(**values | {field: _leaky(values[field])})

    assert "a client secret on line 1" in excinfo.value.message_dict[field][0]
    assert JANRAIN not in str(excinfo.value)
    ticket.refresh_from_db()
    assert (ticket.severity.level, ticket.customer_contact) == (2, "Ada")
    assert not SeverityChange.objects.exists()
    assert OutboundEmail.objects.count() == emails
    assert change(**values).to_severity.level == 3


def _jumpcloud_ticket():
    admin = administrator("jumpcloud")
    plan = admin.organization.support_plan
    return file_ticket(admin, severity=plan.severities.get(level=3))


@pytest.mark.django_db
def test_an_escalation_reason_that_carries_a_secret_alerts_nobody():
    ticket = _jumpcloud_ticket()
    AgentFactory(role="Support Manager")
    emails = OutboundEmail.objects.count()

    with pytest.raises(ValidationError) as excinfo:
        escalations.request_escalation(
            ticket, actor=ticket.requester, reason=_leaky("No update for two days.")
        )

    assert "a client secret" in excinfo.value.message_dict["reason"][0]
    ticket.refresh_from_db()
    assert not ticket.is_escalated
    assert not Escalation.objects.exists()
    assert OutboundEmail.objects.count() == emails


@pytest.mark.django_db
def test_a_de_escalation_note_that_carries_a_secret_is_not_recorded():
    ticket = _jumpcloud_ticket()
    escalation = escalations.request_escalation(
        ticket, actor=ticket.requester, reason="No update for two days."
    )
    engineer = AgentFactory(role="Escalation Engineer")

    with pytest.raises(ValidationError) as excinfo:
        escalations.record_check(
            escalation, "action_plan", actor=engineer, note=_leaky("Fix Friday.")
        )

    assert "a client secret" in excinfo.value.message_dict["note"][0]
    escalation.refresh_from_db()
    assert escalation.action_plan_confirmed_at is None
    assert escalation.action_plan_note == ""
    escalations.record_check(
        escalation, "action_plan", actor=engineer, note="Fix Friday."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["title", "location"])
def test_a_meeting_whose_title_or_location_carries_a_secret_is_not_booked(field):
    signed = contract(term_months=12, hours_per_month=20)
    values = {"title": "Architecture review", "location": "Room 4"}

    def ask(**fields):
        return tam_services.request_meeting(
            signed,
            mode=Meeting.Mode.REMOTE,
            starts_at=datetime(2027, 11, 26, 9, tzinfo=PT),
            duration_minutes=60,
            requested_by=UserFactory(),
            now=datetime(2027, 11, 23, 10, tzinfo=PT),
            **fields,
        )

    with pytest.raises(ValidationError) as excinfo:
        ask(**values | {field: _leaky(values[field])})

    assert "a client secret" in excinfo.value.message_dict[field][0]
    assert not signed.meetings.filter(kind=Meeting.Kind.REQUESTED).exists()
    assert ask(**values).title == "Architecture review"


@pytest.mark.django_db
def test_a_ticket_with_a_pdf_that_carries_a_secret_is_not_filed():
    admin = administrator()
    upload = _pdf_upload(_pdf(PDF_PAGE, f"client_secret={JANRAIN}"))

    with pytest.raises(ValidationError) as excinfo:
        file_ticket(admin, uploads=[upload])

    [message] = excinfo.value.message_dict["attachments"]
    assert message.startswith("Page 2 of setup.pdf contains what looks like")
    assert not admin.organization.tickets.exists()
