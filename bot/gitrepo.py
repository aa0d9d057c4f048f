"""The only code that imports GitPython: a local repository's base..head as a pull request snapshot's parts."""

from __future__ import annotations

import base64
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

import git

from bot.models import ChangedFile, Commit, Identity, SignatureFacts, SignatureKind

ARMOR_KINDS: dict[str, SignatureKind] = {
    "-----BEGIN PGP SIGNATURE-----": "gpg",
    "-----BEGIN SSH SIGNATURE-----": "ssh",
    "-----BEGIN SIGNED MESSAGE-----": "x509",
}


class GitError(Exception):
    """A repository or revision that cannot be read; the message says which."""


def split_signature(raw: bytes) -> tuple[str | None, str]:
    """(armored signature, signed payload) of a raw commit object; the payload is it without the gpgsig header."""
    text = raw.decode("utf-8", "replace")
    head, sep, message = text.partition("\n\n")
    kept: list[str] = []
    sig: list[str] = []
    in_sig = False
    for line in head.split("\n"):
        if line.startswith("gpgsig ") or line.startswith("gpgsig-sha256 "):
            in_sig = True
            sig.append(line.split(" ", 1)[1])
        elif in_sig and line.startswith(" "):
            sig.append(line[1:])
        else:
            in_sig = False
            kept.append(line)
    payload = "\n".join(kept) + sep + message
    return ("\n".join(sig) + "\n" if sig else None), payload


def signature_kind(armor: str | None) -> SignatureKind:
    """gpg, ssh, x509 or none, from the armor's first line."""
    if not armor:
        return "none"
    return ARMOR_KINDS.get(armor.strip().splitlines()[0].strip(), "gpg")


class LocalRepository:
    """A git repository on disk, read through GitPython."""

    def __init__(self, path: str) -> None:
        try:
            self.repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise GitError(f"{path} is not a git repository") from exc

    def resolve(self, ref: str) -> str:
        """The full SHA of a revision."""
        try:
            return str(self.repo.commit(ref).hexsha)
        except (git.BadName, ValueError) as exc:
            raise GitError(f"unknown revision {ref}") from exc

    def commits(self, base: str, head: str, verify: Callable[[str, str], object] | None = None) -> tuple[Commit, ...]:
        """The commits in base..head, oldest first, with their signature and signed payload."""
        out: list[Commit] = []
        for c in reversed(list(self.repo.iter_commits(f"{base}..{head}"))):
            raw = self.repo.odb.stream(c.binsha).read()
            armor, payload = split_signature(raw)
            facts = SignatureFacts(signature_kind(armor), None, None, armor, payload if armor else None)
            out.append(
                Commit(
                    sha=c.hexsha,
                    parents=tuple(p.hexsha for p in c.parents),
                    author=Identity(c.author.name or "", c.author.email or ""),
                    committer=Identity(c.committer.name or "", c.committer.email or ""),
                    message=str(c.message),
                    signature=facts,
                )
            )
        return tuple(out)

    def changed_files(self, base: str, head: str) -> tuple[ChangedFile, ...]:
        """Files that differ between the merge base of base and head, and head, with both texts."""
        merge_base = self.repo.merge_base(base, head)
        old = merge_base[0] if merge_base else self.repo.commit(base)
        new = self.repo.commit(head)
        out: list[ChangedFile] = []
        for d in old.diff(new):
            status = {"A": "added", "D": "removed", "R": "renamed"}.get(str(d.change_type), "modified")
            path = str(d.b_path or d.a_path or "")
            out.append(ChangedFile(path, status, _blob_text(d.a_blob), _blob_text(d.b_blob)))
        return tuple(out)

    def files_at(self, head: str, paths: Sequence[str] | None = None) -> tuple[ChangedFile, ...]:
        """Every file of the tree at `head` (or those in `paths`), as unchanged files with their text."""
        tree = self.repo.commit(head).tree
        out: list[ChangedFile] = []
        for item in tree.traverse():
            if not isinstance(item, git.Blob):
                continue
            path = str(item.path)
            if paths is not None and path not in paths:
                continue
            text = _blob_text(item)
            out.append(ChangedFile(path, "unchanged", text, text))
        return tuple(out)


def _blob_text(blob: object) -> str | None:
    if blob is None:
        return None
    data = blob.data_stream.read()  # type: ignore[attr-defined]
    return bytes(data).decode("utf-8", "replace")


# ---------------------------------------------------------------- the App's git mirror of a GitHub repository

_MIRROR_LOCKS: dict[str, threading.Lock] = {}
_MIRROR_LOCKS_GUARD = threading.Lock()
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _mirror_lock(path: str) -> threading.Lock:
    with _MIRROR_LOCKS_GUARD:
        return _MIRROR_LOCKS.setdefault(path, threading.Lock())


def mirror_url(git_url: str, repo: str) -> str:
    """`<git_url>/<owner>/<name>.git`, the only URL a mirror of `repo` fetches from."""
    owner, _, name = repo.partition("/")
    if not _NAME.match(owner) or not _NAME.match(name) or owner in (".", "..") or name in (".", ".."):
        raise GitError(f"not a repository name: {repo!r}")
    return f"{git_url.rstrip('/')}/{owner}/{name}.git"


def check_mirror_url(url: str, git_url: str, repo: str, allowed_http: Sequence[str] = ()) -> None:
    """Refuse any URL but the configured host's `<owner>/<name>.git` over https (http only when allowed)."""
    if url != mirror_url(git_url, repo):
        raise GitError(f"refusing to fetch from {url}: not {mirror_url(git_url, repo)}")
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise GitError(f"refusing to fetch from {url}")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and any(url.startswith(a.rstrip("/") + "/") for a in allowed_http if a):
        return
    raise GitError(f"refusing to fetch from {url}: only https is allowed")


class Mirror:
    """A cached bare mirror of one GitHub repository, fetched with an installation token passed per command.

    The token never reaches a file or the command line: it travels as `http.extraheader` in the
    environment of the one `git fetch` (GIT_CONFIG_COUNT), hooks are off and only http(s) may be used.
    """

    def __init__(self, root: str, repo: str, git_url: str, allowed_http: Sequence[str] = ()) -> None:
        self.url = mirror_url(git_url, repo)
        check_mirror_url(self.url, git_url, repo, allowed_http)
        self.scheme = urllib.parse.urlsplit(self.url).scheme
        owner, _, name = repo.partition("/")
        self.path = os.path.join(root, owner, f"{name}.git")
        self.lock = _mirror_lock(self.path)

    def _env(self, token: str | None) -> dict[str, str]:
        settings = [("core.hooksPath", "/dev/null"), ("protocol.allow", "never"), ("protocol.https.allow", "always"),
                    ("credential.helper", ""), ("http.followRedirects", "false")]  # fmt: skip
        if self.scheme == "http":
            settings.append(("protocol.http.allow", "always"))
        if token:
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            settings.append(("http.extraheader", f"AUTHORIZATION: basic {basic}"))
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
               "GIT_ASKPASS": "/bin/false", "GIT_CONFIG_COUNT": str(len(settings))}  # fmt: skip
        for i, (key, value) in enumerate(settings):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env

    def _git(self, *args: str, token: str | None = None, binary: bool = False) -> Any:
        try:
            return git.Git(self.path).execute(
                ["git", *args],
                env=self._env(token),
                stdout_as_string=not binary,
                kill_after_timeout=600,
                strip_newline_in_stdout=False,
            )
        except git.GitCommandError as exc:  # never echo the command: its environment holds the token
            detail = exc.stderr.strip() if isinstance(exc.stderr, str) else ""
            raise GitError(f"git {args[0]} failed ({exc.status}): {detail[-300:]}") from None

    def fetch(self, token: str, refspecs: Sequence[str]) -> None:
        """Create the bare mirror when missing, then fetch `refspecs` from the repository's URL."""
        if not os.path.isdir(os.path.join(self.path, "objects")):
            os.makedirs(self.path, exist_ok=True)
            git.Git(self.path).execute(["git", "init", "-q", "--bare", self.path], env=self._env(None))
        self._git("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.url, *refspecs, token=token)

    def text(self, rev: str, path: str) -> str | None:
        """The text of `path` at `rev` (None when absent there)."""
        try:
            data = self._git("cat-file", "blob", f"{rev}:{path}", binary=True)
        except GitError:
            return None
        return bytes(data).decode("utf-8", "replace")

    def files(self, rev: str) -> list[str]:
        """Every file path in the tree at `rev`."""
        out = self._git("ls-tree", "-r", "-z", "--name-only", rev)
        return [p for p in str(out).split("\0") if p]

    def changed(self, base: str, head: str) -> list[tuple[str, str]]:
        """(path, status) of the files that differ between `base` and `head`."""
        out = str(self._git("diff", "--name-status", "-z", "--no-renames", base, head)).split("\0")
        status = {"A": "added", "D": "removed"}
        return [(out[i + 1], status.get(out[i][:1], "modified")) for i in range(0, len(out) - 1, 2) if out[i]]
