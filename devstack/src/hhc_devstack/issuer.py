"""A development identity provider: its own RSA key, its JWKS over HTTP, and tokens.

`make up` and the tests run one and point the services at it (OIDC_ISSUER,
OIDC_AUDIENCE, OIDC_JWKS_URL), and `hhc-dev issuer` runs one on its own (Docker
Compose, a local cluster); `hhc-dev token --role caseworker --team north` prints a
token it signs. The key lives in a file (``<state dir>/issuer/key.pem``) so that tokens
printed by one command are good for the services another command started. Never for
production: the housing group's identity provider issues the real tokens.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "hhc"
DEFAULT_PORT = 8090
SERVICE_TOKEN_SECONDS = 300


def dev_client_secret(client_id: str) -> str:
    """The development client secret of a service (client credentials grant). Derived,
    so that `make up` and the tests give each service its secret without sharing state;
    a real identity provider issues random ones, kept in the cluster's secrets."""
    return hmac.new(b"hhc-dev-client-secret", client_id.encode(), hashlib.sha256).hexdigest()


class DevIssuer:
    """Serves its JWKS on ``host``:``port`` (0: a free port) and signs tokens.

    ``issuer_url`` is the issuer's name in its tokens and the base of its JWKS URL: what
    the services reach it by, e.g. ``http://dev-issuer:8090`` in a container network.
    By default it is the address it listens on (``127.0.0.1`` for a wildcard host).
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        issuer_url: str | None = None,
    ) -> None:
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self._keys = [_load_or_create_key(state_dir / "key.pem")]
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        if issuer_url:
            self.issuer = issuer_url.rstrip("/")
        else:
            advertised = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
            self.issuer = f"http://{advertised}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks.json"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    def service_token(self, client_id: str, client_secret: str) -> str | None:
        """A service's own token (roles: service), or None for wrong credentials."""
        if not hmac.compare_digest(client_secret, dev_client_secret(client_id)):
            return None
        return self.token(
            roles=["service"], subject=client_id, lifetime_seconds=SERVICE_TOKEN_SECONDS
        )

    def env(self) -> dict[str, str]:
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_AUDIENCE": AUDIENCE,
            "OIDC_JWKS_URL": self.jwks_url,
        }

    def start(self) -> "DevIssuer":
        self._thread.start()
        # Where `hhc-dev token` finds the issuer's name.
        (self.state_dir / "issuer.json").write_text(json.dumps({"issuer": self.issuer}))
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rotate(self) -> None:
        """A new signing key, published beside the old one (whose tokens stay good)."""
        self._keys.insert(0, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_public_jwk(key) for key in self._keys]}

    def token(
        self,
        *,
        roles: Iterable[str],
        team: str | None = None,
        subject: str | None = None,
        lifetime_seconds: int = 3600,
        **claims: Any,
    ) -> str:
        return sign(
            self._keys[0],
            issuer=self.issuer,
            roles=roles,
            team=team,
            subject=subject,
            lifetime_seconds=lifetime_seconds,
            **claims,
        )


def sign(
    key: rsa.RSAPrivateKey,
    *,
    issuer: str,
    roles: Iterable[str],
    team: str | None = None,
    subject: str | None = None,
    lifetime_seconds: int = 3600,
    audience: str = AUDIENCE,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or f"dev-{uuid.uuid4().hex[:8]}",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "roles": list(roles),
        **({"team": team} if team else {}),
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": key_id(key)})


def key_id(key: rsa.RSAPrivateKey) -> str:
    numbers = key.public_key().public_numbers()
    return f"dev-{numbers.n % (1 << 64):016x}"


def _public_jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": key_id(key), "use": "sig", "alg": "RS256"}


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


def token_from_state(
    state_dir: Path, *, roles: Iterable[str], team: str | None, subject: str | None
) -> str:
    """A token from the issuer whose state is in ``state_dir`` (for `hhc-dev token`)."""
    described = state_dir / "issuer.json"
    if not described.exists():
        raise FileNotFoundError(
            f"no development issuer in {state_dir}: start the system with `make up` first"
        )
    issuer = json.loads(described.read_text())["issuer"]
    key = _load_or_create_key(state_dir / "key.pem")
    return sign(key, issuer=issuer, roles=roles, team=team, subject=subject)


def _handler_for(issuer: DevIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/jwks.json":
                body = issuer.jwks()
            elif self.path == "/.well-known/openid-configuration":
                body = {
                    "issuer": issuer.issuer,
                    "jwks_uri": issuer.jwks_url,
                    "token_endpoint": issuer.token_url,
                    "grant_types_supported": ["client_credentials"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            """OAuth 2.0 client credentials (RFC 6749 4.4), client authenticated by HTTP
            Basic (2.3.1): the services' own tokens, to fetch case keys from intake."""
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if self.path != "/token":
                self.send_error(404)
                return
            if form.get("grant_type") != ["client_credentials"]:
                self._answer(400, {"error": "unsupported_grant_type"})
                return
            client_id, _, client_secret = _basic_credentials(self.headers.get("Authorization"))
            token = issuer.service_token(client_id, client_secret) if client_id else None
            if token is None:
                self._answer(401, {"error": "invalid_client"})
                return
            self._answer(
                200,
                {
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": SERVICE_TOKEN_SECONDS,
                },
            )

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _basic_credentials(header: str | None) -> tuple[str, str, str]:
    if not header or not header.startswith("Basic "):
        return "", "", ""
    try:
        decoded = base64.b64decode(header.removeprefix("Basic "), validate=True).decode()
    except ValueError:
        return "", "", ""
    return decoded.partition(":")
