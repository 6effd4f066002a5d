"""Encryption at rest for biometric data (face templates, the cameo index, enrollment media): AES-256-GCM.

The data key is a 32-byte file readable only by its owner (0600). Every ciphertext carries a version byte
and a fresh 96-bit nonce; the associated data binds a ciphertext to its purpose (e.g. ``cameo-template:<id>``)
so one cannot be swapped for another.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


class DecryptionError(Exception):
    """Ciphertext is corrupt, truncated, or was encrypted under another key or purpose."""


class DataCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("data key must be 32 bytes")
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        nonce = secrets.token_bytes(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes = b"") -> bytes:
        if len(blob) < 1 + 12 + 16 or blob[:1] != _VERSION:
            raise DecryptionError("not a rightsgate ciphertext")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], aad)
        except InvalidTag as exc:
            raise DecryptionError("ciphertext does not authenticate (wrong key, purpose or corrupt)") from exc

    def __repr__(self) -> str:
        return "DataCipher(<key hidden>)"


def load_or_create_key(path: Path) -> DataCipher:
    """Read the data key, creating it (0600) if absent. Refuses a key file others can read."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(32))
        finally:
            os.close(fd)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(f"data key {path} is readable by others (mode {mode:o}); chmod 600 it")
    return DataCipher(path.read_bytes())
