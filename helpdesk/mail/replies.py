"""The new part of a reply: quoted history and signatures stripped by
``mail-parser-reply`` (Gmail's "On … wrote:", Outlook's "From: … Sent: …" block and
"-----Original Message-----", Apple Mail's quoting, in several languages)."""

from __future__ import annotations

from mailparser_reply import EmailReplyParser

# The languages whose reply headers ("On … wrote:", "Am … schrieb …:") are known.
LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt", "sv"]


def latest_reply(text: str) -> str:
    """Return what the sender wrote above the quoted history, or the whole text when
    nothing is quoted.

    "Fixed, thanks.\\n\\nOn Mon, Ada wrote:\\n> old" -> "Fixed, thanks."
    """
    if not text.strip():
        return ""
    reply = EmailReplyParser(languages=LANGUAGES).parse_reply(text)
    return (reply or "").strip() or text.strip()
