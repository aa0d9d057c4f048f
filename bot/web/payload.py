"""Webhook JSON, the only module importing msgspec and orjson: a delivery read for the fields the bot uses."""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec
import orjson

# The shape of every field bot/web/events.py reads, and nothing else. A delivery of this shape is decoded straight
# into these fields: the rest of the document (most of a 25 KB pull_request event) is checked as JSON and skipped,
# never built into Python objects. Leaves are scalars, so nothing deep is ever built here; the two fields that hold
# objects are kept raw and read by orjson (whose depth limit holds whatever the interpreter's recursion limit is).
# A delivery of any other shape (a field of another type) is read whole by orjson, so the events module sees the
# same values either way (tests/unit/test_payload.py).

Scalar = str | int | float | bool | None


class _Named(TypedDict, total=False):
    full_name: Scalar


class _Account(TypedDict, total=False):
    login: Scalar


class _Installation(TypedDict, total=False):
    id: Scalar
    account: _Account


class _Head(TypedDict, total=False):
    sha: Scalar


class _PullRequest(TypedDict, total=False):
    number: Scalar
    state: Scalar
    head: _Head


class _User(TypedDict, total=False):
    login: Scalar
    type: Scalar


class _Comment(TypedDict, total=False):
    id: Scalar
    body: Scalar
    html_url: Scalar
    node_id: Scalar
    user: _User
    performed_via_github_app: msgspec.Raw


class _Issue(TypedDict, total=False):
    number: Scalar
    pull_request: msgspec.Raw


class _App(TypedDict, total=False):
    id: Scalar


class _PullRequestRef(TypedDict, total=False):
    number: Scalar


class _Check(TypedDict, total=False):
    name: Scalar
    head_sha: Scalar
    app: _App
    pull_requests: list[_PullRequestRef]


class _Fields(TypedDict, total=False):
    action: Scalar
    number: Scalar
    repository: _Named
    installation: _Installation
    sender: _User
    pull_request: _PullRequest
    comment: _Comment
    issue: _Issue
    check_run: _Check
    check_suite: _Check
    repositories: list[_Named]
    repositories_added: list[_Named]
    repositories_removed: list[_Named]


_FIELDS = msgspec.json.Decoder(_Fields)
_ENCODER = msgspec.json.Encoder()
_RAW = (("issue", "pull_request"), ("comment", "performed_via_github_app"))


def fields(body: bytes) -> dict[str, Any] | None:
    """The fields of the JSON object `body` that the bot reads; None when `body` is not a JSON object (or not JSON:
    malformed, not UTF-8, too deep: over 1,024 levels where the bot reads, over the interpreter's recursion limit in
    a part it skips)."""
    try:
        body.decode()  # the skipped parts are checked as JSON, but not as UTF-8
        found = dict(_FIELDS.decode(body))
        for outer, inner in _RAW:
            if isinstance(part := found.get(outer), dict) and inner in part:
                part[inner] = orjson.loads(bytes(part[inner]))
        return found
    except (UnicodeDecodeError, orjson.JSONDecodeError):
        return None
    except (msgspec.MsgspecError, RecursionError):
        pass  # another shape (or not JSON): read the document whole for an exact answer
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def encode(answer: Any) -> bytes:
    """An answer's JSON body."""
    return _ENCODER.encode(answer)
