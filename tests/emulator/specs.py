"""The vendored GitHub descriptions (tests/github_specs), loaded once per process."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).resolve().parent.parent / "github_specs"


@cache
def openapi_dict() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SPEC_DIR / "openapi-subset.json").read_text(encoding="utf-8"))
    return data


@cache
def openapi() -> Any:
    from openapi_core import OpenAPI
    from openapi_core.configurations import Config

    return OpenAPI.from_dict(openapi_dict(), config=Config(spec_validator_cls=None))


@cache
def graphql_schema() -> Any:
    from graphql import build_schema

    schema = build_schema((SPEC_DIR / "schema.graphql").read_text(encoding="utf-8"), assume_valid_sdl=True)
    # GitHub's SDL repeats some fields and deprecation patterns graphql-core would refuse: it is GitHub's, so valid.
    schema._validation_errors = []
    return schema


@cache
def webhook_examples() -> dict[str, dict[str, list[dict[str, Any]]]]:
    data: dict[str, dict[str, list[dict[str, Any]]]] = json.loads(
        (SPEC_DIR / "webhook-examples.json").read_text(encoding="utf-8")
    )
    return data


@cache
def webhooks_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SPEC_DIR / "webhooks-schema.json").read_text(encoding="utf-8"))
    return data


@cache
def _component_validator(name: str) -> Any:
    from openapi_schema_validator import OAS30Validator

    # The whole description as the root document, so that "#/components/..." references resolve in it.
    return OAS30Validator({"components": openapi_dict()["components"], "$ref": f"#/components/schemas/{name}"})


def component_errors(name: str, value: Any) -> list[str]:
    """What the description's components/schemas/<name> says of `value` (empty: valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
        for e in _component_validator(name).iter_errors(value)
    ]


def resolve(ref: str) -> Any:
    node: Any = openapi_dict()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


class Route:
    """One operation of the subset: its method, template and a regex for concrete paths."""

    def __init__(self, method: str, template: str, operation: dict[str, Any]) -> None:
        self.method = method.upper()
        self.template = template
        self.operation = operation
        self.key = f"{self.method} {template}"
        pattern = ""
        for part in re.split(r"(\{[^}]+\})", template):
            if part.startswith("{"):
                name = part[1:-1]
                pattern += f"(?P<{name}>.+)" if name == "path" else f"(?P<{name}>[^/]+)"
            else:
                pattern += re.escape(part)
        self.regex = re.compile(pattern + "$")

    def example(self, status: int | str, name: str | None = None) -> Any:
        """A deep copy of the operation's example answer for `status` (the first one, or `name`)."""
        response = self.operation["responses"][str(status)]
        if "$ref" in response:
            response = resolve(response["$ref"])
        examples = response["content"]["application/json"]["examples"]
        example = examples[name] if name else next(iter(examples.values()))
        if "$ref" in example:
            example = resolve(example["$ref"])
        value = example["value"]
        if isinstance(value, dict) and "$ref" in value:
            value = resolve(value["$ref"])["value"]
        return copy.deepcopy(value)


@cache
def routes() -> list[Route]:
    found = []
    for template, item in openapi_dict()["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                found.append(Route(method, template, operation))
    # Literal segments first: /issues/comments/{id} before /issues/{issue_number}.
    found.sort(key=lambda r: (r.template.count("{"), -len(r.template)))
    return found


@cache
def operation(operation_id: str) -> Route:
    return next(r for r in routes() if r.operation.get("operationId") == operation_id)


def example(name: str) -> Any:
    """A deep copy of the named example of components/examples."""
    return copy.deepcopy(openapi_dict()["components"]["examples"][name]["value"])


def route_for(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes():
        if route.method == method.upper():
            match = route.regex.match(path)
            if match:
                return route, match.groupdict()
    return None
