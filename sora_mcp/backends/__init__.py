"""The `/v1/videos` backend client on the openai SDK, with dialect normalisation.

Everything the service needs is re-exported here: `Backend`, `ContentStream`,
`VariantUnavailable` (ask the library to derive the variant from the MP4) and the
`PreparedReference` protocol the client accepts for `input_reference`.
"""

from sora_mcp.backends.client import Backend, PreparedReference
from sora_mcp.backends.content import ContentStream, VariantUnavailable
from sora_mcp.backends.dialects import DIALECTS, Dialect, normalize_video
from sora_mcp.backends.errors import map_error

__all__ = [
    "DIALECTS",
    "Backend",
    "ContentStream",
    "Dialect",
    "PreparedReference",
    "VariantUnavailable",
    "map_error",
    "normalize_video",
]
