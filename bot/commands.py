"""Commands in pull request comments: parsing (pure), authorising and answering them (in a queue job)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.policy import Policy, resolve_policy
from bot.render import escape_markdown, phrases
from bot.store import NewRequest, Request, Store

if TYPE_CHECKING:
    from bot.github import InstallationClient

ALLOWED = frozenset({"admin", "maintain", "write"})  # collaborator permissions that may ask for a re-check
REPLY_WINDOW = 3600.0  # at most one polite reply per pull request and kind in this many seconds
ACK_WINDOW = 30.0  # at most one 👀 reaction to /recheck per pull request in this many seconds
COMMANDS = ("recheck", "help")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_QUOTE = re.compile(r" {0,3}>")
_MENTION = re.compile(r"@([A-Za-z0-9][A-Za-z0-9-]*)(?:\[bot\])?\s+([A-Za-z]+)", re.IGNORECASE)


def visible_lines(body: str) -> list[str]:
    """The lines of a Markdown comment that are prose: not in a fenced or indented code block, not quoted."""
    out: list[str] = []
    fence: str | None = None
    for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            marker = opening.group(1) if opening else ""
            if marker[:1] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker) :].strip():
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        if line.startswith(("    ", "\t")) or _QUOTE.match(line):
            continue
        out.append(line)
    return out


def parse_commands(body: str, slug: str) -> list[str]:
    """The commands of a comment, in order, each once: `/recheck`, `@<slug> recheck`, `@<slug> help`."""
    found: list[str] = []
    for line in visible_lines(body):
        words = line.strip()
        command: str | None = None
        if words.lower() == "/recheck":
            command = "recheck"
        else:
            mention = _MENTION.fullmatch(words)
            if mention and mention.group(1).lower() == slug.lower() and mention.group(2).lower() in COMMANDS:
                command = mention.group(2).lower()
        if command and command not in found:
            found.append(command)
    return found


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def is_agreement(body: str, sentence: str) -> bool:
    """Whether a line of the comment is the agreement sentence (case and spacing aside)."""
    wanted = _normalised(sentence)
    return bool(wanted) and any(_normalised(line) == wanted for line in visible_lines(body))


def _say(key: str) -> Any:
    return phrases("commands.yml")[key]


def policy_summary(policy: Policy) -> str:
    """The active policy in a few Markdown lines (for `help`)."""
    t = _say("policy_lines")
    on, off = _say("enabled"), _say("disabled")

    def check(name: str) -> dict[str, Any]:
        settings = dict(policy.check(name))
        settings["state"] = on if settings.get("enabled") else off
        return settings

    def code(items: list[str]) -> str:
        return ", ".join(f"`{escape_markdown(i)}`" for i in items) or "-"

    issue, dco, sigs, agree, rules = (check(n) for n in ("linked_issue", "dco", "signatures", "agreement", "rules"))
    labels = t["linked_issue_labels"].format(labels=code(issue["required_labels"])) if issue["required_labels"] else ""
    lines = [
        t["rules_files"].format(patterns=code(policy.get("rules_files.patterns"))),
        t["linked_issue"].format(state=issue["state"], severity=issue["severity"],
                                 repositories=code(issue["repositories"]),
                                 open=t["linked_issue_open"] if issue["require_open"] else "", labels=labels),
        t["dco"].format(state=dco["state"], severity=dco["severity"], mode=dco["mode"]),
        t["signatures"].format(state=sigs["state"], severity=sigs["severity"], require=sigs["require"],
                               match=t["signatures_match"] if sigs["match_author_email"] else ""),
        t["agreement"].format(state=agree["state"], severity=agree["severity"], mode=agree["mode"]),
        t["rules"].format(state=rules["state"], severity=rules["severity"], engine=rules["engine_version"],
                          warnings=t["rules_warnings"] if rules["warnings_fail"] else ""),
        t["drafts"].format(mode=t["drafts_skip"] if draft_mode(policy) == "skip" else t["drafts_review"]),
    ]  # fmt: skip
    return "\n".join(lines)


def draft_mode(policy: Policy) -> str:
    """`review` (the default) or `skip`: what the policy says of draft pull requests."""
    try:
        value = policy.get("pull_requests.review_drafts")
    except (KeyError, TypeError):
        return "review"
    return "skip" if value is False else "review"


def help_text(slug: str, repo: str, policy: Policy, from_repository: bool, problems: list[str]) -> str:
    """The answer to `@<slug> help`."""
    agreement = ""
    if policy.get("checks.agreement.mode") == "comment":
        sentence = escape_markdown(policy.get("checks.agreement.comment_sentence"))
        agreement = str(_say("agreement_help")).format(sentence=sentence)
    source = _say("source_repository" if from_repository else "source_defaults")
    summary = policy_summary(policy)
    if problems:
        summary += "\n\n" + _say("policy_problems") + "\n" + "\n".join(f"- {p}" for p in problems)
    return str(_say("help")).format(slug=slug, repo=repo, agreement=agreement, source=source, policy=summary)


def handle_comment(request: Request, store: Store, gh: InstallationClient, slug: str,
                   queue: Callable[[int], None]) -> str:  # fmt: skip
    """Act on a pull request comment: commands from people allowed to give them, agreement sentences.

    Returns a word on what was done (kept as the job's outcome). GitHubError propagates to the job.
    """
    d = request.details
    body, login = str(d.get("body") or ""), str(d.get("login") or "")
    comment_id = request.command_comment_id
    repo, number = request.repo, request.number
    commands = parse_commands(body, slug)
    if commands:
        allowed = gh.collaborator_permission(repo, login) in ALLOWED
        done: list[str] = []
        if "recheck" in commands:
            if allowed:
                # One acknowledgement per burst: a flood of /recheck must not spend the installation's paced
                # writes (one a second) on reactions while the review it coalesces into waits behind them.
                if comment_id is not None and store.take_reply_slot(repo, number, "recheck_ack", ACK_WINDOW):
                    gh.react(repo, comment_id, "eyes")
                new = NewRequest(repo, number, request.installation_id, "recheck", command_comment_id=comment_id)
                queue(store.add_review_request(new, delivery_id=request.delivery_id))
                done.append("recheck queued")
            elif store.take_reply_slot(repo, number, "unauthorised", REPLY_WINDOW):
                gh.reply(repo, number, str(_say("unauthorised")).format(login=login, repo=repo))
                done.append("recheck refused, replied")
            else:
                done.append("recheck refused")
        if "help" in commands and (allowed or store.take_reply_slot(repo, number, "help", REPLY_WINDOW)):
            pull = gh.pull_request(repo, number)
            policy, findings = resolve_policy(pull.policy_text)
            text = help_text(slug, repo, policy, pull.policy_text is not None, [f.message for f in findings])
            gh.reply(repo, number, text)
            done.append("help answered")
        return "; ".join(done) or "help refused"
    pull = gh.pull_request(repo, number)
    policy, _ = resolve_policy(pull.policy_text)
    agreement = policy.check("agreement")
    if agreement["enabled"] and agreement["mode"] == "comment" and is_agreement(body, agreement["comment_sentence"]):
        store.add_signature(repo, login, d.get("url"))
        queue(store.add_review_request(NewRequest(repo, number, request.installation_id, "agreement"),
                                       delivery_id=request.delivery_id))  # fmt: skip
        return "agreement recorded"
    return "no command"
