"""OAuth 2.1 / OIDC access tokens, verified as a resource server: signed JWTs checked against the
issuer's JWKS, with its issuer and this server's audience.

PyJWT does the cryptography and the claim checks (`jwt.decode` with `issuer`, `audience`, the
algorithms allowed and the claims required); its `PyJWKClient` fetches and caches the key set
(no redirects, a timeout, and a cooldown so tokens with made-up key ids cannot make us fetch
the set on every request). The user is the token's `sub`; an admin holds the configured scope
or claim value. Any failure is just "not authenticated": the SDK's middleware answers 401
with no detail, and the reason goes to the log.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import jwt
from mcp.server.auth.provider import AccessToken

from sora_mcp.config import Settings
from sora_mcp.errors import ConfigError
from sora_mcp.principal import LOCAL_OWNER, Principal
from sora_mcp.server.http.users import user_token

log = logging.getLogger("sora_mcp.http")

_FETCH_TIMEOUT_S = 10.0
_LEEWAY_S = 5  # clock skew allowed between the issuer and this server
_SAFE_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
_OIDC_FIX = "Set SORA_MCP_OIDC_ISSUER, SORA_MCP_OIDC_AUDIENCE and SORA_MCP_OIDC_JWKS_URL together."


def _scopes(claims: dict[str, Any]) -> list[str]:
    raw = claims.get("scope", claims.get("scp", []))
    if isinstance(raw, str):
        return raw.split()
    return [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []


class OidcVerifier:
    """The SDK's `TokenVerifier` for JWT access tokens from one issuer."""

    def __init__(self, settings: Settings) -> None:
        if not (settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url):
            raise ConfigError("OIDC is partly configured.", fix=_OIDC_FIX)
        unsafe = [a for a in settings.oidc_algorithms if a not in _SAFE_ALGORITHMS]
        if unsafe or not settings.oidc_algorithms:
            raise ConfigError(
                f"SORA_MCP_OIDC_ALGORITHMS has {', '.join(unsafe) or 'nothing'}: only public-key "
                "signatures can be verified by a resource server.",
                fix=f"Use some of: {', '.join(sorted(_SAFE_ALGORITHMS))}.",
            )
        self.issuer, self.audience = settings.oidc_issuer, settings.oidc_audience
        self.algorithms = list(settings.oidc_algorithms)
        self.admin_scope = settings.oidc_admin_scope
        claim = settings.oidc_admin_claim
        if claim is not None and "=" not in claim:
            raise ConfigError(
                "SORA_MCP_OIDC_ADMIN_CLAIM must be NAME=VALUE.", fix="For example: roles=sora-admin"
            )
        self.admin_claim = tuple(claim.split("=", 1)) if claim else None
        self.jwks = jwt.PyJWKClient(settings.oidc_jwks_url, timeout=_FETCH_TIMEOUT_S, cache_keys=True)

    def _is_admin(self, claims: dict[str, Any]) -> bool:
        if self.admin_scope and self.admin_scope in _scopes(claims):
            return True
        if self.admin_claim is not None:
            name, value = self.admin_claim
            got = claims.get(name)
            return got == value or (isinstance(got, list) and value in got)
        return False

    def _decode(self, token: str) -> dict[str, Any]:
        key = self.jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            leeway=_LEEWAY_S,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        return claims

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await anyio.to_thread.run_sync(self._decode, token)
        except jwt.PyJWTError as exc:  # bad signature, unknown key, expired, wrong iss/aud, JWKS down
            log.info("access token refused: %s", type(exc).__name__)
            return None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255 or sub == LOCAL_OWNER:
            log.info("access token refused: its sub cannot be a user id")
            return None
        who = Principal(sub, admin=self._is_admin(claims))
        exp = claims.get("exp")
        return user_token(token, who, expires_at=int(exp) if isinstance(exp, int | float) else None)


class EitherVerifier:
    """Tokens-file users first (cheap, local), then OIDC."""

    def __init__(self, *verifiers: Any) -> None:
        self.verifiers = verifiers

    async def verify_token(self, token: str) -> AccessToken | None:
        for verifier in self.verifiers:
            found: AccessToken | None = await verifier.verify_token(token)
            if found is not None:
                return found
        return None
