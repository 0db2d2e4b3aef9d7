"""Partners for tests: a real webhook endpoint and a real mail server on this machine.

``PartnerWebhookReceiver`` is an HTTP(S) server in a thread that records what it is
sent, checks the signature as a partner would, and answers as told: a status, after a
delay, or not at all (down: connections refused). ``MailSink`` is an aiosmtpd server
that requires STARTTLS with a certificate made at start, and can refuse recipients.

Both bind port 0 and read the port back, work from sync and async tests alike, and are
context managers. ``wait_for`` waits on a condition, never a fixed sleep.
``local_partners`` starts both and writes the catalogue that sends referrals to them.
"""

import asyncio
import contextlib
import datetime
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


class SignatureVerifier(Protocol):
    """``hhc_referrals.delivery.verify_signature``, passed in: devstack does not
    depend on the services."""

    def __call__(self, secret: bytes, header: str, body: bytes, *, now: int) -> bool: ...


# Certificates


def make_self_signed_certificate(
    directory: Path, *, hosts: Sequence[str] = ("localhost", LOOPBACK, "::1")
) -> tuple[Path, Path]:
    """A certificate for ``hosts``, its own issuer, written as ``cert.pem`` and
    ``key.pem`` into ``directory``. Trust it by naming ``cert.pem`` as the CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hhc devstack partner")])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class _Recorder(Generic[T]):
    """A list that other threads append to, and a condition to wait on."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._changed = threading.Condition()

    def append(self, item: T) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def snapshot(self) -> list[T]:
        with self._changed:
            return list(self._items)

    def wait_for(self, count: int, timeout: float) -> list[T]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._items) >= count, timeout):
                raise TimeoutError(f"{len(self._items)} received, not {count}, in {timeout}s")
            return list(self._items)

    async def wait_for_async(self, count: int, timeout: float) -> list[T]:  # noqa: ASYNC109
        """The same, without holding up the event loop (the wait ends by ``timeout``)."""
        return await asyncio.to_thread(self.wait_for, count, timeout)


# Webhook partner


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    signature_valid: bool

    def json(self) -> object:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Behaviour:
    status: int = 202
    delay_seconds: float = 0.0


class PartnerWebhookReceiver:
    """A partner's webhook endpoint on 127.0.0.1 (HTTPS with ``tls=True``; then trust
    ``ca_file``). Every request is recorded on arrival, before any delay, as a partner
    that is slow to answer has still received it."""

    def __init__(
        self,
        *,
        secret: bytes,
        verify: SignatureVerifier,
        path: str = "/hhc/referrals",
        tls: bool = False,
        signature_header: str = "X-HHC-Signature",
    ) -> None:
        self.secret = secret
        self.path = path
        self.port = 0
        self.ca_file: Path | None = None
        self._verify = verify
        self._signature_header = signature_header.lower()
        self._tls = tls
        self._requests = _Recorder[ReceivedRequest]()
        self._behaviour = Behaviour()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._tls_context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}{self.path}"

    @property
    def received(self) -> list[ReceivedRequest]:
        return self._requests.snapshot()

    def respond(self, *, status: int = 202, delay_seconds: float = 0.0) -> None:
        """How to answer from the next request on."""
        self._behaviour = Behaviour(status, delay_seconds)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        return self._requests.wait_for(count, timeout)

    async def wait_for_async(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:  # noqa: ASYNC109 - the wait's own deadline
        return await self._requests.wait_for_async(count, timeout)

    def start(self) -> Self:
        if self._tls:
            self._tempdir = tempfile.TemporaryDirectory(prefix="hhc-partner-")
            cert, key = make_self_signed_certificate(Path(self._tempdir.name))
            self.ca_file = cert
            self._tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls_context.load_cert_chain(cert, key)
        self.come_up()
        return self

    def stop(self) -> None:
        self.go_down()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def go_down(self) -> None:
        """Stop listening: new connections are refused; requests being delayed end
        without an answer."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def come_up(self) -> None:
        """Listen again, on the same port once it has had one."""
        if self._server is not None:
            return
        self._stopping.clear()
        server = ThreadingHTTPServer((LOOPBACK, self.port), self._handler_class())
        server.daemon_threads = True
        server.block_on_close = False
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        if self._tls_context is not None:
            server.socket = self._tls_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _receive(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        signature = headers.get(self._signature_header, "")
        valid = self._verify(self.secret, signature, body, now=int(time.time()))
        self._requests.append(ReceivedRequest(method, path, headers, body, valid))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                if isinstance(self.request, ssl.SSLSocket):
                    self.request.settimeout(5)
                    self.request.do_handshake()  # here, not in the accepting thread
                super().setup()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver._receive("POST", self.path, headers, body)
                behaviour = receiver._behaviour
                if behaviour.delay_seconds and receiver._stopping.wait(behaviour.delay_seconds):
                    return  # went down while delaying: no answer
                with contextlib.suppress(OSError):  # the client may have given up
                    self.send_response(behaviour.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


# Mail partner


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    message_id: str
    body: str
    over_tls: bool
    raw: bytes


class _SinkHandler:
    def __init__(self, sink: "MailSink") -> None:
        self._sink = sink

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self._sink.rejecting:
            return "550 5.1.1 Recipient address rejected"
        if address.lower() in self._sink.deferring:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        self._sink._mails.append(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                subject=str(message.get("Subject", "")),
                message_id=str(message.get("Message-ID", "")),
                body=text.get_content() if isinstance(text, EmailMessage) else "",
                over_tls=session.ssl is not None,
                raw=raw,
            )
        )
        return "250 Message accepted for delivery"


class _PortZeroController(Controller):
    """aiosmtpd's controller, told the port the system chose before it connects to it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        sockets = cast(Sequence[socket.socket], self.server.sockets)  # type: ignore[attr-defined]
        self.port = sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class MailSink:
    """A partner's mail server on 127.0.0.1. With ``starttls`` (the default) it offers
    and requires STARTTLS, with a certificate clients trust through ``ca_file``; without
    it, it offers none. Recipients in ``reject`` are answered 550 (no such mailbox), those
    in ``defer`` 451 (try again later)."""

    def __init__(
        self, *, starttls: bool = True, reject: Iterable[str] = (), defer: Iterable[str] = ()
    ) -> None:
        self.host = LOOPBACK
        self.port = 0
        self.starttls = starttls
        self.rejecting = {address.lower() for address in reject}
        self.deferring = {address.lower() for address in defer}
        self.ca_file: Path | None = None
        self._mails = _Recorder[ReceivedMail]()
        self._controller: _PortZeroController | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def received(self) -> list[ReceivedMail]:
        return self._mails.snapshot()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        return self._mails.wait_for(count, timeout)

    async def wait_for_async(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:  # noqa: ASYNC109 - the wait's own deadline
        return await self._mails.wait_for_async(count, timeout)

    def start(self) -> Self:
        context: ssl.SSLContext | None = None
        if self.starttls:
            self._tempdir = tempfile.TemporaryDirectory(prefix="hhc-mailsink-")
            cert, key = make_self_signed_certificate(Path(self._tempdir.name))
            self.ca_file = cert
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
        controller = _PortZeroController(
            _SinkHandler(self),
            hostname=self.host,
            port=0,
            server_hostname="mail.partner.test",  # not getfqdn(), which can be slow
            tls_context=context,
            require_starttls=context is not None,
        )
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused from now on."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class LocalPartners:
    """Every partner of the catalogue, here: webhook partners post to ``webhooks``, email
    partners' mail reaches ``mail``, through the file ``catalogue`` names."""

    webhooks: PartnerWebhookReceiver
    mail: MailSink
    catalogue: Path

    @property
    def env(self) -> dict[str, str]:
        """What referrals needs to reach them."""
        assert self.mail.ca_file is not None
        return {
            "PARTNER_CATALOGUE_FILE": str(self.catalogue),
            "SMTP_HOST": self.mail.host,
            "SMTP_PORT": str(self.mail.port),
            "SMTP_STARTTLS": "true",
            "SMTP_CA_FILE": str(self.mail.ca_file),
        }


@contextlib.contextmanager
def local_partners(
    catalogue: Path,
    catalogue_at: Callable[[str, str], object],
    *,
    secret: bytes,
    verify: SignatureVerifier,
) -> Iterator[LocalPartners]:
    """A deployment's own partner endpoints on this machine: a webhook receiver and a mail
    server, and at ``catalogue`` the catalogue ``catalogue_at(webhook base URL, secret)``
    makes (``hhc_referrals.catalogue.catalogue_at``, passed in as ``verify`` is)."""
    with (
        PartnerWebhookReceiver(secret=secret, verify=verify) as webhooks,
        MailSink(starttls=True) as mail,
    ):
        catalogue.write_text(json.dumps(catalogue_at(webhooks.url, secret.decode())))
        yield LocalPartners(webhooks, mail, catalogue)
