"""The secrets guard: what it refuses, what it lets through, and how it says so.

No database: the guard is a pure module. Credential-shaped values are assembled from
pieces so that secret scanners run on this repository do not flag the test corpus.
"""

import base64
import json
import random
import time

import pytest
from django import forms
from django.core.exceptions import ValidationError

from helpdesk.secrets_guard import (
    MAX_SCAN_BYTES,
    Finding,
    explain,
    find_secrets,
    scan_bytes,
    validate_no_secrets,
)

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
]


def _secret_part(masked: str) -> str:
    return masked.rstrip(BULLET)


@pytest.mark.parametrize(("text", "kind", "line"), TRUE_POSITIVES)
def test_credentials_are_found_with_kind_and_line(text, kind, line):
    findings = find_secrets(text)

    assert [(f.kind, f.line) for f in findings] == [(kind, line)]
    assert len(findings[0].masked) <= 12
    assert len(_secret_part(findings[0].masked)) <= 4


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_ordinary_ticket_text_passes(text):
    assert find_secrets(text) == []


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


def test_a_two_megabyte_log_scans_in_well_under_a_second():
    lines = _log_lines(14_000)
    lines[9_999] += f" password=hunter22 key={AWS_KEY_ID}"
    data = "\n".join(lines).encode()
    assert len(data) > 2_000_000

    started = time.perf_counter()
    findings = scan_bytes(data)
    elapsed = time.perf_counter() - started

    assert [f.kind for f in findings] == ["password", "AWS access key"]
    assert elapsed < 2.0


@pytest.mark.parametrize(
    "chunk",
    ["eyJ", "sk-", "secret=", "secret ", "Authorization: ", "bearer ", "a", "://a:b"],
)
def test_adversarial_repetition_stays_linear(chunk):
    text = chunk * (MAX_SCAN_BYTES // len(chunk))

    started = time.perf_counter()
    find_secrets(text)

    assert time.perf_counter() - started < 2.0
