"""Refuse ticket text that carries credentials (SPEC §4, "Secrets guard").

Ticket summaries, descriptions, replies and text attachments are stored and e-mailed
to everyone following the ticket, so they must never carry an API key, a client
secret, a private key or a bearer token. Support already has these values and will
never ask for them (the Janrain support procedures say so in as many words).

This module only detects and explains; callers refuse the input before anything is
stored or sent. It is pure: no ORM, no settings, no I/O.

Detection, in order of precedence when two rules hit the same characters:

1. detect-secrets' provider plugins (private key headers, AWS, GitHub, GitLab, Slack,
   Stripe, SendGrid, Discord, Square, Azure, PyPI), plus our own patterns for JWTs
   (checked with detect-secrets' JWT validator) and token prefixes the plugins miss
   (``github_pat_``, ``AIza``, ``sk_test_``, ``sk-`` OpenAI keys, ``npm_``, any
   ``BEGIN ... PRIVATE KEY``, even with nothing after the BEGIN line).
2. ``Authorization:`` header values, ``bearer <long token>`` in prose, and
   ``scheme://user:password@host`` URLs (detect-secrets' basic-auth plugin).
   Placeholders (``<token>``, ``YOUR_ACCESS_TOKEN``, ``xxxx``) pass.
3. A keyword (client secret, API key, secret, password, token, private key) followed
   by a value. After ``=``, ``:=``, ``=>``, a JSON/YAML/XML key or a header, any
   value counts unless it is a placeholder (``<redacted>``, ``XXXX``, ``${API_KEY}``,
   ``os.environ[...]``, ``true``), a URL, a path or an e-mail address. In prose ("our
   client secret is ...", "API key - ...") only a value that looks generated does:
   letters and digits, long enough, not too repetitive (Shannon entropy).

Every rule is a bounded or lookbehind-anchored regular expression, so a scan is
linear in the length of the text. IDs are never flagged on their own: a value counts
only when its shape (a provider prefix) or its label says it is a credential, which
is what lets App IDs, client IDs, UUIDs, commit SHAs and trace ids through.
"""

from __future__ import annotations

import math
import re
import string
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from django.core.exceptions import ValidationError

__all__ = [
    "MAX_SCAN_BYTES",
    "Finding",
    "explain",
    "find_secrets",
    "scan_bytes",
    "validate_no_secrets",
]

MAX_SCAN_BYTES = 2 * 1024 * 1024
"""scan_bytes() reads at most this much of an attachment."""

_BULLET = "\u2022"
_MAX_LISTED = 5  # findings spelled out by explain(); the rest are counted


@dataclass(frozen=True)
class Finding:
    """One credential-looking value: what it seems to be, where, and a safe hint."""

    kind: str
    line: int
    masked: str


# --- rule tables --------------------------------------------------------------------

# Precedence when two rules cover the same characters: lower wins.
_SPECIFIC, _HEADER, _KEYWORD = 0, 1, 2

# Plugins whose every pattern is anchored on a literal or bounded, hence linear, and
# which do not fire on IDs. Left out on purpose:
# - Keyword and HighEntropyString: they need detect-secrets' settings and filters and
#   flag IDs; rule 3 replaces them.
# - Twilio: its AC.../SK... values are account and key *IDs*.
# - Telegram ("timestamp:id" log fields), Artifactory (words like "APAC..."),
#   IBM, Softlayer, Cloudant (keyword rules overlapping ours), IP addresses.
# - npm, OpenAI and JWT: their patterns backtrack quadratically on long runs
#   ("//.+/", "sk-[...]*[...]{20}", "eyJ[...]+"); anchored patterns below replace them.
# - Mailchimp: its pattern starts with a character class, the slowest scan of all,
#   for a key a helpdesk customer is unlikely to hold.
_PLUGINS: tuple[tuple[RegexBasedDetector, str], ...] = (
    (PrivateKeyDetector(), "private key"),
    (AWSKeyDetector(), "AWS access key"),
    (GitHubTokenDetector(), "GitHub token"),
    (GitLabTokenDetector(), "GitLab token"),
    (SlackDetector(), "Slack token"),
    (StripeDetector(), "Stripe API key"),
    (SendGridDetector(), "SendGrid API key"),
    (DiscordBotTokenDetector(), "Discord bot token"),
    (SquareOAuthDetector(), "Square OAuth secret"),
    (AzureStorageKeyDetector(), "Azure storage key"),
    (PypiTokenDetector(), "PyPI token"),
)
_URL_PASSWORD = BasicAuthDetector()
_AWS_KEY_ID = AWSKeyDetector.denylist[0]
_TOKEN_RUN = re.compile(r"[\w-]{1,1024}")

# Our own token shapes. Each starts with a literal, so the regex engine skips ahead
# to it, and re-checks the character before it with a nested lookbehind, so a match
# can only start where a token starts: "eyJeyJeyJ..." is tried once, not at every
# "eyJ", which keeps a scan linear.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY"), "private key"),
    (
        re.compile(r"github_pat_(?<=(?<![\w-])github_pat_)[A-Za-z0-9_]{22,255}"),
        "GitHub token",
    ),
    (
        re.compile(r"AIza(?<=(?<![\w-])AIza)[0-9A-Za-z_-]{35}(?![\w-])"),
        "Google API key",
    ),
    (
        re.compile(r"k_test_(?<=(?<![\w-])[sr]k_test_)[0-9A-Za-z]{24,247}"),
        "Stripe API key",
    ),
    (re.compile(r"npm_(?<=(?<![\w-])npm_)[A-Za-z0-9]{36}(?![\w-])"), "npm token"),
)
_OPENAI = re.compile(
    r"sk-(?<=(?<![\w-])sk-)(?:proj-|svcacct-|admin-)?[\w-]{32,256}", re.ASCII
)
# Header and payload are base64url JSON objects ("eyJ" is '{"').
_JWT = re.compile(
    r"eyJ(?<=(?<![\w-])eyJ)[\w-]{4,8192}={0,2}\.eyJ[\w-]{0,8192}={0,2}"
    r"(?:\.[\w-]{0,8192}={0,2})?",
    re.ASCII,
)
# Matched after "authorization" / "bearer", found in the lower-cased text.
_AUTH_HEADER = re.compile(
    r"[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?:(?P<scheme>(?i:bearer|token|basic|apikey|sso-key))[ \t]+)?"
    r"(?P<val>[A-Za-z0-9._~+/-]{8,4096}=*)"
)
_BEARER = re.compile(r"[ \t]+(?P<val>[A-Za-z0-9._~+/-]{16,4096}=*)")
_ANCHORS = (
    (re.compile("authorization"), _AUTH_HEADER, 8),
    (re.compile("bearer"), _BEARER, 16),
)

# A keyword that labels a credential; the label may be a longer identifier
# (``spring.datasource.password``, ``x-api-key``), found by walking back from here.
# Searched in the lower-cased text: case-insensitive alternations are slow.
_KEYWORD_RE = re.compile(
    r"(?:client[_. -]?secret|secret[_. -]?(?:access[_. -]?)?key(?:_base)?"
    r"|private[_. -]?key"
    r"|api[_. -]?(?:key|secret|token)|apikey|pass(?:word|wd|phrase)|secret|token)"
    r"(?![a-z0-9_-])"
)
_KEY_CHARS = frozenset(string.ascii_letters + string.digits + "_.-")
_AFTER_KEY = re.compile(
    r"""(?P<kq>["'`]?)\]?                       # the key's closing quote or bracket
    (?:[ \t]*\([^()\n]{0,40}\))?                # "(production)"
    (?:
        [ \t]*(?P<op>:=|=>|=|:|>)[ \t]*         # assignment, JSON/YAML key, header
      | [ \t]+(?:(?P<verb>is|was|are|equals)\b[ \t]*:?[ \t]*     # prose: "is",
               | [-\u2013\u2014][ \t]+)?                      # "API key - ..."
    )
    (?P<val>"[^"\n]{1,256}"|'[^'\n]{1,256}'|`[^`\n]{1,256}`|[^\s"'`,;&<>]{1,256})
    """,
    re.VERBOSE | re.IGNORECASE,
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_IDENTIFIER_KEY = re.compile(r"[_.\-]|[a-z][A-Z]")  # api_key, x-api-key, apiKey
_REST_OF_LINE_BLANK = re.compile(r"[ \t]*[,;]?[ \t]*\r?(?:\n|\Z)")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# Labels ending in "token" that name something public (paging, CSRF, push devices).
_PUBLIC_TOKENS = (
    "csrftoken",
    "xsrftoken",
    "csrfmiddlewaretoken",
    "pagetoken",
    "nexttoken",
    "continuationtoken",
    "synctoken",
    "cursortoken",
    "paginationtoken",
    "resumetoken",
    "idempotencytoken",
)

# Whole values that stand for "no value here", not a credential.
_PLACEHOLDER_TEXT = """
    none null nil undefined true false yes no on off empty blank required optional
    string str bytes int bool secret secrets password passwd pass token apikey
    api_key key value changeme example sample dummy test testing default invalid
    expired missing unknown revoked rotated set unset present provided omitted
    enabled disabled n/a na tbd todo redacted removed hidden masked
"""
_PLACEHOLDER_WORDS = frozenset(_PLACEHOLDER_TEXT.split())
_PLACEHOLDER_PARTS = (
    "redacted",
    "removed",
    "placeholder",
    "your_",
    "your-",
    "yourapi",
    "yoursecret",
    "yourtoken",
    "example",
    "changeme",
    "xxxx",
    "****",
    "...",
    "\u2026",
    _BULLET,
)
_PLACEHOLDER_PART = re.compile("|".join(map(re.escape, _PLACEHOLDER_PARTS)))
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_MASK_ONLY = re.compile(r"[xX*#._\-\u2022\u2026]+")
# ${VAR}, {{ var }}, %(var)s, <token>, [FILTERED], YAML !tags and *aliases, ****1234.
_TEMPLATE_START = ("$", "{{", "{%", "%(", "<", "[", "!", "*")
_CODE_REFERENCE = re.compile(
    r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*[(\[].*"  # os.environ[...], getenv(...)
    r"|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+"  # settings.API_KEY, process.env.TOKEN
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"  # API_KEY (an environment variable's name)
    r"|%\w+%"  # %API_KEY% (Windows)
    r"|[a-z_][a-z]*(?:_[a-z]+|[A-Z][a-z]*)+",  # user_input, apiKey (code variables)
    re.DOTALL,
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


# --- value tests --------------------------------------------------------------------


def _entropy(value: str) -> float:
    """Return the Shannon entropy of `value` in bits per character ("aaaa" -> 0.0)."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _is_placeholder(value: str, *, may_be_code: bool = True) -> bool:
    """Return whether `value` is a stand-in rather than a credential.

    ``<redacted>``, ``XXXXXXXX``, ``****``, ``${API_KEY}``, ``os.environ["API_KEY"]``,
    ``YOUR_API_KEY``, ``true``, ``None``. Without `may_be_code`, for values whose
    provider shape is already known, "a.b.c" is not read as attribute access.
    """
    lowered = value.lower()
    return (
        not value
        or lowered in _PLACEHOLDER_WORDS
        or value.startswith(_TEMPLATE_START)
        or _PLACEHOLDER_PART.search(lowered) is not None
        or _MASK_ONLY.fullmatch(value) is not None
        or (may_be_code and _CODE_REFERENCE.fullmatch(value) is not None)
    )


def _is_not_a_secret(value: str) -> bool:
    """Return whether a labelled value is a URL, a path or an e-mail address."""
    return (
        "://" in value
        or value.startswith(("/", "~/", "./", "../"))
        or re.match(r"[A-Za-z]:\\", value) is not None
        or ("@" in value and _EMAIL.fullmatch(value) is not None)
    )


def _looks_random(value: str, min_length: int) -> bool:
    """Return whether a value met in prose has the shape of a generated credential."""
    return (
        len(value) >= min_length
        and _DIGIT.search(value) is not None
        and _LETTER.search(value) is not None
        and _entropy(value) >= 2.5
    )


def _mask(value: str) -> str:
    """Return a hint to find `value` by: "3kz9abcdef..." -> "3kz9••••••••".

    At most 4 characters show, fewer for short values, so that a short password is
    not half given away; at most 8 bullets follow.
    """
    shown = min(4, len(value) // 3)
    return value[:shown] + _BULLET * min(max(len(value) - shown, 1), 8)


# --- scanning -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    precedence: int
    kind: str
    value: str


def _keyword_kind(key: str) -> str | None:
    normal = _NOT_ALNUM.sub("", key.lower())
    if normal.endswith("clientsecret"):
        return "client secret"
    if normal.endswith(("apikey", "apisecret")):
        return "API key"
    if normal.endswith(("password", "passwd", "passphrase")):
        return "password"
    if normal.endswith("privatekey"):
        return "private key"
    if normal.endswith("token"):
        return None if normal.endswith(_PUBLIC_TOKENS) else "access token"
    return "secret assigned to a keyword"


def _keyword_hits(text: str, lowered: str) -> Iterator[_Hit]:
    """Yield values labelled by a credential keyword (rule 3 of the module doc)."""
    flagged_until = 0
    for keyword in _KEYWORD_RE.finditer(lowered):
        start = keyword.start()
        if start < flagged_until:
            continue  # inside a value already flagged ("token: api_key=...")
        floor = max(0, start - 64)
        while start > floor and text[start - 1] in _KEY_CHARS:
            start -= 1
        before = text[start - 1] if start else ""
        if before in ("$", "{", "%"):
            continue  # $API_KEY, ${API_KEY}, %API_KEY%: a reference, not a label
        after = _AFTER_KEY.match(text, keyword.end())
        if after is None:
            continue
        key_quote, op, raw = after["kq"], after["op"], after["val"]
        if (key_quote and before != key_quote) or (op == ">" and before != "<"):
            continue
        is_quoted = raw[0] in "\"'`"
        value = raw[1:-1].strip() if is_quoted else raw.rstrip(".,:;!?)]}")
        if not value or _is_placeholder(value) or _is_not_a_secret(value):
            continue
        key = text[start : keyword.end()]
        kind = _keyword_kind(key)
        if kind is None:
            continue
        is_config = op in ("=", ":=", "=>", ">") or (
            op == ":"
            and (
                bool(key_quote)
                or is_quoted
                or _IDENTIFIER_KEY.search(key) is not None
                or key.isupper()
                or _REST_OF_LINE_BLANK.match(text, after.end()) is not None
            )
        )
        is_password = kind == "password"
        if is_config:
            if len(value) < (4 if is_password else 6):
                continue
            if not is_password and value.isdigit() and len(value) < 16:
                continue
        elif not _looks_random(value, 6 if is_password else 12):
            continue
        value_start = after.start("val") + (1 if is_quoted else 0)
        flagged_until = value_start + len(value)
        yield _Hit(value_start, flagged_until, _KEYWORD, kind, value)


def _pattern_hits(text: str, lowered: str) -> Iterator[_Hit]:
    """Yield our own patterns: token prefixes, JWTs, Authorization, bearer."""
    for pattern, kind in _PATTERNS:
        for match in pattern.finditer(text):
            yield _Hit(match.start(), match.end(), _SPECIFIC, kind, match[0])
    for match in _OPENAI.finditer(text):
        token = match[0]
        if (
            any(c.isupper() for c in token)
            and any(c.islower() for c in token)
            and any(c.isdigit() for c in token)
        ):
            yield _Hit(match.start(), match.end(), _SPECIFIC, "OpenAI API key", token)
    for match in _JWT.finditer(text):
        if JwtTokenDetector.is_formally_valid(match[0]):
            yield _Hit(
                match.start(), match.end(), _SPECIFIC, "JSON Web Token", match[0]
            )
    for anchor, rest, min_length in _ANCHORS:
        for word in anchor.finditer(lowered):
            if word.start() and text[word.start() - 1].isalnum():
                continue
            match = rest.match(text, word.end())
            if match is None:
                continue
            value, scheme = match["val"], (match.groupdict().get("scheme") or "")
            if _is_placeholder(value):
                continue
            if not (scheme or _looks_random(value, min_length)):
                continue
            kind = (
                "basic auth password" if scheme.lower() == "basic" else "bearer token"
            )
            yield _Hit(match.start("val"), match.end("val"), _HEADER, kind, value)


def _located(
    plugin: RegexBasedDetector, lines: list[str], line_starts: list[int]
) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, value) of each value `plugin` finds, line by line."""
    for line, offset in zip(lines, line_starts, strict=True):
        cursor = 0
        for found in plugin.analyze_string(line):
            index = line.find(found, cursor) if found else -1
            if index < 0:
                continue
            # A plugin whose pattern has a group yields the group: the password of a
            # URL, but also only the "ghp" of a GitHub token. Take the whole token.
            run = _TOKEN_RUN.match(line, index + len(found))
            end = run.end() if run else index + len(found)
            cursor = end
            yield offset + index, offset + end, line[index:end]


def _plugin_hits(text: str, line_starts: list[int]) -> Iterator[_Hit]:
    """Yield detect-secrets' findings (rule 1, and URL passwords of rule 2).

    Each plugin first scans the whole text in one pass; only a plugin that finds
    something scans again line by line, to say where.
    """
    lines: list[str] | None = None
    plugins = (*_PLUGINS, (_URL_PASSWORD, "password in a URL"))
    for plugin, kind in plugins:
        if next(plugin.analyze_string(text), None) is None:
            continue
        if lines is None:
            lines = text.split("\n")
        precedence = _HEADER if plugin is _URL_PASSWORD else _SPECIFIC
        for start, end, value in _located(plugin, lines, line_starts):
            if _is_placeholder(value, may_be_code=False):
                continue
            if isinstance(plugin, AWSKeyDetector) and not _AWS_KEY_ID.fullmatch(value):
                yield _Hit(start, end, precedence, "AWS secret access key", value)
            else:
                yield _Hit(start, end, precedence, kind, value)


def _lower(text: str) -> str:
    """Return `text` lower-cased, character for character (same length)."""
    lowered = text.lower()
    # A few characters lower-case to two ("İ" -> "i̇"); fall back to ASCII only then.
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _without_overlaps(hits: list[_Hit]) -> list[_Hit]:
    """Return `hits` in reading order, dropping any that overlaps a preferred one.

    Lower precedence wins; within one precedence, the earlier (then longer) hit.
    """
    kept: list[_Hit] = []
    for precedence in (_SPECIFIC, _HEADER, _KEYWORD):
        starts = [hit.start for hit in kept]
        level = sorted(
            (hit for hit in hits if hit.precedence == precedence),
            key=lambda hit: (hit.start, -hit.end),
        )
        new: list[_Hit] = []
        for hit in level:
            i = bisect_right(starts, hit.start)
            if (
                (new and new[-1].end > hit.start)
                or (i and kept[i - 1].end > hit.start)
                or (i < len(kept) and kept[i].start < hit.end)
            ):
                continue
            new.append(hit)
        kept = sorted((*kept, *new), key=lambda hit: hit.start)
    return kept


def find_secrets(text: str) -> list[Finding]:
    """Return what in `text` looks like a credential, in reading order.

    >>> find_secrets("client_id=abc\\nclient_secret=3kz9qw8x7v6u5t4s")
    [Finding(kind='client secret', line=2, masked='3kz9••••••••')]
    """
    if not text:
        return []
    lowered = _lower(text)
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    hits = [
        *_plugin_hits(text, line_starts),
        *_pattern_hits(text, lowered),
        *_keyword_hits(text, lowered),
    ]
    findings: list[Finding] = []
    for hit in _without_overlaps(hits):
        line = bisect_right(line_starts, hit.start)
        finding = Finding(kind=hit.kind, line=line, masked=_mask(hit.value))
        if finding not in findings[-1:]:
            findings.append(finding)
    return findings


def scan_bytes(data: bytes, *, filename: str = "") -> list[Finding]:
    """Return the findings in the first MAX_SCAN_BYTES of a text attachment.

    Bytes that are not UTF-8 become U+FFFD, so Latin-1 logs scan too. `filename` is
    accepted for the callers' messages; detection looks at the content only, so a
    renamed key file is still caught.
    """
    del filename  # detection is content-based on purpose (see docstring)
    return find_secrets(data[:MAX_SCAN_BYTES].decode("utf-8", errors="replace"))


def _article(kind: str) -> str:
    return "an" if kind[0] in "AEIOUaeiou" else "a"


def explain(findings: list[Finding], *, where: str = "this text") -> str:
    """Return one paragraph for a form error: what was found, why, what to do.

    Values appear masked ("3kz9••••••••"), never in full.
    """
    if not findings:
        return ""
    items = [
        f'{_article(f.kind)} {f.kind} on line {f.line} ("{f.masked}")'
        for f in findings[:_MAX_LISTED]
    ]
    if len(findings) > _MAX_LISTED:
        items.append(f"{len(findings) - _MAX_LISTED} more")
    listed = (
        items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"
    )
    subject = where[:1].upper() + where[1:]
    return (
        f"{subject} contains what looks like {listed}. We can't accept it: "
        f"everything in {where} is stored with the ticket and sent by e-mail to the "
        "people following it, and support already has the keys and secrets it needs "
        "and will never ask you for them. Remove the value or replace it with a "
        "placeholder such as <redacted>, then submit again. If it has already been "
        "shared anywhere else, rotate the credential (issue a new one and revoke the "
        "old one)."
    )


def validate_no_secrets(value: str) -> None:
    """Raise ValidationError (code "secret") if `value` carries a credential.

    For form and model fields: ``forms.CharField(validators=[validate_no_secrets])``.
    """
    if not value:
        return
    findings = find_secrets(str(value))
    if findings:
        raise ValidationError(explain(findings), code="secret")
