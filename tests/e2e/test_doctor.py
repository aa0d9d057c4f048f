"""`falco-rules-bot doctor` as an operator runs it: the real command against the GitHub emulator, a real store and
queue, with good settings and with each kind of problem, each problem's line saying how to fix it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.gpg import gpg_available
from bot.store import Store
from tests.e2e.harness import ROOT, free_port
from tests.emulator import Emulator

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "doctor", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def good_env(emu: Emulator, app: Any, data: Path, **changes: str | None) -> dict[str, str]:
    """The settings of a working deployment against the emulator (a None value unsets a variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "DATABASE_", "REDIS_", "LOG_"))}
    env.update(GITHUB_APP_ID=str(app.id), GITHUB_PRIVATE_KEY=app.private_key_pem,
               GITHUB_WEBHOOK_SECRET=app.webhook_secret, GITHUB_API_URL=emu.api_url, DATA_DIR=str(data))  # fmt: skip
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A DATA_DIR whose store is migrated, as after a first `serve`."""
    path = tmp_path / "data"
    store = Store(f"sqlite:///{path / 'falco-rules-bot.db'}")
    store.migrate()
    store.close()
    return path


def line(out: str, name: str) -> str:
    found = [text for text in out.splitlines() if text.split(" ", 1)[-1].lstrip().startswith(f"{name}:")]
    assert len(found) == 1, (name, out)
    return found[0]


def test_a_working_deployment_passes_every_check(emu: Emulator, app: Any, data: Path) -> None:
    proc = doctor(good_env(emu, app, data))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 11 and lines[-1] == "all 10 checks passed"
    assert all(text.startswith("ok ") for text in lines[:-1]), proc.stdout
    assert f"knows the App as {app.slug} (id {app.id})" in line(proc.stdout, "GitHub")
    assert "schema version 1 (the latest)" in line(proc.stdout, "store")
    assert "git version" in line(proc.stdout, "git") and "GnuPG" in line(proc.stdout, "gpg")
    assert app.webhook_secret not in proc.stdout + proc.stderr
    as_json = json.loads(doctor(good_env(emu, app, data), "--format", "json").stdout)
    assert as_json["schema"] == "falco-rules-bot/doctor/v1" and as_json["ok"] is True
    ids = ["settings", "data_dir", "webhook_secret", "app_credentials", "private_key", "github", "store", "queue",
           "git", "gpg"]  # fmt: skip
    assert [c["id"] for c in as_json["checks"]] == ids


def _ec_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    return pem.decode()


BROKEN_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLY\n-----END RSA PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("changes", "check", "problem", "fix"),
    [
        ({"GITHUB_WEBHOOK_SECRET": None}, "webhook secret", "GITHUB_WEBHOOK_SECRET is not set",
         "set GITHUB_WEBHOOK_SECRET to the webhook secret"),
        ({"GITHUB_APP_ID": None}, "App credentials", "GITHUB_APP_ID is not set", "set GITHUB_APP_ID to the App's ID"),
        ({"GITHUB_PRIVATE_KEY": None, "GITHUB_PRIVATE_KEY_PATH": "/nonexistent/app.pem"}, "App credentials",
         "/nonexistent/app.pem", "GITHUB_PRIVATE_KEY_PATH to its private key file"),
        ({"GITHUB_PRIVATE_KEY": BROKEN_PEM}, "private key", "the key cannot sign the App's token",
         "generate a new private key on the App's settings page"),
        ({"GITHUB_PRIVATE_KEY": "ec"}, "private key", "not an RSA key (ECPrivateKey)",
         "generate a new private key on the App's settings page"),
        ({"GITHUB_API_URL": "closed"}, "GitHub", "cannot be reached", "check GITHUB_API_URL (http://127.0.0.1:"),
        ({"GITHUB_APP_ID": "other app"}, "GitHub", "refused the App's credentials",
         "check that GITHUB_APP_ID is the ID of the App whose private key is configured"),
        ({"DATA_DIR": "under a file"}, "data directory", "is not writable: Not a directory",
         "make DATA_DIR ("),
        ({"DATA_DIR": "fresh"}, "store", "schema version 0 of 1", "start `falco-rules-bot serve` or"),
        ({"DATABASE_URL": "postgresql+psycopg://bot:pa55word@127.0.0.1:closed/bot"}, "store",
         "PostgreSQL does not answer", "check DATABASE_URL and that the database server is up"),
        ({"REDIS_URL": "redis://:s3cret@127.0.0.1:closed/0"}, "queue", "Redis does not answer",
         "check REDIS_URL and that Redis is up"),
        ({"LOG_FORMAT": "xml"}, "settings", "LOG_FORMAT: Input should be 'text' or 'json'",
         "correct the settings named above"),
    ],
    ids=["no-secret", "no-app-id", "unreadable-key-file", "broken-key", "ec-key", "github-unreachable",
         "wrong-app-id", "unwritable-data-dir", "store-not-migrated", "store-down", "queue-down",
         "invalid-setting"],
)  # fmt: skip
def test_each_problem_says_how_to_fix_it(emu: Emulator, app: Any, data: Path, tmp_path: Path,
                                         changes: dict[str, str | None], check: str, problem: str,
                                         fix: str) -> None:  # fmt: skip
    port = str(free_port())
    values = {key: value.replace("closed", port) if value else value for key, value in changes.items()}
    if values.get("GITHUB_PRIVATE_KEY") == "ec":
        values["GITHUB_PRIVATE_KEY"] = _ec_key()
    if values.get("GITHUB_API_URL") == port:
        values["GITHUB_API_URL"] = f"http://127.0.0.1:{port}/api/v3"
    if values.get("GITHUB_APP_ID") == "other app":
        values["GITHUB_APP_ID"] = str(app.id + 1000)
    if values.get("DATA_DIR") == "under a file":
        (tmp_path / "a-file").write_text("not a directory\n")
        values["DATA_DIR"] = str(tmp_path / "a-file" / "data")  # even root cannot make a directory under a file
    elif values.get("DATA_DIR") == "fresh":
        values["DATA_DIR"] = str(tmp_path / "fresh")
    proc = doctor(good_env(emu, app, data, **values))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = line(proc.stdout, check)
    assert found.startswith("problem "), found
    detail, _, shown_fix = found.partition(" -> fix: ")
    assert problem in detail, found
    assert shown_fix.startswith(fix) or fix in shown_fix, found
    problems = [text for text in proc.stdout.splitlines() if text.startswith("problem ")]
    if check == "data directory":  # the store and the queue live there: they cannot open either
        assert [line(proc.stdout, name) in problems for name in ("store", "queue")] == [True, True], proc.stdout
    else:
        assert problems == [found], proc.stdout  # that problem alone
    for secret in ("pa55word", "s3cret", app.webhook_secret):
        assert secret not in proc.stdout + proc.stderr
    as_json = json.loads(doctor(good_env(emu, app, data, **values), "--format", "json").stdout)
    assert as_json["ok"] is False
    assert any(c["status"] == "problem" and c["detail"] in detail and c["fix"] == shown_fix for c in as_json["checks"])
