"""`Backend`: the `/v1/videos` operations, each encoded the way the backend's dialect wants.

Create/remix/extend/edit are POSTed once (never retried) with the caller's Idempotency-Key;
features a dialect lacks are refused before any request with the alternative named; downloads
stream through `ContentStream`, from `/content` or from a completion's `video_url`.
The plumbing (SDK client, detection, error mapping, `video_url` streams) lives in `transport.py`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio
import httpx2
import openai

from sora_mcp.backends.content import ContentStream, VariantUnavailable
from sora_mcp.backends.dialects import Dialect, form_value, normalize_video
from sora_mcp.backends.hosted import catalog_entries, json_reference, size_fields
from sora_mcp.backends.transport import AUTH, Transport, read_json, segment
from sora_mcp.config import Settings
from sora_mcp.errors import BackendError, InvalidInput, NotFound, NotReady, SoraError, Unsupported
from sora_mcp.models import RemotePage, RemoteVideo, Variant

_MULTIPART = {"Content-Type": "multipart/form-data"}


class PreparedReference(Protocol):
    """What `sora_mcp.prompting.prepare_reference` yields (duck-typed to keep imports one-way)."""

    kind: str
    path: Any
    filename: str | None
    mime_type: str | None
    image_url: str | None
    file_id: str | None


class Backend(Transport):
    """One `/v1/videos` backend. Build it with `Backend.from_settings`."""

    @classmethod
    def from_settings(
        cls, settings: Settings, *, base_url: str | None = None, api_key: str | None = None
    ) -> Backend:
        """The backend `settings` point at; `base_url` and `api_key` override it (the embedded engine's)."""
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
        )

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
            return await self._post_job(dialect, path, fields, operation=feature, **kw)
        except (NotFound, BackendError) as exc:
            said = exc.message
            status = next(
                (s for s in (404, 405, 501) if f"HTTP {s}" in said or f"error {s} during" in said), None
            )
            if status is None:
                raise
            await self.retrieve(video_id)  # raises NotFound itself when the source is what is missing
            raise self._refuse(dialect, feature, status) from None

    async def _post_job(
        self,
        dialect: Dialect,
        path: str,
        fields: dict[str, Any],
        *,
        operation: str,
        extra: Mapping[str, Any] | None,
        idempotency_key: str | None,
        files: list[tuple[str, Any]] | None = None,
        encoding: str | None = None,
    ) -> RemoteVideo:
        """POST a job-creating request once, encoded the way the dialect wants."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {k: v for k, v in fields.items() if v is not None}
        for key, value in (extra or {}).items():
            body.setdefault(key, value)  # provider extras add fields; they never replace ours
        multipart = bool(files) or (encoding or dialect.encoding) == "multipart"
        if multipart:
            # Scalars become form fields; our {id}/{image_url} references keep the SDK's a[b] form.
            form = {k: (v if k in fields and isinstance(v, dict) else form_value(v)) for k, v in body.items()}
            try:
                response = await self._send(
                    "POST",
                    path,
                    operation=operation,
                    creates=True,
                    body=form,
                    files=files,
                    headers={**_MULTIPART, **headers},
                )
            except InvalidInput as exc:
                if not (dialect.json_fallback and not files and "HTTP 415" in exc.message):
                    raise
                # 415 means the body was refused unread: nothing was created, JSON is safe to send.
                response = await self._send(
                    "POST", path, operation=operation, creates=True, body=body, headers=headers
                )
        else:
            response = await self._send(
                "POST", path, operation=operation, creates=True, body=body, headers=headers
            )
        return self._video(response, operation)

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
        secs: Any = None if seconds is None else (int(seconds) if dialect.seconds_int else str(seconds))
        labels = self._size_labels.get((model or "").casefold())
        fields: dict[str, Any] = {
            "prompt": prompt,
            "model": model,
            **size_fields(dialect.size_encoding, size, labels),
        }
        fields[dialect.seconds_field] = secs
        files = None
        ref = input_reference
        if ref is not None and dialect.reference in ("none", "frame_images"):
            fields.update(await json_reference(dialect, ref))
        elif ref is not None and ref.kind == "file" and ref.path is not None:
            data = await anyio.Path(ref.path).read_bytes()
            files = [
                (
                    "input_reference",
                    (ref.filename or "reference", data, ref.mime_type or "application/octet-stream"),
                )
            ]
        elif ref is not None:
            pointer = {"image_url": ref.image_url} if ref.kind == "image_url" else {"file_id": ref.file_id}
            # vLLM-Omni names the JSON-safe reference `image_reference`; the others follow OpenAI.
            if dialect.reference == "image_reference":
                fields["image_reference"] = form_value(pointer)
            else:
                fields["input_reference"] = pointer
        try:
            video = await self._post_job(
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
            if dialect.name != "generic":
                raise
            # Unrecognised backends get OpenAI's encoding; a refusal may just mean another dialect.
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
            "seconds": int(seconds) if dialect.seconds_int else str(seconds),
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
        response = await self._send("GET", f"/videos/{segment(video_id)}", operation="retrieve")
        return self._video(response, "retrieve", fallback_id=video_id)

    async def list(self, limit: int = 20, after: str | None = None, order: str = "desc") -> RemotePage:
        dialect = await self._resolve()
        if not dialect.list_route:
            raise Unsupported(
                f"This backend ({dialect.label}) cannot list videos",
                fix="list_videos shows the jobs sora-mcp made, from its own library.",
            )
        headers = {}
        if dialect.name == "litellm":
            headers["custom-llm-provider"] = self._litellm_provider or self._seen_provider or "openai"
        response = await self._send(
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
        try:
            response = await self._client.delete(path, cast_to=httpx2.Response, options={"security": AUTH})
        except openai.APIStatusError as exc:
            status = exc.response.status_code
            if status in (405, 501) or (status == 404 and not dialect.delete):
                raise Unsupported(
                    f"This backend ({dialect.label}) cannot delete videos (HTTP {status})",
                    fix="Nothing was deleted on the backend; the local record is marked deleted and the "
                    "backend will expire the job itself.",
                ) from None
            raise self._fail(exc, "delete") from None
        except (openai.APIError, httpx2.HTTPError) as exc:
            raise self._fail(exc, "delete") from None
        self._video_urls.pop(video_id, None)
        if response.status_code == 204 or not response.content.strip():
            return True
        body = read_json(response, "delete")
        if isinstance(body, dict) and "deleted" in body:
            return bool(body["deleted"])
        return isinstance(body, dict) and normalize_video(body).status == "deleted"

    async def model_catalog(self) -> list[dict[str, Any]] | None:
        """The provider's models as catalog entries (sizes, durations, features, prices), from the
        dialect's video-models endpoint; None when the dialect has none."""
        dialect = await self._resolve()
        if not dialect.models_path:
            return None
        response = await self._send("GET", dialect.models_path, operation="list models")
        source = f"reported by {dialect.label} (GET {dialect.models_path})"
        entries, self._size_labels = catalog_entries(
            read_json(response, "list models"), label=dialect.name, source=source
        )
        return entries

    async def list_models(self) -> list[str] | None:
        """Model ids the backend offers, or None when it has no `GET /models`."""
        try:
            response = await self._client.get("/models", cast_to=httpx2.Response, options={"security": AUTH})
        except openai.APIStatusError as exc:
            if exc.response.status_code in (404, 405, 501):
                return None
            raise self._fail(exc, "list models") from None
        except (openai.APIError, httpx2.HTTPError) as exc:
            raise self._fail(exc, "list models") from None
        try:
            body = response.json()
        except ValueError:
            return None
        if isinstance(body, dict) and isinstance(body.get("model_path"), str):
            return [body["model_path"]]  # SGLang diffusion describes its one model
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return None
        return [str(i["id"]) for i in items if isinstance(i, dict) and i.get("id")]

    @asynccontextmanager
    async def open_content(
        self, video_id: str, variant: Variant = "video", offset: int = 0
    ) -> AsyncIterator[ContentStream]:
        """Stream one variant's bytes (from `offset`), never buffering the body."""
        dialect = await self._resolve()
        if variant != "video" and not dialect.named_variants:
            raise VariantUnavailable(
                f"This backend ({dialect.label}) serves only the MP4, not the {variant}",
                fix="sora-mcp derives it locally from the downloaded MP4.",
            )
        headers = {"Range": f"bytes={offset}-"} if offset > 0 else {}
        url = self._video_urls.get(video_id) if variant == "video" else None
        response = None
        if url is None and not dialect.content_route:
            url = await self._explain_missing_content(video_id, variant, None)
        elif url is None:
            try:
                response = await self._send(
                    "GET",
                    f"/videos/{segment(video_id)}/content",
                    operation="download",
                    stream=True,
                    headers=headers,
                    params={"variant": variant}
                    if variant != "video"
                    else dict(dialect.content_params) or None,
                )
            except SoraError as exc:
                url = await self._explain_missing_content(video_id, variant, exc)
        if url is not None:
            response = await self._open_url(url, headers)
        assert response is not None
        try:
            stream = ContentStream(response, requested=variant, offset=offset)
            await stream._prime()
            yield stream
        finally:
            await response.aclose()

    async def _explain_missing_content(self, video_id: str, variant: Variant, exc: SoraError | None) -> str:
        """A content request failed (or there is no content route): find the `video_url`, or say
        why there is nothing to fetch."""
        if exc is not None and exc.code not in ("not_found", "not_ready", "invalid_input", "unsupported"):
            raise exc
        video = await self.retrieve(video_id)  # raises NotFound itself when the id is unknown
        if video.status != "completed":
            failed = video.status in ("failed", "cancelled", "expired", "deleted")
            raise NotReady(
                f"Video {video_id} is {video.status}, so it has no {variant} to download",
                fix="Create a new clip." if failed else "Wait until its status is completed, then download.",
            ) from None
        if variant != "video":
            raise VariantUnavailable(
                f"The backend has no {variant} for {video_id}",
                fix="sora-mcp derives it locally from the MP4.",
            ) from None
        if video.video_url:
            return video.video_url
        raise exc or NotFound(
            f"The backend reports {video_id} completed but gives no URL to download it from",
            fix="Ask again in a moment; completed jobs list their video URL once it is stored.",
        )
