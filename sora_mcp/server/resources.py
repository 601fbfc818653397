"""The MCP resources: the prompt template, guardrails, models, one job, the library, spend."""

from __future__ import annotations

import json

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from sora_mcp.errors import SoraError
from sora_mcp.prompting import content_text
from sora_mcp.service import VideoService


def register_resources(mcp: MCPServer, service: VideoService) -> None:
    @mcp.resource("sora://prompt-template", name="prompt-template", mime_type="text/markdown")
    def prompt_template() -> str:
        """The structured prompt template (line order and rules) that create_video's augmentation uses."""
        return content_text("prompt-template.md")

    @mcp.resource("sora://guardrails", name="guardrails", mime_type="text/markdown")
    def guardrails() -> str:
        """Content rules every request is checked against, and how refusals look."""
        return content_text("guardrails.md")

    @mcp.resource("sora://models", name="models", mime_type="text/markdown")
    async def models() -> str:
        """The models, sizes, durations and prices this server accepts (the effective catalog)."""
        try:
            catalog = await service.refresh_catalog()
        except SoraError as exc:
            return f"# Models\n\nThe backend's model list could not be read: {exc.message}\n"
        text = catalog.as_markdown()
        if catalog.provider:
            return text  # the provider's own list is already the whole truth
        # Annotated: inside VideoService's body `list` names its method, which blurs the inferred type.
        served: list[str] | None = await service.backend_models()
        if served:
            text += "\n\n## Models the backend lists (GET /v1/models)\n\n" + "\n".join(
                f"- {m}" + ("" if service.catalog.get(m) else " (not in the catalog: basic checks only)")
                for m in served
            )
        return text

    @mcp.resource("sora://videos/{video_id}", name="video", mime_type="application/json")
    async def video(video_id: str) -> str:
        """One job as JSON, from the backend (and the library's record of it)."""
        try:
            job = await service.get_status(video_id, archive_now=False)
        except SoraError as exc:
            raise ResourceError(str(exc)) from None
        job = service.with_links(job)  # files in S3: each with a fresh time-limited link
        return job.model_dump_json(indent=2, exclude_none=True)

    @mcp.resource("sora://library", name="library", mime_type="application/json")
    def library() -> str:
        """What the local library holds: counts by status, disk used, recent jobs."""
        return json.dumps(service.library_summary(), indent=2)

    @mcp.resource("sora://spend", name="spend", mime_type="application/json")
    def spend() -> str:
        """Estimated spend from the ledger: today, this month, total, and the budget left."""
        return json.dumps(service.spend_summary(), indent=2)
