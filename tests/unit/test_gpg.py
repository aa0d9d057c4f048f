"""GnuPG verification with real keys, in an isolated temporary home holding only the given public keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.gpg import gpg_available, verify_signature
from tests.gpgkeys import make_key, revoke

pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
PAYLOAD = "tree 0123\nauthor Alice <alice@example.com> 1700000000 +0000\n\nAdd a rule\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


def test_a_good_signature_with_the_authors_key(base: Path) -> None:
    alice = make_key(base, "Alice <alice@example.com>")
    result = verify_signature(alice.sign(PAYLOAD), PAYLOAD, [alice.public])
    assert result.status == "valid"
    assert result.fingerprint == alice.fingerprint
    assert result.uids == ("Alice <alice@example.com>",)


def test_a_changed_payload_is_a_bad_signature(base: Path) -> None:
    alice = make_key(base, "Alice <alice@example.com>")
    assert verify_signature(alice.sign(PAYLOAD), PAYLOAD + "tampered", [alice.public]).status == "bad"


def test_a_key_that_is_not_the_authors_is_unknown(base: Path) -> None:
    alice = make_key(base, "Alice <alice@example.com>")
    mallory = make_key(base, "Mallory <mallory@example.com>")
    result = verify_signature(mallory.sign(PAYLOAD), PAYLOAD, [alice.public])
    assert result.status == "unknown_key"


def test_an_expired_key(base: Path) -> None:
    old = make_key(base, "Old <old@example.com>", expire="1d", faked_time="20200101T000000")
    signature = old.sign(PAYLOAD, faked_time="20200101T120000")
    assert verify_signature(signature, PAYLOAD, [old.public]).status == "expired_key"


def test_a_revoked_key(base: Path) -> None:
    gone = make_key(base, "Gone <gone@example.com>")
    signature = gone.sign(PAYLOAD)
    assert verify_signature(signature, PAYLOAD, [revoke(gone)]).status == "revoked_key"


def test_garbage_is_an_error_not_a_pass(base: Path) -> None:
    alice = make_key(base, "Alice <alice@example.com>")
    result = verify_signature("-----BEGIN PGP SIGNATURE-----\nnot base64\n-----END PGP SIGNATURE-----\n", PAYLOAD,
                              [alice.public])  # fmt: skip
    assert result.status in {"error", "bad"}


def test_the_users_own_keyring(base: Path) -> None:
    alice = make_key(base, "Alice <alice@example.com>")
    assert verify_signature(alice.sign(PAYLOAD), PAYLOAD, gnupghome=str(alice.home)).status == "valid"
