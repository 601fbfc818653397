"""The preview renderer: a job's procedural clip (MP4, WebP thumbnail, JPEG spritesheet) from its spec.

The engine's worker calls `render(spec, out_dir)`; everything else here is how. Modules, in the
order a render uses them: `spec` (request, result, the one error, checks before any work),
`plan` (the prompt read into a shot plan), `sources` (input reference, source clip), `scene`
(camera path, layers, sprites, text cards), `layers`/`camera`/`sprites`/`text` (drawing),
`audio` (the tone track), `stills` (thumbnail, spritesheet), `pool` (frames reused between
renders), `clip` (the orchestration and the encoders).
"""

from sora_mcp.engine.render.clip import render
from sora_mcp.engine.render.spec import RenderError, RenderResult, RenderSpec, validate

__all__ = ["RenderError", "RenderResult", "RenderSpec", "render", "validate"]
