"""One tree of actionable errors: every refusal says what happened and what to do next.

`SoraError` subclasses the MCP SDK's `ToolError`, the only exception whose message reaches
the model; the CLI prints the same message as `Error: ...`. A failed *generation* is not an
exception: it is data on the job (`status="failed"`, `error={code, message}`).
"""

from __future__ import annotations

import errno

from mcp.server.mcpserver.exceptions import ToolError


class SoraError(ToolError):
    """Base class. `message` says what went wrong, `fix` what to do about it."""

    code = "error"

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message.rstrip()
        self.fix = fix
        text = self.message if not fix else f"{self.message.rstrip('.')}. {fix}"
        super().__init__(text)


class InvalidInput(SoraError):
    """An argument is malformed or not allowed (for the model, size, path, ...)."""

    code = "invalid_input"


class GuardrailViolation(InvalidInput):
    """The request breaks a content rule (see the `sora://guardrails` resource)."""

    code = "guardrail"


class NotFound(SoraError):
    """The backend (and the library) do not know this video id."""

    code = "not_found"


class AssetExpired(NotFound):
    """The backend deleted the job's files (its link expired) before sora-mcp archived them."""

    code = "expired"


class NotReady(SoraError):
    """The job has not completed, so its assets cannot be downloaded yet."""

    code = "not_ready"


class Unsupported(SoraError):
    """The backend lacks the feature (remix, delete, a variant, ...)."""

    code = "unsupported"


class VariantUnavailable(Unsupported):
    """The backend cannot serve this variant; the service derives it locally from the MP4."""

    code = "variant_unavailable"


class BackendError(SoraError):
    """The backend answered with an error we could not act on."""

    code = "backend_error"


class AuthFailed(BackendError):
    """The backend refused the API key."""

    code = "auth"


class RateLimited(BackendError):
    """The backend answered 429; `retry_after` is in seconds when it said."""

    code = "rate_limited"

    def __init__(self, message: str, *, fix: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, fix=fix)
        self.retry_after = retry_after


class BackendUnavailable(BackendError):
    """The backend could not be reached, or timed out before answering."""

    code = "unavailable"


class OutcomeUnknown(BackendError):
    """A create was sent but no answer came back; it may or may not exist on the backend."""

    code = "outcome_unknown"


class AssetTooLarge(BackendError):
    """The file is larger than the configured maximum (SORA_MCP_MAX_ASSET_MB); nothing was kept."""

    code = "too_large"


class BudgetExceeded(SoraError):
    """The call's cost estimate would cross the configured budget."""

    code = "budget"


class ConfigError(SoraError):
    """The server's own configuration is wrong (settings, catalog file, bind address)."""

    code = "config"


class LedgerUnavailable(SoraError):
    """The ledger's database (PostgreSQL) could not be reached."""

    code = "ledger_unavailable"


class DiskError(SoraError):
    """Writing into the data directory failed (disk full, permissions)."""

    code = "disk"


class DiskFull(SoraError):
    """The data directory's filesystem is full (or the process may write no larger file)."""

    code = "disk_full"


class StoreError(SoraError):
    """The S3-compatible asset store refused or could not be reached; nothing partial was kept."""

    code = "store"


DISK_FULL_MESSAGE = "the data directory's disk is full"
DISK_FULL_FIX = "Free space or move SORA_MCP_DATA_DIR, then try again."
# ENOSPC: no space; EDQUOT: quota; EFBIG: RLIMIT_FSIZE or the filesystem's largest file.
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def disk_full() -> DiskFull:
    return DiskFull(DISK_FULL_MESSAGE, fix=DISK_FULL_FIX)


def as_disk_full(exc: BaseException) -> DiskFull | None:
    """`DiskFull` when `exc` (or what caused it) says the disk is full, else None.

    SQLite reports it as `sqlite3.OperationalError: database or disk is full` (SQLITE_FULL),
    (SQLITE_FULL); files as OSError ENOSPC, EDQUOT or EFBIG.
    """
    import sqlite3

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return current
        if isinstance(current, BaseExceptionGroup):  # a task group's failure: look inside
            for inner in current.exceptions:
                if (found := as_disk_full(inner)) is not None:
                    return found
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return disk_full()
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            text = str(current).lower()
            if code == 13 or "disk is full" in text:  # SQLITE_FULL
                return disk_full()
        current = current.__cause__ or current.__context__
    return None
