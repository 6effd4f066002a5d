"""Ed25519 signing keys for the log, kept as files in one directory, with signed-note key ids.

A key id is the signed-note key hash of Go's ``golang.org/x/mod/sumdb/note``: the first 4 bytes of
``SHA-256(name || "\\n" || 0x01 || public_key)`` where 0x01 is the algorithm byte of Ed25519 and
``public_key`` the 32 raw bytes. It is written as 8 lowercase hex digits; in a note's signature line it is
the 4 raw bytes in front of the signature. Four bytes are a hint, not an identity: verifiers try every key
whose hash matches.

Directory layout of a :class:`KeyRing` (the directory is created 0700)::

    <key_id>.key.pem   PKCS#8 private key, mode 0600 (a more open file is refused)
    <key_id>.pub.pem   SubjectPublicKeyInfo public key
    current            the id of the key that signs now

``rotate()`` makes a new key current and keeps the old ones: the public parts keep old checkpoints
verifiable, and the log service needs the previous private key once more to countersign the rotation.
Only public keys ever go into the database (``log_keys``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ALG_ED25519",
    "KeyRing",
    "KeyRingError",
    "PublicKey",
    "SigningKey",
    "check_key_name",
    "key_hash",
    "load_public_key_pem",
]

ALG_ED25519 = 0x01
_ID_RE = re.compile(r"\A[0-9a-f]{8}\Z")


class KeyRingError(RuntimeError):
    """The key directory is missing, unreadable, inconsistent or unsafe; nothing is signed from it."""


def check_key_name(name: str) -> str:
    """A signed-note key name: non-empty, no whitespace, no ``+`` (it separates a key string's fields)."""
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise ValueError(f"invalid key name {name!r}: must be non-empty, printable, without spaces or '+'")
    return name


def key_hash(name: str, public_raw: bytes) -> bytes:
    """The 4-byte signed-note key hash of an Ed25519 key called ``name``."""
    if len(public_raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(public_raw)}")
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_raw).digest()[:4]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key_pem(pem: bytes) -> Ed25519PublicKey:
    """Parse a PEM public key; :class:`ValueError` unless it is Ed25519."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"not an Ed25519 public key but {type(key).__name__}")
    return key


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key with the name it signs under."""

    name: str
    raw: bytes = field(repr=False)

    @classmethod
    def from_pem(cls, name: str, pem: bytes) -> PublicKey:
        return cls(check_key_name(name), _raw(load_public_key_pem(pem)))

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.raw)

    @property
    def key_id(self) -> str:
        return self.key_hash.hex()

    def pem(self) -> bytes:
        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def vkey(self) -> str:
        """The key in Go's signed-note verifier-key format: ``<name>+<hash hex>+<base64(0x01 || key)>``."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.raw).decode()
        return f"{self.name}+{self.key_id}+{encoded}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key and its public half."""

    public: PublicKey
    private: Ed25519PrivateKey = field(repr=False)

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


class KeyRing:
    """The log's signing keys in ``directory``, all signing under ``name`` (usually the log's origin)."""

    def __init__(self, directory: Path | str, name: str) -> None:
        self.directory = Path(directory)
        self.name = check_key_name(name)

    # --- files -------------------------------------------------------------------------------------------

    def _private_path(self, key_id: str) -> Path:
        return self.directory / f"{key_id}.key.pem"

    def _public_path(self, key_id: str) -> Path:
        return self.directory / f"{key_id}.pub.pem"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Two processes creating or rotating at once would otherwise both write a `current` pointer.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write_new_key(self) -> SigningKey:
        existing = set(self.key_ids())
        while True:
            private = Ed25519PrivateKey.generate()
            public = PublicKey(self.name, _raw(private.public_key()))
            if public.key_id not in existing:  # a 4-byte id may collide; ids must stay unique here
                break
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(self._private_path(public.key_id), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        self._atomic_write(self._public_path(public.key_id), public.pem(), 0o644)
        return SigningKey(public, private)

    def _atomic_write(self, path: Path, data: bytes, mode: int) -> None:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def _set_current(self, key_id: str) -> None:
        self._atomic_write(self.directory / "current", key_id.encode() + b"\n", 0o644)

    # --- public API --------------------------------------------------------------------------------------

    def key_ids(self) -> list[str]:
        """Ids of every key in the directory (sorted)."""
        if not self.directory.is_dir():
            return []
        ids = [p.name[: -len(".pub.pem")] for p in self.directory.glob("*.pub.pem")]
        return sorted(i for i in ids if _ID_RE.match(i))

    def current_id(self) -> str:
        path = self.directory / "current"
        try:
            key_id = path.read_text().strip()
        except FileNotFoundError as exc:
            raise KeyRingError(f"no current signing key in {self.directory} (create one first)") from exc
        if not _ID_RE.match(key_id):
            raise KeyRingError(f"{path} does not hold a key id")
        return key_id

    def current(self) -> SigningKey:
        """The key that signs now."""
        return self.get(self.current_id())

    def get(self, key_id: str) -> SigningKey:
        """The private key ``key_id``; checks the file mode, the public half and the id."""
        if not _ID_RE.match(key_id):
            raise KeyRingError(f"{key_id!r} is not a key id")
        path = self._private_path(key_id)
        try:
            st = path.stat()
            pem = path.read_bytes()
        except FileNotFoundError as exc:
            raise KeyRingError(f"private key {key_id} is not in {self.directory}") from exc
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyRingError(f"{path} is accessible to group or others (mode {st.st_mode & 0o777:o})")
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyRingError(f"{path} is not a readable private key: {exc}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyRingError(f"{path} is not an Ed25519 key")
        public = PublicKey(self.name, _raw(private.public_key()))
        if public.key_id != key_id:
            raise KeyRingError(
                f"{path} holds key {public.key_id} under the name {self.name!r}, not {key_id}"
                " (was the key ring created under another name?)"
            )
        stored = self.public_key(key_id)
        if stored.raw != public.raw:
            raise KeyRingError(f"{self._public_path(key_id)} does not match its private key")
        return SigningKey(public, private)

    def public_key(self, key_id: str) -> PublicKey:
        """The public key ``key_id`` (also for keys whose private half was removed)."""
        path = self._public_path(key_id)
        try:
            public = PublicKey.from_pem(self.name, path.read_bytes())
        except FileNotFoundError as exc:
            raise KeyRingError(f"public key {key_id} is not in {self.directory}") from exc
        except ValueError as exc:
            raise KeyRingError(f"{path}: {exc}") from exc
        if public.key_id != key_id:
            raise KeyRingError(f"{path} holds key {public.key_id} under the name {self.name!r}, not {key_id}")
        return public

    def public_keys(self) -> list[PublicKey]:
        """Every public key in the ring, current or retired."""
        return [self.public_key(k) for k in self.key_ids()]

    def create_if_missing(self) -> SigningKey:
        """The current key, creating the directory and a first key if there is none."""
        with self._locked():
            if (self.directory / "current").exists():
                return self.current()
            key = self._write_new_key()
            self._set_current(key.key_id)
            return key

    def rotate(self) -> SigningKey:
        """Make a new key current; the old one stays (the log countersigns the rotation with it)."""
        with self._locked():
            key = self._write_new_key()
            self._set_current(key.key_id)
            return key
