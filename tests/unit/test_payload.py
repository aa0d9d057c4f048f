"""Webhook bodies read for the fields the bot uses: the same plan as from the whole document, for every shape."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.web.events import delivery_of, plan
from bot.web.payload import encode, fields
from tests.emulator import specs

ROOT = Path(__file__).resolve().parents[2]
CHECK = "Falco rules"
EXAMPLES = [(event, action, i) for event, actions in sorted(specs.webhook_examples().items())
            for action, found in sorted(actions.items()) for i in range(len(found))]  # fmt: skip


def document(event: str, action: str, i: int) -> dict[str, Any]:
    return copy.deepcopy(specs.webhook_examples()[event][action][i])


def same_decisions(event: str, payload: dict[str, Any]) -> None:
    """What the intake decides from the fields equals what it decides from the whole document."""
    body = json.dumps(payload).encode()
    found = fields(body)
    assert found is not None
    assert plan(event, found, CHECK, 7) == plan(event, payload, CHECK, 7)
    assert plan(event, found, CHECK) == plan(event, payload, CHECK)
    assert delivery_of(event, "d-1", found) == delivery_of(event, "d-1", payload)


@pytest.mark.parametrize(("event", "action", "i"), EXAMPLES, ids=[f"{e}.{a}.{i}" for e, a, i in EXAMPLES])
def test_githubs_examples_give_the_same_decisions_from_their_fields_alone(event: str, action: str, i: int) -> None:
    payload = document(event, action, i)
    same_decisions(event, payload)
    body = json.dumps(payload).encode()
    found = fields(body)
    assert found is not None
    assert set(found.get("sender", {})) <= {"login", "type"}
    assert len(json.dumps(found)) < len(body) / 2  # the bulk of the document was skipped, not decoded


READ = [("action",), ("number",), ("repository",), ("repository", "full_name"), ("installation",),
        ("installation", "id"), ("installation", "account"), ("installation", "account", "login"),
        ("pull_request",), ("pull_request", "number"), ("pull_request", "state"), ("pull_request", "head"),
        ("pull_request", "head", "sha"), ("comment",), ("comment", "body"), ("comment", "user"),
        ("comment", "user", "type"),
        ("comment", "performed_via_github_app"), ("issue",), ("issue", "number"), ("issue", "pull_request"),
        ("sender",), ("sender", "type"), ("check_run",), ("check_run", "name"), ("check_run", "app"),
        ("check_run", "app", "id"), ("check_run", "head_sha"), ("check_run", "pull_requests"), ("check_suite",),
        ("check_suite", "pull_requests"), ("check_suite", "head_sha"), ("repositories",), ("repositories_added",),
        ("repositories_removed",)]  # fmt: skip
SHAPES = [None, True, 0, 7, 1.5, "", "x", "open", "Bot", "closed", [], [1], [{}], "a" * 40,
          [{"number": 3, "full_name": "a/b"}, "x"], [{"number": 4}], {}, {"id": 5}, {"sha": "b" * 40}]  # fmt: skip


def put(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    here: Any = payload
    for key in path[:-1]:
        if not isinstance(here.get(key), dict):
            here[key] = {}
        here = here[key]
    here[path[-1]] = value


def bases() -> list[tuple[str, dict[str, Any]]]:
    """One example of each event and action the bot acts on (a comment on a pull request, a re-run of its own
    check run: made so), for the changes below to start from."""
    acted_on = {(e, a): (e, a, i) for e, a, i in reversed(EXAMPLES) if plan(e, document(e, a, i), CHECK).relevant}
    found = [(event, document(event, action, i)) for event, action, i in sorted(acted_on.values())]
    on_pull = document("issue_comment", "created", 0)
    on_pull["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    on_pull["installation"] = {"id": 1}
    rerun = document("check_run", "rerequested", 0)
    rerun["check_run"]["name"] = CHECK
    found += [("issue_comment", on_pull), ("check_run", rerun)]
    assert all(plan(event, payload, CHECK).relevant for event, payload in found)
    return found


def test_every_value_of_every_read_field_gives_the_same_decisions() -> None:
    for event, base in bases():
        for path in READ:
            for value in SHAPES:
                payload = copy.deepcopy(base)
                put(payload, path, copy.deepcopy(value))
                same_decisions(event, payload)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(EXAMPLES),
    st.lists(st.tuples(st.sampled_from(READ), st.sampled_from(SHAPES)), min_size=1, max_size=4),
)
def test_several_changes_give_the_same_decisions(example: tuple[str, str, int],
                                                changes: list[tuple[tuple[str, ...], Any]]) -> None:  # fmt: skip
    event, action, i = example
    payload = document(event, action, i)
    for path, value in changes:
        put(payload, path, copy.deepcopy(value))
    same_decisions(event, payload)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"null", b"", b"\xff\xfe",
                                  b'{"action": "opened", "pull_request": {"title": "caf\xe9"}}',  # not UTF-8, unread
                                  b'{"action": "opened"} trailing', b'{"action": "\\ud800"}', b'{"a": 1,}',
                                  b'{"a": NaN}', b'\xef\xbb\xbf{"action": "opened"}',
                                  b'{"padding": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                                  b'{"action": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"])  # fmt: skip
def test_what_is_not_a_json_object_is_refused(body: bytes) -> None:
    assert fields(body) is None


def test_an_unusual_document_is_read_whole() -> None:
    assert fields(b'{"pull_request": "not an object", "zen": 1}') == {"pull_request": "not an object", "zen": 1}
    assert fields(b"{}") == {}


def test_answers_are_compact_json() -> None:
    assert encode({"status": "queued", "requests": [1, 2]}) == b'{"status":"queued","requests":[1,2]}'
    assert json.loads(encode({"detail": "é <b> \u2028"})) == {"detail": "é <b> \u2028"}


def test_deep_bodies_are_refused_whatever_the_recursion_limit() -> None:
    # The rules engine raises the interpreter's recursion limit (deep conditions) in the process that also serves
    # webhooks (the embedded mode): a decoder bounded only by that limit would overflow the C stack and crash it.
    code = (
        "import sys, threading\n"
        "sys.setrecursionlimit(20000)\n"
        "from bot.web.payload import fields\n"
        "d = 200_000\n"
        "bodies = [b'{\"a\":' * d + b'1' + b'}' * d, b'[' * d + b']' * d]\n"
        "for key in ('action', 'padding', 'pull_request', 'comment', 'issue', 'repositories'):\n"
        "    bodies += [b'{\"%s\": ' % key.encode() + b'{\"a\":' * d + b'1' + b'}' * d + b'}']\n"
        "bodies += [b'{\"issue\": {\"pull_request\": ' + b'[' * d + b']' * d + b'}}']\n"
        "bodies += [b'{\"comment\": {\"performed_via_github_app\": ' + b'{\"a\":' * d + b'1' + b'}' * d + b'}}']\n"
        "found = []\n"
        "def run():\n"
        "    found.extend(fields(body) for body in bodies)\n"
        "thread = threading.Thread(target=run)\n"
        "thread.start()\n"
        "thread.join()\n"
        "run()\n"
        "print(found == [None] * 2 * len(bodies))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout.strip()) == (0, "True"), proc.stderr[-2000:]
