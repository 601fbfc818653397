"""`doctor`: check a configured backend the way a new user needs it checked, without paying.

For each configured backend (the default one and those of the backends file) it answers: is it reachable, is the key accepted, which dialect is it, which
models with which sizes and durations, which operations it supports, and what a default clip
would cost. Only reads are sent: the key is tested by asking for a job id that cannot exist
(`404` = reachable and authorised, `401/403` = the key is refused), so no job is ever created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from sora_mcp.errors import AuthFailed, BackendUnavailable, InvalidInput, NotFound, SoraError
from sora_mcp.models import Quote
from sora_mcp.prompting import ModelSpec
from sora_mcp.service.context import ServiceContext

if TYPE_CHECKING:
    from sora_mcp.backends import Backend

PROBE_ID = "sora-mcp-doctor-probe-0"  # an id no backend issues: a read of it creates nothing
OPERATIONS = ("remix", "extend", "edit", "delete", "list", "variants", "webhooks")


class ModelLimits(BaseModel):
    id: str
    sizes: list[str]
    seconds: str = Field(description="The durations it accepts, as text (a list or a range).")
    usd_per_second: dict[str, float] = Field(default_factory=dict)


class BackendReport(BaseModel):
    """What `doctor` found about one backend."""

    name: str
    host: str
    dialect: str
    usable: bool
    reachable: bool
    key_accepted: bool | None = Field(default=None, description="None when it could not be told.")
    problem: str | None = None
    fix: str | None = None
    operations: dict[str, bool] = Field(default_factory=dict)
    models: list[ModelLimits] = Field(default_factory=list)
    models_note: str | None = None
    default_clip: Quote | None = None


def _limits(spec: ModelSpec) -> ModelLimits:
    return ModelLimits(
        id=spec.id,
        sizes=list(spec.sizes),
        seconds=spec.allowed_seconds_text(),
        usd_per_second=dict(spec.price_usd_per_second),
    )


async def _probe(backend: Backend) -> tuple[bool, bool | None, SoraError | None]:
    """(reachable, key accepted, what went wrong) from one read of a job that cannot exist."""
    try:
        await backend.retrieve(PROBE_ID)
    except (NotFound, InvalidInput):
        return True, True, None  # it answered past its auth check: the key is good
    except AuthFailed as exc:
        return True, False, exc
    except BackendUnavailable as exc:
        return False, None, exc
    except SoraError as exc:
        return True, None, exc
    return True, True, None


async def diagnose_all(ctx: ServiceContext) -> list[BackendReport]:
    return [await diagnose(ctx, name) for name in ctx.backends.names()]


async def diagnose(ctx: ServiceContext, name: str | None = None) -> BackendReport:
    """Check one backend (None: the default one). Never sends a POST."""
    from sora_mcp.backends.errors import host_of

    engine = name is None and ctx.uses_engine
    backend = await ctx.backends.get(name)
    report = BackendReport(
        name=name or "default",
        host="embedded engine" if engine else host_of(backend.base_url),
        dialect=backend.dialect,
        usable=False,
        reachable=False,
    )
    report.reachable, report.key_accepted, problem = await _probe(backend)
    if problem is not None:
        report.problem, report.fix = problem.message, problem.fix
    dialect = await backend.describe()
    report.dialect = dialect.name
    report.operations = {
        "remix": dialect.remix,
        "extend": dialect.extend,
        "edit": dialect.edit,
        "delete": dialect.delete,
        "list": dialect.list_route,
        "variants": dialect.named_variants,
        "webhooks": dialect.webhooks,
    }
    if not report.reachable or report.key_accepted is False:
        return report
    try:
        catalog = await ctx.catalogs.refresh(name)
    except SoraError as exc:
        report.problem, report.fix = f"its model list could not be read: {exc.message}", exc.fix
        return report
    if catalog.provider:
        specs = catalog.models()
        report.models_note = f"as {catalog.provider} reports them"
    else:
        served: list[str] | None = None
        try:
            served = await backend.list_models()
        except SoraError:
            served = None
        names: list[str] = served or []
        known = [catalog.get(m) for m in names]
        fallback = catalog.get("sora-2") if engine else None
        specs = [s for s in known if s is not None] or ([fallback] if fallback is not None else [])
        unknown = [m for m in names if catalog.get(m) is None]
        report.models_note = (
            f"also served, without known limits: {', '.join(unknown)}"
            if unknown
            else None
            if served
            else "the backend lists no models; the catalog's rules apply"
        )
        if engine:
            report.models_note = "procedural previews following the sora-2 rules, free"
    report.models = [_limits(s) for s in specs if s is not None]
    if engine:  # previews cost nothing, whatever the model's hosted price is
        for limits in report.models:
            limits.usd_per_second = {}
    if report.models:
        first = specs[0]
        assert first is not None
        report.default_clip = catalog.quote(
            first.id,
            first.sizes[0],
            first.seconds[0] if first.seconds else str(min(4, first.max_seconds)),
            engine=engine,
        )
    report.usable = True
    return report
