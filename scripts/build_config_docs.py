"""Writes docs/configuration.md: the policy keys of config/defaults.yml and the server settings of bot/settings.py.

The documentation of a policy key is the block of comment lines right above it in config/defaults.yml; its default
is what a YAML parse of the file gives; its allowed values are what bot/policy.py enforces (choices_for). The server
settings are the fields of bot.settings.Settings (each read from the environment variable of its upper-cased name)
with the comment at the end of each field's line in the source. tests/unit/test_docs.py fails when the file differs
from what this script writes. Usage: python scripts/build_config_docs.py [--check]
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402  # after the path set-up, like the bot imports below

from bot.policy import choices_for  # noqa: E402

DEFAULTS = ROOT / "config" / "defaults.yml"
SETTINGS = ROOT / "bot" / "settings.py"
OUTPUT = ROOT / "docs" / "configuration.md"
COMMAND = "python scripts/build_config_docs.py"
_KEY = re.compile(r"^( *)([A-Za-z_][A-Za-z0-9_-]*):(?:\s|$)")


@dataclass(frozen=True)
class Key:
    """One key of the policy: its dotted path, its default and the comment text above it."""

    path: str
    default: Any
    comment: str


def comments_by_key(text: str) -> tuple[str, dict[str, str]]:
    """The file's leading comment and, for every mapping key, the comment lines right above it (joined)."""
    header: list[str] = []
    found: dict[str, str] = {}
    pending: list[str] = []
    stack: list[tuple[int, str]] = []  # (indentation, key) of the mappings the current line is inside
    seen_key = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped[1:].strip())
            continue
        if not stripped:
            if not seen_key and pending:
                header.extend([*pending, ""])
            pending = []
            continue
        match = _KEY.match(line)
        if match is None:  # a list item or a continuation: not a key
            pending = []
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        seen_key = True
        found[".".join(k for _, k in stack)] = " ".join(pending)
        pending = []
    return " ".join(header).strip(), found


def shared_comment(path: str, comments: dict[str, str]) -> str:
    """A key's comment or, for a check's key with none (`checks.dco.severity`), the same key's of another check."""
    if comments.get(path):
        return comments[path]
    parts = path.split(".")
    if len(parts) != 3 or parts[0] != "checks":
        return ""
    return next((c for p, c in comments.items() if c and p.startswith("checks.") and p.split(".")[2:] == parts[2:]), "")


def policy_keys(data: dict[str, Any], comments: dict[str, str], prefix: str = "") -> list[Key]:
    """Every key of the parsed defaults, in file order, mappings before their children."""
    out: list[Key] = []
    for name, value in data.items():
        path = f"{prefix}{name}"
        out.append(Key(path, value, shared_comment(path, comments)))
        if isinstance(value, dict):
            out.extend(policy_keys(value, comments, path + "."))
    return out


def as_yaml(value: Any) -> str:
    """A value as one line of YAML (flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def pipes(text: str) -> str:
    """Code safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell (no pipes, no newlines, no HTML)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    """Inline code, with a fence long enough for the backticks inside."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _table(keys: list[Key]) -> list[str]:
    lines = ["| key | default | allowed values | description |", "|---|---|---|---|"]
    for key in keys:
        allowed = choices_for(key.path)
        shown = ", ".join(code(a) for a in allowed) if allowed else ""
        default = pipes(code(as_yaml(key.default)))
        lines.append(f"| {code(key.path)} | {default} | {pipes(shown)} | {cell(key.comment)} |")
    return lines


def policy_markdown(text: str) -> list[str]:
    """The policy part: one section per top-level key, a table of its keys (one sub-section per check)."""
    header, comments = comments_by_key(text)
    data = yaml.safe_load(text)
    out = [header, ""] if header else []
    for name, value in data.items():
        out.extend([f"## `{name}`", ""])
        if comments.get(name):
            out.extend([comments[name], ""])
        if not isinstance(value, dict):
            out.extend([*_table([Key(name, value, comments.get(name, ""))]), ""])
            continue
        leaves = [k for k in policy_keys(value, comments, name + ".") if not isinstance(k.default, dict)]
        direct = [k for k in leaves if k.path.count(".") == 1]
        if direct:
            out.extend([*_table(direct), ""])
        for child, sub in value.items():
            if not isinstance(sub, dict):
                continue
            path = f"{name}.{child}"
            out.extend([f"### `{path}`", ""])
            if comments.get(path):
                out.extend([comments[path], ""])
            out.extend([*_table([k for k in leaves if k.path.startswith(path + ".")]), ""])
    return out


@dataclass(frozen=True)
class Setting:
    """One field of Settings: its environment variable, type, default and the comment on its line."""

    name: str
    annotation: str
    default: Any
    comment: str


def settings_fields(source: str) -> list[Setting]:
    """The annotated fields of class Settings, in source order, each with the comment ending its line (else the comment
    lines right above it)."""
    from bot.settings import Settings

    tree = ast.parse(source)
    lines = source.splitlines()
    line_comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            line_comments[token.start[0]] = token.string[1:].strip()
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    out = []
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        if name == "model_config":
            continue
        annotation = ast.get_source_segment(source, node.annotation) or ""
        comment = line_comments.get(node.end_lineno or node.lineno, "") or _comment_above(lines, node.lineno)
        out.append(Setting(name, annotation, Settings.model_fields[name].default, comment))
    return out


def _comment_above(lines: list[str], lineno: int) -> str:
    """The whole-line comments right above line `lineno` (1-based), joined."""
    above: list[str] = []
    index = lineno - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        above.insert(0, lines[index].strip()[1:].strip())
        index -= 1
    return " ".join(above)


def _setting_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return code("true" if value else "false")
    if value == "":
        return "empty"
    return code(str(value))


def settings_markdown(source: str) -> list[str]:
    """The server settings part: one row per environment variable."""
    out = [
        "## Server settings",
        "",
        "`falco-rules-bot serve` and `falco-rules-bot worker` read these environment variables (names are not "
        "case-sensitive; `bot/settings.py`, class `Settings`). The command-line commands `validate`, `check`, "
        "`tags` and `matrix` read none of them.",
        "",
        "| variable | type | default | description |",
        "|---|---|---|---|",
    ]
    for s in settings_fields(source):
        kind = s.annotation.replace(" | None", "")
        default = pipes(_setting_default(s.default))
        out.append(f"| `{s.name.upper()}` | {pipes(code(kind))} | {default} | {cell(s.comment)} |")
    return [*out, ""]


def render(defaults_text: str | None = None, settings_source: str | None = None) -> str:
    """The whole of docs/configuration.md."""
    defaults_text = DEFAULTS.read_text(encoding="utf-8") if defaults_text is None else defaults_text
    settings_source = SETTINGS.read_text(encoding="utf-8") if settings_source is None else settings_source
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from config/defaults.yml and bot/settings.py by `{COMMAND}`; do not edit by hand. -->",
        "",
        "Two kinds of configuration: the **policy** of a repository (what the review checks), read from "
        "`.github/falco-rules-bot.yml` on the repository's default branch and merged over "
        "[`config/defaults.yml`](../config/defaults.yml) (`falco-rules-bot check --policy FILE` and "
        "`falco-rules-bot tags --policy FILE` apply a file the same way), and the **server settings** of the GitHub "
        "App, read from the environment ([below](#server-settings)).",
        "",
        *policy_markdown(defaults_text),
        *settings_markdown(settings_source),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the file, or with --check say whether it is up to date (exit 1 when not)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is out of date")
    args = parser.parse_args(argv)
    text = render()
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
    if args.check:
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
