"""Vendor the parts of GitHub's published descriptions that the emulator (tests/emulator) is held to.

Reads the unpacked npm packages @octokit/openapi, @octokit/graphql-schema, @octokit/webhooks-examples and
@octokit/webhooks-schemas (default: /tmp/npm/<name>-<version>/package; `--npm-dir` to point elsewhere;
`--pack` runs `npm pack` into that directory first) and writes into tests/github_specs/:

- openapi-subset.json: the REST operations the emulator serves, with every component they reference
  (transitively), plus one synthetic `POST /graphql` operation (GitHub documents GraphQL outside the REST
  description); still a valid OpenAPI 3.0.3 document;
- schema.graphql: GitHub's public GraphQL schema, whole;
- webhook-examples.json: the real example payloads of the events the bot receives, by event and action;
- webhooks-schema.json: the JSON Schema definitions those events reach, transitively.

Run: python scripts/vendor_github_specs.py [--npm-dir DIR] [--pack] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

PACKAGES = {
    "openapi": ("@octokit/openapi", "23.0.2"),
    "graphql": ("@octokit/graphql-schema", "15.26.1"),
    "examples": ("@octokit/webhooks-examples", "7.6.1"),
    "schemas": ("@octokit/webhooks-schemas", "7.6.1"),
}

# (method, path) of every REST operation the emulator serves.
OPERATIONS = [
    ("get", "/app"),
    ("post", "/app/installations/{installation_id}/access_tokens"),
    ("get", "/users/{username}/gpg_keys"),
    ("get", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/installation"),
    ("get", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("post", "/repos/{owner}/{repo}/check-runs"),
    ("patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("get", "/repos/{owner}/{repo}/contents/{path}"),
    ("get", "/user"),
    ("get", "/user/installations"),
    ("get", "/user/installations/{installation_id}/repositories"),
    ("post", "/app-manifests/{code}/conversions"),  # the App manifest flow (`falco-rules-bot serve`'s /setup)
]

# Webhook events (and, for pull_request, the actions) whose examples are kept.
EVENTS = {
    "pull_request": {"opened", "synchronize", "reopened", "ready_for_review", "converted_to_draft", "closed", "edited"},
    "issue_comment": None,
    "check_run": None,
    "check_suite": None,
    "installation": None,
    "installation_repositories": None,
    "ping": None,
}

# GitHub serves GraphQL at POST /graphql; the REST description leaves it out, so the subset describes it here.
GRAPHQL_OPERATION: dict[str, Any] = {
    "summary": "GraphQL API (synthetic: not part of GitHub's REST description)",
    "operationId": "graphql/query",
    "x-emulator-synthetic": True,
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {
                        "query": {"type": "string"},
                        "variables": {"type": "object", "nullable": True, "additionalProperties": True},
                        "operationName": {"type": "string", "nullable": True},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "Response",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "data": {"type": "object", "nullable": True, "additionalProperties": True},
                            "errors": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                        },
                    }
                }
            },
        }
    },
}


def package_dir(npm_dir: Path, key: str) -> Path:
    name, version = PACKAGES[key]
    return npm_dir / f"{name.lstrip('@').replace('/', '-')}-{version}" / "package"


def npm_pack(npm_dir: Path) -> None:
    """`npm pack` every package into npm_dir and unpack it next to its tarball."""
    npm_dir.mkdir(parents=True, exist_ok=True)
    for key, (name, version) in PACKAGES.items():
        target = package_dir(npm_dir, key)
        if target.is_dir():
            continue
        out = subprocess.run(
            ["npm", "pack", f"{name}@{version}"], cwd=npm_dir, check=True, capture_output=True, text=True
        ).stdout.split()[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(npm_dir / out) as tar:
            tar.extractall(target.parent, filter="data")


def refs_in(node: Any, found: set[str]) -> None:
    """Collect every local `$ref` below `node`."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            found.add(ref)
        for value in node.values():
            refs_in(value, found)
    elif isinstance(node, list):
        for value in node:
            refs_in(value, found)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def closure(doc: dict[str, Any], roots: Any) -> set[str]:
    """Every `$ref` reachable from `roots`, transitively."""
    pending: set[str] = set()
    refs_in(roots, pending)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        refs_in(resolve(doc, ref), pending)
    return seen


def openapi_subset(full: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path in OPERATIONS:
        item = full["paths"][path]
        entry = paths.setdefault(path, {k: v for k, v in item.items() if k == "parameters"})
        entry[method] = item[method]
    components: dict[str, dict[str, Any]] = {}
    for ref in sorted(closure(full, paths)):
        _, section, kind, name = ref.split("/", 3)
        assert section == "components", ref
        components.setdefault(kind, {})[name] = full["components"][kind][name]
    paths["/graphql"] = {"post": GRAPHQL_OPERATION}
    info = dict(full["info"])
    info["description"] = (
        f"Subset of {PACKAGES['openapi'][0]} {PACKAGES['openapi'][1]} (api.github.com.json) for the tests' emulator."
    )
    return {
        "openapi": full["openapi"],
        "info": info,
        "servers": full["servers"],
        "paths": paths,
        "components": {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())},
    }


def webhook_examples(events: list[dict[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """event -> action ("event" when the payload has none) -> the real examples."""
    kept: dict[str, dict[str, list[Any]]] = {}
    for event in events:
        name = event["name"]
        if name not in EVENTS:
            continue
        actions = EVENTS[name]
        for example in event["examples"]:
            action = example.get("action", "event") if isinstance(example, dict) else "event"
            if actions is not None and action not in actions:
                continue
            kept.setdefault(name, {}).setdefault(action, []).append(example)
    return kept


def webhooks_schema(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema["definitions"]
    roots = [k for k in defs if k.split("$")[0] in EVENTS or k.removesuffix("_event") in EVENTS]
    wanted = set(roots)
    for ref in closure(schema, [defs[k] for k in roots]):
        wanted.add(ref.split("/", 2)[2])
    return {
        "$schema": schema["$schema"],
        "definitions": {k: defs[k] for k in sorted(wanted)},
        "oneOf": [{"$ref": f"#/definitions/{k}"} for k in sorted(roots) if k.endswith("_event")],
    }


def dump(path: Path, data: Any) -> int:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
    path.write_text(text + "\n", encoding="utf-8")
    return len(text) + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--npm-dir", type=Path, default=Path("/tmp/npm"))
    parser.add_argument("--pack", action="store_true", help="npm pack the packages into --npm-dir first")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests" / "github_specs")
    args = parser.parse_args(argv)
    if args.pack:
        npm_pack(args.npm_dir)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    full = json.loads((package_dir(args.npm_dir, "openapi") / "generated" / "api.github.com.json").read_text())
    sizes = {"openapi-subset.json": dump(out / "openapi-subset.json", openapi_subset(full))}
    del full
    shutil.copyfile(package_dir(args.npm_dir, "graphql") / "schema.graphql", out / "schema.graphql")
    sizes["schema.graphql"] = (out / "schema.graphql").stat().st_size
    events = json.loads((package_dir(args.npm_dir, "examples") / "api.github.com" / "index.json").read_text())
    sizes["webhook-examples.json"] = dump(out / "webhook-examples.json", webhook_examples(events))
    schema = json.loads((package_dir(args.npm_dir, "schemas") / "schema.json").read_text())
    sizes["webhooks-schema.json"] = dump(out / "webhooks-schema.json", webhooks_schema(schema))
    for name, size in sizes.items():
        print(f"{name}: {size} bytes")
    print(f"total: {sum(sizes.values())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
