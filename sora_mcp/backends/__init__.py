"""The `/v1/videos` backend client on the openai SDK, with dialect normalisation.

Everything the service needs is re-exported here: `Backend`, `ContentStream` and the
`PreparedReference` protocol the client accepts for `input_reference`. Its refusals are
`sora_mcp.errors` classes (`VariantUnavailable`: ask the library to derive the variant from the MP4).
"""

from sora_mcp.backends.client import Backend
from sora_mcp.backends.content import ContentStream
from sora_mcp.backends.dialects import DIALECTS, Dialect, normalize_video
from sora_mcp.backends.errors import map_error
from sora_mcp.backends.requests import PreparedReference

__all__ = [
    "DIALECTS",
    "Backend",
    "ContentStream",
    "Dialect",
    "PreparedReference",
    "map_error",
    "normalize_video",
]
