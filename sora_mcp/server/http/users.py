"""The tokens file: users of an HTTP server, each known only by the sha256 of their bearer token.

    # sora-mcp users (only sha256 hashes of tokens are stored; `sora-mcp users add NAME` adds one)
    [users.alice]
    token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    admin = false          # true: sees and manages every user's jobs
    daily_usd = 5.0        # the user's own budget (any of daily_usd, monthly_usd, total_usd);
    monthly_usd = 50.0     # without one, the server's SORA_MCP_BUDGET_* settings apply to them

`token_sha256` may also be a list (several tokens for one user, e.g. while rotating). Tokens
are 256-bit random strings, so a plain sha256 cannot be reversed or brute-forced; a presented
token is hashed and compared with every stored hash in constant time. The file is read again
when it changes (mtime, size), so removing an entry revokes its tokens at the next request; a
file that no longer parses refuses every token until it is fixed (fail closed), and says why
in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mcp.server.auth.provider import AccessToken

from sora_mcp.errors import ConfigError
from sora_mcp.principal import LOCAL, LOCAL_OWNER, Budget, Principal

log = logging.getLogger("sora_mcp.http")

USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_HASH = re.compile(r"[0-9a-f]{64}")
_BUDGET_KEYS = ("total_usd", "monthly_usd", "daily_usd")
_ADD_FIX = "Add users with: sora-mcp users add NAME --tokens-file PATH"


class UserToken(AccessToken):
    """An access token the server verified, with the user it acts for."""

    principal: Principal


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def user_token(token: str, who: Principal, *, expires_at: int | None = None) -> UserToken:
    return UserToken(
        token=token,
        client_id=who.user_id,
        subject=who.user_id,
        scopes=["admin"] if who.admin else [],
        expires_at=expires_at,
        principal=who,
    )


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    principal: Principal


def parse_tokens(text: str, source: str) -> list[_Entry]:
    """The entries of a tokens file; ConfigError naming the entry and the fix when one is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The tokens file {source} is not valid TOML ({exc}).", fix=_ADD_FIX) from None
    users = data.get("users", {})
    if not isinstance(users, dict):
        raise ConfigError(f"The tokens file {source} has no [users.NAME] tables.", fix=_ADD_FIX)
    entries: list[_Entry] = []
    for name, entry in users.items():
        where = f"users.{name} in {source}"
        if not USER_ID.fullmatch(name) or name == LOCAL_OWNER:
            raise ConfigError(
                f"{where}: the user id must be 1-64 letters, digits, '_', '.', '@' or '-' (not 'local').",
                fix="Rename the entry.",
            )
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} is not a table.", fix=_ADD_FIX)
        hashes = entry.get("token_sha256")
        hashes = [hashes] if isinstance(hashes, str) else hashes
        if not hashes or not all(isinstance(h, str) and _HASH.fullmatch(h) for h in hashes):
            raise ConfigError(
                f"{where}: token_sha256 must be the 64 lower-case hex digits of a token's sha256 (or a list).",
                fix="Never store the token itself; " + _ADD_FIX,
            )
        admin = entry.get("admin", False)
        if not isinstance(admin, bool):
            raise ConfigError(f"{where}: admin must be true or false.", fix="Write admin = true or false.")
        caps: dict[str, float] = {}
        for key in _BUDGET_KEYS:
            value = entry.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{where}: {key} must be a number of USD >= 0.", fix=f"Write {key} = 5.0.")
            caps[key] = float(value)
        budget = Budget(**caps) if caps else None
        who = Principal(name, admin=admin, budget=budget)
        entries += [_Entry(bytes.fromhex(h), who) for h in hashes]
    return entries


class TokensVerifier:
    """The SDK's `TokenVerifier` over the tokens file (and the single SORA_MCP_AUTH_TOKEN, which acts
    for the local owner as it always did)."""

    def __init__(self, path: Path | None, single_token: str | None = None) -> None:
        self.path = path
        self._single = token_hash(single_token).encode() if single_token else None
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._entries: list[_Entry] = []
        if path is not None:
            self._entries = self._read()  # a broken file stops the server from starting

    def _read(self) -> list[_Entry]:
        assert self.path is not None
        try:
            info = self.path.stat()
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"The tokens file {self.path} cannot be read ({exc.strerror}).", fix=_ADD_FIX
            ) from None
        entries = parse_tokens(text, str(self.path))
        self._stamp = (info.st_mtime_ns, info.st_size)
        return entries

    def _current(self) -> list[_Entry]:
        if self.path is None:
            return []
        with self._lock:
            try:
                info = self.path.stat()
                changed = (info.st_mtime_ns, info.st_size) != self._stamp
            except OSError:
                changed = True
            if changed:
                try:
                    self._entries = self._read()
                    log.info("tokens file re-read: %d token(s)", len(self._entries))
                except ConfigError as exc:
                    # Fail closed: a revoked token must not keep working because an edit broke the file.
                    log.error("%s Every token is refused until it is fixed. %s", exc.message, exc.fix)
                    self._entries, self._stamp = [], None
            return self._entries

    def lookup(self, token: str) -> Principal | None:
        digest = bytes.fromhex(token_hash(token))
        found: Principal | None = None
        # Every stored hash is compared, in constant time, whatever matched first.
        for entry in self._current():
            if hmac.compare_digest(digest, entry.digest) and found is None:
                found = entry.principal
        if self._single is not None and hmac.compare_digest(token_hash(token).encode(), self._single):
            found = found or LOCAL
        return found

    async def verify_token(self, token: str) -> AccessToken | None:
        who = self.lookup(token)
        return None if who is None else user_token(token, who)


def add_user(
    path: Path,
    name: str,
    *,
    admin: bool = False,
    budget: Budget | None = None,
) -> str:
    """Append a user to the tokens file (made 0600 if new) and return their new token, which is
    written nowhere: only its sha256 is stored."""
    if not USER_ID.fullmatch(name) or name == LOCAL_OWNER:
        raise ConfigError(
            f"'{name[:80]}' cannot be a user id.",
            fix="Use 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit (not 'local').",
        )
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if any(e.principal.user_id == name for e in parse_tokens(text, str(path))):
        raise ConfigError(
            f"The tokens file {path} already has a user '{name}'.",
            fix="Pick another name, or remove that entry from the file first (that revokes its tokens).",
        )
    token = secrets.token_urlsafe(32)
    lines = [f"\n[users.{json.dumps(name)}]", f'token_sha256 = "{token_hash(token)}"']
    if admin:
        lines.append("admin = true")
    for key in _BUDGET_KEYS:
        value = getattr(budget, key, None) if budget is not None else None
        if value is not None:
            lines.append(f"{key} = {float(value)!r}")
    header = (
        "" if text else "# sora-mcp users: only sha256 hashes of tokens are stored (sora-mcp users add)\n"
    )
    sep = "" if not text or text.endswith("\n") else "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(header + sep + "\n".join(lines) + "\n")
    return token
