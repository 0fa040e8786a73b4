"""Read one e-mail on standard input and process it: the MTA pipe door.

Postfix (master.cf): ``helpdesk unix - n n - - pipe flags=Rq user=helpdesk
argv=/srv/helpdesk/.venv/bin/python /srv/helpdesk/manage.py receive_mail``.
Exit codes follow sysexits.h, which Postfix and Exim understand: 0 when the
message was handled (accepted, a duplicate, ignored, or refused with an answer),
EX_DATAERR when it cannot be read (the MTA bounces it), EX_NOINPUT when nothing
came, EX_TEMPFAIL while the database is down (the MTA keeps it and retries).
``--poll`` instead processes what waits at INBOUND_MAIL_URL once.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from django.db import Error as DatabaseError

from helpdesk.mail.inbound import process_message
from helpdesk.mail.models import InboundMessage

EX_OK = 0
EX_DATAERR = 65
EX_NOINPUT = 66
EX_SOFTWARE = 70
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Process one RFC 5322 e-mail read on standard input (an MTA pipe)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll",
            action="store_true",
            help="Process the mail waiting at INBOUND_MAIL_URL once instead.",
        )

    def handle(self, *args, **options):
        try:
            code = self._poll() if options["poll"] else self._pipe()
        except DatabaseError as exc:
            self.stderr.write(f"receive_mail: database unavailable, try later: {exc}")
            code = EX_TEMPFAIL
        sys.exit(code)

    def _pipe(self) -> int:
        raw = sys.stdin.buffer.read()
        if not raw.strip():
            self.stderr.write("receive_mail: no message on standard input")
            return EX_NOINPUT
        result = process_message(raw, source=InboundMessage.Source.PIPE)
        line = result.outcome
        if result.ticket_reference:
            line += f" {result.ticket_reference}"
        if result.reason:
            line += f": {result.reason}"
        if result.outcome == InboundMessage.Outcome.FAILED:
            self.stderr.write(f"receive_mail: {line}")
            return EX_DATAERR
        self.stdout.write(line)
        return EX_OK

    def _poll(self) -> int:
        from helpdesk.mail import sources

        counts = sources.poll()
        self.stdout.write(
            ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
            or "no mail waiting"
        )
        return EX_OK
