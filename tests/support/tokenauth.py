"""A small token issuer for the registry's ``auth.token`` mode (test helper).

It follows the distribution token spec: ``GET /token?service=...&scope=...`` with HTTP basic
credentials answers ``{"token", "expires_in", "issued_at"}``, a JWT signed RS256 by a key whose
self-signed certificate the registry trusts (``rootcertbundle``), the certificate carried in the
JWT's ``x5c`` header.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import BasicAuth, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

SERVICE = "portside-test-registry"
ISSUER = "portside-test-issuer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    def __init__(
        self,
        directory: Path,
        users: dict[str, str],
        *,
        expires_in: int = 300,
        anonymous: bool = False,
    ):
        self.users = users
        self.anonymous = anonymous  # no credentials: a token granting what is asked
        self.expires_in = expires_in
        self.requests: Counter[str] = Counter()  # scope -> token requests
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = directory / "issuer.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._runner: web.AppRunner | None = None
        self.url = ""

    def registry_auth(self) -> dict[str, str]:
        return {
            "realm": f"{self.url}/token",
            "service": SERVICE,
            "issuer": ISSUER,
            "rootcertbundle": str(self.bundle),
        }

    def sign(self, subject: str, access: list[dict[str, object]]) -> str:
        der = self.cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    async def _token(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not header and self.anonymous:
            subject = ""
        else:
            try:
                auth = BasicAuth.decode(header)
            except ValueError:
                return web.json_response({"errors": [{"code": "UNAUTHORIZED"}]}, status=401)
            if self.users.get(auth.login) != auth.password:
                return web.json_response({"errors": [{"code": "UNAUTHORIZED"}]}, status=401)
            subject = auth.login
        access = []
        for scope in request.query.getall("scope", []):
            self.requests[scope] += 1
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted = ["*"] if actions == "*" else actions.split(",")
            access.append({"type": kind, "name": name, "actions": granted})
        return web.json_response(
            {
                "token": self.sign(subject, access),
                "expires_in": self.expires_in,
                "issued_at": datetime.now(UTC).isoformat(),
            }
        )

    async def start(self, port: int) -> None:
        app = web.Application()
        app.router.add_get("/token", self._token)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
