"""Refuse ticket text that carries credentials (SPEC §4, "Secrets guard").

Ticket summaries, descriptions, replies, text attachments and the text of PDF
attachments (``helpdesk/pdf_text.py``) are stored and e-mailed to everyone following
the ticket, and so are severity-change and escalation reasons, de-escalation notes and
TAM meeting titles and locations: they must never carry an API key, a client secret,
a private key or a bearer token. Support already has these values and will
never ask for them (the Janrain support procedures say so in as many words).

This module only detects and explains; callers refuse the input before anything is
stored or sent. It is pure: no ORM, no settings, no I/O.

Detection, in order of precedence when two rules hit the same characters:

1. detect-secrets' provider plugins (private key headers, AWS, GitHub, GitLab, Slack,
   Stripe, SendGrid, Discord, Square, PyPI), plus our own patterns for JWTs (checked
   with detect-secrets' JWT validator) and token prefixes the plugins miss
   (``github_pat_``, ``AIza`` and ``GOCSPX-``, ``sk_test_``, ``sk-`` OpenAI keys,
   ``npm_``, Slack ``xapp-``/``xoxe-`` and webhook URLs, any ``BEGIN ... PRIVATE
   KEY``, even with nothing after the BEGIN line), Azure SAS signatures (``sig=``
   next to ``se=``/``sv=``/``skn=``) and connection-string keys (``AccountKey=``,
   ``SharedAccessKey=``, ``AccessKey=``).
2. ``Authorization:`` header values, ``bearer <long token>`` in prose, and
   ``scheme://user:password@host`` URLs (also ``redis://:password@host`` and
   passwords with ``!``, ``$`` or ``*``). Placeholders (``<token>``,
   ``YOUR_ACCESS_TOKEN``, ``xxxx``) pass.
3. A keyword (client secret, API key, secret, password, token, private key) followed
   by a value. After ``=``, ``:=``, ``=>``, a JSON/YAML/XML key or a header, any
   value counts unless it is a placeholder (``<redacted>``, ``XXXX``, ``${API_KEY}``,
   ``os.environ[...]``, ``true``), a URL, a path or an e-mail address. In prose ("our
   client secret is ...", "API key - ...") only a value that looks generated does:
   letters and digits, long enough, not too repetitive (Shannon entropy). On the line
   after an empty ``client_secret=`` or ``client_secret:``, a value counts only if it
   looks generated too and is not the next label ("host: db2").

A value wrapped over two or more lines (by a mail client, a terminal, a narrow page)
is found too: the text is scanned again with such line breaks removed, and a finding
counts there only if its value spans a removed break, does not join two plain words
("token = None" + "if ...") and overlaps no finding of the text as written. A break
is removed between two token characters, unless the next line starts with a label
("2024-05-01T12:00", "host=db"), so a log's lines and a config file's keys stay apart.

Every rule is a bounded or lookbehind-anchored regular expression, so a scan is
linear in the length of the text (the tests compare two sizes rather than time one).
IDs are never flagged on their own: a value counts only when its shape (a provider
prefix) or its label says it is a credential, which is what lets App IDs, client
IDs, UUIDs, commit SHAs and trace ids through.
"""

from __future__ import annotations

import math
import re
import string
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import accumulate

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
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
    "secret_errors",
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
# - Azure storage key and basic auth: replaced by our connection-string and URL rules,
#   which also read "accountkey=", keys shorter than 88 characters, an empty user
#   name ("redis://:pw@host") and passwords with "!", "$" or "*".
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
    (PypiTokenDetector(), "PyPI token"),
)
_AWS_KEY_ID = AWSKeyDetector.denylist[0]
_TOKEN_RUN = re.compile(r"[\w-]{1,1024}")

# Our own token shapes. Each starts with a literal, so the regex engine skips ahead
# to it, and re-checks the character before it with a nested lookbehind, so a match
# can only start where a token starts: "eyJeyJeyJ..." is tried once, not at every
# "eyJ", which keeps a scan linear. A token also starts after a percent-escape
# ("key%3DAIza...") or a JSON/C escape ("\\nAIza...").
_START = r"(?:(?<![\w-])|(?<=%[0-9A-Fa-f]{2})|(?<=\\[nrt]))"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY"), "private key"),
    (
        re.compile(rf"github_pat_(?<={_START}github_pat_)[A-Za-z0-9_]{{22,255}}"),
        "GitHub token",
    ),
    (
        re.compile(rf"AIza(?<={_START}AIza)[0-9A-Za-z_-]{{35}}(?![\w-])"),
        "Google API key",
    ),
    (
        re.compile(rf"GOCSPX-(?<={_START}GOCSPX-)[0-9A-Za-z_-]{{24,64}}(?![\w-])"),
        "Google OAuth client secret",
    ),
    (
        re.compile(rf"k_test_(?<={_START}[sr]k_test_)[0-9A-Za-z]{{24,247}}"),
        "Stripe API key",
    ),
    (re.compile(rf"npm_(?<={_START}npm_)[A-Za-z0-9]{{36}}(?![\w-])"), "npm token"),
    # App-level and refresh tokens; the plugin knows xoxb-, xoxp- and the like.
    (
        re.compile(
            rf"x(?:app|oxe)-(?<={_START}x(?:app|oxe)-)\d+-[A-Za-z0-9-]{{20,255}}"
        ),
        "Slack token",
    ),
    # Without "https://" too, and workflow and trigger URLs (the plugin: services/).
    (
        re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[\w/-]{20,512}"),
        "Slack webhook URL",
    ),
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
# scheme://user:password@host; the user may be empty. Braces, quotes, "<>", "," and
# ";" end the search, so "{user}:{pass}@" templates and lists of URLs are left alone.
_URL_USERINFO = re.compile(
    r"://[^\s/?#@:{}<>\"'`,;]{0,256}:(?P<val>[^\s/?#@{}<>\"'`,;]{1,256})@"
)

# An Azure SAS token's signature: "sig=" in a query string, with the token's expiry
# ("se="), version ("sv=") or Service Bus key name ("skn=") within reach, which tells
# it from other signed URLs' "sig=" (ad clicks, thumbnails).
_SAS_SIG = re.compile(r"sig=(?<=[?&;]sig=)(?P<val>[\w%+/=-]{20,1024})")
_SAS_FIELD = re.compile(r"[?&;](?:sv|se|skn)=")
_SAS_REACH = 512
# Connection-string keys (Azure Storage, Service Bus, Event Hubs, IoT Hub, SignalR):
# "key=" found in the lower-cased text, then the name before it is checked.
_CONNECTION_KEY = re.compile(r"key=(?P<val>[a-z0-9+/%]{20,1024}={0,2})")
_CONNECTION_KEY_KINDS = (
    ("account", "Azure storage key"),
    ("sharedaccess", "shared access key"),
    ("access", "shared access key"),
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
        [ \t]*(?P<op>:=|=>|=|:|>)[ \t]*         # assignment, JSON/YAML key, header,
        (?P<nl>(?:[|>][-+]?[ \t]*)?\r?\n[ \t]*)?  # the value on the next line
      | [ \t]+(?:(?P<verb>is|was|are|equals)\b[ \t]*:?[ \t]*(?:\r?\n[ \t]*)?  # "is",
               | [-\u2013\u2014][ \t]+)?                      # "API key - ..."
    )
    (?P<val>"[^"\n]{1,256}"|'[^'\n]{1,256}'|`[^`\n]{1,256}`|[^\s"'`,;&<>]{1,256})
    """,
    re.VERBOSE | re.IGNORECASE,
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_IDENTIFIER_KEY = re.compile(r"[_.\-]|[a-z][A-Z]")  # api_key, x-api-key, apiKey
_REST_OF_LINE_BLANK = re.compile(r"[ \t]*[,;]?[ \t]*\r?(?:\n|\Z)")
# On the line after an empty label: another label ("host=db", "host = db"), unlike
# base64 padding ("...Cz4I6tq==").
_ASSIGNMENT = re.compile(r"=(?!=*\Z)")
_LABEL_FOLLOWS = re.compile(r"[ \t]*[:=]")
_MIN_NEXT_LINE_VALUE = 6
_XML_CLOSE = re.compile(r"\s*</")
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
    string str bytes int bool secret secrets password passwd pass pw pwd token apikey
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

# Wrapped values: a line break (and the next line's indent or "> " quoting) between a
# token character and a letter, digit or "_", unless the next line starts a label:
# "2024-05-01T12:00" (a log), "host: db", "host = db", "host=db" ("AbC=" and "AbC=="
# are base64 padding, not labels). Split on, break captured: the work stays in C.
_WRAPPING_BREAK = re.compile(
    r"(?<=[\w+/-])(\r?\n[ \t>]*)(?=\w)"
    r"(?![\w.-]{1,256}(?:[ \t]*:|[ \t]+=|=(?![=\s]|\Z)))",
    re.ASCII,
)


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


def _is_value_on_next_line(raw: str, value: str, text: str, end: int) -> bool:
    """Return whether the line after an empty label ("client_secret:") holds its value.

    That line may be anything (the next statement, a decorator, a heading's text), so
    only a value that looks generated counts, and never the next label ("host: db2",
    "host=db2", "host = db2").
    """
    is_label = (
        raw.endswith(":")
        or _ASSIGNMENT.search(raw) is not None
        or _LABEL_FOLLOWS.match(text, end) is not None
    )
    return not is_label and _looks_random(value, _MIN_NEXT_LINE_VALUE)


def _is_plain_word(text: str) -> bool:
    """Return whether `text` reads as a word ("while", "None", "TLD"), not a token."""
    return text.isalpha() and (text.islower() or text.istitle() or text.isupper())


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
        if (key_quote and before != key_quote) or (
            op == ">" and (before != "<" or not _XML_CLOSE.match(text, after.end()))
        ):
            continue  # "<password>@host" in a URL template is no <password>x</...>
        is_quoted = raw[0] in "\"'`"
        value = raw[1:-1].strip() if is_quoted else raw.rstrip(".,:;!?)]}")
        if not value or _is_placeholder(value) or _is_not_a_secret(value):
            continue
        if after["nl"] is not None and not _is_value_on_next_line(
            raw, value, text, after.end()
        ):
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
            if not _is_placeholder(match[0], may_be_code=False):
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
    """Yield detect-secrets' findings (rule 1).

    Each plugin first scans the whole text in one pass; only a plugin that finds
    something scans again line by line, to say where.
    """
    lines: list[str] | None = None
    for plugin, kind in _PLUGINS:
        if next(plugin.analyze_string(text), None) is None:
            continue
        if lines is None:
            lines = text.split("\n")
        for start, end, value in _located(plugin, lines, line_starts):
            if _is_placeholder(value, may_be_code=False):
                continue
            found = kind
            if isinstance(plugin, AWSKeyDetector) and not _AWS_KEY_ID.fullmatch(value):
                found = "AWS secret access key"
            elif isinstance(plugin, SlackDetector) and "://" in value:
                found = "Slack webhook URL"
            yield _Hit(start, end, _SPECIFIC, found, value)


def _connection_key_kind(lowered: str, key_at: int) -> str | None:
    """Return the kind of the connection-string key whose "key=" is at `key_at`."""
    for name, kind in _CONNECTION_KEY_KINDS:
        start = key_at - len(name)
        if lowered.startswith(name, start) and not (
            start and lowered[start - 1].isalnum()
        ):
            return kind
    return None


def _field_matches(text: str, lowered: str) -> Iterator[tuple[re.Match[str], int, str]]:
    """Yield (match, precedence, kind) of SAS signatures, connection-string keys and
    passwords in URLs; each match's "val" group is the value."""
    for match in _SAS_SIG.finditer(text):
        low, high = match.start() - _SAS_REACH, match.end() + _SAS_REACH
        if _SAS_FIELD.search(text, max(low, 0), high) is not None:
            yield match, _SPECIFIC, "Azure SAS signature"
    for match in _CONNECTION_KEY.finditer(lowered):
        kind = _connection_key_kind(lowered, match.start())
        if kind is not None:
            yield match, _SPECIFIC, kind
    for match in _URL_USERINFO.finditer(text):
        yield match, _HEADER, "password in a URL"


def _field_hits(text: str, lowered: str) -> Iterator[_Hit]:
    """Yield the values of `_field_matches` that are not placeholders.

    Matches in `lowered` have the same offsets as in `text`, which gives the value.
    """
    for match, precedence, kind in _field_matches(text, lowered):
        start, end = match.span("val")
        value = text[start:end]
        if not _is_placeholder(value, may_be_code=False):
            yield _Hit(start, end, precedence, kind, value)


def _lower(text: str) -> str:
    """Return `text` lower-cased, character for character (same length)."""
    lowered = text.lower()
    # A few characters lower-case to two ("İ" -> "i̇"); fall back to ASCII only then.
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _overlaps(hit: _Hit, kept: list[_Hit], starts: list[int]) -> bool:
    """Return whether `hit` overlaps one of `kept`, whose `starts` are in order."""
    i = bisect_right(starts, hit.start)
    return (i > 0 and kept[i - 1].end > hit.start) or (
        i < len(kept) and kept[i].start < hit.end
    )


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
            if (new and new[-1].end > hit.start) or _overlaps(hit, kept, starts):
                continue
            new.append(hit)
        kept = sorted((*kept, *new), key=lambda hit: hit.start)
    return kept


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _hits(text: str, line_starts: list[int]) -> list[_Hit]:
    """Return every rule's hits in `text`, overlapping ones included."""
    lowered = _lower(text)
    return [
        *_plugin_hits(text, line_starts),
        *_pattern_hits(text, lowered),
        *_field_hits(text, lowered),
        *_keyword_hits(text, lowered),
    ]


def _unwrapped(text: str) -> tuple[str, list[int], list[int]] | None:
    """Return `text` without the line breaks that may wrap a value, or None if none.

    With it: where each removed break was, as offsets in the new text, and how many
    characters had been removed before each (one more entry: all of them).
    """
    parts = _WRAPPING_BREAK.split(text)  # line, break, line, break, ..., line
    if len(parts) == 1:
        return None
    lines, breaks = parts[::2], parts[1::2]
    joins = list(accumulate(map(len, lines[:-1])))
    removed = list(accumulate(map(len, breaks), initial=0))
    return "".join(lines), joins, removed


def _wrapped_hits(text: str) -> Iterator[_Hit]:
    """Yield the hits on values wrapped over lines, at their offsets in `text`.

    "our client secret is 3kz9qw8x\\n7v6u5t4s..." is scanned as one line; a hit
    counts only if a removed line break lies inside its value.
    """
    unwrapped = _unwrapped(text)
    if unwrapped is None:
        return
    joined, joins, removed = unwrapped
    for hit in _hits(joined, _line_starts(joined)):
        first, last = bisect_right(joins, hit.start), bisect_left(joins, hit.end)
        if first == last:
            continue  # not wrapped: the scan of `text` has it
        # Two words joined are code or prose ("token = None" + "if ..."), not a token.
        cut = joins[first]
        after_end = joins[first + 1] if first + 1 < last else hit.end
        if _is_plain_word(joined[hit.start : cut]) and _is_plain_word(
            joined[cut:after_end]
        ):
            continue
        yield replace(
            hit, start=hit.start + removed[first], end=hit.end + removed[last]
        )


def find_secrets(text: str) -> list[Finding]:
    """Return what in `text` looks like a credential, in reading order.

    >>> find_secrets("client_id=abc\\nclient_secret=3kz9qw8x7v6u5t4s")
    [Finding(kind='client secret', line=2, masked='3kz9••••••••')]
    """
    if not text:
        return []
    line_starts = _line_starts(text)
    hits = _without_overlaps(_hits(text, line_starts))
    # Where the text as written has a finding, it says best what and where.
    starts = [hit.start for hit in hits]
    wrapped = [hit for hit in _wrapped_hits(text) if not _overlaps(hit, hits, starts)]
    findings: list[Finding] = []
    for hit in _without_overlaps([*hits, *wrapped]):
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


def secret_errors(values: Mapping[str, str]) -> dict[str, list[str]]:
    """Return a form-style error per field whose text looks like it holds a secret.

    For services: add them to the other errors and ``raise ValidationError(errors)``,
    which names each field as a form would.

    >>> list(secret_errors({"title": "Sync", "location": "password: hunter22"}))
    ['location']
    """
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        findings = find_secrets(value or "")
        if findings:
            errors[name] = [explain(findings, where="this field")]
    return errors
