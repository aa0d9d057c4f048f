"""What the `tags` check says of a rule's ATT&CK tags: tactic tags, technique and tactic IDs, and their agreement."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from bot.attack import TACTIC_ID, TECHNIQUE_ID, AttackCatalog, Tactic

ID_LIKE = re.compile(r"^[Tt][Aa]?\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class Problem:
    """One finding before policy and wording: its kind (a policy key), code, phrase and the tag it is about."""

    kind: str
    code: str
    phrase: str
    values: dict[str, str] = field(default_factory=dict)
    tag: str | None = None  # the tag the finding points at (None: the tags key)


@dataclass(frozen=True)
class AttackContext:
    """The pinned catalog and, when accepted, the previous version whose vocabulary is still understood."""

    pinned: AttackCatalog
    previous: AttackCatalog | None
    accept_previous: bool


def _tag_list(tactics: list[Tactic] | tuple[Tactic, ...]) -> str:
    return ", ".join(f"`{t.tag}`" for t in tactics)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def replacements(ctx: AttackContext, old: Tactic, hints: set[str]) -> list[Tactic]:
    """The pinned version's tactics that took the place of `old` (a tactic of the previous version only).

    Those with the same ID and those the previous version did not have; narrowed to the ones the rule's
    techniques serve (`hints`: pinned shortnames) when any are.
    """
    previous_ids = {t.id for t in ctx.previous.tactics} if ctx.previous else set()
    candidates = [t for t in ctx.pinned.tactics if t.id == old.id or t.id not in previous_ids]
    narrowed = [t for t in candidates if t.shortname in hints]
    return narrowed or candidates


def _closest(ctx: AttackContext, tag: str, hints: set[str]) -> tuple[str, dict[str, str]]:
    """The phrase and values suggesting what an unknown `mitre_*` tag should be."""
    pinned = {t.tag: t for t in ctx.pinned.tactics}
    older = {t.tag: t for t in ctx.previous.tactics if t.tag not in pinned} if ctx.previous else {}
    low = tag.lower()
    close = difflib.get_close_matches(low, [*pinned, *older], n=1, cutoff=0.8)
    if close and close[0] in pinned:
        return "tactic_typo", {"suggest": f"`{close[0]}`"}
    if close:
        return "tactic_typo", {"suggest": _tag_list(replacements(ctx, older[close[0]], hints))}
    names = {_norm(t.name): t for t in ctx.pinned.techniques.values() if not (t.revoked or t.deprecated)}
    name = low.removeprefix("mitre_")
    technique = difflib.get_close_matches(name, list(names), n=1, cutoff=0.8)
    if technique:
        tech = names[technique[0]]
        tactics = [t for t in ctx.pinned.tactics if t.shortname in tech.tactics]
        return "tactic_is_technique", {"id": tech.id, "name": tech.name, "suggest": _tag_list(tactics)}
    close = difflib.get_close_matches(low, list(pinned), n=1, cutoff=0.6)
    if close:
        return "tactic_typo", {"suggest": f"`{close[0]}`"}
    return "tactic_typo", {"suggest": _tag_list(ctx.pinned.tactics)}


def judge_attack(ctx: AttackContext, tags: tuple[str, ...]) -> list[Problem]:
    """Tactic tags present and known, IDs known and current, and each ID agreeing with the tactic tags."""
    pinned, previous = ctx.pinned, ctx.previous
    version = pinned.version
    out: list[Problem] = []
    current: dict[str, str] = {}  # pinned tactic shortname -> tag
    older: dict[str, str] = {}  # previous-only tactic shortname -> tag
    techniques = [t for t in tags if TECHNIQUE_ID.match(t)]
    tactic_ids = [t for t in tags if TACTIC_ID.match(t)]
    hints = {s for t in techniques if (tech := pinned.current(t)) for s in tech.tactics}
    hints |= {tactic.shortname for t in tactic_ids if (tactic := pinned.tactic(t))}
    previous_kind = "previous_version" if ctx.accept_previous else "tactic_unknown"
    for tag in tags:
        if not tag.lower().startswith("mitre_"):
            continue
        tactic = pinned.tactic(tag) if tag.startswith("mitre_") else None
        if tactic is not None:
            current[tactic.shortname] = tag
            continue
        old = previous.tactic(tag) if previous and tag.startswith("mitre_") else None
        if old is not None and previous is not None:
            older[old.shortname] = tag
            suggest = _tag_list(replacements(ctx, old, hints))
            values = {"tag": tag, "version": version, "previous": previous.version, "suggest": suggest}
            out.append(Problem(previous_kind, "TAGS_TACTIC_PREVIOUS_VERSION", "tactic_previous", values, tag))
            continue
        phrase, values = _closest(ctx, tag, hints)
        out.append(Problem("tactic_unknown", "TAGS_TACTIC_UNKNOWN", phrase, {"tag": tag, "version": version,
                                                                                **values}, tag))  # fmt: skip
    if not current and not older and not any(p.code == "TAGS_TACTIC_UNKNOWN" for p in out):
        suggest = _tag_list([t for t in pinned.tactics if t.shortname in hints]) or _tag_list(pinned.tactics)
        out.append(Problem("tactic_missing", "TAGS_TACTIC_MISSING", "tactic_missing", {"suggest": suggest}))
    supported: set[str] = set()
    for tag in tags:
        if TECHNIQUE_ID.match(tag):
            out.extend(_technique(ctx, tag, current, older, supported))
        elif TACTIC_ID.match(tag):
            out.extend(_tactic_id(ctx, tag, current, older, supported))
        elif ID_LIKE.match(tag):
            out.append(Problem("id_unknown", "TAGS_ID_MALFORMED", "id_malformed", {"tag": tag}, tag))
    agreed = not any(p.code in ("TAGS_TACTIC_MISMATCH", "TAGS_TACTIC_ID_MISMATCH") for p in out)
    if supported and agreed:
        for short, tag in {**current, **older}.items():
            if short not in supported:
                ids = ", ".join(f"`{t}`" for t in [*techniques, *tactic_ids])
                out.append(Problem("tactic_unsupported", "TAGS_TACTIC_UNSUPPORTED", "tactic_unsupported",
                                   {"tag": tag, "ids": ids}, tag))  # fmt: skip
    return out


def _technique(ctx: AttackContext, tag: str, current: dict[str, str], older: dict[str, str],
               supported: set[str]) -> list[Problem]:  # fmt: skip
    pinned, previous = ctx.pinned, ctx.previous
    tech = pinned.technique(tag)
    values = {"tag": tag, "version": pinned.version}
    if tech is None:
        return [Problem("id_unknown", "TAGS_TECHNIQUE_UNKNOWN", "technique_unknown", values, tag)]
    out: list[Problem] = []
    old = previous.technique(tag) if previous else None
    successor = pinned.current(tag)
    if tech.revoked or tech.deprecated:
        values = {**values, "name": tech.name}
        if successor is not None and successor.id != tag and not successor.revoked:
            values["suggest"] = f"`{successor.id}` ({successor.name})"
            phrase = "technique_revoked"
        else:
            phrase = "technique_revoked_alone" if tech.revoked else "technique_deprecated"
        if old is not None and previous is not None and not (old.revoked or old.deprecated):
            kind = "previous_version" if ctx.accept_previous else "id_retired"
            out.append(Problem(kind, "TAGS_TECHNIQUE_PREVIOUS_VERSION", phrase + "_previous",
                               {**values, "previous": previous.version}, tag))  # fmt: skip
        else:
            code = "TAGS_TECHNIQUE_REVOKED" if tech.revoked else "TAGS_TECHNIQUE_DEPRECATED"
            out.append(Problem("id_retired", code, phrase, values, tag))
    now = set(successor.tactics) if successor is not None and not successor.revoked else set()
    before = set(old.tactics) if old is not None else set()
    supported |= now | before
    if (now & set(current)) or (before & set(older)) or not (current or older) or not (now or before):
        return out
    tactics = [t for t in pinned.tactics if t.shortname in now]
    mine = ", ".join(f"`{t}`" for t in [*current.values(), *older.values()])
    out.append(Problem("tactic_mismatch", "TAGS_TACTIC_MISMATCH", "tactic_mismatch",
                       {"tag": tag, "name": tech.name, "tags": mine, "suggest": _tag_list(tactics),
                        "version": pinned.version}, tag))  # fmt: skip
    return out


def _tactic_id(ctx: AttackContext, tag: str, current: dict[str, str], older: dict[str, str],
               supported: set[str]) -> list[Problem]:  # fmt: skip
    pinned, previous = ctx.pinned, ctx.previous
    tactic = pinned.tactic(tag)
    if tactic is None:
        return [Problem("id_unknown", "TAGS_TACTIC_ID_UNKNOWN", "tactic_id_unknown",
                        {"tag": tag, "version": pinned.version}, tag)]  # fmt: skip
    old = previous.tactic(tag) if previous else None
    supported.add(tactic.shortname)
    if old is not None:
        supported.add(old.shortname)
    if tactic.shortname in current or (old is not None and old.shortname in older) or not (current or older):
        return []
    mine = ", ".join(f"`{t}`" for t in [*current.values(), *older.values()])
    return [Problem("tactic_mismatch", "TAGS_TACTIC_ID_MISMATCH", "tactic_id_mismatch",
                    {"tag": tag, "name": tactic.name, "tags": mine, "suggest": f"`{tactic.tag}`"}, tag)]  # fmt: skip
