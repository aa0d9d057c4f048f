"""The emulator's git side: bare repositories driven by subprocess `git`, commit objects, GPG verdicts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}


def git(repo: Path | str, *args: str, data: bytes | None = None, check: bool = True) -> bytes:
    env = {**os.environ, **GIT_ENV}
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], input=data, capture_output=True, env=env, timeout=120, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def git_text(repo: Path | str, *args: str) -> str:
    return git(repo, *args).decode("utf-8", errors="replace")


@dataclass
class Person:
    name: str
    email: str
    date: datetime


@dataclass
class CommitObject:
    """A parsed commit: headers, message, and the signature split from the payload it signs."""

    oid: str
    raw: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str
    signature: str | None  # the armored gpgsig header, continuation spaces removed
    payload: str  # the commit object without its gpgsig header: what was signed


_PERSON = re.compile(r"^(?P<name>.*) <(?P<email>[^>]*)> (?P<ts>-?\d+) (?P<tz>[+-]\d{4})$")


def _person(text: str) -> Person:
    m = _PERSON.match(text)
    if not m:
        return Person(text, "", datetime.fromtimestamp(0, UTC))
    return Person(m["name"], m["email"], datetime.fromtimestamp(int(m["ts"]), UTC))


def parse_commit(oid: str, raw: str) -> CommitObject:
    head, _, message = raw.partition("\n\n")
    headers: list[tuple[str, str]] = []
    for line in head.split("\n"):
        if line.startswith(" ") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\n" + line[1:])
        else:
            name, _, value = line.partition(" ")
            headers.append((name, value))
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name, []).append(value)
    signature: str | None = (values.get("gpgsig") or values.get("gpgsig-sha256") or [None])[0]  # type: ignore[list-item]
    # The signed payload is the object without its gpgsig header (and that header's continuation lines).
    kept: list[str] = []
    skipping = False
    for line in head.split("\n"):
        if line.startswith(("gpgsig ", "gpgsig-sha256 ")):
            skipping = True
            continue
        if skipping and line.startswith(" "):
            continue
        skipping = False
        kept.append(line)
    payload = "\n".join(kept) + "\n\n" + message
    return CommitObject(
        oid=oid,
        raw=raw,
        tree=values["tree"][0],
        parents=values.get("parent", []),
        author=_person(values["author"][0]),
        committer=_person(values["committer"][0]),
        message=message,
        signature=signature + "\n" if signature and not signature.endswith("\n") else signature,
        payload=payload,
    )


@dataclass
class ObjectInfo:
    oid: str
    type: str  # blob | tree | commit
    size: int


@dataclass
class TreeEntry:
    mode: str
    type: str
    oid: str
    name: str


@dataclass
class BareRepo:
    path: Path
    _commits: dict[str, CommitObject] = field(default_factory=dict)

    def rev_parse(self, ref: str) -> str | None:
        out = git(self.path, "rev-parse", "--verify", "--quiet", ref + "^{commit}", check=False)
        return out.decode().strip() or None

    def commit(self, oid: str) -> CommitObject:
        if oid not in self._commits:
            raw = git(self.path, "cat-file", "commit", oid).decode("utf-8", errors="replace")
            self._commits[oid] = parse_commit(oid, raw)
        return self._commits[oid]

    def load_commits(self, oids: list[str]) -> None:
        """Parse many commits with one `git cat-file --batch` (a pull request's commits)."""
        missing = [oid for oid in oids if oid not in self._commits]
        if not missing:
            return
        out = git(self.path, "cat-file", "--batch", data="".join(f"{oid}\n" for oid in missing).encode())
        pos = 0
        for oid in missing:
            end = out.index(b"\n", pos)
            _, kind, size = out[pos:end].decode().split()
            body = out[end + 1 : end + 1 + int(size)]
            pos = end + 1 + int(size) + 1
            if kind == "commit":
                self._commits[oid] = parse_commit(oid, body.decode("utf-8", errors="replace"))

    def info(self, expression: str) -> ObjectInfo | None:
        out = git(self.path, "cat-file", "--batch-check", data=expression.encode() + b"\n").decode().strip()
        parts = out.split()
        if len(parts) != 3 or parts[1] == "missing":
            return None
        return ObjectInfo(parts[0], parts[1], int(parts[2]))

    def blob(self, oid: str) -> bytes:
        return git(self.path, "cat-file", "blob", oid)

    def tree(self, oid: str) -> list[TreeEntry]:
        entries = []
        for item in git(self.path, "ls-tree", "-z", oid).split(b"\0"):
            if not item:
                continue
            meta, _, name = item.partition(b"\t")
            mode, kind, obj = meta.decode().split()
            entries.append(TreeEntry(mode, kind, obj, name.decode("utf-8", errors="replace")))
        return entries

    def rev_list(self, base: str, head: str) -> list[str]:
        """Commits of head not in base, oldest first (what GitHub lists as a pull request's commits)."""
        out = git_text(self.path, "rev-list", "--reverse", "--topo-order", head, "^" + base)
        return out.split()

    def merge_base(self, a: str, b: str) -> str | None:
        return git(self.path, "merge-base", a, b, check=False).decode().strip() or None

    def changed_files(self, base: str, head: str) -> list[tuple[str, str, int, int]]:
        """(path, PatchStatus, additions, deletions) of base...head, as GitHub's PR files."""
        start = self.merge_base(base, head) or base
        status = git(self.path, "diff", "-M", "--name-status", "-z", start, head)
        numstat = git(self.path, "diff", "-M", "--numstat", "-z", start, head)
        counts: dict[str, tuple[int, int]] = {}
        items = numstat.split(b"\0")
        i = 0
        while i < len(items):
            if not items[i]:
                i += 1
                continue
            added, deleted, name = items[i].split(b"\t", 2)
            if not name:  # rename: old and new paths follow
                name = items[i + 2]
                i += 2
            counts[name.decode()] = (int(added) if added != b"-" else 0, int(deleted) if deleted != b"-" else 0)
            i += 1
        result = []
        fields = status.split(b"\0")
        i = 0
        kinds = {"A": "ADDED", "M": "MODIFIED", "D": "DELETED", "R": "RENAMED", "C": "COPIED", "T": "CHANGED"}
        while i < len(fields) and fields[i]:
            code = fields[i].decode()
            if code[0] in "RC":
                path = fields[i + 2].decode()
                i += 3
            else:
                path = fields[i + 1].decode()
                i += 2
            add, delete = counts.get(path, (0, 0))
            result.append((path, kinds.get(code[0], "CHANGED"), add, delete))
        return result


def clone_bare(source: Path | str, dest: Path, default_branch: str) -> BareRepo:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "clone", "--bare", "--quiet", str(source), str(dest)],
        check=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
        timeout=120,
    )
    git(dest, "symbolic-ref", "HEAD", f"refs/heads/{default_branch}")
    git(dest, "config", "http.uploadpack", "true")
    git(dest, "config", "uploadpack.allowAnySHA1InWant", "true")
    return BareRepo(dest)


def fetch_ref(repo: BareRepo, source: Path | str, src_ref: str, dest_ref: str) -> str:
    src = src_ref if src_ref.startswith("refs/") else f"refs/heads/{src_ref}"
    git(repo.path, "fetch", "--quiet", "--no-tags", str(source), f"+{src}:{dest_ref}")
    oid = repo.rev_parse(dest_ref)
    assert oid, dest_ref
    return oid


# ---- GnuPG -------------------------------------------------------------------------------------------------------


@dataclass
class GpgKeyInfo:
    """What `gpg --show-keys` says of an armored public key."""

    armored: str
    key_id: str  # 16 hex digits, upper case
    fingerprint: str
    created: datetime
    expires: datetime | None
    revoked: bool
    can_sign: bool
    can_encrypt: bool
    can_certify: bool
    emails: list[str]
    subkeys: list[GpgKeyInfo] = field(default_factory=list)


def _gpg(home: str, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["gpg", "--homedir", home, "--batch", "--no-tty", "--no-autostart", *args],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )


def _epoch(text: str) -> datetime | None:
    return datetime.fromtimestamp(int(text), UTC) if text else None


@lru_cache(maxsize=256)
def inspect_key(armored: str) -> GpgKeyInfo:
    with tempfile.TemporaryDirectory(prefix="emu-gpg-") as home:
        os.chmod(home, 0o700)
        out = _gpg(home, "--with-colons", "--fixed-list-mode", "--show-keys", data=armored.encode()).stdout.decode()
    primary: GpgKeyInfo | None = None
    current: GpgKeyInfo | None = None
    for line in out.splitlines():
        f = line.split(":")
        if f[0] in ("pub", "sub"):
            caps = f[11] if len(f) > 11 else ""
            created = _epoch(f[5]) or datetime.fromtimestamp(0, UTC)
            key = GpgKeyInfo(
                armored=armored if f[0] == "pub" else "",
                key_id=f[4].upper(),
                fingerprint="",
                created=created,
                expires=_epoch(f[6]),
                revoked=f[1] == "r",
                can_sign="s" in caps,
                can_encrypt="e" in caps,
                can_certify="c" in caps,
                emails=[],
            )
            if f[0] == "pub":
                primary = key
            elif primary:
                primary.subkeys.append(key)
            current = key
        elif f[0] == "fpr" and current and not current.fingerprint:
            current.fingerprint = f[9]
        elif f[0] == "uid" and primary:
            m = re.search(r"<([^>]+)>", f[9])
            if m:
                primary.emails.append(m.group(1).replace("\\x3a", ":"))
    if primary is None:
        raise ValueError("not an armored OpenPGP public key")
    return primary


@dataclass
class Verdict:
    state: str  # a GitSignatureState
    key_id: str | None


def verify_gpg(signature: str, payload: str, keys: list[str]) -> Verdict:
    """GnuPG's verdict on `signature` over `payload` with only `keys` known, in a fresh home (memoised for a
    minute: a key's expiry is the only thing time changes)."""
    cache_key = (signature, payload, tuple(keys), int(time.time() // 60))
    if cache_key not in _VERDICTS:
        _VERDICTS[cache_key] = _verify_gpg(signature, payload, keys)
    return _VERDICTS[cache_key]


_VERDICTS: dict[tuple[str, str, tuple[str, ...], int], Verdict] = {}


def _verify_gpg(signature: str, payload: str, keys: list[str]) -> Verdict:
    home = tempfile.mkdtemp(prefix="emu-gpg-")
    try:
        os.chmod(home, 0o700)
        for key in keys:
            _gpg(home, "--import", data=key.encode())
        sig_path = Path(home) / "commit.sig"
        sig_path.write_text(signature)
        proc = _gpg(home, "--status-fd", "1", "--verify", str(sig_path), "-", data=payload.encode())
        status = proc.stdout.decode(errors="replace").splitlines()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    words = [line.split()[1:] for line in status if line.startswith("[GNUPG:] ")]
    key_id = next(
        (
            w[1]
            for w in words
            if w and w[0] in ("GOODSIG", "BADSIG", "EXPKEYSIG", "REVKEYSIG", "ERRSIG", "NO_PUBKEY", "EXPSIG")
        ),
        None,
    )
    seen = {w[0] for w in words if w}
    if "BADSIG" in seen:
        state = "INVALID"
    elif "NO_PUBKEY" in seen:
        state = "UNKNOWN_KEY"
    elif "EXPKEYSIG" in seen:
        state = "EXPIRED_KEY"
    elif "REVKEYSIG" in seen:
        state = "INVALID"
    elif "GOODSIG" in seen or "EXPSIG" in seen:
        state = "VALID"
    elif "ERRSIG" in seen:
        state = "GPGVERIFY_ERROR"
    elif "NODATA" in seen:
        state = "MALFORMED_SIG"
    else:
        state = "GPGVERIFY_ERROR"
    return Verdict(state, key_id.upper() if key_id else None)


def http_backend_env(project_root: Path) -> dict[str, str]:
    return {**os.environ, **GIT_ENV, "GIT_PROJECT_ROOT": str(project_root), "GIT_HTTP_EXPORT_ALL": "1"}
