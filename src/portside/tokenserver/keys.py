"""The token server's signing key and its self-signed certificate (the registry's
``auth.token.rootcertbundle``), generated once and kept in the database (:mod:`portside.db.kept`)
so that every worker signs with the same key; and the key id the registry looks the key up by
(libtrust's format)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import NameOID

from portside.db.engine import Database
from portside.db.kept import kept
from portside.errors import ConfigError
from portside.settings import SigningAlgorithm, TokenServerSettings

CERTIFICATE_YEARS = 10
RSA_BITS = 2048


def kept_name(algorithm: SigningAlgorithm) -> str:
    """The ``server_keys`` row of the key (and its certificate) for this algorithm: one per
    algorithm, so that changing ``auth.token.algorithm`` makes a new key."""
    return f"tokenserver.{algorithm.value.lower()}"


def libtrust_kid(public_key: PublicKeyTypes) -> str:
    """The key id the registry computes for a trusted certificate's key (docker/libtrust):
    the first 240 bits of the SHA-256 of the DER public key, base32, in 12 groups of 4."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii")
    return ":".join(encoded[i : i + 4] for i in range(0, 48, 4))


def generate(algorithm: SigningAlgorithm, issuer: str, now: datetime) -> str:
    """A new private key and a self-signed certificate for it, both PEM, one after the other
    (made together so that no worker can pair a key with another's certificate)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if algorithm is SigningAlgorithm.ES256:
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[:64])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (private + certificate.public_bytes(serialization.Encoding.PEM)).decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    algorithm: SigningAlgorithm
    private_key: PrivateKeyTypes
    certificate: x509.Certificate
    kid: str

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def public_key(self) -> PublicKeyTypes:
        return self.certificate.public_key()

    def sign(self, claim_set: dict[str, Any]) -> str:
        """The JWT of ``claim_set``, its header naming the key (``kid``) as the registry
        expects."""
        return jwt.encode(
            claim_set,
            self.private_key,  # type: ignore[arg-type]
            algorithm=self.algorithm.value,
            headers={"kid": self.kid},
        )


def load(text: str, algorithm: SigningAlgorithm) -> SigningKey:
    """The key and certificate of :func:`generate`'s PEM text."""
    marker = "-----BEGIN CERTIFICATE-----"
    head, found, tail = text.partition(marker)
    if not found:
        raise ConfigError(f"the kept token key {kept_name(algorithm)} has no certificate")
    private_key = serialization.load_pem_private_key(head.encode(), password=None)
    certificate = x509.load_pem_x509_certificate((marker + tail).encode())
    expected: type = (
        ec.EllipticCurvePrivateKey if algorithm is SigningAlgorithm.ES256 else rsa.RSAPrivateKey
    )
    if not isinstance(private_key, expected):
        raise ConfigError(f"the kept token key {kept_name(algorithm)} is not a {algorithm} key")
    return SigningKey(
        algorithm=algorithm,
        private_key=private_key,
        certificate=certificate,
        kid=libtrust_kid(certificate.public_key()),
    )


class TokenKeys:
    """The signing key for ``auth.token.algorithm``, read (or made) once per process."""

    def __init__(self, db: Database, settings: TokenServerSettings):
        self.db = db
        self.settings = settings
        self._key: SigningKey | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> SigningKey:
        if self._key is not None:
            return self._key
        async with self._lock:
            if self._key is None:
                algorithm = self.settings.algorithm
                text = await kept(
                    self.db,
                    kept_name(algorithm),
                    lambda: generate(algorithm, self.settings.issuer, datetime.now(UTC)),
                )
                self._key = load(text, algorithm)
            return self._key
