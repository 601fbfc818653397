"""`create_app(config)`: the Starlette app speaking OpenAI's `/v1/videos` API, plus `/_engine` admin routes.

Handlers stay thin: parse and validate (`parsing`), create or read jobs (`core.Engine`),
stream files (`content`). The front-door checks, stats and fault injection wrap every request
(`middleware`). The admin routes exist only when `faults_enabled` is on (tests, benchmarks).
A path id is checked against the one id shape before anything else, so `..` is just unknown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sora_mcp.engine import parsing
from sora_mcp.engine.config import EngineConfig
from sora_mcp.engine.content import FileStream
from sora_mcp.engine.core import IDEMPOTENCY_WINDOW_S, Engine, new_video_id
from sora_mcp.engine.errors import ApiError, bad_request, error_response, not_found
from sora_mcp.engine.middleware import EngineMiddleware
from sora_mcp.engine.stats import RequestStats
from sora_mcp.engine.store import EngineJob, is_video_id
from sora_mcp.engine.worker import VARIANT_FILES, copy_reference, output_dir, prepare_source

VARIANT_MIME = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _path_id(request: Request) -> str:
    """The `{video_id}` of the path, or 404 when it cannot be an id of this engine."""
    video_id: str = request.path_params["video_id"]
    if not is_video_id(video_id):
        raise not_found(video_id)
    return video_id


def _job_response(engine: Engine, job: EngineJob) -> JSONResponse:
    return JSONResponse(
        job.public(), headers={"openai-poll-after-ms": str(engine.config.effective_poll_after_ms)}
    )


def _creating(
    build: Callable[[Engine, Request, dict[str, Any]], EngineJob],
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a job-creating handler: body parsing, Idempotency-Key replay, cleanup of uploads."""

    async def handler(request: Request) -> Response:
        engine = _engine(request)
        try:
            data = await parsing.read_body(request)
            key = request.headers.get("idempotency-key")
            scoped = f"{request.url.path}\n{key}" if key else None
            if scoped:
                previous = engine.store.idempotent_job(scoped, IDEMPOTENCY_WINDOW_S)
                job = engine.store.get(previous) if previous else None
                if job is not None:
                    return _job_response(engine, job)
            # Uploaded files are read before any job exists, so a refusal leaves nothing behind.
            data["__reference__"] = await parsing.reference_of(data) if "input_reference" in data else None
            job = build(engine, request, data)
            if scoped:
                engine.store.remember_key(scoped, job.id)
            return _job_response(engine, job)
        finally:
            await request.close()

    return handler


def _build_create(engine: Engine, request: Request, data: dict[str, Any]) -> EngineJob:
    prompt = parsing.prompt_of(data)
    model = parsing.model_of(data)
    size = parsing.size_of(data, model)
    seconds = parsing.seconds_of(data, allowed=parsing.CREATE_SECONDS, default=parsing.DEFAULT_SECONDS)
    seed = parsing.seed_of(data)
    return engine.new_job(
        kind="create",
        prompt=prompt,
        model=model,
        size=size,
        seconds=seconds,
        seed=parsing.stable_seed(prompt, size, seconds) if seed is None else seed,
        reference=data["__reference__"],
    )


def _completed_source(engine: Engine, video_id: str, action: str, *, need_file: bool) -> EngineJob:
    source = engine.store.get(video_id)
    if source is None:
        raise not_found(video_id)
    if source.status != "completed":
        raise ApiError(
            400,
            f"Video '{video_id}' is {source.status}, so it cannot be {action}. "
            "Wait until its status is completed (poll GET /v1/videos/{id}), then try again.",
            param="video_id",
            code="video_not_completed",
        )
    if need_file and (
        source.expired() or not (output_dir(engine.store, video_id) / VARIANT_FILES["video"]).exists()
    ):
        raise ApiError(
            400,
            f"Video '{video_id}' has expired and its files are gone, so it cannot be {action}. "
            "Create the video again (or remix it) and use the new one.",
            param="video",
            code="video_expired",
        )
    return source


def _build_remix(engine: Engine, request: Request, data: dict[str, Any]) -> EngineJob:
    source = _completed_source(engine, _path_id(request), "remixed", need_file=False)
    prompt = parsing.prompt_of(data)
    video_id = new_video_id()
    return engine.new_job(
        kind="remix",
        prompt=prompt,
        model=source.model,
        size=source.size,
        seconds=int(source.seconds),
        seed=source.seed,  # same visual seed and layout, changed per the new prompt
        reference_file=copy_reference(engine.store, source, video_id),
        source_id=source.id,
        remixed_from=source.id,
        video_id=video_id,
    )


def _build_extension(engine: Engine, request: Request, data: dict[str, Any]) -> EngineJob:
    source = _completed_source(engine, parsing.video_ref_of(data), "extended", need_file=True)
    prompt = parsing.prompt_of(data)
    seconds = parsing.seconds_of(data, allowed=parsing.EXTENSION_SECONDS, default=None)
    video_id = new_video_id()
    return engine.new_job(
        kind="extension",
        prompt=prompt,
        model=source.model,
        size=source.size,
        seconds=int(source.seconds) + seconds,  # the stitched total, as OpenAI reports it
        seed=source.seed,
        reference_file=copy_reference(engine.store, source, video_id),
        source_file=prepare_source(engine.store, source, video_id),
        source_id=source.id,
        video_id=video_id,
    )


def _build_edit(engine: Engine, request: Request, data: dict[str, Any]) -> EngineJob:
    source = _completed_source(engine, parsing.video_ref_of(data), "edited", need_file=True)
    prompt = parsing.prompt_of(data)
    video_id = new_video_id()
    return engine.new_job(
        kind="edit",
        prompt=prompt,
        model=source.model,
        size=source.size,
        seconds=int(source.seconds),
        seed=source.seed,
        reference_file=copy_reference(engine.store, source, video_id),
        source_file=prepare_source(engine.store, source, video_id),
        source_id=source.id,
        video_id=video_id,
    )


async def retrieve(request: Request) -> Response:
    engine = _engine(request)
    video_id = _path_id(request)
    job = engine.store.get(video_id)
    if job is None:
        raise not_found(video_id)
    return _job_response(engine, job)


async def list_videos(request: Request) -> Response:
    engine = _engine(request)
    query = request.query_params
    raw_limit = query.get("limit", "20")
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3) or int(raw_limit) > 100:
        raise bad_request(f"Invalid 'limit' {raw_limit!r}: give a whole number from 0 to 100.", param="limit")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request(f"Invalid 'order' {order!r}: use 'asc' or 'desc'.", param="order")
    after = query.get("after") or None
    try:
        jobs, has_more = engine.store.page(after=after, limit=int(raw_limit), order=order)  # type: ignore[arg-type]
    except KeyError:
        raise bad_request(
            f"Invalid 'after': no video with id '{after}' exists here. Pass the last_id of the previous page.",
            param="after",
        )
    data = [job.public() for job in jobs]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more,
        }
    )


async def delete(request: Request) -> Response:
    engine = _engine(request)
    video_id = _path_id(request)
    if not engine.store.delete(video_id):
        raise not_found(video_id)
    return JSONResponse({"id": video_id, "object": "video.deleted", "deleted": True})


async def content(request: Request) -> Response | FileStream:
    engine = _engine(request)
    video_id = _path_id(request)
    variant = request.query_params.get("variant", "video")
    if variant not in VARIANT_FILES:
        raise bad_request(
            f"Invalid 'variant' {variant!r}: use video, thumbnail or spritesheet.", param="variant"
        )
    job = engine.store.get(video_id)
    if job is None:
        raise not_found(video_id)
    if job.status in ("queued", "in_progress"):
        raise ApiError(
            409,
            f"Video '{video_id}' is not ready: status {job.status} ({job.progress}%). "
            "Poll GET /v1/videos/{id} until status is completed, then download.",
            param="video_id",
            code="video_not_ready",
        )
    if job.status == "failed":
        code = (job.error or {}).get("code", "failed")
        raise ApiError(
            409,
            f"Video '{video_id}' failed ({code}), so it has no content. Create a new video.",
            param="video_id",
            code="video_failed",
        )
    path = output_dir(engine.store, video_id) / VARIANT_FILES[variant]
    if job.expired():
        import shutil

        shutil.rmtree(output_dir(engine.store, video_id), ignore_errors=True)  # the asset is gone for good
        raise ApiError(
            404,
            f"The content of video '{video_id}' expired at unix time {job.expires_at} "
            f"(assets are kept {engine.config.asset_ttl_s} s after completion) and was deleted. "
            "Download promptly after completion; to get it again, remix or create the video anew.",
            param="video_id",
            code="video_expired",
        )
    if not path.exists():
        raise ApiError(
            404,
            f"The {variant} file of video '{video_id}' is missing from the engine's data dir. "
            "Remix or create the video again.",
            param="variant",
            code="content_missing",
        )
    return FileStream(path, VARIANT_MIME[variant], drop_after=engine.config.drop_download_after_bytes)


async def list_models(request: Request) -> Response:
    """OpenAI's `GET /v1/models`: the model ids this engine accepts (it previews the sora-2 family)."""
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"id": model, "object": "model", "created": 0, "owned_by": "sora-mcp-engine"}
                for model in parsing.MODELS
            ],
        }
    )


async def admin_stats(request: Request) -> Response:
    engine = _engine(request)
    return JSONResponse(
        {
            "requests": [list(entry) for entry in engine.stats.requests],
            "jobs_created": engine.stats.jobs_created,
            "jobs": engine.store.count(),
        }
    )


async def admin_faults(request: Request) -> Response:
    engine = _engine(request)
    if request.method == "POST":
        try:
            engine.set_faults(**parsing.load_json(await request.body()))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise bad_request(
                f"Invalid fault knob {first['loc'][0]!r}: {first['msg']}.", param=str(first["loc"][0])
            )
        except (ValueError, TypeError) as exc:
            raise bad_request(f"Invalid fault knobs: {exc}")
    return JSONResponse(engine.fault_knobs())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Unknown path '{request.url.path}'. This engine serves /v1/videos and its sub-routes."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on '{request.url.path}'."
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return error_response(
        500,
        "The engine hit an internal error handling this request (details are in its log). Retry the request.",
        type="server_error",
        code="server_error",
    )


def create_app(config: EngineConfig, *, stats: RequestStats | None = None) -> Starlette:
    """The engine as an ASGI app; `app.state.engine` is its `Engine`. The lifespan runs the worker."""
    engine = Engine(config, stats)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine.start()
        try:
            yield
        finally:
            engine.stop()

    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/videos", _creating(_build_create), methods=["POST"]),
        Route("/v1/videos", list_videos, methods=["GET"]),
        Route("/v1/videos/extensions", _creating(_build_extension), methods=["POST"]),
        Route("/v1/videos/edits", _creating(_build_edit), methods=["POST"]),
        Route("/v1/videos/{video_id}", retrieve, methods=["GET"]),
        Route("/v1/videos/{video_id}", delete, methods=["DELETE"]),
        Route("/v1/videos/{video_id}/content", content, methods=["GET"]),
        Route("/v1/videos/{video_id}/remix", _creating(_build_remix), methods=["POST"]),
    ]
    if config.faults_enabled:  # off by default: a normal engine has no admin surface at all
        routes += [
            Route("/_engine/stats", admin_stats, methods=["GET"]),
            Route("/_engine/faults", admin_faults, methods=["GET", "POST"]),
        ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(EngineMiddleware, engine=engine)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    # No redirect to the slash-less path: `DELETE /v1/videos/%2f` is an unknown path (404), not a
    # 307 to a URL built from the request's Host header.
    app.router.redirect_slashes = False
    app.state.engine = engine
    return app
