"""Portside's own registry tokens: when the registry trusts Portside's token server, Portside
signs its tokens itself (the service principal: the catalog and every repository action it
asks for), so no registry password needs configuring. The registry client takes this as its
:class:`~portside.registry.auth.TokenSource`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portside.accounts.policy import SERVICE
from portside.db.engine import Database
from portside.registry.auth import Token
from portside.settings import Settings
from portside.tokenserver import claims
from portside.tokenserver.keys import TokenKeys


class SelfSigned:
    """Signs Portside's own tokens with the kept key, for the service the registry names."""

    def __init__(self, keys: TokenKeys, settings: Settings):
        self.keys = keys
        self.settings = settings

    async def token(self, service: str | None, scope: str) -> Token:
        audience = service or claims.service_name(self.settings) or ""
        granted = claims.access(SERVICE, claims.parse_scopes([scope] if scope else []), {})
        now = datetime.now(UTC)
        lifetime = self.settings.auth.token.expiry
        claim_set = claims.claims(
            issuer=self.settings.auth.token.issuer,
            subject=SERVICE.name or "portside",
            audience=audience,
            granted=granted,
            now=now,
            lifetime=lifetime,
        )
        return Token((await self.keys.get()).sign(claim_set), now + timedelta(seconds=lifetime))


def own_tokens(settings: Settings, db: Database) -> SelfSigned:
    """The token source for a registry client opened next to ``db``."""
    return SelfSigned(TokenKeys(db, settings.auth.token), settings)
