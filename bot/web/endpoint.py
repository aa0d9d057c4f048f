"""POST /webhook as a plain ASGI application: the body read within its limit, the intake's answer sent as JSON."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bot import metrics
from bot.web import intake
from bot.web.payload import encode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

INLINE_BYTES = 256 * 1024  # bodies up to this size are verified and parsed on the event loop (well under 1 ms)


class _TooLarge(Exception):
    """The body grew over the limit."""


class Webhook:
    """The webhook route, below the web framework on purpose: a delivery suspends three times (its body, the
    group commit, its answer), and a framework's request machinery (dependency solving, an exit stack, exception
    wrappers) in each of those would cost more than verifying, parsing and recording the delivery. The route still
    sits in the application's router and middleware (405 for other methods, 500 on a crash)."""

    def __init__(self, webhook: intake.Intake, writer: intake.Writer, limit: int) -> None:
        self.webhook, self.writer, self.limit = webhook, writer, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        answer = intake.length_problem(headers.get("content-length"), self.limit)
        if answer is None:
            try:
                body = await _body(receive, self.limit)
            except _TooLarge:
                answer = 413, {"detail": intake.say("too_large", limit=self.limit)}
            else:
                if body is None:
                    return  # the sender went away: nobody to answer
                answer = await self._accept(headers, body)
        metrics.delivery(headers.get("x-github-event"), answer[0])
        content = encode(answer[1])
        await send({"type": "http.response.start", "status": answer[0],
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(content)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": content})

    async def _accept(self, headers: dict[str, str], body: bytes) -> intake.Answer:
        """Verify and parse (a big body off the event loop), then wait for the writer's group commit."""
        if len(body) <= INLINE_BYTES:
            prepared = self.webhook.prepare(headers, body)
        else:
            prepared = await asyncio.to_thread(self.webhook.prepare, headers, body)
        if not isinstance(prepared, intake.Prepared):
            return prepared
        return await self.writer.submit(prepared)


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name; of a repeated header, its first value."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


async def _body(receive: Receive, limit: int) -> bytes | None:
    """The raw body, or None when the sender disconnects; _TooLarge as soon as it grows over `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
