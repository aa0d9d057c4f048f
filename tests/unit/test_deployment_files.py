"""The deployment files agree with the code: the manifest asks for what the bot handles and needs; the Procfile runs."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from bot.cli import build_parser
from bot.web.events import PR_ACTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_the_manifest_subscribes_to_every_event_the_intake_reviews_on() -> None:
    manifest = yaml.safe_load((ROOT / "config/app-manifest.yml").read_text())
    assert set(manifest["default_events"]) == {"pull_request", "issue_comment", "check_run", "check_suite"}
    assert {"opened", "synchronize", "ready_for_review"} <= PR_ACTIONS
    assert manifest["hook_attributes"]["url"].endswith("/webhook")


def test_the_manifest_asks_for_the_least_permissions_the_bot_uses() -> None:
    permissions = yaml.safe_load((ROOT / "config/app-manifest.yml").read_text())["default_permissions"]
    assert permissions == {"metadata": "read", "contents": "read", "pull_requests": "write", "issues": "read",
                           "checks": "write", "statuses": "read"}  # fmt: skip


def test_every_procfile_process_is_a_command_of_the_cli() -> None:
    processes = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(processes) == {"web", "worker"}
    for command in processes.values():
        argv = shlex.split(command.replace("${PORT:-8000}", "8000"))
        assert argv[0] == "falco-rules-bot"
        args = build_parser().parse_args(argv[1:])
        assert args.command in ("serve", "worker")
