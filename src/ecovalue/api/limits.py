"""The request size limit: a body larger than the setting is refused with 413, unread.

Without it a 50 MB register name was read, validated and stored (the SQLite file grew by
128 MB, the server by ≈ 850 MB). The limit is checked on the declared ``Content-Length``
before anything is read, and on the bytes as they arrive when the length is not declared
(chunked uploads), so memory stays below the limit whatever the client sends.
"""

from __future__ import annotations

import json
from typing import Any

Message = dict[str, Any]


class BodyLimit:
    """ASGI middleware: refuse HTTP request bodies above ``max_bytes`` (HTTP 413)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, size: str) -> tuple[Message, Message]:
        body = {
            "detail": f"the request body has {size} bytes; this server accepts at most "
            f"{self.max_bytes} (ECOVALUE_MAX_REQUEST_BYTES): send less per request, e.g. "
            "observations in several uploads",
            "problems": [],
        }
        data = json.dumps(body).encode()
        start = {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
        return start, {"type": "http.response.body", "body": data}

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            for message in self._too_large(declared.decode()):
                await send(message)
            return
        # read the body here, up to the limit, and hand it on: an undeclared length is
        # counted as it arrives instead of trusted
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                for reply in self._too_large(f"more than {self.max_bytes}"):
                    await send(reply)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
