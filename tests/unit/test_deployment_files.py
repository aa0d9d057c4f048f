"""The deployment files agree with the code: the manifest asks for what the bot handles and needs; the Procfile, the
image, docker-compose and the Kubernetes manifests run real commands with real settings; the guides name real keys."""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot import __version__
from bot.cli import build_parser
from bot.policy import resolve_policy
from bot.settings import Settings, load_settings
from bot.web import create_app
from bot.web.events import PR_ACTIONS
from tests.appserver import Running as AppServer

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


# --- the container image ------------------------------------------------------------------------------------------

SETTINGS = set(Settings.model_fields)
ENV_NAMES = {name.upper() for name in SETTINGS}
# Environment variables of the image that belong to Python, pip or the shell, not to the bot.
TOOLING_ENV = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PIP_NO_CACHE_DIR",
               "PIP_DISABLE_PIP_VERSION_CHECK"}  # fmt: skip
IMAGE = "falco-rules-bot"


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions (NAME, arguments) of each stage of a Dockerfile: continuations joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment lines, also inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line, pending = pending + line, ""
        name, _, args = line.partition(" ")
        instructions.append((name.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[list[tuple[str, str]]] = []
    for name, args in instructions:
        if name == "FROM":
            stages.append([])
        assert stages, f"{name} before the first FROM"
        stages[-1].append((name, args))
    return stages


def exec_form(args: str) -> list[str]:
    """The argv of an exec-form (JSON) CMD, ENTRYPOINT or HEALTHCHECK CMD."""
    assert args.startswith("["), f"not in exec form: {args}"
    argv = json.loads(args)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    return argv


def env_assignments(args: str) -> dict[str, str]:
    """ENV A=1 B=2 (or the old ENV A 1) as a dict."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def _all(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [args for instruction, args in stage if instruction == name]


@pytest.fixture(scope="module")
def stages() -> list[list[tuple[str, str]]]:
    return dockerfile_stages((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def runtime(stages: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    return stages[-1]


def image_user(runtime: list[tuple[str, str]]) -> str:
    users = _all(runtime, "USER")
    assert users, "the image runs as root: no USER in the final stage"
    return users[-1].split(":")[0]


def image_command(runtime: list[tuple[str, str]]) -> argparse.Namespace:
    (cmd,) = _all(runtime, "CMD")
    argv = exec_form(cmd)
    assert argv[0] == "falco-rules-bot"
    return build_parser().parse_args(argv[1:])


def test_the_dockerfile_parser_sees_continuations_stages_and_forms() -> None:
    text = 'FROM a AS b\nRUN x \\\n  # note\n  && y\nFROM c\nENV A=1 B="two words"\nCMD ["p", "q"]\n'
    first, second = dockerfile_stages(text)
    assert first == [("FROM", "a AS b"), ("RUN", "x && y")]
    assert second == [("FROM", "c"), ("ENV", 'A=1 B="two words"'), ("CMD", '["p", "q"]')]
    assert env_assignments('A=1 B="two words"') == {"A": "1", "B": "two words"}
    assert env_assignments("A 1") == {"A": "1"}
    with pytest.raises(AssertionError):
        exec_form("p q")


def test_the_image_is_a_slim_python_3_11(stages: list[list[tuple[str, str]]]) -> None:
    for stage in stages:
        image = stage[0][1].split()[0]
        assert image.startswith("python:3.11-slim"), image


def test_the_image_runs_as_a_non_root_user_that_owns_the_data_volume(runtime: list[tuple[str, str]]) -> None:
    user = image_user(runtime)
    assert user not in ("root", "0") and user.isdigit(), "a numeric non-root uid, so runAsNonRoot can check it"
    runs = " ".join(_all(runtime, "RUN"))
    assert f"--uid {user}" in runs, "USER names a uid the image does not create"
    env: dict[str, str] = {}
    for args in _all(runtime, "ENV"):
        env.update(env_assignments(args))
    data_dir = env["DATA_DIR"]
    volumes = [v for args in _all(runtime, "VOLUME") for v in (json.loads(args) if args[0] == "[" else args.split())]
    assert data_dir in volumes
    assert re.search(rf"chown \S+ {re.escape(data_dir)}(\s|$)", runs), "the data volume is not the user's"
    for name in env:
        assert name in TOOLING_ENV or name in ENV_NAMES, f"ENV {name} is no setting of bot.settings.Settings"


def test_the_image_installs_git_and_gpg_without_recommends(runtime: list[tuple[str, str]]) -> None:
    installs = [args for args in _all(runtime, "RUN") if "apt-get install" in args]
    assert len(installs) == 1
    words = installs[0].replace("&&", " ").split()
    assert {"git", "gnupg", "--no-install-recommends"} <= set(words)
    assert "rm -rf /var/lib/apt/lists/*" in installs[0], "apt lists left in the image"


def test_the_package_is_installed_with_pip_with_its_data_and_no_dev_extras(
    stages: list[list[tuple[str, str]]],
) -> None:
    runs = [args for stage in stages for args in _all(stage, "RUN")]
    assert any("pip install" in args for args in runs)
    assert not any(re.search(r"\[[^\]]*\bdev\b", args) for args in runs), "dev extras in the image"
    # bot/ reads config/ and templates/ beside it (they are not package data): all three must be in the image
    sources = {src.rstrip("/") for stage in stages for args in _all(stage, "COPY") if not args.startswith("--from")
               for src in args.split()[:-1]}  # fmt: skip
    assert {"pyproject.toml", "bot", "config", "templates"} <= sources
    ignored = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")]
    for src in sources:
        assert (ROOT / src).exists(), src
        assert not any(fnmatch.fnmatch(src, pattern) for pattern in ignored), f".dockerignore drops {src}"
    for kept_out in (".git", ".venv", "tests/artifacts", ".pytest_cache", ".mypy_cache", ".ruff_cache"):
        assert kept_out in ignored, kept_out


def test_the_default_command_serves_on_the_exposed_port_and_checks_its_health(
    runtime: list[tuple[str, str]], get_routes: set[str]
) -> None:
    args = image_command(runtime)
    assert args.command == "serve" and args.host == "0.0.0.0"
    assert _all(runtime, "EXPOSE") == [str(args.port)]
    (healthcheck,) = _all(runtime, "HEALTHCHECK")
    argv = exec_form(healthcheck[healthcheck.index("CMD ") + 4 :])
    assert argv[:2] == ["python", "-c"], "the image has no curl: the health check is Python"
    assert f"http://127.0.0.1:{args.port}/healthz" in argv[2]
    assert "/healthz" in get_routes


def test_the_health_check_program_passes_on_a_serving_app_and_fails_otherwise(
    runtime: list[tuple[str, str]], tmp_path: Path
) -> None:
    (healthcheck,) = _all(runtime, "HEALTHCHECK")
    program = exec_form(healthcheck[healthcheck.index("CMD ") + 4 :])[2]
    port = str(image_command(runtime).port)
    with AppServer(throwaway_settings(tmp_path)) as running:
        here = program.replace(f":{port}/", f":{running.port}/")
        assert subprocess.run([sys.executable, "-c", here], capture_output=True, timeout=30).returncode == 0
    gone = subprocess.run([sys.executable, "-c", here], capture_output=True, timeout=30)
    assert gone.returncode != 0


# --- what the app serves --------------------------------------------------------------------------------------------


def throwaway_settings(directory: Path) -> Settings:
    return load_settings(data_dir=str(directory), github_webhook_secret="throwaway", embedded_worker=False,
                         database_url=None, queue_path=None, redis_url=None, github_app_id=1,
                         github_app_credentials_file=str(directory / "none.env"))  # fmt: skip


@pytest.fixture(scope="module")
def get_routes(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    app = create_app(throwaway_settings(tmp_path_factory.mktemp("app")))
    paths = {
        str(getattr(route, "path", "")) for route in app.routes if "GET" in (getattr(route, "methods", None) or ())
    }
    assert {"/healthz", "/readyz"} <= paths
    return paths


# --- docker-compose (scale-out mode) --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _command(argv: list[str]) -> argparse.Namespace:
    assert argv[0] == "falco-rules-bot", argv
    return build_parser().parse_args(argv[1:])


def test_compose_has_the_four_services_of_scale_out_mode(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"web", "worker", "redis", "postgres"}
    assert services["redis"]["image"].startswith("redis:7") and "alpine" in services["redis"]["image"]
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    for name in ("redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("web", "worker"):
        for dependency in ("postgres", "redis"):
            assert services[name]["depends_on"][dependency] == {"condition": "service_healthy"}, (name, dependency)


def test_compose_runs_the_image_of_this_repository(compose: dict[str, Any], runtime: list[tuple[str, str]]) -> None:
    services = compose["services"]
    web, worker = services["web"], services["worker"]
    assert web["image"] == worker["image"]
    assert web["image"] == f"{IMAGE}:{__version__}"
    context = (ROOT / "deploy" / web["build"]["context"]).resolve()
    assert context == ROOT and (context / web["build"]["dockerfile"]).is_file()
    served = _command(web["command"])
    assert served.command == "serve" and served.host == "0.0.0.0"
    assert [p.split(":")[-1] for p in web["ports"]] == [str(served.port)]
    assert served.port == image_command(runtime).port, "the image's HEALTHCHECK checks another port"
    assert worker["command"] == ["falco-rules-bot", "worker"]
    assert _command(worker["command"]).command == "worker"
    assert worker["deploy"]["replicas"] >= 2
    assert worker["healthcheck"] == {"disable": True}, "the image's HTTP health check cannot pass on a worker"


def test_compose_environment_names_only_settings_and_wires_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert set(env) <= ENV_NAMES, set(env) - ENV_NAMES
        assert {"DATABASE_URL", "REDIS_URL", "GITHUB_APP_ID", "GITHUB_PRIVATE_KEY_PATH",
                "GITHUB_WEBHOOK_SECRET"} <= set(env)  # fmt: skip
        database = urlsplit(re.sub(r"\$\{[^}]*\}", "VALUE", env["DATABASE_URL"]))  # Compose's own ${...} variables
        postgres = services["postgres"]["environment"]
        assert database.scheme == "postgresql+psycopg" and database.hostname == "postgres"
        assert database.username == postgres["POSTGRES_USER"] and database.path == f"/{postgres['POSTGRES_DB']}"
        redis = urlsplit(env["REDIS_URL"])
        assert redis.scheme == "redis" and redis.hostname == "redis"
        key = env["GITHUB_PRIVATE_KEY_PATH"]
        secret = key.removeprefix("/run/secrets/")
        assert secret in services[name]["secrets"] and secret in compose["secrets"], "the key file is not mounted"


# --- Kubernetes ----------------------------------------------------------------------------------------------------

K8S = ROOT / "deploy" / "kubernetes"


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files, "kustomization.yaml and the manifests disagree"
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for name in sorted(files):
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


def _deployment(manifests: dict[tuple[str, str], dict[str, Any]], component: str) -> dict[str, Any]:
    found = [d for (kind, _), d in manifests.items()
             if kind == "Deployment" and d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
             == component]  # fmt: skip
    assert len(found) == 1, component
    return found[0]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _environment(manifests: dict[tuple[str, str], dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(manifests[("ConfigMap", source["configMapRef"]["name"])]["data"])
        else:
            env.update(manifests[("Secret", source["secretRef"]["name"])]["stringData"])
    env.update({item["name"]: item.get("value", "") for item in container.get("env", [])})
    return env


def test_kubernetes_runs_web_and_worker_from_this_image(
    manifests: dict[tuple[str, str], dict[str, Any]], runtime: list[tuple[str, str]]
) -> None:
    web, worker = _container(_deployment(manifests, "web")), _container(_deployment(manifests, "worker"))
    assert web["image"] == worker["image"] == f"{IMAGE}:{__version__}"
    served = _command(web["command"])
    assert served.command == "serve" and served.host == "0.0.0.0"
    assert [(p["name"], p["containerPort"]) for p in web["ports"]] == [("http", served.port)]
    assert served.port == image_command(runtime).port
    assert worker["command"] == ["falco-rules-bot", "worker"] and _command(worker["command"]).command == "worker"
    (service,) = [d for (kind, _), d in manifests.items() if kind == "Service"]
    pod_labels = _deployment(manifests, "web")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_kubernetes_probes_hit_routes_the_app_serves(
    manifests: dict[tuple[str, str], dict[str, Any]], get_routes: set[str]
) -> None:
    web = _container(_deployment(manifests, "web"))
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert web[probe]["httpGet"]["path"] in get_routes
        assert web[probe]["httpGet"]["port"] in [p["name"] for p in web["ports"]]


def test_kubernetes_environment_names_only_settings(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    for component in ("web", "worker"):
        container = _container(_deployment(manifests, component))
        env = _environment(manifests, container)
        assert set(env) <= ENV_NAMES, set(env) - ENV_NAMES
        assert urlsplit(env["DATABASE_URL"]).scheme == "postgresql+psycopg", "scale-out needs PostgreSQL"
        assert urlsplit(env["REDIS_URL"]).scheme == "redis", "scale-out needs Redis"
        assert {"GITHUB_APP_ID", "GITHUB_WEBHOOK_SECRET", "GITHUB_PRIVATE_KEY_PATH"} <= set(env)
        key = PurePosixPath(env["GITHUB_PRIVATE_KEY_PATH"])
        volumes = {v["name"]: v for v in _deployment(manifests, component)["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        secret = volumes[mounts[str(key.parent)]]["secret"]["secretName"]
        assert key.name in manifests[("Secret", secret)]["stringData"], "the key file is not in its Secret"


def test_kubernetes_pods_are_locked_down_with_writable_data_and_tmp(
    manifests: dict[tuple[str, str], dict[str, Any]], runtime: list[tuple[str, str]]
) -> None:
    for component in ("web", "worker"):
        deployment = _deployment(manifests, component)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert str(pod["securityContext"]["runAsUser"]) == image_user(runtime), "not the image's user"
        container = _container(deployment)
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        data_dir = _environment(manifests, container)["DATA_DIR"]
        for writable in (data_dir, "/tmp"):
            assert "emptyDir" in volumes[mounts[writable]], f"{writable} is not writable under a read-only root"


# --- the documents -----------------------------------------------------------------------------------------------

DOCS = ROOT / "docs"
# Names docs/deployment.md may show that are not settings of the bot: the platform's port, the Compose file's own
# variable, the CA bundles of requests and git.
NOT_SETTINGS = {"PORT", "POSTGRES_PASSWORD", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO"}
# Keys of other tools that docs/migration.md names (dotted, in backticks, like ours).
FOREIGN_KEYS = {"require.members", "allowRemediationCommits.individual", "allowRemediationCommits.thirdParty"}


def _policy_keys() -> set[str]:
    keys: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        for key, value in node.items():
            keys.add(prefix + key)
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")

    walk(yaml.safe_load((ROOT / "config/defaults.yml").read_text()), "")
    return keys


def _code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def _dotted(span: str) -> str | None:
    """The dotted key of `a.b.c` or `a.b.c: value`, else None."""
    key = span.split(":", 1)[0].strip()
    return key if re.fullmatch(r"[A-Za-z_]+(\.[A-Za-z_]+)+", key) else None


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for part in reversed(dotted.split(".")):
        nested = {part: value}
        value = nested
    return nested


def test_every_policy_key_the_migration_note_names_exists() -> None:
    text = (DOCS / "migration.md").read_text()
    keys = _policy_keys()
    named = {key for span in _code_spans(text) if (key := _dotted(span))}
    files = {span for span in named if span.rsplit(".", 1)[1] in ("yml", "yaml", "md", "json")}
    ours = named - files - FOREIGN_KEYS
    assert ours <= keys, f"not policy keys of config/defaults.yml: {sorted(ours - keys)}"
    assert {"checks.dco.mode", "checks.dco.remediation_individual", "checks.dco.remediation_third_party",
            "checks.dco.exempt_bots", "checks.linked_issue.enabled", "checks.agreement.mode"} <= ours  # fmt: skip
    assert named >= FOREIGN_KEYS, "the DCO app's keys are the note's subject"
    # `key: value` spans and the policy files shown are valid policies: no finding about an unknown key or value
    for span in _code_spans(text):
        key = _dotted(span)
        if key in keys and ":" in span:
            snippet = yaml.safe_dump(_nested(key, yaml.safe_load(span.split(":", 1)[1])))
            assert resolve_policy(snippet)[1] == [], span
    policies = re.findall(r"```yaml\n(# \.github/falco-rules-bot\.yml.*?)```", text, re.DOTALL)
    assert len(policies) >= 4
    for policy in policies:
        assert resolve_policy(policy)[1] == [], policy
    for prow_key in ("skip_dco_check_for_members", "skip_dco_check_for_collaborators", "contributing_repo",
                     "contributing_branch", "contributing_path", "dco-signoff: yes"):  # fmt: skip
        assert f"`{prow_key}`" in text, prow_key


def test_every_environment_variable_the_deployment_guide_names_is_a_setting() -> None:
    text = (DOCS / "deployment.md").read_text()
    names = {span for span in _code_spans(text) if re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", span)}
    names |= set(re.findall(r"(?<![A-Za-z0-9_$])([A-Z][A-Z0-9_]{2,})=", text))
    names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]{2,})", text))
    unknown = names - ENV_NAMES - NOT_SETTINGS
    assert not unknown, f"not settings of bot.settings.Settings: {sorted(unknown)}"
    assert {"DATABASE_URL", "REDIS_URL", "GITHUB_API_URL", "GIT_URL", "DATA_DIR", "GITHUB_APP_ID"} <= names


def test_the_documents_point_at_files_that_exist() -> None:
    for doc in ("deployment.md", "migration.md"):
        for span in _code_spans((DOCS / doc).read_text()):
            if re.fullmatch(r"(deploy|config|docs|bot|templates|tests)/[\w./-]+", span) or span in (
                "Dockerfile", "Procfile", ".dockerignore"):  # fmt: skip
                assert (ROOT / span).exists(), f"{doc} names {span}, which does not exist"
