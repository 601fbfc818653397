"""A small `/v1/videos` backend on 127.0.0.1 that misbehaves on purpose, one knob per behaviour.

Built on the standard library's threaded HTTP server so it can do what a framework would
smooth over: drip an answer a byte at a time, stream an endless chunked body, send a JSON
answer of hundreds of MB without holding it, redirect to another origin. It records every
request (method, path, headers, body) so tests can see what really left sora-mcp.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# An MP4 head (ftyp box) so the bytes sniff as a video; the rest is filler.
MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Knobs:
    retrieve: str = "normal"  # normal | drip | huge | redirect
    create: str = "normal"  # normal | redirect | error
    content: str = "normal"  # normal | endless
    complete: bool = True  # jobs answer completed (else in_progress)
    drip_every_s: float = 3.0
    huge_mb: int = 400
    content_bytes: int = 64 * 1024
    redirect_to: str = ""  # another origin's base URL (e.g. http://127.0.0.1:P/v1)
    error_text: str = ""  # the message of an `error` answer


@dataclass
class Hostile:
    knobs: Knobs = field(default_factory=Knobs)
    seen: list[Seen] = field(default_factory=list)
    sent_bytes: int = 0  # body bytes written by the huge/endless answers
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Hostile:
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _record(self) -> bytes:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with hostile.lock:
                    hostile.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                return body

            def do_GET(self) -> None:
                self._record()
                hostile.handle(self)

            def do_POST(self) -> None:
                self._record()
                hostile.handle(self)

            def do_DELETE(self) -> None:
                self._record()
                hostile.send_json(self, 200, {"id": "x", "deleted": True})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    # ---- answers ---------------------------------------------------------------------------

    def video(self, video_id: str) -> dict[str, Any]:
        done = self.knobs.complete
        return {
            "id": video_id,
            "object": "video",
            "model": "sora-2",
            "size": "1280x720",
            "seconds": "4",
            "status": "completed" if done else "in_progress",
            "progress": 100 if done else 50,
            "created_at": int(time.time()),
            "prompt": "p",
        }

    def send_json(
        self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def redirect(self, h: BaseHTTPRequestHandler, path: str, status: int = 307) -> None:
        h.send_response(status)
        h.send_header("Location", self.knobs.redirect_to.rstrip("/") + path)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        k = self.knobs
        try:
            if path == "/v1/models":
                self.send_json(h, 200, {"object": "list", "data": [{"id": "sora-2", "object": "model"}]})
            elif h.command == "POST" and path == "/v1/videos":
                if k.create == "redirect":
                    self.redirect(h, "/videos", 307)
                elif k.create == "error":
                    self.send_json(h, 400, {"error": {"message": k.error_text}})
                else:
                    self.send_json(
                        h,
                        200,
                        {**self.video(f"video_{uuid.uuid4().hex[:12]}"), "status": "queued", "progress": 0},
                    )
            elif path.endswith("/content"):
                self.content(h)
            elif path.startswith("/v1/videos/"):
                self.retrieve(h, path.rsplit("/", 1)[1])
            elif h.command == "GET" and path == "/v1/videos":
                self.send_json(h, 200, {"object": "list", "data": [], "has_more": False})
            else:
                self.send_json(h, 404, {"error": {"message": "no such route"}})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up: that is what several tests want

    def retrieve(self, h: BaseHTTPRequestHandler, video_id: str) -> None:
        mode = self.knobs.retrieve
        if mode == "redirect":
            self.redirect(h, f"/videos/{video_id}", 302)
        elif mode == "drip":
            body = json.dumps(self.video(video_id)).encode() + b" " * 10_000
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            for i in range(len(body)):
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
                time.sleep(self.knobs.drip_every_s)
        elif mode == "huge":
            # {"id": ..., "pad": "aaaa...."} streamed 1 MB at a time, never held whole.
            head = json.dumps(self.video(video_id))[:-1].encode() + b', "pad": "'
            chunk = b"a" * (1 << 20)
            total = len(head) + self.knobs.huge_mb * len(chunk) + 2
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(total))
            h.end_headers()
            h.wfile.write(head)
            for _ in range(self.knobs.huge_mb):
                h.wfile.write(chunk)
                self.sent_bytes += len(chunk)
            h.wfile.write(b'"}')
        else:
            self.send_json(h, 200, self.video(video_id))

    def content(self, h: BaseHTTPRequestHandler) -> None:
        if self.knobs.content == "endless":
            h.send_response(200)
            h.send_header("Content-Type", "video/mp4")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            chunk = MP4_HEAD + b"\0" * ((1 << 18) - len(MP4_HEAD))
            while True:  # until the client hangs up
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.sent_bytes += len(chunk)
        body = MP4_HEAD + b"\0" * (self.knobs.content_bytes - len(MP4_HEAD))
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def hostile(**knobs: Any) -> Hostile:
    return Hostile(Knobs(**knobs)).start()
