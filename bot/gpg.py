"""The only code that imports python-gnupg: verifying a commit's signature against given public keys."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence

import gnupg

from bot.models import LocalVerification

KEY_STATUS = {"signing key has expired": "expired_key", "signing key was revoked": "revoked_key"}


def gpg_available() -> bool:
    """Whether a `gpg` binary is installed."""
    return shutil.which("gpg") is not None


def verify_signature(
    signature_armor: str, signed_payload: str, public_keys: Sequence[str] = (), gnupghome: str | None = None
) -> LocalVerification:
    """Verify a detached signature over a commit's payload.

    With `public_keys`, GnuPG runs in a fresh temporary home holding only those keys (a contributor's
    GitHub keys), so nothing else on the machine can make a signature look valid; with `gnupghome`,
    it uses that keyring as it is (the CLI on a contributor's own machine).
    """
    if not gpg_available():
        return LocalVerification("error", detail="gpg is not installed")
    if gnupghome is not None:
        return _verify(gnupg.GPG(gnupghome=gnupghome), signature_armor, signed_payload)
    with tempfile.TemporaryDirectory(prefix="falco-rules-bot-gpg-") as home:
        os.chmod(home, 0o700)
        gpg = gnupg.GPG(gnupghome=home)
        for key in public_keys:
            gpg.import_keys(key)
        return _verify(gpg, signature_armor, signed_payload)


def _verify(gpg: gnupg.GPG, signature_armor: str, signed_payload: str) -> LocalVerification:
    with tempfile.NamedTemporaryFile("w", suffix=".asc", delete=False) as sig:
        sig.write(signature_armor)
    try:
        result = gpg.verify_data(sig.name, signed_payload.encode("utf-8"))
    finally:
        os.unlink(sig.name)
    key_id = result.key_id or None
    fingerprint = result.pubkey_fingerprint or result.fingerprint or None
    if result.key_status in KEY_STATUS:
        return LocalVerification(KEY_STATUS[result.key_status], key_id, fingerprint, _uids(gpg, fingerprint))
    if result.valid:
        return LocalVerification("valid", key_id, fingerprint, _uids(gpg, fingerprint))
    if result.status == "no public key" or any(p.get("status") == "no public key" for p in result.problems):
        return LocalVerification("unknown_key", key_id, fingerprint)
    if result.status == "signature bad":
        return LocalVerification("bad", key_id, fingerprint)
    return LocalVerification("error", key_id, fingerprint, detail=result.status or result.stderr.strip()[-200:])


def _uids(gpg: gnupg.GPG, fingerprint: str | None) -> tuple[str, ...]:
    """The user IDs of the key (or of the primary key owning the subkey) with this fingerprint."""
    if not fingerprint:
        return ()
    for key in gpg.list_keys():
        subkeys = {sub[2] for sub in key.get("subkeys", []) if len(sub) > 2}
        if key.get("fingerprint") == fingerprint or fingerprint in subkeys:
            return tuple(key.get("uids", ()))
    return ()
