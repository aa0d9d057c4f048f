"""The only code that imports GitPython: a local repository's base..head as a pull request snapshot's parts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
