"""One tree of actionable errors: every refusal says what happened and what to do next.

`SoraError` subclasses the MCP SDK's `ToolError`, the only exception whose message reaches
the model; the CLI prints the same message as `Error: ...`. A failed *generation* is not an
exception: it is data on the job (`status="failed"`, `error={code, message}`).
"""

from __future__ import annotations

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


class NotReady(SoraError):
    """The job has not completed, so its assets cannot be downloaded yet."""

    code = "not_ready"


class Unsupported(SoraError):
    """The backend lacks the feature (remix, delete, a variant, ...)."""

    code = "unsupported"


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


class BudgetExceeded(SoraError):
    """The call's cost estimate would cross the configured budget."""

    code = "budget"


class ConfigError(SoraError):
    """The server's own configuration is wrong (settings, catalog file, bind address)."""

    code = "config"


class LedgerUnavailable(SoraError):
    """The ledger's database (PostgreSQL) could not be reached."""

    code = "ledger_unavailable"
