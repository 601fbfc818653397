"""The model catalog: which sizes, durations and features each model accepts, and what it costs.

The data lives in `sora_mcp/content/catalog.json` (shipped with the package); a user file
(`SORA_MCP_CATALOG`, JSON or TOML) adds models or overrides them field by field. Requests are
checked here before any network call, so a refusal can list exactly what the model allows.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from sora_mcp.errors import InvalidInput
from sora_mcp.models import Quote
from sora_mcp.prompting.catalog_file import config_error, match_key, merge, read_user_file, summarise
from sora_mcp.prompting.model_spec import (
    Feature,
    ModelSpec,
    ValidatedRequest,
    normalise_seconds,
    normalise_size,
)

Kind = Literal["create", "extend", "remix", "edit"]
BASIC_MAX_SECONDS = 60
ENGINE_NOTE = "embedded engine: free local preview"


class Catalog:
    """The effective catalog: built-in models plus the user's file."""

    def __init__(
        self,
        models: list[ModelSpec],
        engine: dict[str, Any],
        user_file: str | None = None,
        provider: str | None = None,
    ) -> None:
        self._models = models
        self.engine = engine
        self.user_file = user_file
        # Set when the models are the ones a provider reported: then they are the whole truth, and a
        # model it does not list is refused (it would be refused by the provider anyway, after a trip).
        self.provider = provider
        self._index: dict[str, ModelSpec] = {}
        for spec in models:
            for name in [spec.id, *spec.aliases]:
                self._index[name.casefold()] = spec

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, user_file: Path | None = None) -> Catalog:
        raw = json.loads(resources.files("sora_mcp").joinpath("content", "catalog.json").read_text("utf-8"))
        return cls._build(raw["models"], raw.get("engine", {}), user_file)

    @classmethod
    def from_provider(
        cls, entries: list[dict[str, Any]], *, provider: str, user_file: Path | None = None
    ) -> Catalog:
        """The models a provider reported (its video-models endpoint), with the user's file on top.
        An entry the provider got wrong is left out rather than failing the whole catalog."""
        usable = []
        for entry in entries:
            try:
                ModelSpec.model_validate(entry)
            except ValidationError:
                continue
            usable.append(entry)
        catalog = cls._build(usable, {}, user_file)
        catalog.provider = provider
        return catalog

    @classmethod
    def _build(cls, base: list[dict[str, Any]], engine: dict[str, Any], user_file: Path | None) -> Catalog:
        entries: dict[str, dict[str, Any]] = {m["id"].casefold(): m for m in base}
        if user_file is not None:
            for entry in read_user_file(Path(user_file)):
                key = match_key(entry, entries)
                entries[key] = merge(entries.get(key, {}), entry)
        models: list[ModelSpec] = []
        for entry in entries.values():
            try:
                models.append(ModelSpec.model_validate(entry))
            except ValidationError as exc:
                where = Path(user_file).name if user_file is not None else "catalog.json"
                raise config_error(where, f"model {entry.get('id')!r}: {summarise(exc)}") from None
        return cls(models, engine, Path(user_file).name if user_file is not None else None)

    # --- lookups ---------------------------------------------------------------------------

    def get(self, model: str) -> ModelSpec | None:
        return self._index.get(str(model).strip().casefold())

    def models(self) -> list[ModelSpec]:
        return list(self._models)

    def names(self) -> list[str]:
        return [m.id for m in self._models]

    def supports(self, model: str, feature: Feature) -> bool | None:
        spec = self.get(model)
        return None if spec is None else bool(getattr(spec.supports, feature))

    # --- validation ------------------------------------------------------------------------

    def validate(
        self,
        model: str,
        size: str | None,
        seconds: int | str | None,
        *,
        strict: bool = False,
        kind: Kind = "create",
        prompt: str | None = None,
    ) -> ValidatedRequest:
        """Check a request against the model's rules; raise `InvalidInput` listing what is allowed.

        `size`/`seconds` may be None for remix and edit (they inherit the source video's).
        For create, None means the model's default (its first listed value).
        """
        model = str(model or "").strip()
        if not model:
            raise InvalidInput("model is empty.", fix=f"Pass one of: {', '.join(self.names())}.")
        size_n = normalise_size(size) if size is not None else None
        secs_n = normalise_seconds(seconds) if seconds is not None else None
        spec = self.get(model)
        if spec is None and self.provider:
            raise InvalidInput(
                f"{self.provider} offers no video model '{model[:80]}'. Its models: {', '.join(self.names())}.",
                fix="Pass one of those as model; sora://models lists their sizes, durations and prices.",
            )
        if spec is None:
            return self._validate_unknown(model, size_n, secs_n, strict=strict, kind=kind)
        if kind != "create" and not getattr(spec.supports, kind):
            raise InvalidInput(
                f"Model {spec.id} cannot {kind} videos.",
                fix="Create a new clip instead and state in the prompt what must stay the same.",
            )
        if kind == "create":
            size_n = size_n or spec.sizes[0]
            secs_n = secs_n or (spec.seconds[0] if spec.seconds else str(spec.max_seconds))
        if size_n is not None and kind in ("create", "extend") and not spec.size_allowed(size_n):
            raise InvalidInput(
                f"Size {size_n} is not available for {spec.id}. Allowed sizes: {self._sizes_text(spec)}.",
                fix=f"Pass one of those as size{self._elsewhere(spec, size_n)}.",
            )
        if secs_n is not None:
            self._check_seconds(spec, secs_n, kind)
        if prompt is not None and spec.max_prompt_chars and len(prompt) > spec.max_prompt_chars:
            raise InvalidInput(
                f"The prompt is {len(prompt)} characters; {spec.id} accepts at most {spec.max_prompt_chars}.",
                fix="Shorten the prompt.",
            )
        note = (
            None if spec.verified else f"some catalog values for {spec.id} are unverified; see sora://models"
        )
        return ValidatedRequest(model=model, size=size_n, seconds=secs_n, known=True, note=note)

    def _validate_unknown(
        self, model: str, size: str | None, seconds: str | None, *, strict: bool, kind: Kind
    ) -> ValidatedRequest:
        if strict:
            raise InvalidInput(
                f"Model '{model[:80]}' is not in the catalog. Known models: {', '.join(self.names())}.",
                fix="Use one of those, add the model to a catalog file named by SORA_MCP_CATALOG, "
                "or unset SORA_MCP_STRICT_MODELS to let unknown models through with basic checks.",
            )
        if seconds is not None and not 1 <= int(seconds) <= BASIC_MAX_SECONDS:
            raise InvalidInput(
                f"seconds={seconds} is outside 1..{BASIC_MAX_SECONDS}.",
                fix="Pass a duration between 1 and 60.",
            )
        if kind == "create":
            size = size or "1280x720"
            seconds = seconds or "4"
        note = (
            f"Model '{model[:80]}' is not in the catalog, so only basic checks were made (size WxH, "
            f"1-{BASIC_MAX_SECONDS} s) and there is no price. Add it via SORA_MCP_CATALOG for exact checks."
        )
        return ValidatedRequest(model=model, size=size, seconds=seconds, known=False, note=note)

    def _check_seconds(self, spec: ModelSpec, secs: str, kind: Kind) -> None:
        if kind == "extend":
            allowed = spec.extend_seconds or spec.seconds
            if allowed and secs not in allowed:
                raise InvalidInput(
                    f"seconds={secs} is not available when extending with {spec.id}. Allowed: {', '.join(allowed)}.",
                    fix="Pass one of those as seconds.",
                )
            return
        if kind != "create":
            return
        if spec.seconds:
            if secs not in spec.seconds:
                raise InvalidInput(
                    f"seconds={secs} is not available for {spec.id}. Allowed seconds: {', '.join(spec.seconds)}.",
                    fix="Pass one of those as seconds.",
                )
            return
        assert spec.max_frames and spec.fps
        if int(secs) < 1 or int(secs) * spec.fps > spec.max_frames:
            raise InvalidInput(
                f"seconds={secs} is too long for {spec.id}: it renders at most {spec.max_frames} frames at "
                f"{spec.fps} fps, so at most {spec.max_seconds} seconds.",
                fix=f"Pass seconds between 1 and {spec.max_seconds}.",
            )

    @staticmethod
    def _sizes_text(spec: ModelSpec) -> str:
        text = ", ".join(spec.sizes)
        if spec.size_multiple_of:
            text += (
                f" (or any size with sides that are multiples of {spec.size_multiple_of}, no larger in area)"
            )
        return text

    def _elsewhere(self, spec: ModelSpec, size: str) -> str:
        others = [m.id for m in self._models if m.family == spec.family and m is not spec and size in m.sizes]
        return f", or use {' / '.join(others)} for {size}" if others else ""

    # --- prices ----------------------------------------------------------------------------

    def quote(
        self,
        model: str,
        size: str,
        seconds: int | str,
        *,
        engine: bool = False,
        backend_is_engine: bool | None = None,
    ) -> Quote:
        """Estimate the cost. `engine` (alias `backend_is_engine`): the embedded engine, always $0."""
        secs = normalise_seconds(seconds)
        if engine or backend_is_engine:
            return Quote(model=model, size=size, seconds=secs, usd=0.0, note=ENGINE_NOTE)
        spec = self.get(model)
        if spec is None:
            note = f"no estimate: model '{model[:80]}' is not in the catalog, so its price is unknown"
            return Quote(model=model, size=size, seconds=secs, usd=None, note=note)
        price = spec.price_usd_per_second.get(size)
        if price is None:
            note = f"no published price for {spec.id} at {size}" + (
                " (self-hosted: the cost is your own hardware)" if not spec.price_usd_per_second else ""
            )
            return Quote(model=model, size=size, seconds=secs, usd=None, note=note)
        usd = round(price * int(secs), 4)
        note = f"{spec.id} at {size}: ${price:.2f}/s x {secs} s (published price; see sora://models)"
        if self.provider:
            note = f"{spec.id} at {size}: ${price:g}/s x {secs} s ({self.provider}'s listed price; the billed cost replaces it)"
        return Quote(model=model, size=size, seconds=secs, usd=usd, note=note)

    # --- views for the sora://models resource ------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_file": self.user_file,
            "engine": self.engine,
            "models": [m.model_dump() for m in self._models],
        }

    def as_markdown(self) -> str:
        lines = ["# Models" + (f" (as {self.provider} reports them now)" if self.provider else ""), ""]
        if self.user_file:
            lines += [f"Includes entries from `{self.user_file}` (SORA_MCP_CATALOG).", ""]
        lines += [
            "| model | sizes | seconds | remix / extend / edit / image / audio | USD per second |",
            "|---|---|---|---|---|",
        ]
        for m in self._models:
            s = m.supports
            feats = " / ".join(
                "yes" if f else "no" for f in (s.remix, s.extend, s.edit, s.input_reference, s.audio)
            )
            prices = (
                ", ".join(f"{k}: {v:.2f}" for k, v in m.price_usd_per_second.items()) or "no published price"
            )
            name = m.id + (f" (aliases: {', '.join(m.aliases)})" if m.aliases else "")
            lines.append(
                f"| {name} | {self._sizes_text(m)} | {m.allowed_seconds_text()} | {feats} | {prices} |"
            )
        if not self.provider:
            lines += [
                "",
                (
                    f"Embedded engine: follows the {self.engine.get('rules', 'sora-2 family')} rules at $0 "
                    f"({self.engine.get('note', 'free local preview')})."
                ),
            ]
        lines += ["", "## Sources", ""]
        lines += [
            f"- **{m.id}**{'' if m.verified else ' (partly unverified)'}: {m.source}" for m in self._models
        ]
        lines += [
            "",
            (
                f"Only these models are accepted: the list is {self.provider}'s own, read again after "
                "SORA_MCP_CATALOG_TTL_S seconds."
                if self.provider
                else "Unknown models pass with basic checks and a note unless SORA_MCP_STRICT_MODELS=1."
            )
            + " Add or override models with a JSON/TOML file named by SORA_MCP_CATALOG.",
        ]
        return "\n".join(lines) + "\n"
