"""The Falco corpora as test cases: each with the files to load, the plugins, and what Falco 0.44.1 said."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.rules.engine import EngineOptions, RulesFile, load_like_falco

CORPUS = Path(__file__).parent / "data" / "corpus"
KNOWN_DIFFERENCES = Path(__file__).parent / "KNOWN_DIFFERENCES.md"

# Plugins loaded for the observed runs (stub plugins with real field tables).
OBSERVED_PLUGINS = frozenset({"container", "k8saudit", "json"})
VALID_CONFIG_PLUGINS = {
    "cfg_syscall.yaml": frozenset({"container", "json"}),
    "cfg_k8s.yaml": frozenset({"k8saudit", "json"}),
    "cfg_ct.yaml": frozenset({"cloudtrail", "json"}),
    "cfg_okta.yaml": frozenset({"okta", "json"}),
    "cfg_github.yaml": frozenset({"github", "json"}),
    "cfg_gcp.yaml": frozenset({"gcpaudit", "json"}),
    "cfg_gke.yaml": frozenset({"k8saudit-gke", "json"}),
}


@dataclass
class Verdict:
    """What matters when comparing with Falco: success, first error, blamed item, warning codes."""

    successful: bool
    first_error: str | None
    blamed: tuple[str, ...]
    warnings: Counter[str] = field(default_factory=Counter)
    messages: Counter[tuple[str, str]] | None = None  # (code, message) of every error and warning, when known

    def disagreement(self, other: Verdict, compare_blame: bool = True) -> str | None:
        """None when the two verdicts agree, else what differs."""
        if self.successful != other.successful:
            return f"successful {self.successful} != {other.successful}"
        if self.first_error != other.first_error:
            return f"first error {self.first_error} != {other.first_error}"
        if compare_blame and self.blamed and other.blamed and self.blamed != other.blamed:
            return f"blamed {self.blamed} != {other.blamed}"
        if set(self.warnings) != set(other.warnings):
            return f"warning codes {sorted(self.warnings)} != {sorted(other.warnings)}"
        if self.messages is not None and other.messages is not None and self.messages != other.messages:
            return f"messages {sorted(self.messages)} != {sorted(other.messages)}"
        return None


@dataclass
class Case:
    """One load of one or more files, and Falco's observed verdict."""

    id: str
    files: list[Path]
    plugins: frozenset[str]
    expected: Verdict
    exact_counts: bool = False


def _blamed(context: list[str]) -> tuple[str, ...]:
    return tuple(c for c in context if "=" in c)


def invalid_cases() -> list[Case]:
    """corpus/invalid/EXPECTED.json, field observed_falco_0.44.1."""
    cases = []
    for entry in json.loads((CORPUS / "invalid" / "EXPECTED.json").read_text()):
        obs = entry["observed_falco_0.44.1"]
        errors = obs["errors"]
        verdict = Verdict(
            obs["successful"],
            errors[0]["code"] if errors else None,
            _blamed(errors[0].get("context", [])) if errors else (),
            Counter(w["code"] for w in obs["warnings"]),
            Counter((d["code"], d["message"]) for d in errors + obs["warnings"]),
        )
        files = [CORPUS / "invalid" / f for f in entry["files"]]
        cases.append(Case("invalid/" + "+".join(entry["files"]), files, OBSERVED_PLUGINS, verdict))
    return cases


def probe_cases() -> list[Case]:
    """corpus/probes with OBSERVED_falco-0.44.1.json."""
    observed = json.loads((CORPUS / "probes" / "OBSERVED_falco-0.44.1.json").read_text())
    cases = []
    for name, obs in sorted(observed.items()):
        errors = obs["errors"]
        verdict = Verdict(
            obs["successful"],
            errors[0]["code"] if errors else None,
            (),
            Counter(w["code"] for w in obs["warnings"]),
            Counter((d["code"], d["message"]) for d in errors + obs["warnings"]),
        )
        cases.append(Case("probes/" + name, [CORPUS / "probes" / name], OBSERVED_PLUGINS, verdict))
    return cases


def valid_cases() -> list[Case]:
    """corpus/valid: every file alone, with the plugins of the config it was observed with."""
    observed = json.loads((CORPUS / "valid" / "OBSERVED_falco-0.44.1.json").read_text())
    cases = []
    for name, obs in sorted(observed.items()):
        errors = obs["errors"]
        verdict = Verdict(obs["successful"], errors[0][0] if errors else None, (), Counter(obs["warnings"]))
        plugins = VALID_CONFIG_PLUGINS[obs["config"]]
        cases.append(Case("valid/" + name, [CORPUS / "valid" / name], plugins, verdict, exact_counts=True))
    return cases


def unit_ok_cases() -> list[tuple[str, Path, list[dict[str, str]]]]:
    """corpus/unit-ok: files that load cleanly, with the compiled conditions Falco printed."""
    entries = json.loads((CORPUS / "unit-ok" / "EXPECTED.json").read_text())
    return [(e["file"], CORPUS / e["file"], e["compiled"]) for e in entries]


def run_case(case: Case) -> Verdict:
    """Our engine's Falco-mode verdict for a case."""
    files = [RulesFile(str(p.relative_to(CORPUS)), p.read_bytes()) for p in case.files]
    results = load_like_falco(files, EngineOptions(plugins=case.plugins))
    errors = [d for r in results for d in r.errors]
    warnings = Counter(d.code for r in results for d in r.warnings)
    blamed: tuple[str, ...] = ()
    if errors:
        blamed = tuple(f"{loc.item_type}={loc.item_name}" for loc in errors[0].context.locations if loc.item_name)
    messages = Counter((d.code, d.message) for r in results for d in r.errors + r.warnings)
    return Verdict(all(r.successful for r in results), errors[0].code if errors else None, blamed, warnings, messages)


def known_differences() -> dict[str, str]:
    """Case id -> reason, from the table in tests/KNOWN_DIFFERENCES.md."""
    out: dict[str, str] = {}
    if KNOWN_DIFFERENCES.exists():
        for line in KNOWN_DIFFERENCES.read_text().splitlines():
            match = re.match(r"\|\s*`([^`]+)`\s*\|\s*(.+?)\s*\|\s*$", line)
            if match:
                out[match.group(1)] = match.group(2)
    return out
