import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core import mail as django_mail

from helpdesk import emails
from helpdesk.models import OutboundEmail
from tests.faults.conftest import private_redis  # noqa: F401 (a fixture)
from tests.helpdesk.factories import administrator, file_ticket

CORPUS = Path(__file__).parent / "corpus"


def eml(name: str, *, ticket=None, thread_id: str = "") -> bytes:
    """A corpus message, answering ``ticket`` (its reference in the subject, and
    ``thread_id`` in In-Reply-To/References) when given."""
    raw = (CORPUS / name).read_bytes()
    if ticket is not None:
        raw = raw.replace(b"HD-REF", ticket.reference.encode())
        thread_id = thread_id or confirmation_id(ticket)
    if thread_id:
        raw = raw.replace(b"<THREAD-ID>", thread_id.encode())
    return raw


def confirmation_id(ticket) -> str:
    return OutboundEmail.objects.get(key=f"ticket-created:{ticket.pk}").message_id


def sent_outbox() -> list:
    """Send what the outbox holds (locmem backend) and return the messages."""
    django_mail.outbox.clear()
    while emails.send_batch()["claimed"]:
        pass
    return list(django_mail.outbox)


@pytest.fixture
def ada(db):
    """Ada, named Support Administrator of Acme (slug acme) on Janrain Platinum."""
    return administrator(
        user__email="ada@acme.example",
        user__full_name="Ada Admin",
        organization__slug="acme",
        organization__name="Acme",
    )


@pytest.fixture
def ticket(ada):
    return file_ticket(ada)


# --- a Dovecot of our own ------------------------------------------------------------

DOVECOT = "/usr/sbin/dovecot"
IMAP_USER, IMAP_PASSWORD = "helpdesk", "imap-test-password"


def _require_services() -> bool:
    return os.environ.get("HELPDESK_REQUIRE_SERVICES", "") == "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrivateDovecot:
    """Debian's dovecot-imapd on free loopback ports, IMAPS and STARTTLS with a
    self-signed certificate, one test user with a maildir under ``workdir``."""

    workdir: Path
    imaps_port: int = 0
    imap_port: int = 0
    process: subprocess.Popen | None = None

    @property
    def cafile(self) -> Path:
        return self.workdir / "cert.pem"

    def url(self, scheme: str = "imaps") -> str:
        port = self.imaps_port if scheme == "imaps" else self.imap_port
        return (
            f"{scheme}://{IMAP_USER}:{IMAP_PASSWORD}@127.0.0.1:{port}/INBOX"
            f"?cafile={self.cafile}"
        )

    def start(self) -> None:
        work = self.workdir
        (work / "run").mkdir()
        (work / "mail").mkdir()
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(work / "key.pem"),
                "-out",
                str(self.cafile),
            ],
            check=True,
            capture_output=True,
        )
        (work / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n")
        uid = pwd.getpwnam("nobody").pw_uid
        os.chown(work / "mail", uid, uid)
        self.imaps_port, self.imap_port = _free_port(), _free_port()
        (work / "dovecot.conf").write_text(
            DOVECOT_CONF.format(
                work=work, uid=uid, imap=self.imap_port, imaps=self.imaps_port
            )
        )
        log = (work / "dovecot.out").open("w")
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(work / "dovecot.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.imaps_port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {(work / 'dovecot.log')}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def mailbox(self):
        from helpdesk.mail.sources import connect, parse_url

        return connect(parse_url(self.url()))

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        with self.mailbox() as box:
            for raw in messages:
                box.append(raw, folder)

    def count(self, folder: str = "INBOX") -> int:
        with self.mailbox() as box:
            if not box.folder.exists(folder):
                return 0
            box.folder.set(folder)
            return len(box.uids("ALL"))


DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
base_dir = {work}/run
state_dir = {work}/run
log_path = {work}/dovecot.log
ssl = yes
ssl_cert = <{work}/cert.pem
ssl_key = <{work}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
mail_location = maildir:{work}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {work}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={work}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture
def dovecot():
    """A private IMAP server for one test (skipped without dovecot-imapd, unless
    CI requires the services)."""
    if not Path(DOVECOT).exists() or shutil.which("openssl") is None:
        if _require_services():
            pytest.fail("dovecot-imapd and openssl are required but not installed")
        pytest.skip("dovecot-imapd is not installed (apt-get install dovecot-imapd)")
    if os.geteuid() != 0:
        pytest.skip("a private dovecot needs root (it switches to the mail user)")
    # Not under pytest's tmp_path (mode 0700): dovecot's auth and mail processes
    # run as other users and must reach the files.
    workdir = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    workdir.chmod(0o755)
    server = PrivateDovecot(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
