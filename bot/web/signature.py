"""Webhook signatures: HMAC-SHA256 of the raw body with the webhook secret, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "sha256="


def sign(body: bytes, secret: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_valid(body: bytes, header: str | None, secrets: Sequence[bytes]) -> bool:
    """Whether `header` is the signature of `body` under one of `secrets` (several while rotating)."""
    if not header or not secrets or not header.startswith(PREFIX):
        return False
    given = header.strip().lower().encode("ascii", "replace")
    valid = False
    for secret in secrets:  # every secret is tried, so the time taken does not say which one matched
        valid |= hmac.compare_digest(sign(body, secret).encode(), given)
    return valid
