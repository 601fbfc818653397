"""Users in HTTP mode: every request is authenticated by the SDK's bearer middleware and acts for
the user its token names (`sora_mcp.principal`).

The token verifier is the tokens file's (`users.py`), the OIDC issuer's (`oidc.py`), or both;
the single SORA_MCP_AUTH_TOKEN keeps working and acts for the local owner. The SDK's pieces
do the rest: `BearerAuthBackend` (the token → `scope["user"]`, which also binds each MCP
session to the user that opened it), `AuthContextMiddleware` (`get_access_token()` in
handlers) and `RequireAuthMiddleware` (a 401 that names no reason). With OIDC and
SORA_MCP_OIDC_RESOURCE_URL, the protected resource metadata (RFC 9728) is served, unauthenticated.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from sora_mcp.config import Settings
from sora_mcp.principal import Principal, acting_as
from sora_mcp.server.http.guards import refuse
from sora_mcp.server.http.users import TokensVerifier


class ActAsUser:
    """Runs the request as the user the verified token names."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = getattr(scope.get("user"), "access_token", None)
        who = getattr(token, "principal", None)
        if not isinstance(who, Principal):  # every verifier here returns a UserToken; never trust less
            await refuse(send, 401, "unauthorized", [(b"www-authenticate", b"Bearer")])
            return
        with acting_as(who):
            await self.app(scope, receive, send)


class UserAuth:
    """HTTP requests pass the SDK's bearer check; other scopes (lifespan) go straight through."""

    def __init__(self, app: ASGIApp, verifier: Any, resource_url: str | None, issuer: str | None) -> None:
        self.app = app
        metadata_url = None
        self.metadata: Starlette | None = None
        self.metadata_paths: set[str] = set()
        if resource_url and issuer:
            from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes

            resource = AnyHttpUrl(resource_url)
            metadata_url = build_resource_metadata_url(resource)
            routes = create_protected_resource_routes(resource, [AnyHttpUrl(issuer)])
            self.metadata = Starlette(routes=routes)
            self.metadata_paths = {r.path for r in routes}
        required = RequireAuthMiddleware(ActAsUser(app), [], metadata_url)
        self.authed = AuthenticationMiddleware(
            AuthContextMiddleware(required), backend=BearerAuthBackend(verifier)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif self.metadata is not None and scope["path"] in self.metadata_paths:
            await self.metadata(scope, receive, send)
        else:
            await self.authed(scope, receive, send)


def build_verifier(settings: Settings) -> Any:
    """The tokens file's verifier, the OIDC one, or both (tokens file first)."""
    single = settings.auth_token.get_secret_value() if settings.auth_token is not None else None
    verifiers: list[Any] = []
    if settings.tokens_file is not None or single is not None:
        verifiers.append(TokensVerifier(settings.tokens_file, single))
    if settings.oidc_enabled:
        from sora_mcp.server.http.oidc import OidcVerifier

        verifiers.append(OidcVerifier(settings))
    if len(verifiers) == 1:
        return verifiers[0]
    from sora_mcp.server.http.oidc import EitherVerifier

    return EitherVerifier(*verifiers)


def user_auth(app: ASGIApp, settings: Settings) -> UserAuth:
    resource_url = settings.oidc_resource_url if settings.oidc_enabled else None
    return UserAuth(app, build_verifier(settings), resource_url, settings.oidc_issuer)
