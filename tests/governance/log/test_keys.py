"""The key ring: Go signed-note key ids, file layout and modes, rotation."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.log.keys import (
    KeyRing,
    KeyRingError,
    PublicKey,
    check_key_name,
    key_hash,
    load_public_key_pem,
)

# golang.org/x/mod/sumdb/note's documented example key (PeterNeumann): its signing key, verifier key, and
# the signature of its example message. Ed25519 is deterministic, so all three can be reproduced exactly.
GO_SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="


def _go_private() -> Ed25519PrivateKey:
    raw = base64.b64decode(GO_SKEY_B64)
    assert raw[0] == 0x01  # algorithm byte: Ed25519
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_key_hash_and_signature_match_go_sumdb_note() -> None:
    private = _go_private()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public = PublicKey("PeterNeumann", raw)
    assert public.key_id == "c74f20a3"
    assert public.vkey() == GO_VKEY
    assert base64.b64encode(public.key_hash + private.sign(GO_TEXT)).decode() == GO_SIG
    assert key_hash("PeterNeumann", raw) == bytes.fromhex("c74f20a3")


def test_create_if_missing_writes_private_0600_in_a_0700_folder(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys", "rightsgate.test/log")
    key = ring.create_if_missing()
    assert ring.create_if_missing().key_id == key.key_id  # idempotent
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    private = tmp_path / "keys" / f"{key.key_id}.key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes()
    public_pem = (tmp_path / "keys" / f"{key.key_id}.pub.pem").read_bytes()
    assert b"PRIVATE" not in public_pem
    assert PublicKey.from_pem("rightsgate.test/log", public_pem) == key.public
    assert (tmp_path / "keys" / "current").read_text().strip() == key.key_id
    assert key.public.verify(key.sign(b"m"), b"m")
    assert not key.public.verify(key.sign(b"m"), b"n")


def test_rotate_keeps_old_keys(make_keyring: Callable[..., KeyRing]) -> None:
    ring = make_keyring()
    first = ring.current()
    second = ring.rotate()
    assert ring.current().key_id == second.key_id != first.key_id
    assert ring.get(first.key_id).public == first.public
    assert {k.key_id for k in ring.public_keys()} == {first.key_id, second.key_id}


def test_key_files_are_checked(make_keyring: Callable[..., KeyRing], tmp_path: Path) -> None:
    ring = make_keyring()
    key_id = ring.current_id()
    private = ring.directory / f"{key_id}.key.pem"
    os.chmod(private, 0o644)
    with pytest.raises(KeyRingError, match="accessible to group or others"):
        ring.current()
    os.chmod(private, 0o600)
    with pytest.raises(KeyRingError, match="under the name 'other-name'"):
        KeyRing(ring.directory, "other-name").current()
    with pytest.raises(KeyRingError, match="no current signing key"):
        KeyRing(tmp_path / "empty", "x").current()
    with pytest.raises(KeyRingError, match="not a key id"):
        ring.get("../../etc")


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "line\nbreak"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid key name"):
        check_key_name(name)


def test_load_public_key_pem_refuses_other_keys() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        load_public_key_pem(pem)
    with pytest.raises(ValueError, match="not a PEM public key"):
        load_public_key_pem(b"garbage")
