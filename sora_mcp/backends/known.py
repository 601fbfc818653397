"""What a `Backend` knows about the server behind it: its dialect, and what its answers taught.

The dialect is set (SORA_MCP_DIALECT), read from the host (hosted providers, OpenAI), or detected
once from `GET /models`; a provisional guess is refined from the first job answer. Job answers are
read into `RemoteVideo`s here, remembering what later calls need: each completion's `video_url`,
the provider's size labels per model, and the provider behind a LiteLLM proxy (from its ids).
Every choice reads a field of the `Dialect` record, never its name. `detect_dialect` guesses the
family from reliable facts (host, `/models` answers, LiteLLM's response headers) and
`dialect_from_answer` refines a provisional guess from the first job answer (LiteLLM's headers and
encoded ids, vLLM-Omni's ids).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import anyio
import httpx2
import openai

from sora_mcp.backends.dialects import DIALECTS, Dialect, normalize_video
from sora_mcp.backends.errors import host_of
from sora_mcp.backends.transport import Transport, read_json
from sora_mcp.config import DialectChoice, DialectName
from sora_mcp.errors import BackendError
from sora_mcp.models import RemoteVideo

# Hosts that name their dialect outright.
HOSTS: dict[str, DialectName] = {host: d.name for d in DIALECTS.values() for host in d.hosts}

# `owned_by` values in a `GET /v1/models` answer that say who is serving.
_OWNERS: dict[str, DialectName] = {
    "vllm-omni": "vllm-omni",
    "vllm_omni": "vllm-omni",
    "vllm": "vllm-omni",  # plain vLLM has no /v1/videos; with --omni it does
    "sglang": "sglang",
    "litellm": "litellm",
    "sora-mcp-engine": "engine",
}


def detect_dialect(
    *, host: str, models_body: object = None, headers: dict[str, str] | None = None
) -> DialectName:
    """Guess the dialect from reliable facts only; `generic` when unsure."""
    if host.split(":")[0] in HOSTS:
        return HOSTS[host.split(":")[0]]
    if headers and any(name.lower().startswith("x-litellm") for name in headers):
        return "litellm"
    if isinstance(models_body, dict):
        if "model_path" in models_body and ("task_type" in models_body or "pipeline_name" in models_body):
            return "sglang"
        owners = {
            str(item.get("owned_by", "")).lower()
            for item in models_body.get("data", []) or []
            if isinstance(item, dict)
        }
        found = {_OWNERS[o] for o in owners if o in _OWNERS}
        if len(found) == 1:  # one clear owner; a mix (a gateway re-listing others) proves nothing
            return found.pop()
    return "generic"


def dialect_from_answer(video_id: str, headers: Mapping[str, str]) -> DialectName | None:
    """Who answered, when a job answer says so: LiteLLM's headers or encoded ids, vLLM-Omni's ids."""
    if litellm_provider_from_id(video_id) or any(name.lower().startswith("x-litellm") for name in headers):
        return "litellm"
    if video_id.startswith("video_gen_"):
        return "vllm-omni"
    return None


def _litellm_parts(video_id: str) -> list[str] | None:
    """LiteLLM ids are `video_` + base64 of `litellm:custom_llm_provider:X;model_id:...;video_id:...`."""
    if not video_id.startswith("video_"):
        return None
    try:
        raw = video_id.removeprefix("video_")
        text = base64.b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8", "strict")
    except (ValueError, UnicodeDecodeError):
        return None
    parts = text.split(";")
    return parts if parts[0].startswith("litellm:custom_llm_provider:") else None


def litellm_provider_from_id(video_id: str) -> str | None:
    parts = _litellm_parts(video_id)
    return (parts[0].removeprefix("litellm:custom_llm_provider:") or None) if parts else None


def litellm_sibling_id(own_id: str, raw_id: str) -> str | None:
    """The LiteLLM id of `raw_id` (a provider's id, as LiteLLM leaves `remixed_from_video_id`),
    built from a job of the same deployment: only the `video_id:` part differs."""
    parts = _litellm_parts(own_id)
    if parts is None or _litellm_parts(raw_id) is not None:
        return None
    swapped = [f"video_id:{raw_id}" if p.startswith("video_id:") else p for p in parts]
    return "video_" + base64.b64encode(";".join(swapped).encode("utf-8")).decode("ascii")


def model_ids(body: object) -> list[str] | None:
    """The model ids of a `GET /models` answer (OpenAI's list, or SGLang's one-model description)."""
    if isinstance(body, dict) and isinstance(body.get("model_path"), str):
        return [body["model_path"]]  # SGLang diffusion describes its one model
    items = body.get("data") if isinstance(body, dict) else body
    if not isinstance(items, list):
        return None
    return [str(i["id"]) for i in items if isinstance(i, dict) and i.get("id")]


class Known:
    """The dialect in use and the facts learned from the backend's answers."""

    def __init__(self, transport: Transport, dialect: DialectChoice = "auto") -> None:
        self._transport = transport
        self._dialect: Dialect | None = None
        if dialect != "auto":
            self._set(DIALECTS[dialect])
        elif transport.host in HOSTS:
            self._set(DIALECTS[HOSTS[transport.host]])  # hosted (or OpenAI): the host says it
        self.video_urls: dict[str, str] = {}
        self.size_labels: dict[str, dict[str, tuple[str, str]]] = {}  # model → size → provider's labels
        self.seen_provider: str | None = None  # the provider read back from an id the proxy issued
        self._detect_lock = anyio.Lock()

    def _set(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._transport.label = dialect.label

    @property
    def dialect(self) -> Dialect | None:
        """The dialect when it is known without a request (set, read from the host, or detected)."""
        return self._dialect

    async def resolve(self) -> Dialect:
        """The dialect, detected once from `GET /models` when set to auto."""
        if self._dialect is not None:
            return self._dialect
        async with self._detect_lock:
            if self._dialect is None:
                host = host_of(self._transport.base_url)
                try:
                    response = await self._transport.raw("GET", "/models")
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    name = detect_dialect(host=host, models_body=body, headers=dict(response.headers))
                except openai.APIStatusError as exc:
                    name = detect_dialect(host=host, headers=dict(exc.response.headers))
                except (openai.APIError, httpx2.HTTPError):
                    return DIALECTS["generic"]  # unreachable now; the real call will say so
                self._set(DIALECTS[name])
        assert self._dialect is not None
        return self._dialect

    def video(self, response: httpx2.Response, operation: str, fallback_id: str | None = None) -> RemoteVideo:
        """A job answer read into a `RemoteVideo`, learning what it tells about the backend."""
        data = read_json(response, operation)
        if not isinstance(data, dict):
            raise BackendError(
                f"{operation}: the backend answered with a {type(data).__name__}, not a video object"
            )
        poll = response.headers.get("openai-poll-after-ms")
        video = normalize_video(
            data, poll_after_ms=int(poll) if poll and poll.isdigit() else None, dialect=self._dialect
        )
        if not video.id and fallback_id:
            video = video.model_copy(update={"id": fallback_id})
        if not video.id:
            raise BackendError(f"{operation}: the backend's answer has no video id")
        if video.video_url:
            self.video_urls[video.id] = video.video_url
        provisional = self._dialect is not None and self._dialect.provisional
        if provisional and (guess := dialect_from_answer(video.id, response.headers)):
            self._set(DIALECTS[guess])  # LiteLLM's /models looks like OpenAI's; its job answers do not
        if self._dialect is not None and self._dialect.encoded_ids:
            self.seen_provider = litellm_provider_from_id(video.id) or self.seen_provider
            source = video.remixed_from_video_id
            if source and (sibling := litellm_sibling_id(video.id, source)):
                # The proxy passes the provider's raw source id through; give back the one it accepts.
                video = video.model_copy(update={"remixed_from_video_id": sibling})
        return video
