"""Fakes of hosted video APIs, built from their published docs, served on 127.0.0.1.

- `FakeOpenRouter` — openrouter.ai/docs/features/video-generation ("Video Generation") and
  openrouter.ai/docs/api/api-reference/video-generation (submit, poll, content, video models):
  `POST /api/v1/videos` takes JSON with `duration` (integer), `resolution` ("720p") and
  `aspect_ratio` ("16:9"), answers `{id, polling_url, status: "pending"}`; the poll goes
  pending → in_progress → completed|failed|cancelled|expired; a completed job carries
  `unsigned_urls` (its content route), optionally signed `urls`, and `usage.cost`; the content
  route `GET /api/v1/videos/{id}/content?index=0` needs the key; `GET /api/v1/videos/models`
  lists `supported_resolutions`, `supported_aspect_ratios`, `supported_durations`,
  `supported_frame_images`, `generate_audio`, `pricing_skus`. An out-of-set value is a 400, as
  the docs say. There is no list, remix, extension, edit or DELETE route (Starlette answers 405).
- `FakeTogether` — docs.together.ai/reference/create-videos and get-videos-id: JSON with
  integer `width`/`height` and `seconds` as text, statuses in_progress|completed|failed (no
  queued), `outputs: {cost, video_url}` on completion, `error: {code, message}` on failure; the
  video_url is a signed URL on another host.
- `FakeMillisGateway` — a `/v1/videos` gateway that reports `created_at`/`completed_at` in
  milliseconds (as some OpenAI-compatible gateways do).
- `SignedStore` — the storage host a signed URL points at; it records every request's headers
  so a test can prove the API key never reached it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.backends.fakes import FakeVideos

OPENROUTER_MODELS: list[dict[str, Any]] = [
    {
        "id": "google/veo-3.1",
        "canonical_slug": "google/veo-3.1",
        "name": "Google: Veo 3.1",
        "created": 1719792000,
        "supported_resolutions": ["720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_sizes": ["1280x720", "1920x1080", "720x1280", "1080x1920"],
        "supported_durations": [4, 6, 8],
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "pricing_skus": {"per-video-second": "0.40", "per-video-second-1080p": "0.60"},
        "allowed_passthrough_parameters": ["output_config"],
    },
    {
        "id": "alibaba/wan-2.6",
        "canonical_slug": "alibaba/wan-2.6",
        "name": "Alibaba: Wan 2.6",
        "supported_resolutions": ["480p", "720p"],
        "supported_aspect_ratios": ["16:9", "1:1"],
        "supported_durations": [5, 10],
        "supported_frame_images": [],
        "generate_audio": False,
        "seed": True,
        "pricing_skus": {"per-video-second": "0.04"},
    },
]


class SignedStore(FakeVideos):
    """A storage host serving `/signed/{video_id}?sig=...`: right signature → the MP4, else 403."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.valid: set[str] = set()

    def sign(self, video_id: str) -> str:
        sig = uuid.uuid4().hex
        self.valid.add(f"{video_id}:{sig}")
        return f"{self.origin}/signed/{video_id}?sig={sig}&expires={int(time.time()) + 3600}"

    async def signed(self, request: Request) -> Response:
        self.log.append((request.method, request.scope.get("raw_path", b"").decode(), dict(request.headers)))
        if f"{request.path_params['video_id']}:{request.query_params.get('sig')}" not in self.valid:
            return self.error(403, "signature does not match")
        return self.stream_mp4(request, self.content_size)

    def routes(self) -> list[Route]:
        return [Route("/signed/{video_id}", self.signed, methods=["GET"])]


class FakeOpenRouter(FakeVideos):
    steps = ("pending", "in_progress", "completed")

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.models_served = [dict(m) for m in OPENROUTER_MODELS]
        self.store: SignedStore | None = None  # when set, completed jobs also carry signed `urls`
        self.outcome = "completed"  # what the next created job ends as
        self.cost_factor = 0.9  # the bill differs from the listed price, so a test can tell them apart
        self.content_queries: list[str] = []

    def new_id(self) -> str:
        return f"job-{uuid.uuid4().hex[:16]}"

    def _spec(self, model: object) -> dict[str, Any] | None:
        return next((m for m in self.models_served if m["id"] == model), None)

    async def parse_create(self, request: Request) -> dict[str, Any] | Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return self.error(400, "Request body must be JSON")
        body = await request.json()
        spec = self._spec(body.get("model"))
        if spec is None:
            return self.error(400, f"Model {body.get('model')} does not support video generation")
        for field, allowed in (
            ("duration", spec["supported_durations"]),
            ("resolution", spec["supported_resolutions"]),
            ("aspect_ratio", spec["supported_aspect_ratios"]),
        ):
            if field in body and body[field] not in allowed:
                return self.error(400, f"{field} {body[field]!r} is not supported by {spec['id']}")
        if "size" in body or "seconds" in body:
            return self.error(400, "Unrecognized keys: size/seconds (use resolution, aspect_ratio, duration)")
        if not isinstance(body.get("duration", 0), int):
            return self.error(400, "duration must be an integer")
        return body

    def add_job(self, fields: dict[str, Any], **more: Any) -> dict[str, Any]:
        return super().add_job(fields, outcome=self.outcome, **more)

    def advance(self, job: dict[str, Any]) -> None:
        super().advance(job)
        if job["status"] == "completed":
            job["status"] = job["outcome"]

    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": job["id"],
            "polling_url": f"{self.origin}/api/v1/videos/{job['id']}",
            "status": job["status"],
        }
        if job["status"] == "completed":
            fields = job["fields"]
            spec = self._spec(fields["model"]) or {}
            skus = spec.get("pricing_skus", {})
            price = float(
                skus.get(f"per-video-second-{fields.get('resolution')}", skus.get("per-video-second", 0))
            )
            body.update(
                generation_id=f"gen-{job['id']}",
                unsigned_urls=[f"{self.origin}/api/v1/videos/{job['id']}/content?index=0"],
                usage={
                    "cost": round(price * int(fields.get("duration") or 0) * self.cost_factor, 4),
                    "is_byok": False,
                },
            )
            if self.store is not None:
                body["urls"] = [self.store.sign(job["id"])]
        elif job["status"] == "failed":
            body["error"] = "The provider rejected the prompt"
        elif job["status"] == "expired":
            body["error"] = "Generation output expired"
        return body

    async def create(self, request: Request) -> Response:
        response = await super().create(request)
        if response.status_code == 200:
            response.status_code = 202  # the docs' answer to a submitted job
        return response

    async def content(self, request: Request) -> Response:
        self.content_queries.append(str(request.query_params))
        if request.query_params.get("index", "0") != "0":
            return self.error(404, "No output at that index")
        return await super().content(request)

    async def video_models(self, request: Request) -> Response:
        # Public in the docs (the curl example sends no key); logged all the same.
        self.log.append((request.method, request.scope.get("raw_path", b"").decode(), dict(request.headers)))
        return self.ok({"data": self.models_served})

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/videos/models", self.video_models, methods=["GET"]),
            Route("/api/v1/videos", self.create, methods=["POST"]),
            Route("/api/v1/videos/{video_id}", self.retrieve, methods=["GET"]),
            Route("/api/v1/videos/{video_id}/content", self.content, methods=["GET"]),
        ]


class FakeTogether(FakeVideos):
    steps = ("in_progress", "in_progress", "completed")  # no queued state

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.store: SignedStore | None = None
        self.outcome = "completed"  # what the next created job ends as

    def add_job(self, fields: dict[str, Any], **more: Any) -> dict[str, Any]:
        return super().add_job(fields, outcome=self.outcome, **more)

    def advance(self, job: dict[str, Any]) -> None:
        super().advance(job)
        if job["status"] == "completed":
            job["status"] = job["outcome"]

    async def parse_create(self, request: Request) -> dict[str, Any] | Response:
        body = await request.json()
        if "size" in body:
            return self.error(400, "Unknown field size: use width and height")
        if not isinstance(body.get("width"), int) or not isinstance(body.get("height"), int):
            return self.error(400, "width and height must be integers")
        if not isinstance(body.get("seconds", ""), str):
            return self.error(400, "seconds must be a string")
        body["size"] = f"{body['width']}x{body['height']}"
        return body

    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": job["id"],
            "object": "video",
            "model": job["model"],
            "status": job["status"],
            "created_at": job["created_at"],
            "size": job["size"],
            "seconds": str(job["seconds"]),
        }
        if job["status"] == "completed":
            body["completed_at"] = job["created_at"] + 30
            url = self.store.sign(job["id"]) if self.store else f"{self.origin}/nowhere"
            body["outputs"] = {"cost": 0.35, "video_url": url}
        elif job["status"] == "failed":
            body["error"] = {"code": "generation_failed", "message": "The model could not render this prompt"}
        return body

    def routes(self) -> list[Route]:
        return [
            Route("/v2/videos", self.create, methods=["POST"]),
            Route("/v2/videos/{video_id}", self.retrieve, methods=["GET"]),
        ]


class FakeMillisGateway(FakeVideos):
    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        body = super().render(job)
        body["created_at"] = job["created_at"] * 1000 + 123
        if job["status"] == "completed":
            body["completed_at"] = (job["created_at"] + 20) * 1000
        return body
