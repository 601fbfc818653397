"""`Backend`: the `/v1/videos` operations, each encoded the way the backend's dialect wants.

Create/remix/extend/edit are POSTed once (never retried) with the caller's Idempotency-Key;
features a dialect lacks are refused before any request with the alternative named; downloads
stream through `ContentStream`, from `/content` or from a completion's `video_url`.
A backend has a `Transport` (transport.py: the SDK client, error mapping, `video_url` streams)
and a `Known` (known.py: the dialect record in use, detection, what answers taught).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx2
import openai

from sora_mcp.backends.content import ContentStream
from sora_mcp.backends.dialects import Dialect, normalize_video
from sora_mcp.backends.download import open_stream
from sora_mcp.backends.hosted import catalog_entries
from sora_mcp.backends.known import Known, model_ids
from sora_mcp.backends.requests import PreparedReference, create_fields, post_job, seconds_value
from sora_mcp.backends.transport import DEFAULT_MAX_ANSWER_BYTES, Transport, read_json, segment
from sora_mcp.config import DialectChoice, Settings
from sora_mcp.errors import (
    BackendError,
    InvalidInput,
    NotFound,
    Unsupported,
)
from sora_mcp.models import RemotePage, RemoteVideo, Variant


class Backend:
    """One `/v1/videos` backend: it has a `Transport` (the HTTP client) and `Known` (its dialect
    and what its answers taught). Build it with `Backend.from_settings`."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        dialect: DialectChoice = "auto",
        timeout_s: float = 60.0,
        litellm_provider: str | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        key_source: str | None = None,
        http_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.transport = Transport(
            base_url=base_url,
            api_key=api_key,
            timeout_s=timeout_s,
            max_answer_bytes=max_answer_bytes,
            key_source=key_source,
            http_transport=http_transport,
        )
        self.known = Known(self.transport, dialect)
        self._litellm_provider = litellm_provider

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        http_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> Backend:
        """The default backend `settings` point at; `base_url` and `api_key` override it (the
        embedded engine's). `http_transport` replaces the network under the bounded client (tests)."""
        url = base_url or settings.base_url
        if not url:
            raise BackendError("No backend URL: set SORA_MCP_BASE_URL or start the embedded engine first")
        dialect = settings.dialect
        provider = settings.litellm_provider or os.environ.get("SORA_MCP_LITELLM_PROVIDER")
        if dialect == "auto" and base_url and not settings.base_url:
            dialect = "engine"
        elif dialect == "auto" and provider:
            dialect = "litellm"  # a LiteLLM provider was configured: that says what the backend is
        key = api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
        return cls(
            base_url=url,
            api_key=key,
            dialect=dialect,
            timeout_s=settings.request_timeout_s,
            litellm_provider=provider,
            max_answer_bytes=int(settings.max_answer_mb * 1024 * 1024),
            key_source=None if api_key else settings.key_source,
            http_transport=http_transport,
        )

    @classmethod
    def from_entry(
        cls,
        settings: Settings,
        *,
        base_url: str,
        dialect: DialectChoice,
        api_key: str | None,
        key_source: str | None,
        http_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> Backend:
        """A named backend of the backends file: its own URL, dialect and key (never the default's)."""
        return cls(
            base_url=base_url,
            api_key=api_key,
            dialect=dialect,
            timeout_s=settings.request_timeout_s,
            max_answer_bytes=int(settings.max_answer_mb * 1024 * 1024),
            key_source=key_source,
            http_transport=http_transport,
        )

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def is_openai(self) -> bool:
        return self.transport.is_openai

    @property
    def dialect(self) -> str:
        """The dialect in use (`auto` only until the first request has detected it)."""
        known = self.known.dialect
        return known.name if known else "auto"

    name = dialect

    @property
    def known_dialect(self) -> Dialect | None:
        """The dialect when it is known without a request (set, or read from the host)."""
        return self.known.dialect

    @property
    def honours_idempotency(self) -> bool:
        """Does a resend with the same Idempotency-Key return the same job (never a second one)?"""
        known = self.known.dialect
        return known is not None and known.replays_idempotency

    async def _resolve(self) -> Dialect:
        return await self.known.resolve()

    async def aclose(self) -> None:
        await self.transport.aclose()

    def _refuse(self, dialect: Dialect, feature: str, status: int | None = None) -> Unsupported:
        said = f" (it has no {feature} route: HTTP {status})" if status else ""
        return Unsupported(
            f"This backend ({dialect.label}) cannot {feature} videos{said}",
            fix="Create a new clip instead with create_video, with a prompt that restates what must stay "
            "the same (subject, setting, camera, style) plus the change you want.",
        )

    async def describe(self) -> Dialect:
        """The dialect record in use (detected on first use when set to auto)."""
        return await self._resolve()

    async def require(self, feature: str) -> None:
        """Refuse `remix`/`extend`/`edit` before anything else when this backend's dialect lacks it."""
        dialect = await self._resolve()
        if not getattr(dialect, feature, True):
            raise self._refuse(dialect, feature)

    async def _derived_job(
        self, dialect: Dialect, feature: str, video_id: str, path: str, fields: dict[str, Any], **kw: Any
    ) -> RemoteVideo:
        """POST a remix/extension/edit; a missing route is told apart from a missing source video."""
        try:
            return await post_job(self.transport, self.known, dialect, path, fields, operation=feature, **kw)
        except (NotFound, BackendError) as exc:
            said = exc.message
            status = next(
                (s for s in (404, 405, 501) if f"HTTP {s}" in said or f"error {s} during" in said), None
            )
            if status is None:
                raise
            await self.retrieve(video_id)  # raises NotFound itself when the source is what is missing
            raise self._refuse(dialect, feature, status) from None

    # -- operations ---------------------------------------------------------------------------

    async def create(
        self,
        prompt: str,
        model: str | None,
        size: str | None,
        seconds: str | int | None,
        input_reference: PreparedReference | None = None,
        extra: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RemoteVideo:
        dialect = await self._resolve()
        fields, files = await create_fields(
            dialect,
            prompt=prompt,
            model=model,
            size=size,
            seconds=seconds,
            ref=input_reference,
            labels=self.known.size_labels.get((model or "").casefold()),
        )
        try:
            video = await post_job(
                self.transport,
                self.known,
                dialect,
                "/videos",
                fields,
                operation="create",
                extra=extra,
                idempotency_key=idempotency_key,
                files=files,
            )
            # Hosted APIs answer a create with just {id, status}: keep what was asked for.
            asked = {"model": model, "size": size, "seconds": None if seconds is None else str(seconds)}
            return video.model_copy(
                update={k: v for k, v in asked.items() if v and getattr(video, k) is None}
            )
        except InvalidInput as exc:
            if not dialect.provisional:
                raise
            # A guessed dialect sends OpenAI's encoding; a refusal may just mean another dialect.
            raise InvalidInput(
                exc.message,
                fix=f"{(exc.fix or '').rstrip('.')}. If this backend is vLLM-Omni, SGLang or LiteLLM, "
                "set SORA_MCP_DIALECT=vllm-omni|sglang|litellm so requests are encoded its way.",
            ) from None

    async def remix(
        self,
        video_id: str,
        prompt: str,
        extra: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RemoteVideo:
        dialect = await self._resolve()
        if not dialect.remix:
            raise self._refuse(dialect, "remix")
        return await self._derived_job(
            dialect,
            "remix",
            video_id,
            f"/videos/{segment(video_id)}/remix",
            {"prompt": prompt},
            extra=extra,
            idempotency_key=idempotency_key,
            encoding="json",
        )

    async def extend(
        self,
        video_id: str,
        prompt: str,
        seconds: str | int,
        extra: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RemoteVideo:
        dialect = await self._resolve()
        if not dialect.extend:
            raise self._refuse(dialect, "extend")
        fields = {
            "prompt": prompt,
            "seconds": seconds_value(dialect, seconds),
            "video": {"id": video_id},
        }
        return await self._derived_job(
            dialect,
            "extend",
            video_id,
            "/videos/extensions",
            fields,
            extra=extra,
            idempotency_key=idempotency_key,
        )

    async def edit(
        self,
        video_id: str,
        prompt: str,
        extra: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> RemoteVideo:
        dialect = await self._resolve()
        if not dialect.edit:
            raise self._refuse(dialect, "edit")
        return await self._derived_job(
            dialect,
            "edit",
            video_id,
            "/videos/edits",
            {"prompt": prompt, "video": {"id": video_id}},
            extra=extra,
            idempotency_key=idempotency_key,
        )

    async def retrieve(self, video_id: str) -> RemoteVideo:
        await self._resolve()
        response = await self.transport.send("GET", f"/videos/{segment(video_id)}", operation="retrieve")
        return self.known.video(response, "retrieve", fallback_id=video_id)

    async def list(self, limit: int = 20, after: str | None = None, order: str = "desc") -> RemotePage:
        dialect = await self._resolve()
        if not dialect.list_route:
            raise Unsupported(
                f"This backend ({dialect.label}) cannot list videos",
                fix="list_videos shows the jobs sora-mcp made, from its own library.",
            )
        headers = {}
        if dialect.list_provider_header:
            provider = self._litellm_provider or self.known.seen_provider or "openai"
            headers[dialect.list_provider_header] = provider
        response = await self.transport.send(
            "GET",
            "/videos",
            operation="list",
            headers=headers,
            params={"limit": limit, "after": after, "order": order},
        )
        body = read_json(response, "list")
        items = body if isinstance(body, list) else body.get("data") or body.get("videos") or []
        videos = [normalize_video(item, dialect=dialect) for item in items if isinstance(item, dict)]
        videos = [v for v in videos if v.id]
        meta = body if isinstance(body, dict) else {}
        return RemotePage(
            data=videos,
            first_id=meta.get("first_id") or (videos[0].id if videos else None),
            last_id=meta.get("last_id") or (videos[-1].id if videos else None),
            has_more=bool(meta.get("has_more", False)),
        )

    async def delete(self, video_id: str) -> bool:
        dialect = await self._resolve()
        path = f"/videos/{segment(video_id)}"
        if not dialect.delete and not dialect.probe_delete:
            raise self._cannot_delete(dialect, "")  # nothing is sent: the provider has no such route
        try:
            response = await self.transport.raw("DELETE", path)
        except openai.APIStatusError as exc:
            status = exc.response.status_code
            if status in (405, 501) or (status == 404 and not dialect.delete):
                raise self._cannot_delete(dialect, f" (HTTP {status})") from None
            raise self.transport.fail(exc, "delete") from None
        except (openai.APIError, httpx2.HTTPError) as exc:
            raise self.transport.fail(exc, "delete") from None
        self.known.video_urls.pop(video_id, None)
        if response.status_code == 204 or not response.content.strip():
            return True
        body = read_json(response, "delete")
        if isinstance(body, dict) and "deleted" in body:
            return bool(body["deleted"])
        return isinstance(body, dict) and normalize_video(body).status == "deleted"

    @staticmethod
    def _cannot_delete(dialect: Dialect, said: str) -> Unsupported:
        return Unsupported(
            f"This backend ({dialect.label}) cannot delete videos{said}",
            fix="Nothing was deleted on the backend; the local record is marked deleted and the "
            "backend will expire the job itself.",
        )

    async def model_catalog(self) -> builtins.list[dict[str, Any]] | None:
        """The provider's models as catalog entries (sizes, durations, features, prices), from the
        dialect's video-models endpoint; None when the dialect has none."""
        dialect = await self._resolve()
        if not dialect.models_path:
            return None
        response = await self.transport.send("GET", dialect.models_path, operation="list models")
        source = f"reported by {dialect.label} (GET {dialect.models_path})"
        entries, self.known.size_labels = catalog_entries(
            read_json(response, "list models"), label=dialect.name, source=source
        )
        return entries

    async def list_models(self) -> builtins.list[str] | None:
        """Model ids the backend offers, or None when it has no `GET /models`."""
        try:
            response = await self.transport.raw("GET", "/models")
        except openai.APIStatusError as exc:
            if exc.response.status_code in (404, 405, 501):
                return None
            raise self.transport.fail(exc, "list models") from None
        except (openai.APIError, httpx2.HTTPError) as exc:
            raise self.transport.fail(exc, "list models") from None
        try:
            return model_ids(response.json())
        except ValueError:
            return None

    def open_content(
        self, video_id: str, variant: Variant = "video", offset: int = 0
    ) -> AbstractAsyncContextManager[ContentStream]:
        """Stream one variant's bytes (from `offset`), never buffering the body."""
        return open_stream(self.transport, self.known, self.retrieve, video_id, variant, offset)
