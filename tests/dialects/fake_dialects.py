"""The four dialect fakes: what vLLM-Omni, SGLang, LiteLLM and a typical gateway do differently.

Behaviour read from each project's `/v1/videos` handlers (late 2026) and from issue 6:
- vLLM-Omni: form fields only, `video_gen_<hex>` ids, `variant` ignored (always MP4),
  delete → `{id, deleted, object: "video.deleted"}`, no remix; `/v1/models` owned_by `vllm`.
- SGLang: JSON (multipart only with an upload), integer `seconds`, progress capped at 99,
  `variant` parsed as an output index (names → 404), delete → the job with `status: "deleted"`.
- LiteLLM: ~200-char base64 `video_` ids, `processing` status, content ignores `variant` and
  Range, no DELETE route (405), list needs a `custom-llm-provider` header, `x-litellm-*` headers
  on job answers but an OpenAI-looking `/v1/models`, the provider's raw id as a remix's
  `remixed_from_video_id` (all as LiteLLM 1.108 answers).
- Gateway: JSON only (multipart → 415), `pending`/`processing`/`succeeded`, `duration` and
  `aspect_ratio` instead of `seconds`/`size`, ISO timestamps, float progress, a `video_url`
  on completion and no `/content` route.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.backends.fakes import FakeVideos


class FakeVllmOmni(FakeVideos):
    def new_id(self) -> str:
        return f"video_gen_{uuid.uuid4().hex}"

    async def parse_create(self, request: Request) -> dict[str, Any] | Response:
        if not request.headers.get("content-type", "").startswith("multipart/"):
            return self.error(400, "Expected multipart/form-data; JSON bodies are not accepted")
        return await super().parse_create(request)

    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        body = super().render(job)
        body.update(
            quality="default",
            media_type="video/mp4",
            file_name=None,
            inference_time_s=None,
            error=None,
            completed_at=None,
            expires_at=None,
        )
        return body

    async def models(self, request: Request) -> Response:
        return self.ok(
            {
                "object": "list",
                "data": [{"id": "Wan-AI/Wan2.2-T2V-A14B-Diffusers", "object": "model", "owned_by": "vllm"}],
            }
        )


class FakeSglang(FakeVideos):
    def new_id(self) -> str:
        return uuid.uuid4().hex

    async def parse_create(self, request: Request) -> dict[str, Any] | Response:
        fields = await super().parse_create(request)
        if request.headers.get("content-type", "").startswith("multipart/"):
            if "input_reference" not in fields:
                return self.error(400, "input_reference file is required")
            fields["seconds"] = int(fields.get("seconds", 4))  # Form(int) parses it
        elif "seconds" in fields and not isinstance(fields["seconds"], int):
            return self.error(400, "Invalid request body: seconds must be an integer")
        return fields

    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        body = super().render(job)
        body["quality"] = "standard"
        body["progress"] = min(job["progress"], 99)  # the cap, even (here) on a finished job
        return body

    async def content(self, request: Request) -> Response:
        variant = request.query_params.get("variant")
        if variant is not None and not variant.isdigit():
            self.gate(request)
            return self.error(404, "Video not found")
        return await super().content(request)

    async def delete(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        job = self.jobs.pop(request.path_params["video_id"], None)
        if job is None:
            return self.error(404, "Video not found")
        return self.ok({**self.render(job), "status": "deleted"})

    async def list(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        return self.ok({"object": "list", "data": [self.render(j) for j in reversed(self.jobs.values())]})

    async def models(self, request: Request) -> Response:
        return self.ok(
            {
                "model_path": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
                "task_type": "T2V",
                "pipeline_name": "wan_pipeline",
                "num_gpus": 1,
            }
        )


class FakeLiteLLM(FakeVideos):
    steps = ("queued", "processing", "completed")
    ranges = False

    def new_id(self) -> str:
        head = "litellm:custom_llm_provider:hosted_vllm;model_id:"
        head += "w" * (-len(head) % 3)  # aligned, so ">>>" encodes to "Pj4+": every id has a '+'
        inner = f"{head}>>>wan;video_id:video_gen_{uuid.uuid4().hex};deployment_id:d{'0' * 40}"
        inner += "0" * (len(inner) % 3 == 0)  # and '=' padding
        return "video_" + base64.b64encode(inner.encode()).decode()

    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        body = super().render(job)
        if job.get("remixed_from"):  # LiteLLM leaves the provider's raw id here, not its own
            inner = base64.b64decode(job["remixed_from"].removeprefix("video_")).decode()
            body["remixed_from_video_id"] = inner.split("video_id:", 1)[1].split(";", 1)[0]
        return body

    def headers(self) -> dict[str, str]:
        return {"x-litellm-version": "1.80.0", "x-litellm-call-id": str(uuid.uuid4())}

    async def list(self, request: Request) -> Response:
        if not request.headers.get("custom-llm-provider"):
            self.gate(request)
            return self.error(400, "custom_llm_provider is required to list videos")
        return await super().list(request)

    async def remix(self, request: Request) -> Response:
        if (blocked := self.gate(request)) is not None:
            return blocked
        source = self.find(request)
        if source is None:
            return self.error(404, "Video not found")
        fields = await request.json()
        self.bodies.append(fields)
        job = self.add_job({**source["fields"], **fields}, remixed_from=source["id"])
        return self.ok(self.render(job))

    async def models(self, request: Request) -> Response:
        # As the real proxy answers: OpenAI-looking, and without its x-litellm-* headers.
        entry = {"id": "wan-video", "object": "model", "owned_by": "openai", "mode": "video_generation"}
        return JSONResponse({"object": "list", "data": [entry]})

    def routes(self) -> list[Route]:
        routes = [
            r for r in super().routes() if not (r.path == "/v1/videos/{video_id}" and "DELETE" in r.methods)
        ]
        return routes + [Route("/v1/videos/{video_id}/remix", self.remix, methods=["POST"])]


class FakeGateway(FakeVideos):
    steps = ("pending", "processing", "succeeded")

    def new_id(self) -> str:
        return f"task-{uuid.uuid4().hex[:12]}"

    async def parse_create(self, request: Request) -> dict[str, Any] | Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return self.error(415, "Unsupported Media Type: send application/json")
        fields = await request.json()
        fields["seconds"] = fields.pop("duration", None) or int(fields.get("seconds") or 5)
        return fields

    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        prompt = job["prompt"]
        status = "cancelled" if "cancel" in prompt else "expired" if "expire" in prompt else job["status"]
        body = {
            "id": job["id"],
            "status": status,
            "model": job["model"],
            "prompt": prompt,
            "duration": float(job["seconds"]),
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "created_at": datetime.fromtimestamp(job["created_at"], UTC).isoformat(),
        }
        if status == "processing":
            body["progress"] = 0.5
        if status == "succeeded":
            body["video_url"] = f"{self.origin}/files/{job['id']}.mp4"
        return body

    async def file(self, request: Request) -> Response:
        self.log.append((request.method, request.url.path, dict(request.headers)))
        job = self.jobs.get(request.path_params["name"].removesuffix(".mp4"))
        return self.stream_mp4(request, self.content_size) if job else self.error(404, "no such file")

    async def models(self, request: Request) -> Response:
        return self.error(404, "Not Found")

    def routes(self) -> list[Route]:
        routes = [r for r in super().routes() if not r.path.endswith("/content")]
        return routes + [Route("/files/{name}", self.file, methods=["GET"])]
